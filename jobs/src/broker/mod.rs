//! The broker: where jobs wait, run and end.
//!
//! One [`Broker`] trait, two engines:
//! - [`redis::RedisBroker`], production: Lua scripts on a real Redis, keys
//!   hash-tagged per queue so Redis Cluster works;
//! - [`sqlite::SqliteBroker`], the embedded default: one SQLite file, the same
//!   semantics on one machine.
//!
//! The conformance suite (`jobs/tests/conformance/`) runs unchanged against
//! both; a promise that is not in that suite is not kept. [`connect`] opens
//! the engine an [`EngineConfig`] names.
//!
//! # A job's life
//! ```text
//! enqueue ─▶ queued ─lease─▶ running ─ack──────▶ succeeded ─(retention)─▶ gone
//!    │         ▲  ▲            │  │ └─retry──▶ retrying ─(due)─┐
//!    └▶ scheduled ─(due)─┘    │  └─dead───▶ dead ─rerun─▶ queued
//!                 ▲            └─lease expired (worker lost)─▶ queued, or dead
//!                 └────────────────────────────────────────────┘
//! ```
//! Every lease carries a fresh *token*. Heartbeats extend the lease; ack,
//! retry, dead and release must present the token, so an attempt whose lease
//! was reclaimed (its worker looked dead) can no longer settle the job: its
//! late ack is rejected with [`Settled::Stale`] and counted.
//!
//! # The console's operations
//! A queue can be paused ([`Broker::pause_queue`]): it keeps taking jobs,
//! its scheduled jobs still become due, but no worker leases from it until
//! it is resumed; the pause is stored with the queue, so it outlives the
//! process that set it. [`Broker::list_jobs`] pages through the queued,
//! scheduled, running or dead jobs, newest first, filtered by queue, name
//! and text ([`SEARCH_LIMIT`] bounds a search). [`Broker::run_now`] makes a
//! waiting job due at once; [`Broker::bulk_dead`] and
//! [`Broker::bulk_dead_matching`] retry or discard many dead jobs.
//! [`QueueStats`] carries the pause and the [`Throughput`] of the last
//! minute and hour, both read from the broker's storage.

mod browse;
mod connect;
pub mod redis;
pub mod sqlite;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::clock::Clock;
use crate::policy::{JobPolicy, Retention};

pub use browse::{
    DeadAction, JobFilter, JobPage, ListState, SEARCH_LIMIT, SERIES_STEPS, Throughput,
    ThroughputPoint,
};
pub use connect::{EngineConfig, EngineConfigError, connect, redact_url};

/// A job's id: a time-ordered UUID, or the `name:key` of an idempotent job.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct JobId(String);

impl JobId {
    /// A fresh, time-ordered id (UUID v7).
    pub fn generate() -> Self {
        Self(uuid::Uuid::now_v7().to_string())
    }

    /// An id given by the caller: 1 to 200 printable characters without
    /// whitespace or braces (braces would break Redis hash tags).
    pub fn parse(raw: impl Into<String>) -> Result<Self, String> {
        let raw = raw.into();
        if raw.is_empty() || raw.len() > 200 {
            return Err(format!(
                "job id must have 1 to 200 characters, got {}",
                raw.len()
            ));
        }
        if raw
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '{' || c == '}')
        {
            return Err(format!("job id {raw:?} may not hold whitespace or braces"));
        }
        Ok(Self(raw))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for JobId {
    type Error = String;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(value)
    }
}

impl From<JobId> for String {
    fn from(id: JobId) -> Self {
        id.0
    }
}

/// A job to enqueue. Build one from a typed job with
/// [`crate::Job::to_new_job`], or by hand for tests and benchmarks.
#[derive(Clone, Debug, PartialEq)]
pub struct NewJob {
    /// Its id. Enqueueing an id that already exists does nothing and reports
    /// the existing job ([`Enqueued::created`] is false).
    pub id: JobId,
    /// The job's stable name (what the worker dispatches on).
    pub name: String,
    /// The queue.
    pub queue: String,
    /// The payload, JSON. The broker stores it as given and never decodes it.
    pub payload: String,
    /// Not before this Unix time in ms; `None` (or a past time) means now.
    pub run_at_ms: Option<i64>,
    /// Attempts, backoff and time limit; stored with the job.
    pub policy: JobPolicy,
    /// The id of the request (or other cause) that made this job: stored
    /// with it, shown with it, and a field of the span of its every
    /// attempt, so its log lines can be found from that request's. At most
    /// [`REQUEST_ID_MAX`] characters, none of them control characters.
    pub request_id: Option<String>,
}

