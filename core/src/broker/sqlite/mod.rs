//! The SQLite engine: the embedded default. The same semantics as the Redis
//! engine in one SQLite file (WAL mode), so the system runs with nothing
//! installed and jobs survive a restart.
//!
//! # Tables (`schema.sql`, run at every open, idempotent)
//! - `jobs`: one row per job, whatever its state; what Redis spreads over a
//!   hash, a list and four sorted sets. `state` says which of those the job
//!   is in, and one partial index per hot query stands in for each structure:
//!   `jobs_queued` (queue, ready_seq, run_at) for the ready list, `jobs_due`
//!   (queue, run_at) for the scheduled set, `jobs_leases` (queue,
//!   lease_until) for the running set, `jobs_done` and `jobs_dead` (queue,
//!   finished_at) for retention and the dead set. Partial, so the finished
//!   jobs kept for their retention cost the hot path nothing. `ready_seq` is
//!   the place in the ready list: new and promoted jobs take the queue's
//!   maximum + 1, released and reclaimed ones its minimum - 1 (Redis's LPUSH
//!   and RPUSH).
//! - `queues`: every queue that ever had a job or a worker, with its count of
//!   settlements the fence rejected (stale acks).
//! - `workers`: live worker incarnations, as JSON, with their last beat.
//!
//! # Atomicity
//! Every state change is one SQL statement, or one `BEGIN IMMEDIATE`
//! transaction where it needs several; a lease is one `UPDATE … RETURNING`
//! that picks and marks its jobs under the write lock, so two brokers (two
//! processes) on the same file never lease the same job. The fence is the
//! same as Redis's: a settle must match the attempt's token, which is unique
//! per attempt (this broker's random incarnation, a per-call counter, the id).
//!
//! Idle workers in the same process wake at once through an in-process
//! notification shared by every broker on the file; a producer in another
//! process (`worker enqueue`) is seen within [`CROSS_PROCESS_POLL`].

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{Row, Sqlite, Transaction};
use tokio::sync::Notify;

use super::{
    Beat, Broker, BrokerConfig, BrokerError, BrokerResult, CancelOutcome, Enqueued, JobId, JobInfo,
    JobState, LeaseRef, Leased, Maintenance, NewJob, QueueStats, Settled, WorkerInfo,
};
use crate::clock::Clock;
use crate::jobs::{JobPolicy, RetryPolicy};

/// How often an idle worker looks for jobs written by another process.
pub const CROSS_PROCESS_POLL: Duration = Duration::from_millis(100);

/// Rows each housekeeping step touches per statement.
const CHUNK: i64 = 1000;

const SCHEMA: &str = include_str!("schema.sql");

/// Leases the first `?2` jobs of queue `?1` in one statement: the UPDATE
/// picks and marks them under the write lock, so no other connection or
/// process can take the same job. The attempt counter rises here, so an
/// attempt whose worker dies still counts. `?3` is the token prefix (unique
/// per call; the id makes it unique per job), `?4` now, `?5` the worker,
/// `?6` the lease expiry.
const TAKE: &str = "UPDATE jobs SET state = 'running', attempts = attempts + 1, token = ?3 || id, \
                    started_at = ?4, worker = ?5, lease_until = ?6, cancel_requested = 0 \
                    WHERE id IN (SELECT id FROM jobs WHERE queue = ?1 AND state = 'queued' \
                                 ORDER BY ready_seq, run_at LIMIT ?2) \
                    RETURNING id, name, payload, attempts, max_attempts, timeout_ms, \
                              backoff_base_ms, backoff_max_ms, enqueued_at, run_at, token, ready_seq";

/// Acks one attempt and leases the next jobs of its queue in one statement,
/// as settle.lua does in one script: a busy worker pays one round trip and
/// one commit per job. Both are rows of `jobs`, so one UPDATE can change
/// them: the attempt's row (`?1`, if token `?2` still holds it) becomes
/// succeeded; the first `?6` queued jobs of queue `?5` become running like
/// in [`TAKE`], but only when the token holds (the EXISTS), so a stale ack
/// takes nothing. An UPDATE whose WHERE holds a subquery runs in two passes
/// (SQLite collects the rows, then changes them), so the EXISTS sees the
/// attempt as it was; the unit tests and the conformance suite check both
/// outcomes. `?3` result, `?4` now, `?7`
/// token prefix, `?8` lease expiry, `?9` worker.
const ACK_AND_TAKE: &str = "UPDATE jobs SET \
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
                   ORDER BY ready_seq, run_at LIMIT ?6) \
            AND EXISTS (SELECT 1 FROM jobs WHERE id = ?1 AND token = ?2 AND state = 'running')) \
     RETURNING id, name, payload, attempts, max_attempts, timeout_ms, \
               backoff_base_ms, backoff_max_ms, enqueued_at, run_at, token, ready_seq";

