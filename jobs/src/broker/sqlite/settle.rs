//! Settling attempts: ack, retry, dead, release, snooze and cancelled, each
//! one UPDATE fenced by the attempt's token, with the settlements the fence
//! rejects counted per queue. A batch is one transaction, its refill
//! ([`TAKE`](super::lease::TAKE)) included; a lone ack with a refill is one
//! statement ([`ACK_AND_TAKE`]).

use std::collections::HashMap;
use std::sync::LazyLock;

use sqlx::Row;
use sqlx::sqlite::{Sqlite, SqliteArguments};

use super::decode::{in_ready_order, leased_from};
use super::{HEAD_SEQ, SqliteBroker, map_err, ms};
use crate::broker::{BrokerResult, LeaseRef, Outcome, Refill, Settled, SettledMany, Settlement};

type Query<'q> = sqlx::query::Query<'q, Sqlite, SqliteArguments<'q>>;

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
    pub(super) async fn settle_many_impl(
        &self,
        batch: &[Settlement],
        refill: Option<Refill<'_>>,
    ) -> BrokerResult<SettledMany> {
        let refill = refill.filter(|r| r.max > 0);
        if let [one] = batch {
            match (&one.outcome, refill) {
                (Outcome::Ack { result }, Some(r)) if r.queue == one.lease.queue => {
                    return self.ack_and_take(&one.lease, result.as_deref(), r).await;
                }
                (_, None) => {
                    let changed = settle_query(one, self.now())
                        .execute(self.pool())
                        .await
                        .map_err(map_err)?
                        .rows_affected();
                    let settled = if changed == 1 {
                        Settled::Done
                    } else {
                        self.count_stale(&one.lease.queue, 1).await?;
                        Settled::Stale
                    };
                    if settled == Settled::Done && one.outcome == Outcome::Release {
                        self.wake();
                    }
                    return Ok(SettledMany {
                        settled: vec![settled],
                        leased: Vec::new(),
                    });
                }
                _ => {}
            }
        }
        // One transaction: every settlement, the stale counts and the
        // refill commit together.
        let now = self.now();
        let mut tx = self.write_tx().await?;
        let mut settled = Vec::with_capacity(batch.len());
        let mut stale: HashMap<&str, i64> = HashMap::new();
        let mut released = false;
        for s in batch {
            let changed = settle_query(s, now)
                .execute(&mut *tx)
                .await
                .map_err(map_err)?
                .rows_affected();
            if changed == 1 {
                released |= s.outcome == Outcome::Release;
                settled.push(Settled::Done);
            } else {
                *stale.entry(s.lease.queue.as_str()).or_default() += 1;
                settled.push(Settled::Stale);
            }
        }
        for (queue, n) in stale {
            sqlx::query(COUNT_STALE)
                .bind(queue)
                .bind(n)
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
        }
        let done = settled.iter().filter(|s| **s == Settled::Done).count();
        let mut leased = Vec::new();
        if let Some(r) = refill.filter(|_| done > 0) {
            let rows = self
                .take_query(r.queue, r.max.min(done), r.worker, now)
                .fetch_all(&mut *tx)
                .await
                .map_err(map_err)?;
            let got = rows
                .iter()
                .map(|row| leased_from(row, r.queue))
                .collect::<Result<Vec<_>, _>>()
                .map_err(map_err)?;
            leased = in_ready_order(got);
        }
        tx.commit().await.map_err(map_err)?;
        if released {
            self.wake();
        }
        Ok(SettledMany { settled, leased })
    }

    /// [`ACK_AND_TAKE`]: a lone ack and its refill in one statement.
    async fn ack_and_take(
        &self,
        lease: &LeaseRef,
        result: Option<&str>,
        refill: Refill<'_>,
    ) -> BrokerResult<SettledMany> {
        let now = self.now();
        let rows = sqlx::query(ACK_AND_TAKE)
            .bind(lease.id.as_str())
            .bind(&lease.token)
            .bind(result)
            .bind(now)
            .bind(&lease.queue)
            .bind(i64::try_from(refill.max).unwrap_or(i64::MAX))
            .bind(self.token_prefix())
            .bind(now + ms(self.inner.config.lease))
            .bind(refill.worker)
            .fetch_all(self.pool())
            .await
            .map_err(map_err)?;
        let mut acked = false;
        let mut got = Vec::with_capacity(rows.len());
        for row in &rows {
            let id: &str = row.try_get("id").map_err(map_err)?;
            if id == lease.id.as_str() {
                acked = true;
            } else {
                got.push(leased_from(row, &lease.queue).map_err(map_err)?);
            }
        }
        let settled = if acked {
            Settled::Done
        } else {
            self.count_stale(&lease.queue, 1).await?;
            Settled::Stale
        };
        Ok(SettledMany {
            settled: vec![settled],
            leased: in_ready_order(got),
        })
    }

    async fn count_stale(&self, queue: &str, n: i64) -> BrokerResult<()> {
        sqlx::query(COUNT_STALE)
            .bind(queue)
            .bind(n)
            .execute(self.pool())
            .await
            .map_err(map_err)?;
        Ok(())
    }
}

