//! The pickup PIN at the hand-over: checked in constant time against its
//! keyed hash, wrong ones counted and locked out, and reissued by a
//! supervisor by SMS to the recipient.

use sqlx::{Any, Row, Transaction};

use super::status::insert_event;
use super::{Handover, PIN_LOCK, PIN_TRIES, PinRefused, new_pin};
use crate::domain::ParcelStatus;
use crate::domain::Role;
use crate::settings::HomeDeliveryProof;
use crate::store::audit::{AuditAction, AuditEntry, audit_in};
use crate::store::{Actor, Parcel, Store, StoreError, StoreResult};

/// A reissued PIN, as the caller may see it: where it was sent, never the
/// PIN itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PinReissued {
    /// The parcel.
    pub parcel_id: i64,
    /// The recipient's phone, all but its last four digits masked.
    pub sent_to: String,
    /// The outbox row of the SMS.
    pub notification_id: i64,
}

/// The SMS template of a reissued PIN; its text holds the PIN, so it is
/// masked wherever notifications are shown to staff, and in the row once
/// the gateway has taken it.
pub const PIN_TEMPLATE: &str = "pin_reissued";

impl Store {
    /// Checks the proof a delivery of `parcel` needs, in `tx`. `Ok(Ok(()))`:
    /// hand it over (the wrong-PIN count is cleared). `Ok(Err(refused))`:
    /// refuse; a wrong PIN has been counted and written in the history in
    /// `tx`, which the caller commits.
    pub(super) async fn check_handover(
        &self,
        tx: &mut Transaction<'static, Any>,
        parcel: &Parcel,
        handover: &Handover,
        (actor, at): (&Actor, i64),
        now: i64,
    ) -> StoreResult<Result<(), PinRefused>> {
        let pins = self.pins()?;
        let row = sqlx::query(
            "SELECT p.pickup_pin_hash, p.pin_locked_until, c.document FROM parcels p \
             JOIN customers c ON c.id = p.recipient_id WHERE p.id = $1",
        )
        .bind(parcel.id)
        .fetch_one(&mut **tx)
        .await?;
        let hash: String = row.try_get("pickup_pin_hash")?;
        let locked_until: Option<i64> = row.try_get("pin_locked_until")?;
        let on_file: Option<String> = row.try_get("document")?;
        if let Some(until) = locked_until.filter(|&u| u > now) {
            let ms = u64::try_from(until - now).unwrap_or(0);
            return Ok(Err(PinRefused::Locked {
                until_ms: until,
                retry_after_s: ms.div_ceil(1000),
            }));
        }
        let document_accepted = parcel.service == crate::domain::Service::HomeDelivery
            && pins.home_delivery == HomeDeliveryProof::PinOrDocument;
        let pin = handover
            .pin
            .as_deref()
            .map(str::trim)
            .filter(|p| !p.is_empty());
        let document = handover
            .document
            .as_deref()
            .filter(|_| document_accepted)
            .map(normalize_document)
            .filter(|d| !d.is_empty());
        if pin.is_none() && document.is_none() {
            return Ok(Err(PinRefused::Missing { document_accepted }));
        }
        let pin_ok = pin.is_some_and(|p| pins.verify(parcel.tracking_code.as_str(), p, &hash));
        let document_ok = match (&document, on_file.as_deref().map(normalize_document)) {
            (Some(given), Some(kept)) if !kept.is_empty() => {
                subtle::ConstantTimeEq::ct_eq(given.as_bytes(), kept.as_bytes()).into()
            }
            _ => false,
        };
        if pin_ok || document_ok {
            sqlx::query(
                "UPDATE parcels SET pin_failures = 0, pin_locked_until = NULL WHERE id = $1",
            )
            .bind(parcel.id)
            .execute(&mut **tx)
            .await?;
            return Ok(Ok(()));
        }
        let failures: i64 = sqlx::query_scalar(
            "UPDATE parcels SET pin_failures = pin_failures + 1 WHERE id = $1 RETURNING pin_failures",
        )
        .bind(parcel.id)
        .fetch_one(&mut **tx)
        .await?;
        let lock_ms = i64::try_from(PIN_LOCK.as_millis()).unwrap_or(i64::MAX);
        let reason = if failures >= PIN_TRIES {
            sqlx::query("UPDATE parcels SET pin_failures = 0, pin_locked_until = $1 WHERE id = $2")
                .bind(now + lock_ms)
                .bind(parcel.id)
                .execute(&mut **tx)
                .await?;
            format!(
                "wrong PIN ({failures} of {PIN_TRIES}): further tries refused for {} minutes",
                PIN_LOCK.as_secs() / 60
            )
        } else {
            format!("wrong PIN ({failures} of {PIN_TRIES})")
        };
        insert_event(
            tx,
            parcel.id,
            "pin_refused",
            (Some(parcel.status), parcel.status),
            (actor, at),
            Some(&reason),
            now,
        )
        .await?;
        Ok(Err(PinRefused::Wrong {
            tries_left: (PIN_TRIES - failures).max(0),
        }))
    }

