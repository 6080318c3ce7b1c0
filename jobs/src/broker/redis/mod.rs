//! The Redis engine: production.
//!
//! Every key of a queue shares the hash tag `{<queue>}`, so each Lua script
//! touches one cluster slot and Redis Cluster works. Per queue `q`, under the
//! prefix `P` (`REDIS_PREFIX`, default `paq`):
//!
//! | key | type | holds |
//! |---|---|---|
//! | `P:{q}:ready` | list | ids of queued jobs; `RPOP` end is the head |
//! | `P:{q}:sched` | zset | scheduled and retrying ids, by due time (ms) |
//! | `P:{q}:run` | zset | running ids, by lease expiry (ms) |
//! | `P:{q}:dead` | zset | dead ids, by time of death (ms) |
//! | `P:{q}:j:<id>` | hash | the job: name, payload, state, attempts, policy, timings, token, error, result |
//! | `P:{q}:stats` | hash | `stale`: settlements rejected by the fence |
//! | `P:{q}:paused` | string | exists while the queue is paused (when it was paused, ms) |
//! | `P:{q}:tp` | hash | throughput: `s:<b>` succeeded, `f:<b>` failed attempts in 10-second bucket `b` |
//! | `P:{q}:wake` | channel | published when the ready list stops being empty |
//! | `P:queues` | set | every queue name seen |
//! | `P:workers` | hash | worker incarnation id → its JSON record |
//!
//! The scripts live in `scripts/*.lua`, each with a header that lists its
//! keys, arguments and return value. `docs/internals.md` tells why each
//! exists.
//!
//! # Layout
//! One file per concern; the [`Broker`] impl below only calls into them.
//! - `mod.rs`: the broker, its connection, the scripts it loads, the keys
//!   of a queue, error mapping, and the [`Broker`] impl.
//! - `enqueue`: enqueue and enqueue_many; queue names and their
//!   registration in `P:queues`.
//! - `lease`: lease, wait_for_work and heartbeat.
//! - `settle`: the fenced settlements (ack, retry, dead, release, snooze,
//!   cancelled), a batch of them one `settle.lua` call per queue, with the
//!   refill's leases in the same call.
//! - `maintain`: promotion, reclaim of expired leases, retention sweeps.
//! - `admin`: lookup by id, cancel, the dead set, purge, stats, queues and
//!   workers.
//! - `console`: pause and resume (`pause.lua`), listings (`browse.lua`),
//!   run now (`run_now.lua`) and bulk actions on the dead set.
//! - `decode`: script answers and job hashes read into the broker's types.
//! - `wake`: the pub/sub subscription idle workers wait on.
//! - `target`: the URL forms (one server, cluster, Sentinel).
//! - `conn`: [`RedisConnection`], the one connection type the engine, the
//!   scheduler's lease and the rate limiter use on every deployment.
//!
//! # Cluster and Sentinel
//! On Redis Cluster each script still runs on one node: its keys, and the
//! keys it builds from the job hash prefix, share the queue's hash tag.
//! Reads that span queues (lookups by id, listings, the throughput series)
//! go as one pipeline per queue instead of one pipeline in all. `P:queues`
//! and `P:workers` are single keys, so listing every queue reads one node.
//! Behind Sentinel the connection follows the master through failovers: a
//! connection error or a `READONLY` answer makes it ask the sentinels again.

mod admin;
mod conn;
mod console;
mod decode;
mod enqueue;
mod lease;
mod maintain;
mod replicas;
mod settle;
mod target;
mod wake;

pub use conn::RedisConnection;
pub use replicas::EnqueueWait;
pub use target::{RedisTarget, TargetError};

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use redis::Script;
use tokio::sync::Mutex;

use super::{
    Beat, Broker, BrokerConfig, BrokerError, BrokerResult, CancelOutcome, DeadAction, Enqueued,
    JobFilter, JobId, JobInfo, JobPage, LeaseRef, Leased, Maintenance, NewJob, QueueStats, Refill,
    SettledMany, Settlement, ThroughputPoint, WorkerInfo,
};
use crate::clock::Clock;

/// The enqueue script, also loaded by hand where a pipeline runs it.
const ENQUEUE_LUA: &str = include_str!("scripts/enqueue.lua");

/// Jobs each maintenance step handles per script call.
const CHUNK: usize = 1000;

