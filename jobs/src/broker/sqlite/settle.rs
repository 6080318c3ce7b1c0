//! Settling an attempt: ack, retry, dead, release, snooze and cancelled,
//! each one UPDATE fenced by the attempt's token, with the settlements the
//! fence rejects counted per queue; and ack_and_lease ([`ACK_AND_TAKE`]),
//! whose ack leases the next jobs in the same statement.

use sqlx::Row;

use super::decode::{in_ready_order, leased_from};
use super::{HEAD_SEQ, SqliteBroker, map_err, ms};
use crate::broker::{BrokerResult, LeaseRef, Leased, Settled};

/// Acks one attempt and leases the next jobs of its queue in one statement,
/// as settle.lua does in one script: a busy worker pays one round trip and
/// one commit per job. Both are rows of `jobs`, so one UPDATE can change
/// them: the attempt's row (`?1`, if token `?2` still holds it) becomes
/// succeeded; the first `?6` queued jobs of queue `?5` (none while it is
/// paused) become running like
/// in [`TAKE`](super::lease::TAKE), but only when the token holds (the
/// EXISTS), so a stale ack takes nothing. An UPDATE whose WHERE holds a
/// subquery runs in two passes (SQLite collects the rows, then changes
/// them), so the EXISTS sees the attempt as it was; the unit tests and the
/// conformance suite check both outcomes. `?3` result, `?4` now, `?7`
/// token prefix, `?8` lease expiry, `?9` worker.
pub(super) const ACK_AND_TAKE: &str = "UPDATE jobs SET \
       state = CASE WHEN id = ?1 THEN 'succeeded' ELSE 'running' END, \
       finished_at = CASE WHEN id = ?1 THEN ?4 ELSE finished_at END, \
       result = CASE WHEN id = ?1 THEN ?3 ELSE result END, \
       token = CASE WHEN id = ?1 THEN NULL ELSE ?7 || id END, \
       lease_until = CASE WHEN id = ?1 THEN NULL ELSE ?8 END, \
       attempts = CASE WHEN id = ?1 THEN attempts ELSE attempts + 1 END, \
       started_at = CASE WHEN id = ?1 THEN started_at ELSE ?4 END, \
       worker = CASE WHEN id = ?1 THEN worker ELSE ?9 END, \
       cancel_requested = CASE WHEN id = ?1 THEN cancel_requested ELSE 0 END \
     WHERE (id = ?1 AND token = ?2 AND state = 'running') \
        OR (id IN (SELECT id FROM jobs WHERE queue = ?5 AND state = 'queued' \
                   AND NOT EXISTS (SELECT 1 FROM paused_queues WHERE name = ?5) \
                   ORDER BY ready_seq, run_at LIMIT ?6) \
            AND EXISTS (SELECT 1 FROM jobs WHERE id = ?1 AND token = ?2 AND state = 'running')) \
     RETURNING id, name, payload, attempts, max_attempts, timeout_ms, \
               backoff_base_ms, backoff_max_ms, enqueued_at, run_at, token, ready_seq, \
               request_id";

impl SqliteBroker {
    pub(super) async fn ack_impl(
        &self,
        lease: &LeaseRef,
        result: Option<&str>,
    ) -> BrokerResult<Settled> {
        let changed = sqlx::query(
            "UPDATE jobs SET state = 'succeeded', finished_at = ?3, result = ?4, token = NULL, lease_until = NULL \
             WHERE id = ?1 AND token = ?2 AND state = 'running'",
        )
        .bind(lease.id.as_str())
        .bind(&lease.token)
        .bind(self.now())
        .bind(result)
        .execute(self.pool())
        .await
        .map_err(map_err)?
        .rows_affected();
        self.fenced(lease, changed).await
    }

    pub(super) async fn ack_and_lease_impl(
        &self,
        lease: &LeaseRef,
        result: Option<&str>,
        next: usize,
        worker: &str,
    ) -> BrokerResult<(Settled, Vec<Leased>)> {
        if next == 0 {
            return Ok((self.ack_impl(lease, result).await?, Vec::new()));
        }
        let now = self.now();
        let rows = sqlx::query(ACK_AND_TAKE)
            .bind(lease.id.as_str())
            .bind(&lease.token)
            .bind(result)
            .bind(now)
            .bind(&lease.queue)
            .bind(i64::try_from(next).unwrap_or(i64::MAX))
            .bind(self.token_prefix())
            .bind(now + ms(self.inner.config.lease))
            .bind(worker)
            .fetch_all(self.pool())
            .await
            .map_err(map_err)?;
        let mut acked = 0;
        let mut got = Vec::with_capacity(rows.len());
        for row in &rows {
            let id: &str = row.try_get("id").map_err(map_err)?;
            if id == lease.id.as_str() {
                acked = 1;
            } else {
                got.push(leased_from(row, &lease.queue).map_err(map_err)?);
            }
        }
        Ok((self.fenced(lease, acked).await?, in_ready_order(got)))
    }

