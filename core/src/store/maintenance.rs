//! What the maintenance jobs read and write: expired reports, abandoned
//! uploads, the dashboard figures, pickup reminders and stale
//! registrations. Every query works in bounded batches.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sqlx::Row;

use super::parcels::storage_fee;
use super::rows::{PARCEL_COLUMNS, parcel_from};
use super::{Parcel, Store, StoreResult};
use crate::domain::Money;

/// A finished report past its retention.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExpiredReport {
    /// Report id.
    pub id: i64,
    /// Its stored file, if it got one.
    pub file_key: Option<String>,
}

/// Days the dashboard's chart shows, today included.
pub const CHART_DAYS: i64 = 14;

/// One day of the dashboard's chart.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayFigures {
    /// The day's start (Unix ms): today's start less whole days of 24 h.
    pub day_start_ms: i64,
    /// Parcels handed in that day.
    pub received: i64,
    /// Parcels delivered that day.
    pub delivered: i64,
}

/// Parcels of one status at one destination branch.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BranchStatusCount {
    /// Destination branch id.
    pub branch_id: i64,
    /// Its name.
    pub branch_name: String,
    /// Status.
    pub status: String,
    /// How many parcels.
    pub count: i64,
}

/// The dashboard's figures.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DashboardFigures {
    /// Parcels per status.
    pub by_status: BTreeMap<String, i64>,
    /// Parcels per destination branch and status.
    pub by_branch: Vec<BranchStatusCount>,
    /// Parcels handed in since the start of today (business time zone).
    pub received_today: i64,
    /// Parcels delivered since the start of today.
    pub delivered_today: i64,
    /// Payments taken today, voided ones excluded (minor units).
    pub revenue_today: Money,
    /// Parcels at their destination past their storage grace period.
    pub waiting_past_grace: i64,
    /// Messages that failed or whose delivery is unknown.
    pub failed_notifications: i64,
    /// Receptions and deliveries per day, the oldest first: the
    /// [`CHART_DAYS`] days up to and including today.
    #[serde(default)]
    pub last_days: Vec<DayFigures>,
    /// Start of "today" used for the figures (Unix ms).
    pub day_start_ms: i64,
    /// When they were computed (Unix ms).
    pub computed_at_ms: i64,
}

const DASHBOARD_KEY: &str = "summary";