/// The longest request id a job may carry.
pub const REQUEST_ID_MAX: usize = 200;

/// Refuses a request id the engines will not store: empty, longer than
/// [`REQUEST_ID_MAX`], or holding control characters (it is written into
/// log lines).
pub(crate) fn check_request_id(request_id: Option<&str>) -> BrokerResult<()> {
    match request_id {
        Some(r) if r.is_empty() || r.len() > REQUEST_ID_MAX || r.chars().any(char::is_control) => {
            Err(BrokerError::Invalid(format!(
                "request id must have 1 to {REQUEST_ID_MAX} characters and no control characters, got {} characters",
                r.len()
            )))
        }
        _ => Ok(()),
    }
}

impl NewJob {
    /// A job with a fresh id and the default policy.
    pub fn new(
        name: impl Into<String>,
        queue: impl Into<String>,
        payload: impl Into<String>,
    ) -> Self {
        Self {
            id: JobId::generate(),
            name: name.into(),
            queue: queue.into(),
            payload: payload.into(),
            run_at_ms: None,
            policy: JobPolicy::default(),
            request_id: None,
        }
    }

    /// The same job, not before `at_ms`.
    pub fn at(mut self, at_ms: i64) -> Self {
        self.run_at_ms = Some(at_ms);
        self
    }

    /// The same job with another id.
    pub fn with_id(mut self, id: JobId) -> Self {
        self.id = id;
        self
    }

    /// The same job with another policy.
    pub fn with_policy(mut self, policy: JobPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The same job, carrying the id of the request that caused it (none
    /// when `None`).
    pub fn with_request_id(mut self, request_id: Option<String>) -> Self {
        self.request_id = request_id;
        self
    }
}

/// What an enqueue did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Enqueued {
    /// The job's id.
    pub id: JobId,
    /// False when a job with that id already existed (idempotent enqueue).
    pub created: bool,
}

/// Where a job is in its life.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Waiting in its queue.
    Queued,
    /// Waiting for its run-at time.
    Scheduled,
    /// Leased by a worker.
    Running,
    /// Done; kept for the succeeded retention.
    Succeeded,
    /// Failed an attempt; waiting for its backoff to pass.
    Retrying,
    /// Out of attempts or failed for good; kept for the dead retention.
    Dead,
    /// Cancelled by an operator.
    Cancelled,
}

impl JobState {
    /// The state's name as stored and printed.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Scheduled => "scheduled",
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Retrying => "retrying",
            Self::Dead => "dead",
            Self::Cancelled => "cancelled",
        }
    }

    /// Parses a stored state name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "queued" => Self::Queued,
            "scheduled" => Self::Scheduled,
            "running" => Self::Running,
            "succeeded" => Self::Succeeded,
            "retrying" => Self::Retrying,
            "dead" => Self::Dead,
            "cancelled" => Self::Cancelled,
            _ => return None,
        })
    }
}

impl fmt::Display for JobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Everything known about one job.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct JobInfo {
    /// Id.
    pub id: JobId,
    /// Queue.
    pub queue: String,
    /// Job name.
    pub name: String,
    /// Payload as enqueued.
    pub payload: String,
    /// State.
    pub state: JobState,
    /// Attempts started so far (a lost attempt counts).
    pub attempts: u32,
    /// Attempts allowed.
    pub max_attempts: u32,
    /// When it was enqueued (Unix ms).
    pub enqueued_at_ms: i64,
    /// When it is (or was) due (Unix ms).
    pub run_at_ms: i64,
    /// When its last attempt started.
    pub started_at_ms: Option<i64>,
    /// When it succeeded, died or was cancelled.
    pub finished_at_ms: Option<i64>,
    /// The error of the last failed attempt.
    pub last_error: Option<String>,
    /// The result its handler returned (JSON), when it succeeded.
    pub result: Option<String>,
    /// The worker incarnation of the last attempt.
    pub worker: Option<String>,
    /// The id of the request that caused it ([`NewJob::request_id`]).
    pub request_id: Option<String>,
}

