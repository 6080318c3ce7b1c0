//! Report rows: requested by a user, built by the `report.pdf` /
//! `report.xlsx` job, which reports its progress here.

use sqlx::Row;

use super::{Report, Store, StoreError, StoreResult};

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
}
