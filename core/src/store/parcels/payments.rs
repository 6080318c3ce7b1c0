//! Voiding a payment: a supervisor of the parcel's branches (or an admin)
//! takes back a payment taken by mistake, with a reason. The row stays,
//! marked voided; the parcel's history and the audit log say who and why.

use sqlx::Row;

use super::status::insert_event;
use crate::domain::Role;
use crate::store::audit::{AuditAction, AuditEntry, audit_in};
use crate::store::rows::{PAYMENT_COLUMNS, payment_from};
use crate::store::{Actor, Payment, Store, StoreError, StoreResult};

/// The longest void reason kept.
const VOID_REASON_CHARS: usize = 500;

impl Store {
    /// Voids payment `id` for `reason`, in one transaction with a line in
    /// the parcel's history (`payment_voided`) and an audit row. Refused
    /// with [`StoreError::Forbidden`] for operators and couriers and for
    /// supervisors of other branches, [`StoreError::Invalid`] (`reason`)
    /// for an empty or over-long reason, and [`StoreError::Conflict`] when
    /// it is voided already.
    pub async fn void_payment(
        &self,
        id: i64,
        reason: &str,
        actor: &Actor,
        client_addr: Option<&str>,
    ) -> StoreResult<Payment> {
        if !matches!(actor.role, Role::Admin | Role::Supervisor) {
            return Err(StoreError::Forbidden(format!(
                "a {} may not void a payment: ask a supervisor",
                actor.role.as_str()
            )));
        }
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(StoreError::Invalid {
                field: "reason",
                message: "say why the payment is voided".to_owned(),
            });
        }
        if reason.chars().count() > VOID_REASON_CHARS {
            return Err(StoreError::Invalid {
                field: "reason",
                message: format!("at most {VOID_REASON_CHARS} characters"),
            });
        }
        let now = self.now();
        let mut tx = self.begin().await?;
        let row = sqlx::query("SELECT parcel_id, voided_at FROM payments WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StoreError::NotFound("payment"))?;
        let parcel_id: i64 = row.try_get("parcel_id")?;
        let voided_at: Option<i64> = row.try_get("voided_at")?;
        let parcel = super::parcel_in(&mut tx, parcel_id).await?;
        super::check_may_see(actor, &parcel)?;
        if voided_at.is_some() {
            return Err(StoreError::Conflict(format!(
                "payment {id} is voided already"
            )));
        }
        // `voided_at IS NULL` again: of two voids at once, one wins.
        let updated = sqlx::query(
            "UPDATE payments SET voided_at = $1, voided_by = $2, void_reason = $3 \
             WHERE id = $4 AND voided_at IS NULL",
        )
        .bind(now)
        .bind(actor.user_id)
        .bind(reason)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() != 1 {
            return Err(StoreError::Conflict(format!(
                "payment {id} is voided already"
            )));
        }
        let at = actor.branch_id.unwrap_or(parcel.origin_branch_id);
        insert_event(
            &mut tx,
            parcel.id,
            "payment_voided",
            (Some(parcel.status), parcel.status),
            (actor, at),
            Some(reason),
            now,
        )
        .await?;
        let subject = format!("payment:{id}");
        audit_in(
            &mut tx,
            &AuditEntry {
                actor_id: actor.user_id,
                action: AuditAction::PaymentVoided,
                subject: Some(&subject),
                detail: reason,
                client_addr,
            },
            now,
        )
        .await?;
        let payment = payment_from(
            &sqlx::query(&format!(
                "SELECT {PAYMENT_COLUMNS} FROM payments WHERE id = $1"
            ))
            .bind(id)
            .fetch_one(&mut *tx)
            .await?,
        )?;
        tx.commit().await?;
        Ok(payment)
    }
}