/// A job leased to a worker for one attempt.
#[derive(Clone, Debug, PartialEq)]
pub struct Leased {
    /// Id.
    pub id: JobId,
    /// Queue.
    pub queue: String,
    /// Job name.
    pub name: String,
    /// Payload, undecoded.
    pub payload: String,
    /// This attempt's number, from 1.
    pub attempt: u32,
    /// Policy stored with the job.
    pub policy: JobPolicy,
    /// When it was enqueued (Unix ms).
    pub enqueued_at_ms: i64,
    /// When it became due (Unix ms): the start of its wait.
    pub due_at_ms: i64,
    /// The fencing token of this attempt.
    pub token: String,
    /// The id of the request that caused it ([`NewJob::request_id`]).
    pub request_id: Option<String>,
}

impl Leased {
    /// What settling this attempt needs.
    pub fn lease_ref(&self) -> LeaseRef {
        LeaseRef {
            id: self.id.clone(),
            queue: self.queue.clone(),
            token: self.token.clone(),
        }
    }
}

/// Names one attempt: the job, its queue and the attempt's token.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct LeaseRef {
    /// Id.
    pub id: JobId,
    /// Queue.
    pub queue: String,
    /// Token.
    pub token: String,
}

/// The answer to ack, retry, dead, release and cancelled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Settled {
    /// The job moved on.
    Done,
    /// The token no longer holds the job (its lease was reclaimed, or it was
    /// settled already): nothing changed, and the broker counted a stale ack.
    Stale,
}

/// How one attempt ends: what [`Broker::settle_many`] does with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Succeeded: keep `result` (JSON) for the retention.
    Ack {
        /// The handler's result, if it gave one.
        result: Option<String>,
    },
    /// Failed; runs again at `run_at_ms`.
    Retry {
        /// When the next attempt is due (Unix ms).
        run_at_ms: i64,
        /// Why this attempt failed.
        error: String,
    },
    /// Failed for good: into the dead set with `error`.
    Dead {
        /// Why the job is dead.
        error: String,
    },
    /// Handed back unfinished: queued again at the front; the attempt does
    /// not count.
    Release,
    /// Gave its slot back without failing: scheduled again at `run_at_ms`;
    /// the attempt does not count.
    Snooze {
        /// When the job is due again (Unix ms).
        run_at_ms: i64,
    },
    /// Stopped because an operator asked to cancel it.
    Cancelled,
}

/// One attempt to settle: which attempt, and how it ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settlement {
    /// The attempt, with its fencing token.
    pub lease: LeaseRef,
    /// How it ended.
    pub outcome: Outcome,
}

impl Settlement {
    /// Settles `lease` with `outcome`.
    pub fn new(lease: LeaseRef, outcome: Outcome) -> Self {
        Self { lease, outcome }
    }
}

/// Jobs to lease in the same call as a batch of settlements, for the slots
/// the batch frees: see [`Broker::settle_many`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Refill<'a> {
    /// The queue to lease from.
    pub queue: &'a str,
    /// The most jobs to lease: the slots the batch frees.
    pub max: usize,
    /// The worker incarnation the jobs are leased to.
    pub worker: &'a str,
}

/// The answer to [`Broker::settle_many`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SettledMany {
    /// One verdict per settlement, in the order given.
    pub settled: Vec<Settled>,
    /// The jobs the refill leased, oldest first.
    pub leased: Vec<Leased>,
}

/// The answer to a heartbeat, per lease.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Beat {
    /// The lease was extended.
    Extended,
    /// The token no longer holds the job: stop working on it.
    Lost,
    /// Extended, but an operator asked to cancel the job: stop and settle it
    /// with [`Broker::cancelled`].
    CancelRequested,
}

/// What [`Broker::cancel`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CancelOutcome {
    /// The job was waiting and is now cancelled.
    Cancelled,
    /// The job is running: its worker is told at its next heartbeat.
    Requested,
    /// The job already ended in this state.
    AlreadyFinished(JobState),
    /// No job has that id.
    Unknown,
}