/// Counts `?2` settlements of queue `?1` the fence rejected.
const COUNT_STALE: &str = "INSERT INTO queues (name, stale_acks) VALUES (?1, ?2) \
     ON CONFLICT (name) DO UPDATE SET stale_acks = stale_acks + ?2";

/// The UPDATE that settles one attempt, if its token still holds the job.
fn settle_query(s: &Settlement, now: i64) -> Query<'_> {
    let l = &s.lease;
    match &s.outcome {
        Outcome::Ack { result } => sqlx::query(
            "UPDATE jobs SET state = 'succeeded', finished_at = ?3, result = ?4, token = NULL, lease_until = NULL \
             WHERE id = ?1 AND token = ?2 AND state = 'running'",
        )
        .bind(l.id.as_str())
        .bind(&l.token)
        .bind(now)
        .bind(result.as_deref()),
        Outcome::Retry { run_at_ms, error } => sqlx::query(
            "UPDATE jobs SET state = 'retrying', last_error = ?3, run_at = ?4, token = NULL, lease_until = NULL \
             WHERE id = ?1 AND token = ?2 AND state = 'running'",
        )
        .bind(l.id.as_str())
        .bind(&l.token)
        .bind(error.as_str())
        .bind(*run_at_ms),
        Outcome::Dead { error } => sqlx::query(
            "UPDATE jobs SET state = 'dead', last_error = ?3, finished_at = ?4, token = NULL, lease_until = NULL \
             WHERE id = ?1 AND token = ?2 AND state = 'running'",
        )
        .bind(l.id.as_str())
        .bind(&l.token)
        .bind(error.as_str())
        .bind(now),
        Outcome::Release => sqlx::query(RELEASE.as_str())
            .bind(&l.queue)
            .bind(l.id.as_str())
            .bind(&l.token),
        Outcome::Snooze { run_at_ms } => sqlx::query(
            "UPDATE jobs SET state = 'scheduled', attempts = attempts - 1, run_at = ?3, token = NULL, \
             lease_until = NULL WHERE id = ?1 AND token = ?2 AND state = 'running'",
        )
        .bind(l.id.as_str())
        .bind(&l.token)
        .bind(*run_at_ms),
        Outcome::Cancelled => sqlx::query(
            "UPDATE jobs SET state = 'cancelled', finished_at = ?3, token = NULL, lease_until = NULL \
             WHERE id = ?1 AND token = ?2 AND state = 'running'",
        )
        .bind(l.id.as_str())
        .bind(&l.token)
        .bind(now),
    }
}

/// Hands attempt `?2` (token `?3`) of queue `?1` back, first in line.
static RELEASE: LazyLock<String> = LazyLock::new(|| {
    format!(
        "UPDATE jobs SET state = 'queued', attempts = attempts - 1, token = NULL, lease_until = NULL, \
         ready_seq = {HEAD_SEQ} WHERE id = ?2 AND token = ?3 AND state = 'running'"
    )
});
