//! What operators and dashboards ask for: a job by id, cancel, the dead
//! set, purge ([`PURGE_QUEUED`], [`PURGE_WAITING`]), stats ([`STATS`]),
//! the queues, and the worker registry.

use sqlx::Row;

use super::decode::{INFO_COLUMNS, info_from};
use super::{CHUNK, SqliteBroker, TAIL_SEQ, map_err, ms};
use crate::broker::browse::BUCKET_MS;
use crate::broker::{
    BrokerError, BrokerResult, CancelOutcome, JobId, JobInfo, JobState, QueueStats, Throughput,
    ThroughputPoint, WorkerInfo,
};

/// Purge of queue `?1`, at most `?2` rows per statement.
pub(super) const PURGE_QUEUED: &str = "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE queue = ?1 \
                            AND state = 'queued' LIMIT ?2)";
pub(super) const PURGE_WAITING: &str = "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE queue = ?1 \
                             AND state IN ('scheduled', 'retrying') LIMIT ?2)";

/// Counts of queue `?1` in one statement, so one consistent snapshot: its
/// jobs by state, the oldest wait, stale acks, whether it is paused, and its
/// throughput in the 6 and the 360 buckets up to bucket `?2` (now).
pub(super) const STATS: &str = "SELECT \
     (SELECT COUNT(*) FROM jobs WHERE queue = ?1 AND state = 'queued'), \
     (SELECT COUNT(*) FROM jobs WHERE queue = ?1 AND state IN ('scheduled', 'retrying')), \
     (SELECT COUNT(*) FROM jobs WHERE queue = ?1 AND state = 'running'), \
     (SELECT COUNT(*) FROM jobs WHERE queue = ?1 AND state = 'dead'), \
     (SELECT run_at FROM jobs WHERE queue = ?1 AND state = 'queued' ORDER BY ready_seq, run_at LIMIT 1), \
     (SELECT stale_acks FROM queues WHERE name = ?1), \
     EXISTS (SELECT 1 FROM paused_queues WHERE name = ?1), \
     (SELECT COALESCE(SUM(succeeded), 0) FROM throughput WHERE queue = ?1 AND bucket > ?2 - 6 AND bucket <= ?2), \
     (SELECT COALESCE(SUM(failed), 0) FROM throughput WHERE queue = ?1 AND bucket > ?2 - 6 AND bucket <= ?2), \
     (SELECT COALESCE(SUM(succeeded), 0) FROM throughput WHERE queue = ?1 AND bucket > ?2 - 360 AND bucket <= ?2), \
     (SELECT COALESCE(SUM(failed), 0) FROM throughput WHERE queue = ?1 AND bucket > ?2 - 360 AND bucket <= ?2)";

/// Throughput buckets of queue `?1` in the hour up to bucket `?2` (now).
const SERIES: &str = "SELECT bucket, succeeded, failed FROM throughput \
     WHERE queue = ?1 AND bucket > ?2 - 360 AND bucket <= ?2";

impl SqliteBroker {
    /// The hour's series of `queues`, folded from their buckets.
    pub(super) async fn throughput_series_impl(
        &self,
        queues: &[String],
    ) -> BrokerResult<Vec<ThroughputPoint>> {
        let queues = if queues.is_empty() {
            self.queues_impl().await?
        } else {
            queues.to_vec()
        };
        let now_bucket = self.now().div_euclid(BUCKET_MS);
        let mut buckets = Vec::new();
        for q in &queues {
            let rows = sqlx::query(SERIES)
                .bind(q)
                .bind(now_bucket)
                .fetch_all(self.pool())
                .await
                .map_err(map_err)?;
            for r in rows {
                let int = |i: usize| r.try_get::<i64, _>(i).map_err(map_err);
                let count = |i: usize| int(i).map(|n| u64::try_from(n).unwrap_or(0));
                buckets.push((int(0)?, count(1)?, count(2)?));
            }
        }
        Ok(crate::broker::browse::fold_series(now_bucket, buckets))
    }

    pub(super) async fn job_impl(&self, id: &JobId) -> BrokerResult<Option<JobInfo>> {
        let row = sqlx::query(&format!("SELECT {INFO_COLUMNS} FROM jobs WHERE id = ?1"))
            .bind(id.as_str())
            .fetch_optional(self.pool())
            .await
            .map_err(map_err)?;
        row.as_ref().map(info_from).transpose().map_err(map_err)
    }

