//! Column lists and the decoding of rows into the model's types.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{
    Branch, Customer, ListedParcel, Notification, Parcel, ParcelEventRow, Payment, StoreError,
    StoreResult, Tariff,
};
use crate::domain::{Grams, Money, ParcelStatus, Phone, Service, TrackingCode};

pub(super) const PARCEL_COLUMNS: &str = "id, tracking_code, sender_id, recipient_id, origin_branch_id, destination_branch_id, \
     service, delivery_address, package_type, weight_grams, length_mm, width_mm, height_mm, declared_value, \
     cod_amount, tariff_id, quoted_amount, storage_grace_hours, storage_fee_per_day, cod_fee, condition, shelf, \
     status, failed_attempts, version, arrived_at, delivered_at, created_at";

pub(super) const TARIFF_COLUMNS: &str = "id, package_type, zone, min_grams, max_grams, base_price, per_kg_price, \
     storage_grace_hours, storage_fee_per_day, cod_fee, valid_from, valid_to";

pub(super) const NOTIFICATION_COLUMNS: &str = "id, parcel_id, channel, recipient, template, body, state, job_id, \
     provider_message_id, error, transport, context, resends, request_id";

pub(super) fn service_str(s: Service) -> &'static str {
    match s {
        Service::BranchPickup => "branch_pickup",
        Service::HomeDelivery => "home_delivery",
    }
}

pub(super) fn status_from(s: &str) -> Result<ParcelStatus, StoreError> {
    ParcelStatus::parse(s)
        .ok_or_else(|| StoreError::Database(format!("unknown status {s:?} in the database")))
}

pub(super) fn branch_from(r: &AnyRow) -> StoreResult<Branch> {
    Ok(Branch {
        id: r.try_get("id")?,
        code: r.try_get("code")?,
        name: r.try_get("name")?,
        city: r.try_get("city")?,
        address: r.try_get("address")?,
        phone: r.try_get("phone")?,
        active: r.try_get::<i64, _>("active")? != 0,
    })
}

pub(super) fn customer_from(r: &AnyRow) -> StoreResult<Customer> {
    let phone: String = r.try_get("phone")?;
    Ok(Customer {
        id: r.try_get("id")?,
        phone: Phone::parse(&phone).map_err(StoreError::Database)?,
        name: r.try_get("name")?,
        email: r.try_get("email")?,
        document: r.try_get("document")?,
        address: r.try_get("address")?,
    })
}

pub(super) fn tariff_from(r: &AnyRow) -> StoreResult<Tariff> {
    let grams = |c: &str| -> StoreResult<Grams> {
        Ok(Grams(u32::try_from(r.try_get::<i64, _>(c)?).unwrap_or(0)))
    };
    Ok(Tariff {
        id: r.try_get("id")?,
        package_type: r.try_get("package_type")?,
        zone: r.try_get("zone")?,
        min_grams: grams("min_grams")?,
        max_grams: grams("max_grams")?,
        base_price: Money(r.try_get("base_price")?),
        per_kg_price: Money(r.try_get("per_kg_price")?),
        storage_grace_hours: r.try_get("storage_grace_hours")?,
        storage_fee_per_day: Money(r.try_get("storage_fee_per_day")?),
        cod_fee: Money(r.try_get("cod_fee")?),
        valid_from_ms: r.try_get("valid_from")?,
        valid_to_ms: r.try_get("valid_to")?,
    })
}

/// A row's columns by position, on either driver: the store's rows
/// through sqlx, the list's SQLite reads through rusqlite (see
/// [`super::reads`]).
pub(super) trait Columns {
    fn int(&self, i: usize) -> StoreResult<Option<i64>>;
    fn text(&self, i: usize) -> StoreResult<Option<String>>;
}

impl Columns for AnyRow {
    fn int(&self, i: usize) -> StoreResult<Option<i64>> {
        Ok(self.try_get(i)?)
    }
    fn text(&self, i: usize) -> StoreResult<Option<String>> {
        Ok(self.try_get(i)?)
    }
}

/// Unchecked: the page's statements are ours and name their columns'
/// types (BIGINT or TEXT), so each value's type is not checked again
/// against the Rust type, a check that weighs on the list's decoding.
impl Columns for sqlx::postgres::PgRow {
    fn int(&self, i: usize) -> StoreResult<Option<i64>> {
        Ok(self.try_get_unchecked(i)?)
    }
    fn text(&self, i: usize) -> StoreResult<Option<String>> {
        Ok(self.try_get_unchecked(i)?)
    }
}

