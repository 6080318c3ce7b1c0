//! Housekeeping, in bounded rounds of one transaction each: due jobs
//! promoted to their queue, expired leases taken back, finished jobs past
//! their retention deleted ([`SWEEP_DONE`], [`SWEEP_DEAD`]).

use super::{CHUNK, HEAD_SEQ, SqliteBroker, TAIL_SEQ, map_err, ms};
use crate::broker::{BrokerResult, Maintenance};

/// Retention sweeps of queue `?1`: finished before `?2`, at most `?3` rows.
/// States are literals, never parameters: a partial index serves only a
/// query that repeats its WHERE (see schema.sql).
pub(super) const SWEEP_DONE: &str = "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE queue = ?1 \
                          AND state IN ('succeeded', 'cancelled') AND finished_at < ?2 LIMIT ?3)";
pub(super) const SWEEP_DEAD: &str = "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE queue = ?1 \
                          AND state = 'dead' AND finished_at < ?2 LIMIT ?3)";

impl SqliteBroker {
    pub(super) async fn maintain_impl(&self, queues: &[String]) -> BrokerResult<Maintenance> {
        let mut total = Maintenance::default();
        for queue in queues {
            for _ in 0..100 {
                let (m, full) = self.maintain_queue(queue).await?;
                total.promoted += m.promoted;
                total.requeued += m.requeued;
                total.lost_to_dead += m.lost_to_dead;
                total.swept += m.swept;
                if !full {
                    break;
                }
            }
        }
        Ok(total)
    }

    /// One bounded round of housekeeping for `queue`, in one transaction;
    /// also says whether any step filled its chunk (more may be waiting).
    async fn maintain_queue(&self, queue: &str) -> BrokerResult<(Maintenance, bool)> {
        let now = self.now();
        let mut m = Maintenance::default();
        let mut tx = self.write_tx().await?;
        // 1. Promote due scheduled and retrying jobs to the tail.
        // 2. Take back expired leases: cancelled if a cancel was asked for,
        //    dead on the last attempt, else back to the head of the queue.
        //    Each statement picks its own kind within its chunk: filtering
        //    a shared window afterwards would let the requeue's window slide
        //    past the others' and requeue a cancelled or used-up job.
        // Every statement is bound to (queue, now, chunk).
        let expired = |kind: &str| {
            format!(
                "id IN (SELECT id FROM jobs WHERE queue = ?1 AND state = 'running' \
                 AND lease_until <= ?2 AND {kind} ORDER BY lease_until LIMIT ?3)"
            )
        };
        let why = "'lease expired: worker ' || COALESCE(worker, '?') || ' stopped during attempt ' || attempts";
        let steps = [
            format!(
                "UPDATE jobs SET state = 'queued', ready_seq = {TAIL_SEQ} \
                 WHERE id IN (SELECT id FROM jobs WHERE queue = ?1 AND state IN ('scheduled', 'retrying') \
                              AND run_at <= ?2 ORDER BY run_at LIMIT ?3)"
            ),
            format!(
                "UPDATE jobs SET state = 'cancelled', finished_at = ?2, token = NULL, last_error = {why} \
                 WHERE {}",
                expired("cancel_requested = 1")
            ),
            format!(
                "UPDATE jobs SET state = 'dead', finished_at = ?2, token = NULL, last_error = {why} \
                 WHERE {}",
                expired("cancel_requested = 0 AND attempts >= max_attempts")
            ),
            format!(
                "UPDATE jobs SET state = 'queued', ready_seq = {HEAD_SEQ}, token = NULL, last_error = {why} \
                 WHERE {}",
                expired("cancel_requested = 0 AND attempts < max_attempts")
            ),
        ];
        let mut changed = [0u64; 4];
        for (sql, n) in steps.iter().zip(changed.iter_mut()) {
            *n = sqlx::query(sql)
                .bind(queue)
                .bind(now)
                .bind(CHUNK)
                .execute(&mut *tx)
                .await
                .map_err(map_err)?
                .rows_affected();
        }
        [m.promoted, _, m.lost_to_dead, m.requeued] = changed;
        let chunk = CHUNK as u64;
        let mut full = changed.iter().any(|&n| n >= chunk);
        // 3. Delete finished jobs past their retention.
        let retention = self.inner.config.retention;
        for (sql, keep) in [
            (SWEEP_DONE, retention.succeeded),
            (SWEEP_DEAD, retention.dead),
        ] {
            let swept = sqlx::query(sql)
                .bind(queue)
                .bind(now - ms(keep))
                .bind(CHUNK)
                .execute(&mut *tx)
                .await
                .map_err(map_err)?
                .rows_affected();
            m.swept += swept;
            full |= swept >= chunk;
        }
        // 4. Forget throughput buckets older than an hour.
        sqlx::query("DELETE FROM throughput WHERE queue = ?1 AND bucket <= ?2 - 360")
            .bind(queue)
            .bind(now.div_euclid(crate::broker::browse::BUCKET_MS))
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        if m.promoted + m.requeued > 0 {
            self.wake();
        }
        Ok((m, full))
    }
}