    pub(super) async fn cancel_impl(&self, id: &JobId) -> BrokerResult<CancelOutcome> {
        let now = self.now();
        let mut tx = self.write_tx().await?;
        let state: Option<String> = sqlx::query_scalar("SELECT state FROM jobs WHERE id = ?1")
            .bind(id.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(map_err)?;
        let outcome = match state.as_deref().map(JobState::parse) {
            None => CancelOutcome::Unknown,
            Some(Some(JobState::Queued | JobState::Scheduled | JobState::Retrying)) => {
                sqlx::query("UPDATE jobs SET state = 'cancelled', finished_at = ?2 WHERE id = ?1")
                    .bind(id.as_str())
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(map_err)?;
                CancelOutcome::Cancelled
            }
            Some(Some(JobState::Running)) => {
                sqlx::query("UPDATE jobs SET cancel_requested = 1 WHERE id = ?1")
                    .bind(id.as_str())
                    .execute(&mut *tx)
                    .await
                    .map_err(map_err)?;
                CancelOutcome::Requested
            }
            Some(Some(done)) => CancelOutcome::AlreadyFinished(done),
            Some(None) => CancelOutcome::AlreadyFinished(JobState::Dead),
        };
        tx.commit().await.map_err(map_err)?;
        Ok(outcome)
    }

    pub(super) async fn dead_jobs_impl(
        &self,
        queue: Option<&str>,
        limit: usize,
    ) -> BrokerResult<Vec<JobInfo>> {
        // Two statements rather than `(?1 IS NULL OR queue = ?1)`, which would
        // keep the planner from walking jobs_dead in order for one queue.
        let (sql, queue) = match queue {
            Some(q) => (
                format!(
                    "SELECT {INFO_COLUMNS} FROM jobs WHERE queue = ?2 AND state = 'dead' \
                     ORDER BY finished_at DESC LIMIT ?1"
                ),
                Some(q),
            ),
            None => (
                format!(
                    "SELECT {INFO_COLUMNS} FROM jobs WHERE state = 'dead' \
                     ORDER BY finished_at DESC LIMIT ?1"
                ),
                None,
            ),
        };
        let mut query = sqlx::query(&sql).bind(i64::try_from(limit).unwrap_or(i64::MAX));
        if let Some(q) = queue {
            query = query.bind(q);
        }
        let rows = query.fetch_all(self.pool()).await.map_err(map_err)?;
        rows.iter()
            .map(info_from)
            .collect::<Result<_, _>>()
            .map_err(map_err)
    }

    pub(super) async fn rerun_dead_impl(&self, id: &JobId) -> BrokerResult<bool> {
        let done = sqlx::query(
            "UPDATE jobs SET state = 'queued', attempts = 0, finished_at = NULL, \
             ready_seq = (SELECT COALESCE(MAX(j.ready_seq), 0) + 1 FROM jobs j \
                          WHERE j.queue = jobs.queue AND j.state = 'queued') \
             WHERE id = ?1 AND state = 'dead'",
        )
        .bind(id.as_str())
        .execute(self.pool())
        .await
        .map_err(map_err)?
        .rows_affected();
        if done == 1 {
            self.wake();
        }
        Ok(done == 1)
    }

    pub(super) async fn rerun_all_dead_impl(&self, queue: Option<&str>) -> BrokerResult<u64> {
        let mut n = 0;
        let sql = format!(
            "UPDATE jobs SET state = 'queued', attempts = 0, finished_at = NULL, ready_seq = {TAIL_SEQ} \
             WHERE id IN (SELECT id FROM jobs WHERE queue = ?1 AND state = 'dead' \
                          ORDER BY finished_at LIMIT ?2)"
        );
        for q in self.queue_list(queue).await? {
            // In chunks, each its own short write, so workers keep leasing
            // while a large dead set goes back to its queue.
            n += self.in_chunks(&sql, &q).await?;
        }
        if n > 0 {
            self.wake();
        }
        Ok(n)
    }

    pub(super) async fn discard_impl(&self, id: &JobId) -> BrokerResult<bool> {
        let done = sqlx::query("DELETE FROM jobs WHERE id = ?1 AND state = 'dead'")
            .bind(id.as_str())
            .execute(self.pool())
            .await
            .map_err(map_err)?
            .rows_affected();
        Ok(done == 1)
    }

    pub(super) async fn purge_impl(&self, queue: &str) -> BrokerResult<u64> {
        // Queued jobs, then waiting ones, each through its own index, in
        // chunks that are each a short write: a purge of a huge backlog does
        // not hold the file's write lock past the other writers' busy timeout.
        let mut n = 0;
        for sql in [PURGE_QUEUED, PURGE_WAITING] {
            n += self.in_chunks(sql, queue).await?;
        }
        Ok(n)
    }

    pub(super) async fn stats_impl(&self, queues: &[String]) -> BrokerResult<Vec<QueueStats>> {
        let queues = if queues.is_empty() {
            self.queues_impl().await?
        } else {
            queues.to_vec()
        };
        let now = self.now();
        let mut out = Vec::with_capacity(queues.len());
        for q in queues {
            let row = sqlx::query(STATS)
                .bind(&q)
                .bind(now.div_euclid(BUCKET_MS))
                .fetch_one(self.pool())
                .await
                .map_err(map_err)?;
            let count = |i: usize| {
                row.try_get::<i64, _>(i)
                    .map(|v| u64::try_from(v).unwrap_or(0))
            };
            let oldest: Option<i64> = row.try_get(4).map_err(map_err)?;
            let stale: Option<i64> = row.try_get(5).map_err(map_err)?;
            out.push(QueueStats {
                queued: count(0).map_err(map_err)?,
                scheduled: count(1).map_err(map_err)?,
                running: count(2).map_err(map_err)?,
                dead: count(3).map_err(map_err)?,
                oldest_age_s: oldest.map_or(0.0, |t| ((now - t).max(0) as f64) / 1000.0),
                stale_acks: u64::try_from(stale.unwrap_or(0)).unwrap_or(0),
                paused: row.try_get::<bool, _>(6).map_err(map_err)?,
                throughput: Throughput {
                    succeeded_1m: count(7).map_err(map_err)?,
                    failed_1m: count(8).map_err(map_err)?,
                    succeeded_1h: count(9).map_err(map_err)?,
                    failed_1h: count(10).map_err(map_err)?,
                },
                queue: q,
            });
        }
        Ok(out)
    }

    pub(super) async fn queues_impl(&self) -> BrokerResult<Vec<String>> {
        sqlx::query_scalar("SELECT name FROM queues ORDER BY name")
            .fetch_all(self.pool())
            .await
            .map_err(map_err)
    }

    pub(super) async fn register_worker_impl(&self, info: &WorkerInfo) -> BrokerResult<()> {
        for q in &info.queues {
            self.register_queue(q).await?;
        }
        let json = serde_json::to_string(info).map_err(|e| BrokerError::Invalid(e.to_string()))?;
        sqlx::query(
            "INSERT INTO workers (id, info, last_seen) VALUES (?1, ?2, ?3) \
             ON CONFLICT (id) DO UPDATE SET info = excluded.info, last_seen = excluded.last_seen",
        )
        .bind(&info.id)
        .bind(json)
        .bind(info.last_seen_ms)
        .execute(self.pool())
        .await
        .map_err(map_err)?;
        Ok(())
    }

    pub(super) async fn unregister_worker_impl(&self, id: &str) -> BrokerResult<()> {
        sqlx::query("DELETE FROM workers WHERE id = ?1")
            .bind(id)
            .execute(self.pool())
            .await
            .map_err(map_err)?;
        Ok(())
    }

    pub(super) async fn workers_impl(&self) -> BrokerResult<Vec<WorkerInfo>> {
        let cutoff = self.now() - 3 * ms(self.inner.config.lease);
        sqlx::query("DELETE FROM workers WHERE last_seen < ?1")
            .bind(cutoff)
            .execute(self.pool())
            .await
            .map_err(map_err)?;
        let rows: Vec<String> = sqlx::query_scalar("SELECT info FROM workers ORDER BY last_seen")
            .fetch_all(self.pool())
            .await
            .map_err(map_err)?;
        let mut live: Vec<WorkerInfo> = rows
            .iter()
            .filter_map(|j| serde_json::from_str(j).ok())
            .collect();
        live.sort_by_key(|w| w.started_at_ms);
        Ok(live)
    }

    /// Runs `sql` (bound to a queue and [`CHUNK`]) until it changes fewer
    /// than a chunk of rows; each run is its own short write, so other
    /// writers keep their turn. Returns the rows changed in all.
    async fn in_chunks(&self, sql: &str, queue: &str) -> BrokerResult<u64> {
        let mut n = 0;
        loop {
            let done = sqlx::query(sql)
                .bind(queue)
                .bind(CHUNK)
                .execute(self.pool())
                .await
                .map_err(map_err)?
                .rows_affected();
            n += done;
            if done < CHUNK as u64 {
                return Ok(n);
            }
        }
    }

    pub(super) async fn queue_list(&self, queue: Option<&str>) -> BrokerResult<Vec<String>> {
        match queue {
            Some(q) => Ok(vec![q.to_owned()]),
            None => self.queues_impl().await,
        }
    }
}
