//! Leasing ([`TAKE`]), waiting for work, and heartbeats. Leasing right
//! after a batch of settlements, in the same transaction, is the refill in
//! `settle.rs`.

use std::time::Duration;

use sqlx::Row;

use super::decode::{in_ready_order, leased_from};
use super::{CROSS_PROCESS_POLL, SqliteBroker, map_err, ms};
use crate::broker::{Beat, BrokerResult, LeaseRef, Leased};

/// Leases the first `?2` jobs of queue `?1` (none while it is paused) in one
/// statement: the UPDATE
/// picks and marks them under the write lock, so no other connection or
/// process can take the same job. The attempt counter rises here, so an
/// attempt whose worker dies still counts. `?3` is the token prefix (unique
/// per call; the id makes it unique per job), `?4` now, `?5` the worker,
/// `?6` the lease expiry.
pub(super) const TAKE: &str = "UPDATE jobs SET state = 'running', attempts = attempts + 1, token = ?3 || id, \
                    started_at = ?4, worker = ?5, lease_until = ?6, cancel_requested = 0 \
                    WHERE id IN (SELECT id FROM jobs WHERE queue = ?1 AND state = 'queued' \
                                 AND NOT EXISTS (SELECT 1 FROM paused_queues WHERE name = ?1) \
                                 ORDER BY ready_seq, run_at LIMIT ?2) \
                    RETURNING id, name, payload, attempts, max_attempts, timeout_ms, \
                              backoff_base_ms, backoff_max_ms, enqueued_at, run_at, token, ready_seq, \
                              request_id";

impl SqliteBroker {
    pub(super) async fn lease_impl(
        &self,
        queues: &[String],
        max: usize,
        worker: &str,
    ) -> BrokerResult<Vec<Leased>> {
        let mut out = Vec::new();
        for queue in queues {
            if out.len() >= max {
                break;
            }
            // One statement per queue, each atomic on its own: a job is
            // handed out once however the calls interleave.
            out.extend(self.take(queue, max - out.len(), worker).await?);
        }
        Ok(out)
    }

    pub(super) async fn wait_for_work_impl(&self, _queues: &[String], timeout: Duration) {
        let _ =
            tokio::time::timeout(timeout.min(CROSS_PROCESS_POLL), self.inner.wake.notified()).await;
    }

    pub(super) async fn heartbeat_impl(&self, leases: &[LeaseRef]) -> BrokerResult<Vec<Beat>> {
        let lease_until = self.now() + ms(self.inner.config.lease);
        let mut tx = self.write_tx().await?;
        let mut beats = Vec::with_capacity(leases.len());
        for l in leases {
            let row = sqlx::query(
                "UPDATE jobs SET lease_until = ?3 WHERE id = ?1 AND token = ?2 AND state = 'running' \
                 RETURNING cancel_requested",
            )
            .bind(l.id.as_str())
            .bind(&l.token)
            .bind(lease_until)
            .fetch_optional(&mut *tx)
            .await
            .map_err(map_err)?;
            beats.push(match row.map(|r| r.try_get::<i64, _>(0)) {
                Some(Ok(1)) => Beat::CancelRequested,
                Some(_) => Beat::Extended,
                None => Beat::Lost,
            });
        }
        tx.commit().await.map_err(map_err)?;
        Ok(beats)
    }

    /// Runs [`TAKE`] for up to `n` jobs of `queue`, in ready order.
    async fn take(&self, queue: &str, n: usize, worker: &str) -> BrokerResult<Vec<Leased>> {
        let rows = self
            .take_query(queue, n, worker, self.now())
            .fetch_all(self.pool())
            .await
            .map_err(map_err)?;
        let got = rows
            .iter()
            .map(|r| leased_from(r, queue))
            .collect::<Result<Vec<_>, _>>()
            .map_err(map_err)?;
        Ok(in_ready_order(got))
    }

    /// [`TAKE`] for up to `n` jobs of `queue`, bound, to run on the pool or
    /// inside a transaction.
    pub(super) fn take_query<'q>(
        &self,
        queue: &'q str,
        n: usize,
        worker: &'q str,
        now: i64,
    ) -> sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'q>> {
        sqlx::query(TAKE)
            .bind(queue)
            .bind(i64::try_from(n).unwrap_or(i64::MAX))
            .bind(self.token_prefix())
            .bind(now)
            .bind(worker)
            .bind(now + ms(self.inner.config.lease))
    }
}