impl Store {
    /// Up to `limit` done or failed reports finished before `before_ms`,
    /// oldest first.
    pub async fn expired_reports(
        &self,
        before_ms: i64,
        limit: i64,
    ) -> StoreResult<Vec<ExpiredReport>> {
        let rows = sqlx::query(
            "SELECT id, file_key FROM reports WHERE state IN ('done', 'failed') AND finished_at < $1 \
             ORDER BY finished_at, id LIMIT $2",
        )
        .bind(before_ms)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ExpiredReport {
                    id: r.try_get("id")?,
                    file_key: r.try_get("file_key")?,
                })
            })
            .collect()
    }

    /// Deletes a report row.
    pub async fn delete_report(&self, id: i64) -> StoreResult<()> {
        sqlx::query("DELETE FROM reports WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Marks the attachment still waiting on an upload that is being
    /// deleted as failed; returns how many rows changed.
    pub async fn fail_pending_upload(&self, upload_key: &str, reason: &str) -> StoreResult<u64> {
        let done = sqlx::query(
            "UPDATE attachments SET state = 'failed', error = $1 WHERE upload_key = $2 AND state = 'pending'",
        )
        .bind(reason)
        .bind(upload_key)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    /// Computes the dashboard figures, "today" starting at `day_start_ms`.
    pub async fn compute_dashboard(&self, day_start_ms: i64) -> StoreResult<DashboardFigures> {
        let now = self.now();
        let mut by_status = BTreeMap::new();
        for r in sqlx::query("SELECT status, COUNT(*) AS n FROM parcels GROUP BY status")
            .fetch_all(&self.pool)
            .await?
        {
            by_status.insert(r.try_get::<String, _>("status")?, r.try_get::<i64, _>("n")?);
        }
        let by_branch = sqlx::query(
            "SELECT p.destination_branch_id AS branch_id, b.name AS branch_name, p.status, COUNT(*) AS n \
             FROM parcels p JOIN branches b ON b.id = p.destination_branch_id \
             GROUP BY p.destination_branch_id, b.name, p.status ORDER BY b.name, p.status",
        )
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            Ok(BranchStatusCount {
                branch_id: r.try_get("branch_id")?,
                branch_name: r.try_get("branch_name")?,
                status: r.try_get("status")?,
                count: r.try_get("n")?,
            })
        })
        .collect::<StoreResult<Vec<_>>>()?;
        let events_today = |event: &'static str| {
            sqlx::query_scalar::<_, i64>(
                "SELECT COUNT(*) FROM parcel_events WHERE event = $1 AND created_at >= $2",
            )
            .bind(event)
            .bind(day_start_ms)
            .fetch_one(&self.pool)
        };
        let received_today = events_today("receive").await?;
        let delivered_today = events_today("deliver").await?;
        // Earlier days are taken as 24 h each before today's start (a
        // daylight-saving change shifts one of them by an hour).
        let first = day_start_ms - (CHART_DAYS - 1) * 86_400_000;
        let mut last_days: Vec<DayFigures> = (0..CHART_DAYS)
            .map(|i| DayFigures {
                day_start_ms: first + i * 86_400_000,
                received: 0,
                delivered: 0,
            })
            .collect();
        for r in sqlx::query(
            "SELECT event, (created_at - $1) / 86400000 AS day, COUNT(*) AS n FROM parcel_events \
             WHERE event IN ('receive', 'deliver') AND created_at >= $1 GROUP BY event, day",
        )
        .bind(first)
        .fetch_all(&self.pool)
        .await?
        {
            let day: i64 = r.try_get("day")?;
            let n: i64 = r.try_get("n")?;
            let event: String = r.try_get("event")?;
            // Events after today (a clock moved back) count as today's.
            let Some(d) = usize::try_from(day.min(CHART_DAYS - 1))
                .ok()
                .and_then(|i| last_days.get_mut(i))
            else {
                continue;
            };
            if event == "receive" {
                d.received += n;
            } else {
                d.delivered += n;
            }
        }
        let revenue: Option<i64> = sqlx::query_scalar(
            "SELECT CAST(SUM(amount) AS BIGINT) FROM payments WHERE voided_at IS NULL AND created_at >= $1",
        )
        .bind(day_start_ms)
        .fetch_one(&self.pool)
        .await?;
        let waiting_past_grace: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM parcels WHERE status = 'AT_DESTINATION' \
             AND arrived_at + storage_grace_hours * 3600000 < $1",
        )
        .bind(now)
        .fetch_one(&self.pool)
        .await?;
        let failed_notifications: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM notifications WHERE state IN ('failed', 'unknown')",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(DashboardFigures {
            by_status,
            by_branch,
            received_today,
            delivered_today,
            revenue_today: Money(revenue.unwrap_or(0)),
            waiting_past_grace,
            failed_notifications,
            last_days,
            day_start_ms,
            computed_at_ms: now,
        })
    }

    /// Keeps the figures for the app to read.
    pub async fn save_dashboard(&self, figures: &DashboardFigures) -> StoreResult<()> {
        let value = serde_json::to_string(figures)
            .map_err(|e| super::StoreError::Database(e.to_string()))?;
        sqlx::query(
            "INSERT INTO dashboard_cache (key, value, refreshed_at) VALUES ($1, $2, $3) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value, refreshed_at = excluded.refreshed_at",
        )
        .bind(DASHBOARD_KEY)
        .bind(value)
        .bind(figures.computed_at_ms)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The last figures saved, if any.
    pub async fn dashboard(&self) -> StoreResult<Option<DashboardFigures>> {
        let value: Option<String> =
            sqlx::query_scalar("SELECT value FROM dashboard_cache WHERE key = $1")
                .bind(DASHBOARD_KEY)
                .fetch_optional(&self.pool)
                .await?;
        Ok(value.and_then(|v| serde_json::from_str(&v).ok()))
    }

    /// Up to `limit` parcels waiting for pickup at their branch, by id
    /// after `after_id`.
    pub async fn parcels_waiting_for_pickup(
        &self,
        after_id: i64,
        limit: i64,
    ) -> StoreResult<Vec<Parcel>> {
        let rows = sqlx::query(&format!(
            "SELECT {PARCEL_COLUMNS} FROM parcels WHERE status = 'AT_DESTINATION' \
             AND service = 'branch_pickup' AND id > $1 ORDER BY id LIMIT $2"
        ))
        .bind(after_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(parcel_from).collect()
    }

    /// Writes the pickup reminders of one parcel for one local date (an
    /// SMS, and an email when the recipient gave an address), each at most
    /// once per parcel and date. Returns how many rows were new.
    pub async fn add_pickup_reminders(&self, parcel: &Parcel, date: &str) -> StoreResult<u64> {
        let now = self.now();
        let recipient = self.customer(parcel.recipient_id).await?;
        let branch = self.branch(parcel.destination_branch_id).await?;
        let fee = storage_fee(parcel, parcel.arrived_at_ms, now);
        let code = parcel.tracking_code.as_str();
        let body = format!(
            "Paqueteria: su envio {code} lo espera en {}. Almacenamiento acumulado a hoy: {fee}. Traiga su documento y el PIN de entrega.",
            branch.name
        );
        let context = serde_json::json!({
            "tracking_code": code,
            "branch": branch.name,
            "storage_fee": fee.to_string(),
            "storage_fee_minor": fee.minor(),
            "date": date,
        })
        .to_string();
        let mut inserted = 0;
        let mut targets = vec![("sms", recipient.phone.as_str().to_owned(), body.clone())];
        if let Some(email) = recipient.email.as_ref().filter(|e| !e.is_empty()) {
            targets.push((
                "email",
                email.clone(),
                format!("Su envio {code} lo espera en {}", branch.name),
            ));
        }
        for (channel, to, text) in targets {
            let done = sqlx::query(
                "INSERT INTO notifications (parcel_id, channel, recipient, template, body, context, dedupe_key, created_at) \
                 VALUES ($1, $2, $3, 'pickup_reminder', $4, $5, $6, $7) ON CONFLICT (dedupe_key) DO NOTHING",
            )
            .bind(parcel.id)
            .bind(channel)
            .bind(to)
            .bind(text)
            .bind(&context)
            .bind(format!("reminder:{}:{date}:{channel}", parcel.id))
            .bind(now)
            .execute(&self.pool)
            .await?;
            inserted += done.rows_affected();
        }
        Ok(inserted)
    }

    /// Up to `limit` parcels registered before `before_ms` and never handed
    /// in, as (id, version).
    pub async fn stale_registrations(
        &self,
        before_ms: i64,
        limit: i64,
    ) -> StoreResult<Vec<(i64, i64)>> {
        let rows = sqlx::query(
            "SELECT id, version FROM parcels WHERE status = 'REGISTERED' AND created_at < $1 ORDER BY created_at, id LIMIT $2",
        )
        .bind(before_ms)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("id")?, r.try_get("version")?)))
            .collect()
    }
}