/// Counts of one queue.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct QueueStats {
    /// Queue.
    pub queue: String,
    /// Waiting, due now.
    pub queued: u64,
    /// Waiting for a run-at time or a retry backoff.
    pub scheduled: u64,
    /// Leased.
    pub running: u64,
    /// In the dead set.
    pub dead: u64,
    /// Age in seconds of the oldest queued job (0 when none waits).
    pub oldest_age_s: f64,
    /// Settlements rejected because their token no longer held the job.
    pub stale_acks: u64,
    /// Whether the queue is paused: no worker leases from it.
    pub paused: bool,
    /// Jobs succeeded and failed in the last minute and hour.
    pub throughput: Throughput,
}

/// What one round of [`Broker::maintain`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Maintenance {
    /// Scheduled or retrying jobs that became due and were queued.
    pub promoted: u64,
    /// Jobs whose lease expired and went back to their queue.
    pub requeued: u64,
    /// Jobs whose lease expired on their last attempt and went to the dead set.
    pub lost_to_dead: u64,
    /// Finished jobs deleted by retention.
    pub swept: u64,
}

/// A live worker process.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WorkerInfo {
    /// This process incarnation's id (new at every start).
    pub id: String,
    /// Host name.
    pub hostname: String,
    /// Process id.
    pub pid: u32,
    /// Queues it consumes.
    pub queues: Vec<String>,
    /// Its concurrency.
    pub concurrency: usize,
    /// Start time (Unix ms).
    pub started_at_ms: i64,
    /// Last heartbeat (Unix ms).
    pub last_seen_ms: i64,
}

/// Options both engines share.
#[derive(Clone, Debug)]
pub struct BrokerConfig {
    /// Lease length: a job whose worker sends no heartbeat for this long is
    /// taken back (default 8 s; workers beat every third of it, so a killed
    /// worker's jobs run again within about 8 s).
    pub lease: Duration,
    /// Retention of finished jobs.
    pub retention: Retention,
    /// Where "now" comes from.
    pub clock: Clock,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        Self {
            lease: Duration::from_secs(8),
            retention: Retention::default(),
            clock: Clock::system(),
        }
    }
}

/// A broker failure.
#[derive(Clone, Debug, thiserror::Error)]
pub enum BrokerError {
    /// The broker could not be reached or did not answer in time: retry later.
    #[error("broker unavailable: {0}")]
    Unavailable(String),
    /// The broker answered with an error that retrying will not fix.
    #[error("broker error: {0}")]
    Failed(String),
    /// The request itself is wrong (a job with an empty queue name…).
    #[error("invalid request: {0}")]
    Invalid(String),
}

impl BrokerError {
    /// Whether retrying the same call later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}

/// Result of a broker call.
pub type BrokerResult<T> = Result<T, BrokerError>;

/// The storage under the job runtime. Both engines keep every promise listed
/// in the crate docs; the conformance suite checks each one against both.
#[async_trait]
pub trait Broker: Send + Sync + fmt::Debug + 'static {
    /// `"redis"` or `"sqlite"`, for start-up logs.
    fn engine(&self) -> &'static str;

    /// The clock this broker reads.
    fn clock(&self) -> &Clock;

    /// Enqueues one job. An existing id is left as it is.
    async fn enqueue(&self, job: NewJob) -> BrokerResult<Enqueued>;

    /// Enqueues many jobs in as few round trips as the engine allows; the
    /// answer is in the order of `jobs`.
    async fn enqueue_many(&self, jobs: Vec<NewJob>) -> BrokerResult<Vec<Enqueued>>;

    /// Leases up to `max` due jobs from `queues` (earlier queues first, oldest
    /// job first within a queue) to `worker` for one attempt each. Never more
    /// than `max`: a worker asks for its free slots only.
    async fn lease(&self, queues: &[String], max: usize, worker: &str)
    -> BrokerResult<Vec<Leased>>;

    /// Returns when work may have arrived on `queues`, or after `timeout`.
    /// Enqueues wake it within milliseconds; a spurious return is allowed.
    async fn wait_for_work(&self, queues: &[String], timeout: Duration);

