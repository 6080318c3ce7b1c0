//! The SQLite engine: the embedded default. The same semantics as the Redis
//! engine in one SQLite file (WAL mode), so the system runs with nothing
//! installed and jobs survive a restart.
//!
//! # Tables (`schema.sql`, run at every open, idempotent)
//! Columns added to `jobs` after its first release are also listed in
//! `ADDED_COLUMNS`: SQLite has no `ADD COLUMN IF NOT EXISTS`, so an open
//! adds the ones a file made by an older version lacks.
//!
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
//! - `paused_queues`: the queues nothing is leased from until resumed.
//! - `throughput`: succeeded and failed attempts per queue and 10-second
//!   bucket, counted by a trigger on `jobs`.
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
//!
//! # Layout
//! One file per concern, each with the SQL it runs; the [`Broker`] impl
//! below only calls into them.
//! - `mod.rs`: the broker, opening the file, the wake-up, error mapping,
//!   the ready-list places shared by several statements, and the
//!   [`Broker`] impl.
//! - `enqueue`: enqueue and enqueue_many; queue names and their
//!   registration in `queues`.
//! - `lease`: lease (`TAKE`), wait_for_work and heartbeat.
//! - `settle`: the fenced settlements (ack, retry, dead, release, snooze,
//!   cancelled), the count of stale ones; a batch is one transaction with
//!   its refill, a lone ack and its refill one statement (`ACK_AND_TAKE`).
//! - `maintain`: promotion, reclaim of expired leases, retention sweeps
//!   (`SWEEP_*`).
//! - `admin`: lookup by id, cancel, the dead set, purge (`PURGE_*`), stats
//!   (`STATS`), queues and workers.
//! - `console`: pause and resume, listings (`browse_sql`), run now, and
//!   bulk actions on the dead set.
//! - `decode`: rows read into the broker's types.
//! - `tests`: checks of this engine's own statements and schema; the
//!   shared promises are in the conformance suite.

mod admin;
mod console;
mod decode;
mod enqueue;
mod lease;
mod maintain;
mod settle;
#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Sqlite, Transaction};
use tokio::sync::Notify;

use super::{
    Beat, Broker, BrokerConfig, BrokerError, BrokerResult, CancelOutcome, DeadAction, Enqueued,
    JobFilter, JobId, JobInfo, JobPage, LeaseRef, Leased, Maintenance, NewJob, QueueStats, Refill,
    SettledMany, Settlement, ThroughputPoint, WorkerInfo,
};
use crate::clock::Clock;

/// How often an idle worker looks for jobs written by another process.
pub const CROSS_PROCESS_POLL: Duration = Duration::from_millis(100);

/// Rows each housekeeping step touches per statement.
const CHUNK: i64 = 1000;

const SCHEMA: &str = include_str!("schema.sql");

/// Columns of `jobs` newer than the first schema, with their type: in
/// `schema.sql` for new files, added at open to files made before them.
/// Nullable, so the rows already there read as "none".
const ADDED_COLUMNS: &[(&str, &str)] = &[("request_id", "TEXT")];

/// The next place at the tail of a queue.
const TAIL_SEQ: &str =
    "(SELECT COALESCE(MAX(ready_seq), 0) + 1 FROM jobs WHERE queue = ?1 AND state = 'queued')";
/// The next place at the head of a queue.
const HEAD_SEQ: &str =
    "(SELECT COALESCE(MIN(ready_seq), 0) - 1 FROM jobs WHERE queue = ?1 AND state = 'queued')";

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

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 4)
}

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
        add_missing_columns(&pool).await?;
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
}

/// Adds the [`ADDED_COLUMNS`] that `jobs` lacks, under the write lock, so
/// two processes opening an old file at once do not both add a column.
async fn add_missing_columns(pool: &SqlitePool) -> BrokerResult<()> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.map_err(map_err)?;
    for (column, kind) in ADDED_COLUMNS {
        let present: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM pragma_table_info('jobs') WHERE name = ?1")
                .bind(column)
                .fetch_one(&mut *tx)
                .await
                .map_err(map_err)?;
        if present == 0 {
            sqlx::query(&format!("ALTER TABLE jobs ADD COLUMN {column} {kind}"))
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
        }
    }
    tx.commit().await.map_err(map_err)
}