struct Scripts {
    enqueue: Script,
    lease: Script,
    heartbeat: Script,
    settle: Script,
    maintain: Script,
    cancel: Script,
    dead_admin: Script,
    purge: Script,
    stats: Script,
    pause: Script,
    browse: Script,
    run_now: Script,
}

impl Scripts {
    fn load() -> Self {
        Self {
            enqueue: Script::new(ENQUEUE_LUA),
            lease: Script::new(concat!(
                include_str!("scripts/take.lua"),
                include_str!("scripts/lease.lua")
            )),
            heartbeat: Script::new(include_str!("scripts/heartbeat.lua")),
            settle: Script::new(concat!(
                include_str!("scripts/take.lua"),
                include_str!("scripts/settle.lua")
            )),
            maintain: Script::new(include_str!("scripts/maintain.lua")),
            cancel: Script::new(include_str!("scripts/cancel.lua")),
            dead_admin: Script::new(include_str!("scripts/dead_admin.lua")),
            purge: Script::new(include_str!("scripts/purge.lua")),
            stats: Script::new(include_str!("scripts/stats.lua")),
            pause: Script::new(include_str!("scripts/pause.lua")),
            browse: Script::new(include_str!("scripts/browse.lua")),
            run_now: Script::new(include_str!("scripts/run_now.lua")),
        }
    }
}

/// The keys of one queue.
struct QueueKeys {
    ready: String,
    sched: String,
    run: String,
    dead: String,
    stats: String,
    paused: String,
    tp: String,
    job_prefix: String,
    wake: String,
}

/// The Redis engine. Cheap to clone: clones share one multiplexed,
/// self-reconnecting connection.
#[derive(Clone)]
pub struct RedisBroker {
    inner: Arc<Inner>,
}

struct Inner {
    conn: RedisConnection,
    prefix: String,
    config: BrokerConfig,
    scripts: Scripts,
    incarnation: String,
    token_seq: AtomicU64,
    registered: Mutex<HashSet<String>>,
    wake: wake::Wake,
    /// Under `REDIS_ENQUEUE_WAIT`: the wait and its own connection.
    waiting: Option<replicas::Waiting>,
    target: RedisTarget,
}

impl std::fmt::Debug for RedisBroker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisBroker")
            .field("prefix", &self.inner.prefix)
            .finish_non_exhaustive()
    }
}

fn map_err(e: redis::RedisError) -> BrokerError {
    if e.is_io_error()
        || e.is_timeout()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || e.is_unrecoverable_error()
        || matches!(
            e.kind(),
            redis::ErrorKind::Server(
                redis::ServerErrorKind::BusyLoading
                    | redis::ServerErrorKind::TryAgain
                    | redis::ServerErrorKind::ClusterDown
                    | redis::ServerErrorKind::MasterDown
                    | redis::ServerErrorKind::ReadOnly
                    | redis::ServerErrorKind::Moved
                    | redis::ServerErrorKind::Ask
            )
        )
    {
        BrokerError::Unavailable(e.to_string())
    } else {
        BrokerError::Failed(e.to_string())
    }
}

impl RedisBroker {
    /// Connects to `url` lazily: nothing fails here if Redis is down; calls
    /// fail with [`BrokerError::Unavailable`] until it is back.
    pub fn connect(url: &str, prefix: &str, config: BrokerConfig) -> BrokerResult<Self> {
        let target = RedisTarget::parse(url).map_err(|e| BrokerError::Invalid(e.to_string()))?;
        let conn = RedisConnection::open_target(&target)
            .map_err(|e| BrokerError::Invalid(e.to_string()))?;
        let source =
            wake::Source::new(&target, &conn).map_err(|e| BrokerError::Invalid(e.to_string()))?;
        let incarnation = uuid::Uuid::now_v7().simple().to_string();
        Ok(Self {
            inner: Arc::new(Inner {
                wake: wake::Wake::new(source),
                conn,
                prefix: prefix.to_owned(),
                config,
                scripts: Scripts::load(),
                incarnation,
                token_seq: AtomicU64::new(0),
                registered: Mutex::new(HashSet::new()),
                waiting: None,
                target,
            }),
        })
    }