    pub(super) async fn retry_impl(
        &self,
        lease: &LeaseRef,
        run_at_ms: i64,
        error: &str,
    ) -> BrokerResult<Settled> {
        let changed = sqlx::query(
            "UPDATE jobs SET state = 'retrying', last_error = ?3, run_at = ?4, token = NULL, lease_until = NULL \
             WHERE id = ?1 AND token = ?2 AND state = 'running'",
        )
        .bind(lease.id.as_str())
        .bind(&lease.token)
        .bind(error)
        .bind(run_at_ms)
        .execute(self.pool())
        .await
        .map_err(map_err)?
        .rows_affected();
        self.fenced(lease, changed).await
    }

    pub(super) async fn dead_impl(&self, lease: &LeaseRef, error: &str) -> BrokerResult<Settled> {
        let changed = sqlx::query(
            "UPDATE jobs SET state = 'dead', last_error = ?3, finished_at = ?4, token = NULL, lease_until = NULL \
             WHERE id = ?1 AND token = ?2 AND state = 'running'",
        )
        .bind(lease.id.as_str())
        .bind(&lease.token)
        .bind(error)
        .bind(self.now())
        .execute(self.pool())
        .await
        .map_err(map_err)?
        .rows_affected();
        self.fenced(lease, changed).await
    }

    pub(super) async fn release_impl(&self, lease: &LeaseRef) -> BrokerResult<Settled> {
        let changed = sqlx::query(&format!(
            "UPDATE jobs SET state = 'queued', attempts = attempts - 1, token = NULL, lease_until = NULL, \
             ready_seq = {HEAD_SEQ} WHERE id = ?2 AND token = ?3 AND state = 'running'"
        ))
        .bind(&lease.queue)
        .bind(lease.id.as_str())
        .bind(&lease.token)
        .execute(self.pool())
        .await
        .map_err(map_err)?
        .rows_affected();
        let settled = self.fenced(lease, changed).await?;
        if settled == Settled::Done {
            self.wake();
        }
        Ok(settled)
    }

    pub(super) async fn snooze_impl(
        &self,
        lease: &LeaseRef,
        run_at_ms: i64,
    ) -> BrokerResult<Settled> {
        let changed = sqlx::query(
            "UPDATE jobs SET state = 'scheduled', attempts = attempts - 1, run_at = ?3, token = NULL, \
             lease_until = NULL WHERE id = ?1 AND token = ?2 AND state = 'running'",
        )
        .bind(lease.id.as_str())
        .bind(&lease.token)
        .bind(run_at_ms)
        .execute(self.pool())
        .await
        .map_err(map_err)?
        .rows_affected();
        self.fenced(lease, changed).await
    }

    pub(super) async fn cancelled_impl(&self, lease: &LeaseRef) -> BrokerResult<Settled> {
        let changed = sqlx::query(
            "UPDATE jobs SET state = 'cancelled', finished_at = ?3, token = NULL, lease_until = NULL \
             WHERE id = ?1 AND token = ?2 AND state = 'running'",
        )
        .bind(lease.id.as_str())
        .bind(&lease.token)
        .bind(self.now())
        .execute(self.pool())
        .await
        .map_err(map_err)?
        .rows_affected();
        self.fenced(lease, changed).await
    }

    /// The fence's verdict on a settle statement that changed `changed`
    /// rows: none means the token no longer holds the job, which is counted.
    async fn fenced(&self, lease: &LeaseRef, changed: u64) -> BrokerResult<Settled> {
        if changed == 1 {
            Ok(Settled::Done)
        } else {
            self.count_stale(&lease.queue).await?;
            Ok(Settled::Stale)
        }
    }

    async fn count_stale(&self, queue: &str) -> BrokerResult<()> {
        sqlx::query(
            "INSERT INTO queues (name, stale_acks) VALUES (?1, 1) \
             ON CONFLICT (name) DO UPDATE SET stale_acks = stale_acks + 1",
        )
        .bind(queue)
        .execute(self.pool())
        .await
        .map_err(map_err)?;
        Ok(())
    }
}
