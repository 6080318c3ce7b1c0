//! The SQLite engine: the embedded default. The same semantics as the Redis
//! engine in one SQLite file (WAL mode), so the system runs with nothing
//! installed and jobs survive a restart.
//!
//! One `jobs` table holds every job (`schema.sql` says why each column and
//! index exists), `queues` the queue names with their stale-ack counts,
//! `workers` the live worker incarnations. Every state change is one SQL
//! statement, or one `BEGIN IMMEDIATE` transaction where it needs several, so
//! two processes on the same file never lease the same job. The fence is the
//! same as Redis's: a settle must match the attempt's token.
//!
//! Idle workers in the same process wake at once through an in-process
//! notification; a producer in another process (`worker enqueue`) is seen
//! within [`CROSS_PROCESS_POLL`].

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

const LEASED_COLUMNS: &str = "id, name, payload, attempts, max_attempts, timeout_ms, backoff_base_ms, \
                              backoff_max_ms, enqueued_at, run_at, token, ready_seq";

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
        // SQLITE_BUSY (5) and SQLITE_LOCKED (6): another writer held the
        // file past the busy timeout.
        sqlx::Error::Database(db)
            if matches!(db.code().as_deref(), Some("5" | "6" | "517" | "262")) =>
        {
            BrokerError::Unavailable(e.to_string())
        }
        _ => BrokerError::Failed(e.to_string()),
    }
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

    async fn queue_list(&self, queue: Option<&str>) -> BrokerResult<Vec<String>> {
        match queue {
            Some(q) => Ok(vec![q.to_owned()]),
            None => self.queues().await,
        }
    }

    async fn maintain_queue(&self, queue: &str) -> BrokerResult<Maintenance> {
        let now = self.now();
        let mut m = Maintenance::default();
        let mut tx = self.write_tx().await?;
        // 1. Promote due scheduled and retrying jobs to the tail.
        // 2. Take back expired leases: cancelled if a cancel was asked for,
        //    dead on the last attempt, else back to the head of the queue.
        // Every statement is bound to (queue, now, chunk).
        let expired = "id IN (SELECT id FROM jobs WHERE queue = ?1 AND state = 'running' \
                       AND lease_until <= ?2 ORDER BY lease_until LIMIT ?3)";
        let why = "'lease expired: worker ' || COALESCE(worker, '?') || ' stopped during attempt ' || attempts";
        let steps = [
            format!(
                "UPDATE jobs SET state = 'queued', ready_seq = {TAIL_SEQ} \
                 WHERE id IN (SELECT id FROM jobs WHERE queue = ?1 AND state IN ('scheduled', 'retrying') \
                              AND run_at <= ?2 ORDER BY run_at LIMIT ?3)"
            ),
            format!(
                "UPDATE jobs SET state = 'cancelled', finished_at = ?2, token = NULL, last_error = {why} \
                 WHERE {expired} AND cancel_requested = 1"
            ),
            format!(
                "UPDATE jobs SET state = 'dead', finished_at = ?2, token = NULL, last_error = {why} \
                 WHERE {expired} AND attempts >= max_attempts"
            ),
            format!(
                "UPDATE jobs SET state = 'queued', ready_seq = {HEAD_SEQ}, token = NULL, last_error = {why} \
                 WHERE {expired}"
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
        // 3. Delete finished jobs past their retention.
        let sweep = |state: &'static str, keep: Duration| {
            let cutoff = now - ms(keep);
            sqlx::query(
                "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE queue = ?1 AND state = ?2 \
                 AND finished_at < ?3 LIMIT ?4)",
            )
            .bind(queue.to_owned())
            .bind(state)
            .bind(cutoff)
            .bind(CHUNK)
        };
        let retention = self.inner.config.retention;
        for (state, keep) in [
            ("succeeded", retention.succeeded),
            ("cancelled", retention.succeeded),
            ("dead", retention.dead),
        ] {
            m.swept += sweep(state, keep)
                .execute(&mut *tx)
                .await
                .map_err(map_err)?
                .rows_affected();
        }
        tx.commit().await.map_err(map_err)?;
        if m.promoted + m.requeued > 0 {
            self.wake();
        }
        Ok(m)
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
        let lease_until = self.now() + ms(self.inner.config.lease);
        for queue in queues {
            if out.len() >= max {
                break;
            }
            let token_prefix = self.token_prefix();
            let rows = sqlx::query(&format!(
                "UPDATE jobs SET state = 'running', attempts = attempts + 1, token = ?3 || id, \
                 started_at = ?4, worker = ?5, lease_until = ?6, cancel_requested = 0 \
                 WHERE id IN (SELECT id FROM jobs WHERE queue = ?1 AND state = 'queued' \
                              ORDER BY ready_seq, run_at LIMIT ?2) \
                 RETURNING {LEASED_COLUMNS}"
            ))
            .bind(queue)
            .bind(i64::try_from(max - out.len()).unwrap_or(1))
            .bind(&token_prefix)
            .bind(self.now())
            .bind(worker)
            .bind(lease_until)
            .fetch_all(self.pool())
            .await
            .map_err(map_err)?;
            let mut got = rows
                .iter()
                .map(|r| leased_from(r, queue))
                .collect::<Result<Vec<_>, _>>()
                .map_err(map_err)?;
            got.sort_by_key(|(seq, l)| (*seq, l.due_at_ms));
            out.extend(got.into_iter().map(|(_, l)| l));
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
                let m = self.maintain_queue(queue).await?;
                total.promoted += m.promoted;
                total.requeued += m.requeued;
                total.lost_to_dead += m.lost_to_dead;
                total.swept += m.swept;
                let chunk = CHUNK as u64;
                if m.promoted < chunk && m.requeued + m.lost_to_dead < chunk && m.swept < chunk {
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
        let rows = sqlx::query(
            "SELECT * FROM jobs WHERE state = 'dead' AND (?1 IS NULL OR queue = ?1) \
             ORDER BY finished_at DESC LIMIT ?2",
        )
        .bind(queue)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(self.pool())
        .await
        .map_err(map_err)?;
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
        for q in self.queue_list(queue).await? {
            let done = sqlx::query(&format!(
                "UPDATE jobs SET state = 'queued', attempts = 0, finished_at = NULL, ready_seq = {TAIL_SEQ} \
                 WHERE queue = ?1 AND state = 'dead'"
            ))
            .bind(&q)
            .execute(self.pool())
            .await
            .map_err(map_err)?
            .rows_affected();
            n += done;
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
        let done = sqlx::query(
            "DELETE FROM jobs WHERE queue = ?1 AND state IN ('queued', 'scheduled', 'retrying')",
        )
        .bind(queue)
        .execute(self.pool())
        .await
        .map_err(map_err)?
        .rows_affected();
        Ok(done)
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
            let row = sqlx::query(
                "SELECT \
                 (SELECT COUNT(*) FROM jobs WHERE queue = ?1 AND state = 'queued'), \
                 (SELECT COUNT(*) FROM jobs WHERE queue = ?1 AND state IN ('scheduled', 'retrying')), \
                 (SELECT COUNT(*) FROM jobs WHERE queue = ?1 AND state = 'running'), \
                 (SELECT COUNT(*) FROM jobs WHERE queue = ?1 AND state = 'dead'), \
                 (SELECT run_at FROM jobs WHERE queue = ?1 AND state = 'queued' ORDER BY ready_seq LIMIT 1), \
                 (SELECT stale_acks FROM queues WHERE name = ?1)",
            )
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