    /// This broker, acknowledging an enqueue only once `wait.replicas`
    /// replicas hold it (`REDIS_ENQUEUE_WAIT`; see [`EnqueueWait`]). Enqueues
    /// then go over connections of their own. Call it before the broker
    /// is cloned.
    pub fn with_enqueue_wait(mut self, wait: EnqueueWait) -> BrokerResult<Self> {
        let Some(inner) = Arc::get_mut(&mut self.inner) else {
            return Err(BrokerError::Invalid(
                "set the enqueue wait before cloning the broker".to_owned(),
            ));
        };
        inner.waiting = Some(
            replicas::Waiting::open(wait, &inner.target)
                .map_err(|e| BrokerError::Invalid(e.to_string()))?,
        );
        Ok(self)
    }

    /// A handle on the broker's own multiplexed connection, for code that
    /// talks to the same Redis often: requests from many tasks share one
    /// socket (per node, on a cluster) and are written together.
    pub fn connection(&self) -> RedisConnection {
        self.inner.conn.clone()
    }

    fn conn(&self) -> RedisConnection {
        self.inner.conn.clone()
    }

    /// Whether the broker runs on a cluster, where one pipeline must stay
    /// within one queue's slot.
    fn is_cluster(&self) -> bool {
        self.inner.conn.is_cluster()
    }

    /// `HGETALL` of each key, each tagged with its queue, in the keys'
    /// order: one pipeline on one server; on a cluster one pipeline per
    /// queue (a queue's keys share its slot), sent together.
    async fn hgetall_each<T>(&self, keys: &[(&str, String)]) -> BrokerResult<Vec<T>>
    where
        T: redis::FromRedisValue + Default,
    {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        if !self.is_cluster() {
            let mut pipe = redis::pipe();
            for (_, key) in keys {
                pipe.hgetall(key);
            }
            return pipe.query_async(&mut self.conn()).await.map_err(map_err);
        }
        let mut by_queue: std::collections::HashMap<&str, Vec<usize>> =
            std::collections::HashMap::new();
        for (i, (queue, _)) in keys.iter().enumerate() {
            by_queue.entry(queue).or_default().push(i);
        }
        let calls = by_queue.into_values().map(|idx| async move {
            let mut pipe = redis::pipe();
            for &i in &idx {
                pipe.hgetall(&keys[i].1);
            }
            let got: Vec<T> = pipe.query_async(&mut self.conn()).await.map_err(map_err)?;
            Ok::<_, BrokerError>((idx, got))
        });
        let mut out: Vec<T> = keys.iter().map(|_| T::default()).collect();
        for (idx, got) in futures::future::try_join_all(calls).await? {
            for (i, v) in idx.into_iter().zip(got) {
                out[i] = v;
            }
        }
        Ok(out)
    }

    fn now(&self) -> i64 {
        self.inner.config.clock.now_ms()
    }

    fn keys(&self, queue: &str) -> QueueKeys {
        let base = format!("{}:{{{queue}}}", self.inner.prefix);
        QueueKeys {
            ready: format!("{base}:ready"),
            sched: format!("{base}:sched"),
            run: format!("{base}:run"),
            dead: format!("{base}:dead"),
            stats: format!("{base}:stats"),
            paused: format!("{base}:paused"),
            tp: format!("{base}:tp"),
            job_prefix: format!("{base}:j:"),
            wake: format!("{base}:wake"),
        }
    }

    fn queues_key(&self) -> String {
        format!("{}:queues", self.inner.prefix)
    }

    fn workers_key(&self) -> String {
        format!("{}:workers", self.inner.prefix)
    }

    /// The current throughput bucket.
    fn bucket(&self) -> i64 {
        self.now().div_euclid(super::browse::BUCKET_MS)
    }

    fn token_prefix(&self) -> String {
        let seq = self.inner.token_seq.fetch_add(1, Ordering::Relaxed);
        format!("{}:{seq}:", self.inner.incarnation)
    }

    fn lease_ms(&self) -> i64 {
        i64::try_from(self.inner.config.lease.as_millis()).unwrap_or(10_000)
    }

    fn keep_ms(keep: Duration) -> i64 {
        i64::try_from(keep.as_millis())
            .unwrap_or(i64::MAX / 2)
            .max(1)
    }
}

/// Each method calls the inherent method named after it with an `_impl`
/// suffix, in the file of its concern (see the module's Layout).
#[async_trait]
impl Broker for RedisBroker {
    fn engine(&self) -> &'static str {
        "redis"
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

    fn settle_calls_in_flight(&self) -> usize {
        2
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
