//! The courier's day: the home deliveries waiting at a branch to go out,
//! the parcels a courier has taken out and not yet settled, and what the
//! recipient pays at the door.

use super::status::storage_fee;
use crate::domain::Money;
use crate::store::rows::{PARCEL_COLUMNS, parcel_from};
use crate::store::{Parcel, Store, StoreResult};

/// The most parcels either list of the courier's day holds.
pub const COURIER_LIST_MAX: i64 = 200;

impl Parcel {
    /// What the recipient pays when it is handed over at `now_ms`: the
    /// cash on delivery and the storage past the grace period.
    pub fn to_collect(&self, now_ms: i64) -> Money {
        self.cod_amount + storage_fee(self, self.arrived_at_ms, now_ms)
    }
}

impl Store {
    /// The home deliveries at branch `branch_id` waiting to go out
    /// (`AT_DESTINATION`), the longest waiting first; at most
    /// [`COURIER_LIST_MAX`].
    pub async fn waiting_for_a_courier(&self, branch_id: i64) -> StoreResult<Vec<Parcel>> {
        let rows = sqlx::query(&format!(
            "SELECT {PARCEL_COLUMNS} FROM parcels WHERE status = 'AT_DESTINATION' \
             AND destination_branch_id = $1 AND service = 'home_delivery' \
             ORDER BY arrived_at, id LIMIT $2"
        ))
        .bind(branch_id)
        .bind(COURIER_LIST_MAX)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(parcel_from).collect()
    }

    /// The parcels courier `courier_id` has taken out for delivery and not
    /// yet delivered or brought back (the last `out_for_delivery` of each
    /// is theirs), in the order they took them; at most
    /// [`COURIER_LIST_MAX`].
    pub async fn courier_round(&self, courier_id: i64) -> StoreResult<Vec<Parcel>> {
        let rows = sqlx::query(&format!(
            "SELECT {PARCEL_COLUMNS} FROM parcels p WHERE p.status = 'OUT_FOR_DELIVERY' \
             AND (SELECT e.actor_id FROM parcel_events e WHERE e.parcel_id = p.id \
                  AND e.event = 'out_for_delivery' ORDER BY e.id DESC LIMIT 1) = $1 \
             ORDER BY p.id LIMIT $2"
        ))
        .bind(courier_id)
        .bind(COURIER_LIST_MAX)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(parcel_from).collect()
    }
}