/// Retention sweeps of queue `?1`: finished before `?2`, at most `?3` rows.
/// States are literals, never parameters: a partial index serves only a
/// query that repeats its WHERE (see schema.sql).
const SWEEP_DONE: &str = "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE queue = ?1 \
                          AND state IN ('succeeded', 'cancelled') AND finished_at < ?2 LIMIT ?3)";
const SWEEP_DEAD: &str = "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE queue = ?1 \
                          AND state = 'dead' AND finished_at < ?2 LIMIT ?3)";

/// Purge of queue `?1`, at most `?2` rows per statement.
const PURGE_QUEUED: &str = "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE queue = ?1 \
                            AND state = 'queued' LIMIT ?2)";
const PURGE_WAITING: &str = "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE queue = ?1 \
                             AND state IN ('scheduled', 'retrying') LIMIT ?2)";

/// Counts of queue `?1` in one statement, so one consistent snapshot.
const STATS: &str = "SELECT \
     (SELECT COUNT(*) FROM jobs WHERE queue = ?1 AND state = 'queued'), \
     (SELECT COUNT(*) FROM jobs WHERE queue = ?1 AND state IN ('scheduled', 'retrying')), \
     (SELECT COUNT(*) FROM jobs WHERE queue = ?1 AND state = 'running'), \
     (SELECT COUNT(*) FROM jobs WHERE queue = ?1 AND state = 'dead'), \
     (SELECT run_at FROM jobs WHERE queue = ?1 AND state = 'queued' ORDER BY ready_seq, run_at LIMIT 1), \
     (SELECT stale_acks FROM queues WHERE name = ?1)";

/// The SQLite engine. Cheap to clone.
#[derive(Clone)]
pub struct SqliteBroker {
    inner: Arc<Inner>,
}

struct Inner {
    pool: SqlitePool,
    path: PathBuf,
    config: BrokerConfig,
    wake: Arc<Notify>,
    incarnation: String,
    token_seq: AtomicU64,
    known_queues: Mutex<HashSet<String>>,
}

impl std::fmt::Debug for SqliteBroker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteBroker")
            .field("path", &self.inner.path)
            .finish_non_exhaustive()
    }
}

/// One wake-up per database file, shared by every broker this process opens
/// on it.
fn wake_for(path: &Path) -> Arc<Notify> {
    static WAKES: OnceLock<Mutex<HashMap<PathBuf, Arc<Notify>>>> = OnceLock::new();
    let map = WAKES.get_or_init(|| Mutex::new(HashMap::new()));
    match map.lock() {
        Ok(mut m) => m.entry(path.to_path_buf()).or_default().clone(),
        Err(_) => Arc::new(Notify::new()),
    }
}

fn map_err(e: sqlx::Error) -> BrokerError {
    match &e {
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => BrokerError::Unavailable(e.to_string()),
        sqlx::Error::Database(db) if db.code().is_some_and(|c| is_transient_code(&c)) => {
            BrokerError::Unavailable(e.to_string())
        }
        _ => BrokerError::Failed(e.to_string()),
    }
}

/// Whether an SQLite result code (sqlx reports the extended code, whose low
/// byte is the primary one) is worth retrying: SQLITE_BUSY (5) and
/// SQLITE_LOCKED (6), another connection held the file past the busy
/// timeout; SQLITE_IOERR (10) and SQLITE_FULL (13), the disk failed or
/// filled, which an operator can fix without touching the jobs.
fn is_transient_code(code: &str) -> bool {
    code.parse::<i64>()
        .is_ok_and(|c| matches!(c & 0xff, 5 | 6 | 10 | 13))
}

fn check_queue(queue: &str) -> BrokerResult<()> {
    if queue.is_empty() || queue.len() > 100 || queue.chars().any(char::is_whitespace) {
        return Err(BrokerError::Invalid(format!(
            "queue name {queue:?} must have 1 to 100 characters and no whitespace"
        )));
    }
    Ok(())
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 4)
}

fn leased_from(row: &SqliteRow, queue: &str) -> Result<(i64, Leased), sqlx::Error> {
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
        },
    ))
}

