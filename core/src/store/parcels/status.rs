//! A parcel's status changes and what they write: history, payments and
//! outbox notifications; the reads of those, and the pickup PIN check.

use sqlx::{Any, Transaction};

use super::Handover;
use crate::domain::branch_scope::{Branches, Staff, event_branch, may_act};
use crate::domain::{Money, ParcelEvent, ParcelStatus, Route, Transition, transition};
use crate::store::rows::{
    NOTIFICATION_COLUMNS, PARCEL_COLUMNS, PAYMENT_COLUMNS, event_from, listed, notification_from,
    parcel_from, payment_from,
};
use crate::store::{
    Actor, Notification, Parcel, ParcelEventRow, Payment, Store, StoreError, StoreResult, messages,
};

impl Store {
    /// A parcel's history, oldest first.
    pub async fn history(&self, parcel_id: i64) -> StoreResult<Vec<ParcelEventRow>> {
        let rows = sqlx::query(
            "SELECT e.id, e.event, e.from_status, e.to_status, e.actor_id, u.name AS actor_name, \
             e.branch_id, b.name AS branch_name, e.reason, e.created_at \
             FROM parcel_events e LEFT JOIN users u ON u.id = e.actor_id \
             LEFT JOIN branches b ON b.id = e.branch_id WHERE e.parcel_id = $1 ORDER BY e.id",
        )
        .bind(parcel_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(event_from).collect()
    }

    /// A parcel's payments, voided ones included.
    pub async fn payments(&self, parcel_id: i64) -> StoreResult<Vec<Payment>> {
        let rows = sqlx::query(&format!(
            "SELECT {PAYMENT_COLUMNS} FROM payments WHERE parcel_id = $1 ORDER BY id"
        ))
        .bind(parcel_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(payment_from).collect()
    }

    /// Applies `event` to a parcel the caller saw at `version`: checks the
    /// lifecycle and the actor's role, the actor's branch
    /// ([`crate::domain::branch_scope`]) and, for a delivery, the
    /// `handover` (the pickup PIN, or where the business accepts it for a
    /// home delivery, the recipient's document); then writes the new
    /// status, the history line (at the actor's branch, or for an admin
    /// where the event happens), the storage-fee and COD payments of a
    /// delivery, and the outbox notifications, all in one transaction.
    ///
    /// A parcel changed since `version` gives [`StoreError::Conflict`], a
    /// parcel of another branch [`StoreError::Forbidden`], a refused PIN
    /// [`StoreError::Pin`](crate::store::StoreError::Pin): each changes nothing, except that a wrong PIN
    /// is counted and written in the history, and after [`PIN_TRIES`](super::PIN_TRIES)
    /// of them tries are refused for [`PIN_LOCK`](super::PIN_LOCK).
    pub async fn apply_event(
        &self,
        parcel_id: i64,
        version: i64,
        event: &ParcelEvent,
        actor: &Actor,
        handover: &Handover,
    ) -> StoreResult<Parcel> {
        let now = self.now();
        let mut tx = self.begin().await?;
        let row = sqlx::query(&format!(
            "SELECT {PARCEL_COLUMNS} FROM parcels WHERE id = $1"
        ))
        .bind(parcel_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound("parcel"))?;
        let parcel = parcel_from(&row)?;
        if parcel.version != version {
            return Err(StoreError::Conflict(format!(
                "parcel {} is at version {}, not {version}: reload it",
                parcel.tracking_code, parcel.version
            )));
        }
        let route = Route {
            service: parcel.service,
            same_branch: parcel.origin_branch_id == parcel.destination_branch_id,
        };
        let t = transition(parcel.status, event, actor.role, route)?;
        let branches = Branches {
            origin: parcel.origin_branch_id,
            destination: parcel.destination_branch_id,
        };
        let staff = Staff {
            role: actor.role,
            branch_id: actor.branch_id,
        };
        let here = event_branch(parcel.status, event, branches);
        if !may_act(staff, parcel.status, event, branches) {
            return Err(StoreError::Forbidden(format!(
                "parcel {} is handled at branch {here} for this step: staff of other branches may not {}",
                parcel.tracking_code,
                event.name().replace('_', " ")
            )));
        }
        let at = actor.branch_id.unwrap_or(here);
        if t.to == ParcelStatus::Delivered
            && let Err(refused) = self
                .check_handover(&mut tx, &parcel, handover, (actor, at), now)
                .await?
        {
            // a wrong PIN's count and history line stay; nothing else
            tx.commit().await?;
            return Err(refused.into());
        }
        // the parcel as it will be: the row and its list item are both
        // written from it
        let next = after_transition(&parcel, &t, now);
        let changed = sqlx::query(
            "UPDATE parcels SET status = $1, failed_attempts = $2, version = $3, \
             arrived_at = $4, delivered_at = $5, updated_at = $6, list_item = $7 \
             WHERE id = $8 AND version = $9",
        )
        .bind(next.status.as_str())
        .bind(next.failed_attempts)
        .bind(next.version)
        .bind(next.arrived_at_ms)
        .bind(next.delivered_at_ms)
        .bind(now)
        .bind(listed(&next)?.json())
        .bind(parcel_id)
        .bind(version)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed != 1 {
            return Err(StoreError::Conflict(format!(
                "parcel {} changed while this change was made: reload it",
                parcel.tracking_code
            )));
        }
        insert_event(
            &mut tx,
            parcel_id,
            event.name(),
            (Some(parcel.status), t.to),
            (actor, at),
            event_reason(event),
            now,
        )
        .await?;
        if t.to == ParcelStatus::Delivered {
            insert_delivery_payments(&mut tx, &parcel, next.arrived_at_ms, actor, now).await?;
        }
        self.write_outbox(&mut tx, &parcel, event, now).await?;
        tx.commit().await?;
        Ok(next)
    }

    /// Writes in `tx` the outbox notifications of `event` on `parcel` (as
    /// it was before the event), addressed from its branches' names and
    /// its customers' contacts, which are read through the pool.
    async fn write_outbox(
        &self,
        tx: &mut Transaction<'static, Any>,
        parcel: &Parcel,
        event: &ParcelEvent,
        now: i64,
    ) -> StoreResult<()> {
        let name = |id: i64| async move {
            sqlx::query_scalar::<_, String>("SELECT name FROM branches WHERE id = $1")
                .bind(id)
                .fetch_one(&self.pool)
                .await
        };
        let contact = |id: i64| async move {
            sqlx::query_as::<_, (String, Option<String>)>(
                "SELECT phone, email FROM customers WHERE id = $1",
            )
            .bind(id)
            .fetch_one(&self.pool)
            .await
        };
        let origin = name(parcel.origin_branch_id).await?;
        let destination = name(parcel.destination_branch_id).await?;
        let sender = contact(parcel.sender_id).await?;
        let recipient = contact(parcel.recipient_id).await?;
        let facts = messages::Facts {
            code: parcel.tracking_code.as_str(),
            service: parcel.service,
            origin: &origin,
            destination: &destination,
            sender: (&sender.0, sender.1.as_deref()),
            recipient: (&recipient.0, recipient.1.as_deref()),
        };
        for m in messages::for_event(event, &facts) {
            sqlx::query(
                "INSERT INTO notifications (parcel_id, channel, recipient, template, body, created_at, \
                 request_id) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(parcel.id)
            .bind(m.channel)
            .bind(&m.recipient)
            .bind(m.template)
            .bind(&m.body)
            .bind(now)
            .bind(self.request_id())
            .execute(&mut **tx)
            .await?;
        }
        Ok(())
    }

    /// Notifications of a parcel, oldest first.
    pub async fn notifications(&self, parcel_id: i64) -> StoreResult<Vec<Notification>> {
        let rows = sqlx::query(&format!(
            "SELECT {NOTIFICATION_COLUMNS} FROM notifications WHERE parcel_id = $1 ORDER BY id"
        ))
        .bind(parcel_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(notification_from).collect()
    }
}

/// `parcel` after transition `t` at `now`: its new status, failed
/// attempts, version, and the time it arrived at its destination (the
/// first time only) or was delivered.
fn after_transition(parcel: &Parcel, t: &Transition, now: i64) -> Parcel {
    let arrived_at = if t.to == ParcelStatus::AtDestination && parcel.arrived_at_ms.is_none() {
        Some(now)
    } else {
        parcel.arrived_at_ms
    };
    let delivered_at = (t.to == ParcelStatus::Delivered).then_some(now);
    Parcel {
        status: t.to,
        failed_attempts: parcel.failed_attempts + i64::from(t.failed_attempt),
        version: parcel.version + 1,
        arrived_at_ms: arrived_at,
        delivered_at_ms: delivered_at,
        ..parcel.clone()
    }
}

/// The reason the history keeps for `event`, for those that give one.
fn event_reason(event: &ParcelEvent) -> Option<&str> {
    match event {
        ParcelEvent::FailAttempt { reason }
        | ParcelEvent::Cancel { reason }
        | ParcelEvent::Return { reason } => Some(reason.as_str()),
        _ => None,
    }
}

/// The payments a delivery takes: the storage fee past the grace period
/// (`arrived_at`: when the parcel reached its destination) and the cash
/// on delivery, each when above zero.
async fn insert_delivery_payments(
    tx: &mut Transaction<'static, Any>,
    parcel: &Parcel,
    arrived_at: Option<i64>,
    actor: &Actor,
    now: i64,
) -> StoreResult<()> {
    let fee = storage_fee(parcel, arrived_at, now);
    if fee > Money::ZERO {
        insert_payment(tx, parcel.id, "storage", fee, actor, now).await?;
    }
    if parcel.cod_amount > Money::ZERO {
        insert_payment(tx, parcel.id, "cod", parcel.cod_amount, actor, now).await?;
    }
    Ok(())
}

/// Storage after the grace period: the fee per started day.
pub(in crate::store) fn storage_fee(p: &Parcel, arrived_at: Option<i64>, now: i64) -> Money {
    let Some(arrived) = arrived_at else {
        return Money::ZERO;
    };
    let over = now - arrived - p.storage_grace_hours * 3_600_000;
    if over <= 0 {
        return Money::ZERO;
    }
    let days = (over + 86_399_999) / 86_400_000;
    p.storage_fee_per_day.times(days)
}

/// Writes a history line: `event` took parcel `parcel_id` from `from`
/// (none for its registration) to `to`, by `actor` at branch `at`, for
/// `reason`.
pub(super) async fn insert_event(
    tx: &mut Transaction<'static, Any>,
    parcel_id: i64,
    event: &str,
    (from, to): (Option<ParcelStatus>, ParcelStatus),
    (actor, at): (&Actor, i64),
    reason: Option<&str>,
    now: i64,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO parcel_events (parcel_id, event, from_status, to_status, actor_id, branch_id, reason, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(parcel_id)
    .bind(event)
    .bind(from.map(|s| s.as_str()))
    .bind(to.as_str())
    .bind(actor.user_id)
    .bind(at)
    .bind(reason)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Writes a payment of `kind` (shipping, storage, cod) received by
/// `actor`.
pub(super) async fn insert_payment(
    tx: &mut Transaction<'static, Any>,
    parcel_id: i64,
    kind: &str,
    amount: Money,
    actor: &Actor,
    now: i64,
) -> StoreResult<()> {
    sqlx::query("INSERT INTO payments (parcel_id, kind, amount, received_by, created_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(parcel_id)
        .bind(kind)
        .bind(amount.0)
        .bind(actor.user_id)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
