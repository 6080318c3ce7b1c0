//! Registering a parcel.

use sqlx::{Any, Transaction};

use super::status::{insert_event, insert_payment};
use super::{PinSettings, new_pin};
use crate::domain::branch_scope::{Branches, Staff, may_act};
use crate::domain::{Money, ParcelEvent, ParcelStatus, TrackingCode};
use crate::store::customers::upsert_customer_row;
use crate::store::rows::{PARCEL_COLUMNS, listed, parcel_from, service_str};
use crate::store::{
    Actor, NewParcel, Parcel, Registered, Store, StoreError, StoreResult, Tariff, search,
};

impl Store {
    /// Registers a parcel: customers by phone, the quote from the valid
    /// tariff (its fees copied onto the parcel), a tracking code and a
    /// pickup PIN, the first history line and the shipping payment, in one
    /// transaction. A customer's new name reaches their earlier parcels'
    /// search words after it commits.
    ///
    /// Counter staff register at their own branch (the parcel's origin);
    /// a supervisor for a parcel from or to their branch; an admin
    /// anywhere. Anyone else gets [`StoreError::Forbidden`].
    pub async fn register_parcel(&self, p: &NewParcel, actor: &Actor) -> StoreResult<Registered> {
        check_new_parcel(p)?;
        let pins = self.pins()?;
        let branches = Branches {
            origin: p.origin_branch_id,
            destination: p.destination_branch_id,
        };
        let staff = Staff {
            role: actor.role,
            branch_id: actor.branch_id,
        };
        if !may_act(
            staff,
            ParcelStatus::Registered,
            &ParcelEvent::Receive,
            branches,
        ) {
            return Err(StoreError::Forbidden(
                "parcels are registered at their origin branch, by its staff".to_owned(),
            ));
        }
        let (tariff, quoted) = self
            .quote_parcel(&p.package_type, &p.zone, p.weight, p.cod_amount)
            .await?;
        let now = self.now();
        let pin = new_pin();
        let mut tx = self.begin().await?;
        check_branches(&mut tx, p).await?;
        let (sender, sender_renamed) = upsert_customer_row(&mut tx, &p.sender, now).await?;
        let (recipient, recipient_renamed) =
            upsert_customer_row(&mut tx, &p.recipient, now).await?;
        let id = insert_parcel(
            &mut tx,
            p,
            &tariff,
            quoted,
            (sender, recipient),
            (pins, &pin),
            now,
        )
        .await?;
        insert_event(
            &mut tx,
            id,
            "register",
            (None, ParcelStatus::Registered),
            (actor, actor.branch_id.unwrap_or(p.origin_branch_id)),
            None,
            now,
        )
        .await?;
        insert_payment(&mut tx, id, "shipping", quoted, actor, now).await?;
        let parcel = write_list_item(&mut tx, id).await?;
        tx.commit().await?;
        // A customer registered under a new name: their earlier parcels are
        // found by it too, re-indexed in batches now that the registration
        // has committed (the new parcel already has the new words).
        for (customer, renamed) in [(sender, sender_renamed), (recipient, recipient_renamed)] {
            if renamed {
                self.reindex_customer_parcels(customer).await?;
            }
        }
        Ok(Registered {
            parcel,
            pickup_pin: pin,
        })
    }
}

/// The checks of a new parcel that need no database
/// ([`NewParcel::problems`]), every field at once, before any database work.
fn check_new_parcel(p: &NewParcel) -> StoreResult<()> {
    let problems = p.problems();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(StoreError::Fields(problems))
    }
}

impl Store {
    /// The tariff valid now for a package and what it charges for it (with
    /// the COD fee when there is cash to collect); `Invalid` naming
    /// `package_type` when no tariff prices it.
    pub(super) async fn quote_parcel(
        &self,
        package_type: &str,
        zone: &str,
        weight: crate::domain::Grams,
        cod: Money,
    ) -> StoreResult<(Tariff, Money)> {
        let tariff = self
            .find_tariff(package_type, zone, weight)
            .await?
            .ok_or_else(|| StoreError::Invalid {
                field: "package_type",
                message: format!(
                    "no tariff for a {package_type} of {} g to zone {zone}",
                    weight.0
                ),
            })?;
        let quoted = tariff.quote(weight, cod);
        Ok((tariff, quoted))
    }
}