fn info_from(row: &SqliteRow) -> Result<JobInfo, sqlx::Error> {
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
    })
}

/// Leased jobs as [`leased_from`] read them, in their queue's order:
/// RETURNING gives rows in no promised order.
fn in_ready_order(mut got: Vec<(i64, Leased)>) -> Vec<Leased> {
    got.sort_by_key(|(seq, l)| (*seq, l.due_at_ms));
    got.into_iter().map(|(_, l)| l).collect()
}

/// The next place at the tail of a queue.
const TAIL_SEQ: &str =
    "(SELECT COALESCE(MAX(ready_seq), 0) + 1 FROM jobs WHERE queue = ?1 AND state = 'queued')";
/// The next place at the head of a queue.
const HEAD_SEQ: &str =
    "(SELECT COALESCE(MIN(ready_seq), 0) - 1 FROM jobs WHERE queue = ?1 AND state = 'queued')";

impl SqliteBroker {
    /// Opens (creating when missing) the database file at `path` and its
    /// directory, and brings its schema up to date.
    pub async fn open(path: &Path, config: BrokerConfig) -> BrokerResult<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                BrokerError::Invalid(format!("cannot create {}: {e}", dir.display()))
            })?;
        }
        let options = SqliteConnectOptions::from_str("sqlite://")
            .map_err(map_err)?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(5));
        // Several connections, though SQLite runs one write at a time: each
        // has its own thread in sqlx, so one statement's hand-offs overlap
        // another's execution. (A single writer connection, tried, drained
        // about 30% slower with 8 concurrent workers.)
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(map_err)?;
        sqlx::raw_sql(SCHEMA)
            .execute(&pool)
            .await
            .map_err(map_err)?;
        let canonical = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        Ok(Self {
            inner: Arc::new(Inner {
                pool,
                wake: wake_for(&canonical),
                path: canonical,
                config,
                incarnation: uuid::Uuid::now_v7().simple().to_string(),
                token_seq: AtomicU64::new(0),
                known_queues: Mutex::new(HashSet::new()),
            }),
        })
    }

    fn now(&self) -> i64 {
        self.inner.config.clock.now_ms()
    }

    fn pool(&self) -> &SqlitePool {
        &self.inner.pool
    }

    fn token_prefix(&self) -> String {
        let seq = self.inner.token_seq.fetch_add(1, Ordering::Relaxed);
        format!("{}:{seq}:", self.inner.incarnation)
    }

    fn wake(&self) {
        self.inner.wake.notify_waiters();
        self.inner.wake.notify_one();
    }

    async fn write_tx(&self) -> BrokerResult<Transaction<'static, Sqlite>> {
        self.pool()
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(map_err)
    }

    async fn register_queue(&self, queue: &str) -> BrokerResult<()> {
        if self
            .inner
            .known_queues
            .lock()
            .map(|q| q.contains(queue))
            .unwrap_or(false)
        {
            return Ok(());
        }
        sqlx::query("INSERT OR IGNORE INTO queues (name) VALUES (?1)")
            .bind(queue)
            .execute(self.pool())
            .await
            .map_err(map_err)?;
        if let Ok(mut q) = self.inner.known_queues.lock() {
            q.insert(queue.to_owned());
        }
        Ok(())
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

    /// Runs [`TAKE`] for up to `n` jobs of `queue`, in ready order.
    async fn take(&self, queue: &str, n: usize, worker: &str) -> BrokerResult<Vec<Leased>> {
        let now = self.now();
        let rows = sqlx::query(TAKE)
            .bind(queue)
            .bind(i64::try_from(n).unwrap_or(i64::MAX))
            .bind(self.token_prefix())
            .bind(now)
            .bind(worker)
            .bind(now + ms(self.inner.config.lease))
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

    async fn queue_list(&self, queue: Option<&str>) -> BrokerResult<Vec<String>> {
        match queue {
            Some(q) => Ok(vec![q.to_owned()]),
            None => self.queues().await,
        }
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
        tx.commit().await.map_err(map_err)?;
        if m.promoted + m.requeued > 0 {
            self.wake();
        }
        Ok((m, full))
    }
}

#[async_trait]
impl Broker for SqliteBroker {
    fn engine(&self) -> &'static str {
        "sqlite"
    }

    fn clock(&self) -> &Clock {
        &self.inner.config.clock
    }

    async fn enqueue(&self, job: NewJob) -> BrokerResult<Enqueued> {
        let mut done = self.enqueue_many(vec![job]).await?;
        done.pop()
            .ok_or_else(|| BrokerError::Failed("enqueue returned nothing".to_owned()))
    }

    async fn enqueue_many(&self, jobs: Vec<NewJob>) -> BrokerResult<Vec<Enqueued>> {
        for j in &jobs {
            check_queue(&j.queue)?;
        }
        let queues: HashSet<&str> = jobs.iter().map(|j| j.queue.as_str()).collect();
        for q in queues {
            self.register_queue(q).await?;
        }
        let now = self.now();
        let mut out = Vec::with_capacity(jobs.len());
        let mut woke = false;
        let mut tx = self.write_tx().await?;
        for j in jobs {
            let run_at = j.run_at_ms.filter(|&t| t > now);
            let state = if run_at.is_some() {
                "scheduled"
            } else {
                "queued"
            };
            let p = &j.policy;
            let created = sqlx::query(&format!(
                "INSERT INTO jobs (queue, id, name, payload, state, max_attempts, timeout_ms, backoff_base_ms, \
                 backoff_max_ms, enqueued_at, run_at, ready_seq) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, {TAIL_SEQ}) \
                 ON CONFLICT (id) DO NOTHING"
            ))
            .bind(&j.queue)
            .bind(j.id.as_str())
            .bind(&j.name)
            .bind(&j.payload)
            .bind(state)
            .bind(i64::from(p.retry.max_attempts))
            .bind(i64::try_from(p.timeout_ms).unwrap_or(i64::MAX))
            .bind(i64::try_from(p.retry.backoff_base_ms).unwrap_or(i64::MAX))
            .bind(i64::try_from(p.retry.backoff_max_ms).unwrap_or(i64::MAX))
            .bind(now)
            .bind(run_at.unwrap_or(now))
            .execute(&mut *tx)
            .await
            .map_err(map_err)?
            .rows_affected()
                == 1;
            woke |= created && run_at.is_none();
            out.push(Enqueued { id: j.id, created });
        }
        tx.commit().await.map_err(map_err)?;
        if woke {
            self.wake();
        }
        Ok(out)
    }

    async fn lease(
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

    async fn wait_for_work(&self, _queues: &[String], timeout: Duration) {
        let _ =
            tokio::time::timeout(timeout.min(CROSS_PROCESS_POLL), self.inner.wake.notified()).await;
    }

    async fn heartbeat(&self, leases: &[LeaseRef]) -> BrokerResult<Vec<Beat>> {
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

    async fn ack(&self, lease: &LeaseRef, result: Option<&str>) -> BrokerResult<Settled> {
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

    async fn ack_and_lease(
        &self,
        lease: &LeaseRef,
        result: Option<&str>,
        next: usize,
        worker: &str,
    ) -> BrokerResult<(Settled, Vec<Leased>)> {
        if next == 0 {
            return Ok((self.ack(lease, result).await?, Vec::new()));
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

    async fn retry(&self, lease: &LeaseRef, run_at_ms: i64, error: &str) -> BrokerResult<Settled> {
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

    async fn dead(&self, lease: &LeaseRef, error: &str) -> BrokerResult<Settled> {
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

    async fn release(&self, lease: &LeaseRef) -> BrokerResult<Settled> {
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

    async fn cancelled(&self, lease: &LeaseRef) -> BrokerResult<Settled> {
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

    async fn maintain(&self, queues: &[String]) -> BrokerResult<Maintenance> {
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

    async fn job(&self, id: &JobId) -> BrokerResult<Option<JobInfo>> {
        let row = sqlx::query("SELECT * FROM jobs WHERE id = ?1")
            .bind(id.as_str())
            .fetch_optional(self.pool())
            .await
            .map_err(map_err)?;
        row.as_ref().map(info_from).transpose().map_err(map_err)
    }

    async fn cancel(&self, id: &JobId) -> BrokerResult<CancelOutcome> {
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

    async fn dead_jobs(&self, queue: Option<&str>, limit: usize) -> BrokerResult<Vec<JobInfo>> {
        // Two statements rather than `(?1 IS NULL OR queue = ?1)`, which would
        // keep the planner from walking jobs_dead in order for one queue.
        let (sql, queue) = match queue {
            Some(q) => (
                "SELECT * FROM jobs WHERE queue = ?2 AND state = 'dead' \
                 ORDER BY finished_at DESC LIMIT ?1",
                Some(q),
            ),
            None => (
                "SELECT * FROM jobs WHERE state = 'dead' ORDER BY finished_at DESC LIMIT ?1",
                None,
            ),
        };
        let mut query = sqlx::query(sql).bind(i64::try_from(limit).unwrap_or(i64::MAX));
        if let Some(q) = queue {
            query = query.bind(q);
        }
        let rows = query.fetch_all(self.pool()).await.map_err(map_err)?;
        rows.iter()
            .map(info_from)
            .collect::<Result<_, _>>()
            .map_err(map_err)
    }

    async fn rerun_dead(&self, id: &JobId) -> BrokerResult<bool> {
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

    async fn rerun_all_dead(&self, queue: Option<&str>) -> BrokerResult<u64> {
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

    async fn discard(&self, id: &JobId) -> BrokerResult<bool> {
        let done = sqlx::query("DELETE FROM jobs WHERE id = ?1 AND state = 'dead'")
            .bind(id.as_str())
            .execute(self.pool())
            .await
            .map_err(map_err)?
            .rows_affected();
        Ok(done == 1)
    }

    async fn purge(&self, queue: &str) -> BrokerResult<u64> {
        // Queued jobs, then waiting ones, each through its own index, in
        // chunks that are each a short write: a purge of a huge backlog does
        // not hold the file's write lock past the other writers' busy timeout.
        let mut n = 0;
        for sql in [PURGE_QUEUED, PURGE_WAITING] {
            n += self.in_chunks(sql, queue).await?;
        }
        Ok(n)
    }

    async fn stats(&self, queues: &[String]) -> BrokerResult<Vec<QueueStats>> {
        let queues = if queues.is_empty() {
            self.queues().await?
        } else {
            queues.to_vec()
        };
        let now = self.now();
        let mut out = Vec::with_capacity(queues.len());
        for q in queues {
            let row = sqlx::query(STATS)
                .bind(&q)
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
                queue: q,
            });
        }
        Ok(out)
    }

    async fn queues(&self) -> BrokerResult<Vec<String>> {
        sqlx::query_scalar("SELECT name FROM queues ORDER BY name")
            .fetch_all(self.pool())
            .await
            .map_err(map_err)
    }

    async fn register_worker(&self, info: &WorkerInfo) -> BrokerResult<()> {
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

    async fn unregister_worker(&self, id: &str) -> BrokerResult<()> {
        sqlx::query("DELETE FROM workers WHERE id = ?1")
            .bind(id)
            .execute(self.pool())
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn workers(&self) -> BrokerResult<Vec<WorkerInfo>> {
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
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    async fn open(dir: &tempfile::TempDir) -> SqliteBroker {
        SqliteBroker::open(&dir.path().join("jobs.sqlite3"), BrokerConfig::default())
            .await
            .unwrap()
    }

    /// A partial index only serves a query that repeats its WHERE; a query
    /// that drifts from it (a state as a parameter, `=` where the index says
    /// `IN`) silently scans every job kept for its retention.
    #[tokio::test]
    async fn hot_statements_use_an_index_not_a_scan() {
        let dir = tempfile::tempdir().unwrap();
        let b = open(&dir).await;
        for sql in [
            TAKE,
            ACK_AND_TAKE,
            SWEEP_DONE,
            SWEEP_DEAD,
            PURGE_QUEUED,
            PURGE_WAITING,
            STATS,
        ] {
            let plan: Vec<String> = sqlx::query(&format!("EXPLAIN QUERY PLAN {sql}"))
                .fetch_all(b.pool())
                .await
                .unwrap()
                .iter()
                .map(|r| r.try_get::<String, _>("detail").unwrap())
                .collect();
            assert!(
                plan.iter()
                    .all(|step| !step.starts_with("SCAN jobs") && !step.contains("TEMP B-TREE")),
                "{sql}\n{plan:#?}"
            );
        }
    }

    #[tokio::test]
    async fn ack_and_lease_takes_several_in_order_with_tokens_of_their_own() {
        let dir = tempfile::tempdir().unwrap();
        let b = open(&dir).await;
        let q = vec!["q".to_owned()];
        let ids: Vec<JobId> = b
            .enqueue_many(
                (0..5)
                    .map(|i| NewJob::new("t", "q", i.to_string()))
                    .collect(),
            )
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.id)
            .collect();
        let first = b.lease(&q, 1, "w").await.unwrap().remove(0);
        let (settled, next) = b
            .ack_and_lease(&first.lease_ref(), Some("1"), 3, "w")
            .await
            .unwrap();
        assert_eq!(settled, Settled::Done);
        assert_eq!(
            next.iter().map(|l| l.id.clone()).collect::<Vec<_>>(),
            ids[1..4]
        );
        let tokens: HashSet<&str> = next.iter().map(|l| l.token.as_str()).collect();
        assert_eq!(tokens.len(), 3);
        assert!(!tokens.contains(first.token.as_str()));
        assert!(next.iter().all(|l| l.attempt == 1));
        let acked = b.job(&first.id).await.unwrap().unwrap();
        assert_eq!(
            (acked.state, acked.result.as_deref(), acked.attempts),
            (JobState::Succeeded, Some("1"), 1)
        );
        for l in &next {
            let info = b.job(&l.id).await.unwrap().unwrap();
            assert_eq!(
                (info.state, info.worker.as_deref()),
                (JobState::Running, Some("w"))
            );
        }
    }

    /// Reclaim handles a chunk of expired leases per round with three
    /// statements (cancel, dead, requeue); each must take only its own kind,
    /// or a requeue whose window slid past the others' would run a job an
    /// operator cancelled, or give a job one attempt more than allowed.
    #[tokio::test]
    async fn reclaim_treats_every_expired_lease_by_its_kind_beyond_one_chunk() {
        let dir = tempfile::tempdir().unwrap();
        let config = BrokerConfig::default();
        let clock = config.clock.clone();
        let b = SqliteBroker::open(&dir.path().join("jobs.sqlite3"), config)
            .await
            .unwrap();
        let q = vec!["q".to_owned()];
        let policy = |max_attempts| JobPolicy {
            retry: RetryPolicy {
                max_attempts,
                backoff_base_ms: 1000,
                backoff_max_ms: 60_000,
            },
            timeout_ms: 30_000,
        };
        // A full chunk of leases on their last attempt, then, a moment
        // later, one a cancel was asked for and one with attempts left.
        let n = usize::try_from(CHUNK).unwrap();
        b.enqueue_many(
            (0..n)
                .map(|i| NewJob::new("t", "q", i.to_string()).with_policy(policy(1)))
                .collect(),
        )
        .await
        .unwrap();
        assert_eq!(b.lease(&q, n, "w").await.unwrap().len(), n);
        clock.advance(Duration::from_millis(5));
        let cancel = b
            .enqueue(NewJob::new("t", "q", "c").with_policy(policy(5)))
            .await
            .unwrap()
            .id;
        let retry = b
            .enqueue(NewJob::new("t", "q", "r").with_policy(policy(5)))
            .await
            .unwrap()
            .id;
        assert_eq!(b.lease(&q, 2, "w").await.unwrap().len(), 2);
        assert_eq!(b.cancel(&cancel).await.unwrap(), CancelOutcome::Requested);
        clock.advance(Duration::from_secs(60));
        let m = b.maintain(&q).await.unwrap();
        assert_eq!((m.lost_to_dead, m.requeued), (CHUNK as u64, 1));
        let cancel = b.job(&cancel).await.unwrap().unwrap();
        assert_eq!(cancel.state, JobState::Cancelled);
        let retry = b.job(&retry).await.unwrap().unwrap();
        assert_eq!((retry.state, retry.attempts), (JobState::Queued, 1));
    }

    /// Files made by the first schema carry two indexes since replaced.
    #[tokio::test]
    async fn opening_a_first_schema_file_replaces_its_indexes() {
        let dir = tempfile::tempdir().unwrap();
        let b = open(&dir).await;
        sqlx::raw_sql(
            "DROP INDEX jobs_queued; DROP INDEX jobs_done; DROP INDEX jobs_dead; \
             CREATE INDEX jobs_ready ON jobs (queue, ready_seq) WHERE state = 'queued'; \
             CREATE INDEX jobs_finished ON jobs (queue, state, finished_at) \
                 WHERE state IN ('succeeded', 'cancelled', 'dead');",
        )
        .execute(b.pool())
        .await
        .unwrap();
        b.pool().close().await;
        let b = open(&dir).await;
        let mut names: Vec<String> = sqlx::query_scalar(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'jobs' \
             AND name NOT LIKE 'sqlite_%' ORDER BY name",
        )
        .fetch_all(b.pool())
        .await
        .unwrap();
        names.sort();
        assert_eq!(
            names,
            [
                "jobs_dead",
                "jobs_done",
                "jobs_due",
                "jobs_leases",
                "jobs_queued"
            ]
        );
    }
}