    /// Issues a new pickup PIN for a parcel not yet handed over, sent by
    /// SMS to the recipient; the old PIN stops working and the wrong-PIN
    /// count and lock are cleared. Supervisors of the parcel's branches
    /// and admins only ([`StoreError::Forbidden`] otherwise). Written in
    /// the parcel's history and the audit log, in one transaction with the
    /// SMS's outbox row.
    pub async fn reissue_pin(
        &self,
        parcel_id: i64,
        actor: &Actor,
        client_addr: Option<&str>,
    ) -> StoreResult<PinReissued> {
        let pins = self.pins()?;
        if !matches!(actor.role, Role::Admin | Role::Supervisor) {
            return Err(StoreError::Forbidden(format!(
                "a {} may not issue a new PIN: ask a supervisor",
                actor.role.as_str()
            )));
        }
        let now = self.now();
        let mut tx = self.begin().await?;
        let parcel = super::parcel_in(&mut tx, parcel_id).await?;
        super::check_may_see(actor, &parcel)?;
        if matches!(
            parcel.status,
            ParcelStatus::Delivered | ParcelStatus::Cancelled | ParcelStatus::Returned
        ) {
            return Err(StoreError::Conflict(format!(
                "parcel {} is {}: it needs no PIN any more",
                parcel.tracking_code,
                parcel.status.as_str()
            )));
        }
        let pin = new_pin();
        sqlx::query(
            "UPDATE parcels SET pickup_pin_hash = $1, pin_failures = 0, pin_locked_until = NULL \
             WHERE id = $2",
        )
        .bind(pins.hash(parcel.tracking_code.as_str(), &pin))
        .bind(parcel.id)
        .execute(&mut *tx)
        .await?;
        let phone: String = sqlx::query_scalar("SELECT phone FROM customers WHERE id = $1")
            .bind(parcel.recipient_id)
            .fetch_one(&mut *tx)
            .await?;
        let body = format!(
            "Paqueteria: su nuevo PIN de entrega para el envio {} es {pin}. El anterior ya no sirve.",
            parcel.tracking_code
        );
        let notification_id: i64 = sqlx::query_scalar(
            "INSERT INTO notifications (parcel_id, channel, recipient, template, body, created_at, \
             request_id) VALUES ($1, 'sms', $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(parcel.id)
        .bind(&phone)
        .bind(PIN_TEMPLATE)
        .bind(&body)
        .bind(now)
        .bind(self.request_id())
        .fetch_one(&mut *tx)
        .await?;
        let at = actor.branch_id.unwrap_or(parcel.destination_branch_id);
        insert_event(
            &mut tx,
            parcel.id,
            PIN_TEMPLATE,
            (Some(parcel.status), parcel.status),
            (actor, at),
            Some("new PIN sent to the recipient by SMS; the old one is void"),
            now,
        )
        .await?;
        let subject = format!("parcel:{}", parcel.id);
        audit_in(
            &mut tx,
            &AuditEntry {
                actor_id: actor.user_id,
                action: AuditAction::PinReissued,
                subject: Some(&subject),
                detail: parcel.tracking_code.as_str(),
                client_addr,
            },
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(PinReissued {
            parcel_id: parcel.id,
            sent_to: mask_phone(&phone),
            notification_id,
        })
    }
}

/// A document as compared: letters and digits only, upper case (`1.020.304`
/// and `1020304` are the same document).
fn normalize_document(d: &str) -> String {
    d.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// `+57300•••4567`: the country code and operator prefix, then the last
/// four digits.
pub fn mask_phone(phone: &str) -> String {
    let chars: Vec<char> = phone.chars().collect();
    let keep_head = chars.len().saturating_sub(4).min(6);
    let tail_from = chars.len().saturating_sub(4);
    chars
        .iter()
        .enumerate()
        .map(|(i, c)| {
            if i < keep_head || i >= tail_from {
                *c
            } else {
                '•'
            }
        })
        .collect()
}

/// `text` with every run of six digits or more that follows the word PIN
/// masked: what staff see of a reissued PIN's SMS.
pub fn mask_pin(text: &str) -> String {
    match text.find(" es ") {
        Some(i) if text.contains("PIN") => {
            let (head, tail) = text.split_at(i + 4);
            let masked: String = tail
                .chars()
                .map(|c| if c.is_ascii_digit() { '•' } else { c })
                .collect();
            format!("{head}{masked}")
        }
        _ => text.to_owned(),
    }
}