    /// Extends the leases of running attempts; one answer per lease.
    async fn heartbeat(&self, leases: &[LeaseRef]) -> BrokerResult<Vec<Beat>>;

    /// Settles several attempts, possibly of several queues, in as few
    /// round trips as the engine allows (one script call per queue on
    /// Redis, one transaction on SQLite), then leases up to `refill.max`
    /// jobs of `refill.queue` in the same call where the engine allows.
    ///
    /// Each settlement is fenced by its own token exactly as a single one
    /// is: a stale token is rejected ([`Settled::Stale`], counted) and
    /// leaves the others alone. The refill takes at most as many jobs as
    /// the batch settled ([`Settled::Done`]), so a batch of stale tokens
    /// takes nothing, and a worker never holds more jobs than its slots.
    async fn settle_many(
        &self,
        batch: &[Settlement],
        refill: Option<Refill<'_>>,
    ) -> BrokerResult<SettledMany>;

    /// How many settle calls a worker keeps on the wire at once (at least
    /// one). An engine whose calls overlap (Redis pipelines them on one
    /// connection) says 2, so a batch goes out while the one before is
    /// still on its round trip; an engine with one writer (SQLite) says 1,
    /// since a second call would only wait for the first's lock and split
    /// the group commit in two.
    fn settle_calls_in_flight(&self) -> usize {
        1
    }

    /// The attempt succeeded: keep `result` (JSON) for the retention.
    async fn ack(&self, lease: &LeaseRef, result: Option<&str>) -> BrokerResult<Settled> {
        let result = result.map(str::to_owned);
        self.settle_one(lease, Outcome::Ack { result }).await
    }

    /// Acks like [`Self::ack`], then leases up to `next` jobs of the same
    /// queue for `worker`, in one round trip where the engine allows: a busy
    /// worker reuses the slot it just freed without a second call. A stale
    /// ack takes nothing.
    async fn ack_and_lease(
        &self,
        lease: &LeaseRef,
        result: Option<&str>,
        next: usize,
        worker: &str,
    ) -> BrokerResult<(Settled, Vec<Leased>)> {
        let batch = [Settlement::new(
            lease.clone(),
            Outcome::Ack {
                result: result.map(str::to_owned),
            },
        )];
        let refill = Refill {
            queue: &lease.queue,
            max: next,
            worker,
        };
        let done = self.settle_many(&batch, Some(refill)).await?;
        let settled = done.settled.first().copied().unwrap_or(Settled::Stale);
        Ok((settled, done.leased))
    }

    /// The attempt failed and the job runs again at `run_at_ms`.
    async fn retry(&self, lease: &LeaseRef, run_at_ms: i64, error: &str) -> BrokerResult<Settled> {
        let error = error.to_owned();
        self.settle_one(lease, Outcome::Retry { run_at_ms, error })
            .await
    }

    /// The job failed for good: into the dead set with `error`.
    async fn dead(&self, lease: &LeaseRef, error: &str) -> BrokerResult<Settled> {
        let error = error.to_owned();
        self.settle_one(lease, Outcome::Dead { error }).await
    }

    /// Hands the job back unfinished (graceful shutdown): queued again at
    /// the front, and this attempt does not count.
    async fn release(&self, lease: &LeaseRef) -> BrokerResult<Settled> {
        self.settle_one(lease, Outcome::Release).await
    }

    /// The attempt gives its slot back without failing (rate limited,
    /// waiting on something): the job is scheduled again at `run_at_ms`, and
    /// this attempt does not count against its attempts.
    async fn snooze(&self, lease: &LeaseRef, run_at_ms: i64) -> BrokerResult<Settled> {
        self.settle_one(lease, Outcome::Snooze { run_at_ms }).await
    }

    /// Settles a running job whose cancellation was requested.
    async fn cancelled(&self, lease: &LeaseRef) -> BrokerResult<Settled> {
        self.settle_one(lease, Outcome::Cancelled).await
    }

    /// Settles one attempt: [`Self::settle_many`] with a batch of one and
    /// no refill.
    async fn settle_one(&self, lease: &LeaseRef, outcome: Outcome) -> BrokerResult<Settled> {
        let done = self
            .settle_many(&[Settlement::new(lease.clone(), outcome)], None)
            .await?;
        Ok(done.settled.first().copied().unwrap_or(Settled::Stale))
    }