/// Fails with `Invalid` naming the field unless the parcel's origin and
/// destination are active branches.
async fn check_branches(tx: &mut Transaction<'static, Any>, p: &NewParcel) -> StoreResult<()> {
    check_active_branch(tx, p.origin_branch_id, "origin_branch_id").await?;
    check_active_branch(tx, p.destination_branch_id, "destination_branch_id").await
}

/// [`StoreError::Invalid`] naming `field` unless branch `id` is active.
pub(super) async fn check_active_branch(
    tx: &mut Transaction<'static, Any>,
    id: i64,
    field: &'static str,
) -> StoreResult<()> {
    let exists: Option<i64> =
        sqlx::query_scalar("SELECT id FROM branches WHERE id = $1 AND active = $2")
            .bind(id)
            .bind(1_i64)
            .fetch_optional(&mut **tx)
            .await?;
    match exists {
        Some(_) => Ok(()),
        None => Err(StoreError::Invalid {
            field,
            message: format!("no active branch {id}"),
        }),
    }
}

/// Inserts the parcel `p` from `sender` to `recipient`, quoted `quoted`
/// on `tariff`, with the hash of its pickup `pin`, under a new tracking
/// code; returns its id. The code's serial is random; on the rare
/// collision it is drawn again, five times at most.
async fn insert_parcel(
    tx: &mut Transaction<'static, Any>,
    p: &NewParcel,
    tariff: &Tariff,
    quoted: Money,
    (sender, recipient): (i64, i64),
    (pins, pin): (&PinSettings, &str),
    now: i64,
) -> StoreResult<i64> {
    for _ in 0..5 {
        let code = TrackingCode::new("PQ", fastrand::u32(0..100_000_000), "CO")
            .map_err(|e| StoreError::Database(e.to_string()))?;
        let taken: Option<i64> =
            sqlx::query_scalar("SELECT id FROM parcels WHERE tracking_code = $1")
                .bind(code.as_str())
                .fetch_optional(&mut **tx)
                .await?;
        if taken.is_some() {
            continue;
        }
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO parcels (tracking_code, pickup_pin_hash, sender_id, recipient_id, origin_branch_id, \
             destination_branch_id, service, delivery_address, package_type, weight_grams, length_mm, \
             width_mm, height_mm, declared_value, cod_amount, tariff_id, quoted_amount, storage_grace_hours, \
             storage_fee_per_day, cod_fee, status, created_at, updated_at, search_text) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, \
             $20, $21, $22, $22, $23) RETURNING id",
        )
        .bind(code.as_str())
        .bind(pins.hash(code.as_str(), pin))
        .bind(sender)
        .bind(recipient)
        .bind(p.origin_branch_id)
        .bind(p.destination_branch_id)
        .bind(service_str(p.service))
        .bind(&p.delivery_address)
        .bind(&p.package_type)
        .bind(i64::from(p.weight.0))
        .bind(p.dimensions_mm[0])
        .bind(p.dimensions_mm[1])
        .bind(p.dimensions_mm[2])
        .bind(p.declared_value.0)
        .bind(p.cod_amount.0)
        .bind(tariff.id)
        .bind(quoted.0)
        .bind(tariff.storage_grace_hours)
        .bind(tariff.storage_fee_per_day.0)
        .bind(tariff.cod_fee.0)
        .bind(ParcelStatus::Registered.as_str())
        .bind(now)
        .bind(search::parcel_search_text(
            p.sender.name.trim(),
            p.recipient.name.trim(),
        ))
        .fetch_one(&mut **tx)
        .await?;
        return Ok(id);
    }
    Err(StoreError::Conflict(
        "no free tracking code after 5 draws".to_owned(),
    ))
}

/// Writes the list item of parcel `id` from its row as the database holds
/// it; returns the parcel.
async fn write_list_item(tx: &mut Transaction<'static, Any>, id: i64) -> StoreResult<Parcel> {
    let row = sqlx::query(&format!(
        "SELECT {PARCEL_COLUMNS} FROM parcels WHERE id = $1"
    ))
    .bind(id)
    .fetch_one(&mut **tx)
    .await?;
    let parcel = parcel_from(&row)?;
    sqlx::query("UPDATE parcels SET list_item = $1 WHERE id = $2")
        .bind(listed(&parcel)?.json())
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(parcel)
}