impl Columns for rusqlite::Row<'_> {
    fn int(&self, i: usize) -> StoreResult<Option<i64>> {
        self.get(i).map_err(|e| StoreError::Database(e.to_string()))
    }
    fn text(&self, i: usize) -> StoreResult<Option<String>> {
        self.get(i).map_err(|e| StoreError::Database(e.to_string()))
    }
}

/// The list's item of `parcel`.
pub(super) fn listed(parcel: &Parcel) -> StoreResult<ListedParcel> {
    ListedParcel::new(parcel).map_err(|e| StoreError::Database(format!("a parcel's JSON: {e}")))
}

/// The parcel of a row of `SELECT {PARCEL_COLUMNS}`.
pub(super) fn parcel_from(r: &AnyRow) -> StoreResult<Parcel> {
    let null = |i: usize| StoreError::Database(format!("parcel column {i} is NULL"));
    let int = |i: usize| r.int(i)?.ok_or_else(|| null(i));
    let text = |i: usize| r.text(i)?.ok_or_else(|| null(i));
    let code = text(1)?;
    Ok(Parcel {
        id: int(0)?,
        tracking_code: TrackingCode::parse(&code)
            .map_err(|e| StoreError::Database(e.to_string()))?,
        sender_id: int(2)?,
        recipient_id: int(3)?,
        origin_branch_id: int(4)?,
        destination_branch_id: int(5)?,
        service: if text(6)? == "home_delivery" {
            Service::HomeDelivery
        } else {
            Service::BranchPickup
        },
        delivery_address: text(7)?,
        package_type: text(8)?,
        weight: Grams(u32::try_from(int(9)?).unwrap_or(0)),
        dimensions_mm: [int(10)?, int(11)?, int(12)?],
        declared_value: Money(int(13)?),
        cod_amount: Money(int(14)?),
        tariff_id: r.int(15)?,
        quoted_amount: Money(int(16)?),
        storage_grace_hours: int(17)?,
        storage_fee_per_day: Money(int(18)?),
        cod_fee: Money(int(19)?),
        condition: text(20)?,
        shelf: r.text(21)?,
        status: status_from(&text(22)?)?,
        failed_attempts: int(23)?,
        version: int(24)?,
        arrived_at_ms: r.int(25)?,
        delivered_at_ms: r.int(26)?,
        created_at_ms: int(27)?,
    })
}

/// A history line of a row of `parcel_events`.
pub(super) fn event_from(r: &AnyRow) -> StoreResult<ParcelEventRow> {
    Ok(ParcelEventRow {
        id: r.try_get("id")?,
        event: r.try_get("event")?,
        from_status: r
            .try_get::<Option<String>, _>("from_status")?
            .and_then(|s| ParcelStatus::parse(&s)),
        to_status: status_from(&r.try_get::<String, _>("to_status")?)?,
        actor_id: r.try_get("actor_id")?,
        actor_name: r.try_get("actor_name")?,
        branch_id: r.try_get("branch_id")?,
        branch_name: r.try_get("branch_name")?,
        reason: r.try_get("reason")?,
        created_at_ms: r.try_get("created_at")?,
    })
}

/// The columns [`payment_from`] reads.
pub(super) const PAYMENT_COLUMNS: &str =
    "id, parcel_id, kind, amount, voided_at, voided_by, void_reason";

/// A payment of a row of `payments`.
pub(super) fn payment_from(r: &AnyRow) -> StoreResult<Payment> {
    Ok(Payment {
        id: r.try_get("id")?,
        parcel_id: r.try_get("parcel_id")?,
        kind: r.try_get("kind")?,
        amount: Money(r.try_get("amount")?),
        voided_at_ms: r.try_get("voided_at")?,
        voided_by: r.try_get("voided_by")?,
        void_reason: r.try_get("void_reason")?,
    })
}

pub(super) fn notification_from(r: &AnyRow) -> StoreResult<Notification> {
    Ok(Notification {
        id: r.try_get("id")?,
        parcel_id: r.try_get("parcel_id")?,
        channel: r.try_get("channel")?,
        recipient: r.try_get("recipient")?,
        template: r.try_get("template")?,
        body: r.try_get("body")?,
        state: r.try_get("state")?,
        job_id: r.try_get("job_id")?,
        provider_message_id: r.try_get("provider_message_id")?,
        error: r.try_get("error")?,
        transport: r.try_get("transport")?,
        context: serde_json::from_str(&r.try_get::<String, _>("context")?)
            .unwrap_or(serde_json::Value::Null),
        resends: r.try_get("resends")?,
        request_id: r.try_get("request_id")?,
    })
}