    /// Housekeeping, safe to run from every worker at once: queue due
    /// scheduled and retrying jobs, take back expired leases (the attempt
    /// counts; out of attempts means dead), delete finished jobs past their
    /// retention. Each step works in bounded chunks.
    async fn maintain(&self, queues: &[String]) -> BrokerResult<Maintenance>;

    /// Everything about one job; `None` for an id no queue knows.
    async fn job(&self, id: &JobId) -> BrokerResult<Option<JobInfo>>;

    /// Cancels a waiting job, or asks a running one to stop.
    async fn cancel(&self, id: &JobId) -> BrokerResult<CancelOutcome>;

    /// The dead set of `queue` (all known queues when `None`), newest first.
    async fn dead_jobs(&self, queue: Option<&str>, limit: usize) -> BrokerResult<Vec<JobInfo>>;

    /// Queues a dead job again with a fresh set of attempts.
    async fn rerun_dead(&self, id: &JobId) -> BrokerResult<bool>;

    /// Queues every dead job of `queue` (all known queues when `None`) again.
    async fn rerun_all_dead(&self, queue: Option<&str>) -> BrokerResult<u64>;

    /// Deletes a dead job.
    async fn discard(&self, id: &JobId) -> BrokerResult<bool>;

    /// Deletes every queued and scheduled job of `queue`; running and dead
    /// jobs are left alone. Returns how many were deleted.
    async fn purge(&self, queue: &str) -> BrokerResult<u64>;

    /// Counts per queue, for `queues` (every known queue when empty).
    async fn stats(&self, queues: &[String]) -> BrokerResult<Vec<QueueStats>>;

    /// The last hour's throughput of `queues` together (every known queue
    /// when empty), minute by minute, oldest first ([`SERIES_STEPS`]
    /// steps): read from the same counts as [`QueueStats::throughput`], so
    /// it survives restarts.
    async fn throughput_series(&self, queues: &[String]) -> BrokerResult<Vec<ThroughputPoint>>;

    /// Pauses `queue`: it still takes jobs and its scheduled jobs still
    /// become due, but nothing is leased from it until it is resumed. The
    /// pause is stored, so every process and every later broker on the same
    /// storage sees it. Returns false when it was paused already.
    async fn pause_queue(&self, queue: &str) -> BrokerResult<bool>;

    /// Resumes a paused queue and wakes idle workers; returns false when it
    /// was not paused.
    async fn resume_queue(&self, queue: &str) -> BrokerResult<bool>;

    /// One page of the jobs [`JobFilter`] selects, newest first.
    async fn list_jobs(&self, filter: &JobFilter) -> BrokerResult<JobPage>;

    /// Makes a scheduled or retrying job due now: it joins the tail of its
    /// queue. Returns false when no job with that id waits for a time.
    async fn run_now(&self, id: &JobId) -> BrokerResult<bool>;

    /// Retries or discards the dead jobs among `ids`; ids not in the dead
    /// set are skipped. Returns how many were handled.
    async fn bulk_dead(&self, action: DeadAction, ids: &[JobId]) -> BrokerResult<u64>;

    /// Retries or discards every dead job `filter` matches (its state must be
    /// [`ListState::Dead`]; its page is ignored), at most [`SEARCH_LIMIT`]
    /// of them, newest first. Returns how many were handled.
    async fn bulk_dead_matching(&self, action: DeadAction, filter: &JobFilter)
    -> BrokerResult<u64>;

    /// Every queue that ever had a job or a worker.
    async fn queues(&self) -> BrokerResult<Vec<String>>;

    /// Records (or refreshes) a live worker process.
    async fn register_worker(&self, info: &WorkerInfo) -> BrokerResult<()>;

    /// Removes a worker at its clean exit.
    async fn unregister_worker(&self, id: &str) -> BrokerResult<()>;

    /// Workers seen within three lease lengths.
    async fn workers(&self) -> BrokerResult<Vec<WorkerInfo>>;
}

/// A broker shared by every part of a process.
pub type SharedBroker = Arc<dyn Broker>;
