//! Tariffs: the price lines a parcel's quote is taken from.
//!
//! A tariff line is never edited in place: a new price is a new line, and
//! an old one is ended (`valid_to`). Parcels keep the fees they were quoted
//! (their snapshot), whatever happens to the line later.

use serde::Serialize;

use super::rows::{TARIFF_COLUMNS, tariff_from};
use super::{NewTariff, Store, StoreError, StoreResult, Tariff};
use crate::domain::Grams;

/// Which tariff lines to list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TariffFilter {
    /// Only this package type.
    pub package_type: Option<String>,
    /// Only this zone.
    pub zone: Option<String>,
    /// `true`: only the lines valid now; `false`: only those that are not
    /// (ended, or not yet started).
    pub current: Option<bool>,
    /// Page, from 1.
    pub page: u32,
    /// Rows per page.
    pub page_size: u32,
}

/// One page of tariff lines.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TariffPage {
    /// The lines: by package type, zone and weight band, the latest
    /// validity first.
    pub items: Vec<Tariff>,
    /// Lines matching the filters in all.
    pub total: i64,
    /// This page, from 1.
    pub page: u32,
    /// Rows per page.
    pub page_size: u32,
}

/// How far in the past an end may be put: a client's clock a little
/// behind the server's is not refused.
const END_LEEWAY_MS: i64 = 60_000;

impl Store {
    /// Creates a tariff line.
    pub async fn create_tariff(&self, t: &NewTariff) -> StoreResult<Tariff> {
        let problems = t.problems();
        if !problems.is_empty() {
            return Err(StoreError::Fields(problems));
        }
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO tariffs (package_type, zone, min_grams, max_grams, base_price, per_kg_price, \
             storage_grace_hours, storage_fee_per_day, cod_fee, valid_from, valid_to, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id",
        )
        .bind(&t.package_type)
        .bind(&t.zone)
        .bind(i64::from(t.min_grams.0))
        .bind(i64::from(t.max_grams.0))
        .bind(t.base_price.0)
        .bind(t.per_kg_price.0)
        .bind(t.storage_grace_hours)
        .bind(t.storage_fee_per_day.0)
        .bind(t.cod_fee.0)
        .bind(t.valid_from_ms)
        .bind(t.valid_to_ms)
        .bind(self.now())
        .fetch_one(&self.pool)
        .await?;
        self.tariff(id).await
    }

    /// One tariff line.
    pub async fn tariff(&self, id: i64) -> StoreResult<Tariff> {
        let row = self
            .row_by_id(
                &format!("SELECT {TARIFF_COLUMNS} FROM tariffs WHERE id = $1"),
                id,
                "tariff",
            )
            .await?;
        tariff_from(&row)
    }

    /// The tariff line valid now for a package type, zone and weight.
    pub async fn find_tariff(
        &self,
        package_type: &str,
        zone: &str,
        weight: Grams,
    ) -> StoreResult<Option<Tariff>> {
        let row = sqlx::query(&format!(
            "SELECT {TARIFF_COLUMNS} FROM tariffs WHERE package_type = $1 AND zone = $2 \
             AND min_grams <= $3 AND max_grams >= $3 AND valid_from <= $4 \
             AND (valid_to IS NULL OR valid_to > $4) ORDER BY valid_from DESC LIMIT 1"
        ))
        .bind(package_type)
        .bind(zone)
        .bind(i64::from(weight.0))
        .bind(self.now())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(tariff_from).transpose()
    }

    /// A page of tariff lines, current and past, filtered.
    pub async fn tariffs(&self, f: &TariffFilter) -> StoreResult<TariffPage> {
        let page = f.page.max(1);
        let page_size = f.page_size.max(1);
        let now = self.now();
        // $1 now, $2 package type, $3 zone, $4 current (1, 0 or null)
        let filters = "(CAST($2 AS TEXT) IS NULL OR package_type = $2) \
             AND (CAST($3 AS TEXT) IS NULL OR zone = $3) \
             AND (CAST($4 AS BIGINT) IS NULL OR $4 = CASE WHEN valid_from <= $1 \
                  AND (valid_to IS NULL OR valid_to > $1) THEN 1 ELSE 0 END)";
        let current = f.current.map(i64::from);
        let rows = sqlx::query(&format!(
            "SELECT {TARIFF_COLUMNS} FROM tariffs WHERE {filters} \
             ORDER BY package_type, zone, min_grams, valid_from DESC, id DESC LIMIT $5 OFFSET $6"
        ))
        .bind(now)
        .bind(f.package_type.as_deref())
        .bind(f.zone.as_deref())
        .bind(current)
        .bind(i64::from(page_size))
        .bind(i64::from(page - 1) * i64::from(page_size))
        .fetch_all(&self.pool)
        .await?;
        let total: i64 =
            sqlx::query_scalar(&format!("SELECT COUNT(*) FROM tariffs WHERE {filters}"))
                .bind(now)
                .bind(f.package_type.as_deref())
                .bind(f.zone.as_deref())
                .bind(current)
                .fetch_one(&self.pool)
                .await?;
        Ok(TariffPage {
            items: rows.iter().map(tariff_from).collect::<StoreResult<_>>()?,
            total,
            page,
            page_size,
        })
    }

    /// Ends tariff line `id` at `valid_to_ms` (now when `None`): from then
    /// on no quote finds it. Parcels quoted on it keep their fees. An
    /// ended line is a 409; an end before the line starts, more than a
    /// minute in the past, or not before a later end already set is a 422
    /// naming `valid_to_ms`.
    pub async fn end_tariff(&self, id: i64, valid_to_ms: Option<i64>) -> StoreResult<Tariff> {
        let now = self.now();
        let end = valid_to_ms.unwrap_or(now);
        let mut tx = self.begin().await?;
        let lock = match self.engine {
            super::Engine::Postgres => " FOR UPDATE",
            super::Engine::Sqlite => "",
        };
        let row = sqlx::query(&format!(
            "SELECT {TARIFF_COLUMNS} FROM tariffs WHERE id = $1{lock}"
        ))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound("tariff"))?;
        let t = tariff_from(&row)?;
        if let Some(to) = t.valid_to_ms.filter(|to| *to <= now) {
            return Err(StoreError::Conflict(format!(
                "tariff {id} already ended at {to} (Unix ms); a tariff is never edited, create a new one"
            )));
        }
        let refuse = |message: String| StoreError::Invalid {
            field: "valid_to_ms",
            message,
        };
        if end <= t.valid_from_ms {
            return Err(refuse(format!(
                "must be after the tariff's valid_from_ms ({})",
                t.valid_from_ms
            )));
        }
        if end < now.saturating_sub(END_LEEWAY_MS) {
            return Err(refuse(
                "must not be in the past: the tariff was valid until now".to_owned(),
            ));
        }
        if let Some(to) = t.valid_to_ms.filter(|to| end >= *to) {
            return Err(refuse(format!("must be before the end already set ({to})")));
        }
        sqlx::query("UPDATE tariffs SET valid_to = $1 WHERE id = $2")
            .bind(end)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.tariff(id).await
    }
}
