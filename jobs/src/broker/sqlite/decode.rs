//! Rows of `jobs`, read into the broker's types.

use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use crate::broker::{JobId, JobInfo, JobState, Leased};
use crate::policy::{JobPolicy, RetryPolicy};

pub(super) fn leased_from(row: &SqliteRow, queue: &str) -> Result<(i64, Leased), sqlx::Error> {
    let int = |c: &str| row.try_get::<i64, _>(c);
    Ok((
        int("ready_seq")?,
        Leased {
            id: JobId(row.try_get("id")?),
            queue: queue.to_owned(),
            name: row.try_get("name")?,
            payload: row.try_get("payload")?,
            attempt: u32::try_from(int("attempts")?).unwrap_or(1),
            policy: JobPolicy {
                retry: RetryPolicy {
                    max_attempts: u32::try_from(int("max_attempts")?).unwrap_or(1),
                    backoff_base_ms: u64::try_from(int("backoff_base_ms")?).unwrap_or(1000),
                    backoff_max_ms: u64::try_from(int("backoff_max_ms")?).unwrap_or(60_000),
                },
                timeout_ms: u64::try_from(int("timeout_ms")?).unwrap_or(300_000),
            },
            enqueued_at_ms: int("enqueued_at")?,
            due_at_ms: int("run_at")?,
            token: row.try_get("token")?,
            request_id: row.try_get("request_id")?,
        },
    ))
}

/// The columns [`info_from`] reads. Named, never `*`: a statement
/// prepared before a column was added (another process opening the file
/// with a newer version) would come back with more columns than sqlx
/// described, which it does not survive.
pub(super) const INFO_COLUMNS: &str = "id, queue, name, payload, state, attempts, max_attempts, \
     enqueued_at, run_at, started_at, finished_at, last_error, result, worker, request_id";

pub(super) fn info_from(row: &SqliteRow) -> Result<JobInfo, sqlx::Error> {
    let int = |c: &str| row.try_get::<i64, _>(c);
    let state: String = row.try_get("state")?;
    Ok(JobInfo {
        id: JobId(row.try_get("id")?),
        queue: row.try_get("queue")?,
        name: row.try_get("name")?,
        payload: row.try_get("payload")?,
        state: JobState::parse(&state).unwrap_or(JobState::Queued),
        attempts: u32::try_from(int("attempts")?).unwrap_or(0),
        max_attempts: u32::try_from(int("max_attempts")?).unwrap_or(0),
        enqueued_at_ms: int("enqueued_at")?,
        run_at_ms: int("run_at")?,
        started_at_ms: row.try_get("started_at")?,
        finished_at_ms: row.try_get("finished_at")?,
        last_error: row.try_get("last_error")?,
        result: row.try_get("result")?,
        worker: row.try_get("worker")?,
        request_id: row.try_get("request_id")?,
    })
}

/// Leased jobs as [`leased_from`] read them, in their queue's order:
/// RETURNING gives rows in no promised order.
pub(super) fn in_ready_order(mut got: Vec<(i64, Leased)>) -> Vec<Leased> {
    got.sort_by_key(|(seq, l)| (*seq, l.due_at_ms));
    got.into_iter().map(|(_, l)| l).collect()
}