/// Each method calls the inherent method named after it with an `_impl`
/// suffix, in the file of its concern (see the module's Layout).
#[async_trait]
impl Broker for SqliteBroker {
    fn engine(&self) -> &'static str {
        "sqlite"
    }

    fn clock(&self) -> &Clock {
        &self.inner.config.clock
    }

    async fn enqueue(&self, job: NewJob) -> BrokerResult<Enqueued> {
        self.enqueue_impl(job).await
    }

    async fn enqueue_many(&self, jobs: Vec<NewJob>) -> BrokerResult<Vec<Enqueued>> {
        self.enqueue_many_impl(jobs).await
    }

    async fn lease(
        &self,
        queues: &[String],
        max: usize,
        worker: &str,
    ) -> BrokerResult<Vec<Leased>> {
        self.lease_impl(queues, max, worker).await
    }

    async fn wait_for_work(&self, queues: &[String], timeout: Duration) {
        self.wait_for_work_impl(queues, timeout).await;
    }

    async fn heartbeat(&self, leases: &[LeaseRef]) -> BrokerResult<Vec<Beat>> {
        self.heartbeat_impl(leases).await
    }

    async fn settle_many(
        &self,
        batch: &[Settlement],
        refill: Option<Refill<'_>>,
    ) -> BrokerResult<SettledMany> {
        self.settle_many_impl(batch, refill).await
    }

    async fn maintain(&self, queues: &[String]) -> BrokerResult<Maintenance> {
        self.maintain_impl(queues).await
    }

    async fn job(&self, id: &JobId) -> BrokerResult<Option<JobInfo>> {
        self.job_impl(id).await
    }

    async fn cancel(&self, id: &JobId) -> BrokerResult<CancelOutcome> {
        self.cancel_impl(id).await
    }

    async fn dead_jobs(&self, queue: Option<&str>, limit: usize) -> BrokerResult<Vec<JobInfo>> {
        self.dead_jobs_impl(queue, limit).await
    }

    async fn rerun_dead(&self, id: &JobId) -> BrokerResult<bool> {
        self.rerun_dead_impl(id).await
    }

    async fn rerun_all_dead(&self, queue: Option<&str>) -> BrokerResult<u64> {
        self.rerun_all_dead_impl(queue).await
    }

    async fn discard(&self, id: &JobId) -> BrokerResult<bool> {
        self.discard_impl(id).await
    }

    async fn purge(&self, queue: &str) -> BrokerResult<u64> {
        self.purge_impl(queue).await
    }

    async fn stats(&self, queues: &[String]) -> BrokerResult<Vec<QueueStats>> {
        self.stats_impl(queues).await
    }

    async fn throughput_series(&self, queues: &[String]) -> BrokerResult<Vec<ThroughputPoint>> {
        self.throughput_series_impl(queues).await
    }

    async fn queues(&self) -> BrokerResult<Vec<String>> {
        self.queues_impl().await
    }

    async fn pause_queue(&self, queue: &str) -> BrokerResult<bool> {
        self.pause_impl(queue, true).await
    }

    async fn resume_queue(&self, queue: &str) -> BrokerResult<bool> {
        self.pause_impl(queue, false).await
    }

    async fn list_jobs(&self, filter: &JobFilter) -> BrokerResult<JobPage> {
        self.list_jobs_impl(filter).await
    }

    async fn run_now(&self, id: &JobId) -> BrokerResult<bool> {
        self.run_now_impl(id).await
    }

    async fn bulk_dead(&self, action: DeadAction, ids: &[JobId]) -> BrokerResult<u64> {
        self.bulk_dead_impl(action, ids).await
    }

    async fn bulk_dead_matching(
        &self,
        action: DeadAction,
        filter: &JobFilter,
    ) -> BrokerResult<u64> {
        self.bulk_dead_matching_impl(action, filter).await
    }

    async fn register_worker(&self, info: &WorkerInfo) -> BrokerResult<()> {
        self.register_worker_impl(info).await
    }

    async fn unregister_worker(&self, id: &str) -> BrokerResult<()> {
        self.unregister_worker_impl(id).await
    }

    async fn workers(&self) -> BrokerResult<Vec<WorkerInfo>> {
        self.workers_impl().await
    }
}
