//! Report rows: requested by a user, built by the `report.pdf` /
//! `report.xlsx` job, which reports its progress here.

use sqlx::Row;

use super::{Notification, Report, Store, StoreError, StoreResult};

const REPORT_COLUMNS: &str = "id, kind, filters, requested_by, state, progress, file_key, error, job_id, created_at, finished_at";

fn report_from(r: &sqlx::any::AnyRow) -> StoreResult<Report> {
    let filters: String = r.try_get("filters")?;
    Ok(Report {
        id: r.try_get("id")?,
        kind: r.try_get("kind")?,
        filters: serde_json::from_str(&filters).unwrap_or(serde_json::Value::Null),
        requested_by: r.try_get("requested_by")?,
        state: r.try_get("state")?,
        progress: r.try_get("progress")?,
        file_key: r.try_get("file_key")?,
        error: r.try_get("error")?,
        job_id: r.try_get("job_id")?,
        created_at_ms: r.try_get("created_at")?,
        finished_at_ms: r.try_get("finished_at")?,
    })
}

impl Store {
    /// Records a report request (`kind` is `pdf` or `xlsx`).
    pub async fn create_report(
        &self,
        kind: &str,
        filters: &serde_json::Value,
        requested_by: Option<i64>,
    ) -> StoreResult<Report> {
        if !matches!(kind, "pdf" | "xlsx") {
            return Err(StoreError::Invalid {
                field: "kind",
                message: "must be pdf or xlsx".to_owned(),
            });
        }
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO reports (kind, filters, requested_by, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(kind)
        .bind(filters.to_string())
        .bind(requested_by)
        .bind(self.now())
        .fetch_one(&self.pool)
        .await?;
        self.report(id).await
    }

    /// Notes the job that builds a report.
    pub async fn set_report_job(&self, id: i64, job_id: &str) -> StoreResult<()> {
        sqlx::query("UPDATE reports SET job_id = $1 WHERE id = $2")
            .bind(job_id)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// One report.
    pub async fn report(&self, id: i64) -> StoreResult<Report> {
        let row = self
            .row_by_id(
                &format!("SELECT {REPORT_COLUMNS} FROM reports WHERE id = $1"),
                id,
                "report",
            )
            .await?;
        report_from(&row)
    }

    /// One page of reports, newest first: those `requested_by` asked for,
    /// or every report for `None`; page `page` (from 1) of `page_size`
    /// rows, and how many there are in all. (Finished reports are deleted
    /// after `REPORT_RETENTION`, so the table stays small.)
    pub async fn reports_page(
        &self,
        requested_by: Option<i64>,
        page: u32,
        page_size: u32,
    ) -> StoreResult<(Vec<Report>, i64)> {
        let offset = i64::from(page.max(1) - 1) * i64::from(page_size);
        let rows = sqlx::query(&format!(
            "SELECT {REPORT_COLUMNS} FROM reports \
             WHERE (CAST($1 AS BIGINT) IS NULL OR requested_by = $1) \
             ORDER BY id DESC LIMIT $2 OFFSET $3"
        ))
        .bind(requested_by)
        .bind(i64::from(page_size))
        .bind(offset)
        .fetch_all(&self.pool)
        .await?;
        let total: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM reports WHERE (CAST($1 AS BIGINT) IS NULL OR requested_by = $1)",
        )
        .bind(requested_by)
        .fetch_one(&self.pool)
        .await?;
        Ok((
            rows.iter().map(report_from).collect::<StoreResult<_>>()?,
            total,
        ))
    }

    /// Marks a report running (its job started).
    pub async fn start_report(&self, id: i64) -> StoreResult<()> {
        sqlx::query(
            "UPDATE reports SET state = 'running', progress = 0, error = NULL WHERE id = $1 AND state IN ('pending', 'running', 'failed')",
        )
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Records how far a running report is (0 to 100).
    pub async fn report_progress(&self, id: i64, percent: i64) -> StoreResult<()> {
        sqlx::query("UPDATE reports SET progress = $1 WHERE id = $2 AND state = 'running'")
            .bind(percent.clamp(0, 100))
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Marks a report done with its stored file.
    pub async fn finish_report(&self, id: i64, file_key: &str, size_bytes: i64) -> StoreResult<()> {
        sqlx::query(
            "UPDATE reports SET state = 'done', progress = 100, file_key = $1, size_bytes = $2, \
             error = NULL, finished_at = $3 WHERE id = $4",
        )
        .bind(file_key)
        .bind(size_bytes)
        .bind(self.now())
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Deletes a report that never got its job (the job system refused
    /// it); a report with a job is left alone. Returns whether one went.
    pub async fn forget_unqueued_report(&self, id: i64) -> StoreResult<bool> {
        let gone = sqlx::query("DELETE FROM reports WHERE id = $1 AND job_id IS NULL")
            .bind(id)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(gone > 0)
    }

    /// Marks a report failed with the reason.
    pub async fn fail_report(&self, id: i64, reason: &str) -> StoreResult<()> {
        sqlx::query(
            "UPDATE reports SET state = 'failed', error = $1, file_key = NULL, finished_at = $2 WHERE id = $3",
        )
        .bind(reason)
        .bind(self.now())
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// One page of a report's parcels: up to `limit` rows in registration
    /// order (then id), after the row `after` (the last row of the previous
    /// page; `None` for the first page), with the names a report shows.
    /// `filters` is the report row's JSON (`from_ms`, `to_ms`, `branch_id`,
    /// `status`; each optional or null).
    ///
    /// Keyset pages on `(created_at, id)` walk the `created_at` index from
    /// where the last page stopped (the plain `created_at >=` bound is what
    /// lets both engines start the index scan there), so each page costs
    /// the same however far into the report it is.
    pub async fn report_rows(
        &self,
        filters: &serde_json::Value,
        after: Option<&ReportRow>,
        limit: i64,
    ) -> StoreResult<Vec<ReportRow>> {
        let (from, to, branch, status) = report_filters(filters);
        let (after_at, after_id) = after.map_or((i64::MIN, i64::MIN), |r| (r.created_at_ms, r.id));
        let rows = sqlx::query(
            "SELECT p.id, p.tracking_code, p.status, p.weight_grams, p.quoted_amount, p.created_at, \
             s.name AS sender, r.name AS recipient, o.name AS origin, d.name AS destination \
             FROM parcels p JOIN customers s ON s.id = p.sender_id JOIN customers r ON r.id = p.recipient_id \
             JOIN branches o ON o.id = p.origin_branch_id JOIN branches d ON d.id = p.destination_branch_id \
             WHERE p.created_at >= $1 AND p.created_at <= $2 \
             AND p.created_at >= $3 AND (p.created_at, p.id) > ($3, $4) \
             AND ($5 < 0 OR p.origin_branch_id = $5 OR p.destination_branch_id = $5) \
             AND ($6 = '' OR p.status = $6) ORDER BY p.created_at, p.id LIMIT $7",
        )
        .bind(from)
        .bind(to)
        .bind(after_at)
        .bind(after_id)
        .bind(branch)
        .bind(status)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ReportRow {
                    id: r.try_get("id")?,
                    tracking_code: r.try_get("tracking_code")?,
                    status: r.try_get("status")?,
                    weight_grams: r.try_get("weight_grams")?,
                    quoted_minor: r.try_get("quoted_amount")?,
                    created_at_ms: r.try_get("created_at")?,
                    sender: r.try_get("sender")?,
                    recipient: r.try_get("recipient")?,
                    origin: r.try_get("origin")?,
                    destination: r.try_get("destination")?,
                })
            })
            .collect()
    }

    /// The totals of a report's parcels (count, weight, quoted amounts),
    /// counted by the database: the generate step sizes its progress with
    /// the count; the totals row itself sums the rows it renders.
    pub async fn report_totals(&self, filters: &serde_json::Value) -> StoreResult<ReportTotals> {
        let (from, to, branch, status) = report_filters(filters);
        let row = sqlx::query(
            "SELECT COUNT(*) AS n, CAST(COALESCE(SUM(p.weight_grams), 0) AS BIGINT) AS grams, \
             CAST(COALESCE(SUM(p.quoted_amount), 0) AS BIGINT) AS quoted \
             FROM parcels p WHERE p.created_at >= $1 AND p.created_at <= $2 \
             AND ($3 < 0 OR p.origin_branch_id = $3 OR p.destination_branch_id = $3) \
             AND ($4 = '' OR p.status = $4)",
        )
        .bind(from)
        .bind(to)
        .bind(branch)
        .bind(status)
        .fetch_one(&self.pool)
        .await?;
        Ok(ReportTotals {
            count: row.try_get("n")?,
            weight_grams: row.try_get("grams")?,
            quoted_minor: row.try_get("quoted")?,
        })
    }

    /// The size of a finished report's file, in bytes.
    pub async fn report_size(&self, id: i64) -> StoreResult<Option<i64>> {
        let size: Option<Option<i64>> =
            sqlx::query_scalar("SELECT size_bytes FROM reports WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        size.ok_or(StoreError::NotFound("report"))
    }

    /// Writes an email to a staff member (a report is ready, or failed):
    /// a pending notification row the outbox relay turns into an
    /// `email.send` job, once per `dedupe_key`. Returns the row's id (the
    /// existing one when the key was used before), or `None` when the user
    /// is unknown.
    pub async fn notify_user(
        &self,
        user_id: i64,
        template: &str,
        subject: &str,
        context: &serde_json::Value,
        dedupe_key: &str,
    ) -> StoreResult<Option<i64>> {
        let email: Option<String> = sqlx::query_scalar("SELECT email FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_optional(&self.pool)
            .await?;
        let Some(email) = email else { return Ok(None) };
        sqlx::query(
            "INSERT INTO notifications (channel, recipient, template, body, context, dedupe_key, created_at) \
             VALUES ('email', $1, $2, $3, $4, $5, $6) ON CONFLICT (dedupe_key) DO NOTHING",
        )
        .bind(email)
        .bind(template)
        .bind(subject)
        .bind(context.to_string())
        .bind(dedupe_key)
        .bind(self.now())
        .execute(&self.pool)
        .await?;
        let id: i64 = sqlx::query_scalar("SELECT id FROM notifications WHERE dedupe_key = $1")
            .bind(dedupe_key)
            .fetch_one(&self.pool)
            .await?;
        Ok(Some(id))
    }

    /// The notifications written about a report (keyed by
    /// [`Store::report_notification_key`]), oldest first.
    pub async fn report_notifications(&self, report_id: i64) -> StoreResult<Vec<Notification>> {
        let ids: Vec<i64> =
            sqlx::query_scalar("SELECT id FROM notifications WHERE dedupe_key LIKE $1 ORDER BY id")
                .bind(format!("report:{report_id}:%"))
                .fetch_all(&self.pool)
                .await?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.push(self.notification(id).await?);
        }
        Ok(out)
    }

    /// The dedupe key of a report's `template` notification: one email per
    /// report and event, however often the step that writes it runs.
    pub fn report_notification_key(report_id: i64, template: &str) -> String {
        format!("report:{report_id}:{template}")
    }
}

/// What a report's parcels add up to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReportTotals {
    /// Parcels.
    pub count: i64,
    /// Their weight, grams.
    pub weight_grams: i64,
    /// Their quoted amounts, minor units.
    pub quoted_minor: i64,
}

/// One line of a report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportRow {
    /// Parcel id.
    pub id: i64,
    /// Tracking code.
    pub tracking_code: String,
    /// Status.
    pub status: String,
    /// Weight.
    pub weight_grams: i64,
    /// Quoted amount, minor units.
    pub quoted_minor: i64,
    /// Registered at (Unix ms).
    pub created_at_ms: i64,
    /// Sender's name.
    pub sender: String,
    /// Recipient's name.
    pub recipient: String,
    /// Origin branch.
    pub origin: String,
    /// Destination branch.
    pub destination: String,
}

/// (from, to, branch or -1, status or "").
fn report_filters(f: &serde_json::Value) -> (i64, i64, i64, String) {
    (
        f["from_ms"].as_i64().unwrap_or(0),
        f["to_ms"].as_i64().unwrap_or(i64::MAX),
        f["branch_id"].as_i64().unwrap_or(-1),
        f["status"].as_str().unwrap_or("").to_owned(),
    )
}
