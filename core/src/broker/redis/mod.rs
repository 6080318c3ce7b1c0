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
//! | `P:{q}:wake` | channel | published when the ready list stops being empty |
//! | `P:queues` | set | every queue name seen |
//! | `P:workers` | hash | worker incarnation id → its JSON record |
//!
//! The scripts live in `scripts/*.lua`, each with a header that lists its
//! keys, arguments and return value. `docs/internals.md` tells why each
//! exists.

mod wake;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands, Script, Value};
use tokio::sync::Mutex;

use super::{
    Beat, Broker, BrokerConfig, BrokerError, BrokerResult, CancelOutcome, Enqueued, JobId, JobInfo,
    JobState, LeaseRef, Leased, Maintenance, NewJob, QueueStats, Settled, WorkerInfo,
};
use crate::clock::Clock;
use crate::jobs::{JobPolicy, RetryPolicy};

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
}

impl Scripts {
    fn load() -> Self {
        Self {
            enqueue: Script::new(include_str!("scripts/enqueue.lua")),
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
    client: redis::Client,
    conn: ConnectionManager,
    prefix: String,
    config: BrokerConfig,
    scripts: Scripts,
    incarnation: String,
    token_seq: AtomicU64,
    registered: Mutex<HashSet<String>>,
    wake: wake::Wake,
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
            )
        )
    {
        BrokerError::Unavailable(e.to_string())
    } else {
        BrokerError::Failed(e.to_string())
    }
}

fn check_queue(queue: &str) -> BrokerResult<()> {
    if queue.is_empty()
        || queue.len() > 100
        || queue.contains(['{', '}'])
        || queue.chars().any(char::is_whitespace)
    {
        return Err(BrokerError::Invalid(format!(
            "queue name {queue:?} must have 1 to 100 characters, no braces or whitespace"
        )));
    }
    Ok(())
}

impl RedisBroker {
    /// Connects to `url` lazily: nothing fails here if Redis is down; calls
    /// fail with [`BrokerError::Unavailable`] until it is back.
    pub fn connect(url: &str, prefix: &str, config: BrokerConfig) -> BrokerResult<Self> {
        let client = redis::Client::open(url).map_err(|e| BrokerError::Invalid(e.to_string()))?;
        let cm_config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(5)))
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_millis(500));
        let conn =
            ConnectionManager::new_lazy_with_config(client.clone(), cm_config).map_err(map_err)?;
        let incarnation = uuid::Uuid::now_v7().simple().to_string();
        Ok(Self {
            inner: Arc::new(Inner {
                wake: wake::Wake::new(client.clone()),
                client,
                conn,
                prefix: prefix.to_owned(),
                config,
                scripts: Scripts::load(),
                incarnation,
                token_seq: AtomicU64::new(0),
                registered: Mutex::new(HashSet::new()),
            }),
        })
    }

    /// The Redis client, for callers (tests, the bench) that need their own
    /// connection to the same server.
    pub fn client(&self) -> &redis::Client {
        &self.inner.client
    }

    /// A handle on the broker's own multiplexed connection, for code that
    /// talks to the same Redis often: requests from many tasks share one
    /// socket and are written together.
    pub fn connection(&self) -> ConnectionManager {
        self.inner.conn.clone()
    }

    fn conn(&self) -> ConnectionManager {
        self.inner.conn.clone()
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

    async fn register_queue(&self, queue: &str) -> BrokerResult<()> {
        if self.inner.registered.lock().await.contains(queue) {
            return Ok(());
        }
        let _: i64 = self
            .conn()
            .sadd(self.queues_key(), queue)
            .await
            .map_err(map_err)?;
        self.inner.registered.lock().await.insert(queue.to_owned());
        Ok(())
    }

    async fn enqueue_queue(&self, queue: &str, jobs: &[NewJob]) -> BrokerResult<Vec<bool>> {
        check_queue(queue)?;
        self.register_queue(queue).await?;
        let k = self.keys(queue);
        let now = self.now();
        let mut inv = self.inner.scripts.enqueue.key(&k.ready);
        inv.key(&k.sched).arg(&k.job_prefix).arg(now).arg(&k.wake);
        for j in jobs {
            let p = &j.policy;
            inv.arg(j.id.as_str())
                .arg(&j.name)
                .arg(&j.payload)
                .arg(j.run_at_ms.unwrap_or(0))
                .arg(p.retry.max_attempts)
                .arg(p.timeout_ms)
                .arg(p.retry.backoff_base_ms)
                .arg(p.retry.backoff_max_ms);
        }
        let created: Vec<i64> = inv.invoke_async(&mut self.conn()).await.map_err(map_err)?;
        Ok(created.into_iter().map(|c| c == 1).collect())
    }

    async fn settle(
        &self,
        lease: &LeaseRef,
        outcome: &str,
        text: &str,
        at: i64,
    ) -> BrokerResult<Settled> {
        Ok(self
            .settle_then_lease(lease, outcome, text, at, 0, "")
            .await?
            .0)
    }

    /// Settles one attempt and, after an ack, leases up to `next` jobs of
    /// the same queue in the same script call.
    async fn settle_then_lease(
        &self,
        lease: &LeaseRef,
        outcome: &str,
        text: &str,
        at: i64,
        next: usize,
        worker: &str,
    ) -> BrokerResult<(Settled, Vec<Leased>)> {
        let k = self.keys(&lease.queue);
        let now = self.now();
        let token_prefix = self.token_prefix();
        let vals: Vec<Value> = self
            .inner
            .scripts
            .settle
            .key(&k.run)
            .key(&k.sched)
            .key(&k.dead)
            .key(&k.ready)
            .key(&k.stats)
            .arg(&k.job_prefix)
            .arg(lease.id.as_str())
            .arg(&lease.token)
            .arg(now)
            .arg(outcome)
            .arg(text)
            .arg(at)
            .arg(&k.wake)
            .arg(next)
            .arg(self.lease_ms())
            .arg(worker)
            .arg(&token_prefix)
            .invoke_async(&mut self.conn())
            .await
            .map_err(map_err)?;
        let settled = if vals.first().map(as_int) == Some(1) {
            Settled::Done
        } else {
            Settled::Stale
        };
        let leased = vals
            .get(1..)
            .map(|rest| parse_leased(rest, &lease.queue, &token_prefix))
            .unwrap_or_default();
        Ok((settled, leased))
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

    async fn find(&self, id: &JobId) -> BrokerResult<Option<(String, HashMap<String, String>)>> {
        let queues = self.queues().await?;
        let mut pipe = redis::pipe();
        for q in &queues {
            pipe.hgetall(format!("{}{}", self.keys(q).job_prefix, id.as_str()));
        }
        let found: Vec<HashMap<String, String>> =
            pipe.query_async(&mut self.conn()).await.map_err(map_err)?;
        Ok(queues.into_iter().zip(found).find(|(_, h)| !h.is_empty()))
    }

    async fn dead_admin(&self, queue: &str, action: &str, ids: &[String]) -> BrokerResult<u64> {
        let k = self.keys(queue);
        let mut inv = self.inner.scripts.dead_admin.key(&k.dead);
        inv.key(&k.ready)
            .arg(&k.job_prefix)
            .arg(action)
            .arg(&k.wake);
        for id in ids {
            inv.arg(id);
        }
        inv.invoke_async(&mut self.conn()).await.map_err(map_err)
    }

    async fn queue_list(&self, queue: Option<&str>) -> BrokerResult<Vec<String>> {
        match queue {
            Some(q) => Ok(vec![q.to_owned()]),
            None => self.queues().await,
        }
    }
}

fn info_from_hash(id: &str, queue: &str, h: &HashMap<String, String>) -> JobInfo {
    let int = |f: &str| h.get(f).and_then(|v| v.parse::<i64>().ok());
    JobInfo {
        id: JobId(id.to_owned()),
        queue: queue.to_owned(),
        name: h.get("n").cloned().unwrap_or_default(),
        payload: h.get("p").cloned().unwrap_or_default(),
        state: h
            .get("s")
            .and_then(|s| JobState::parse(s))
            .unwrap_or(JobState::Queued),
        attempts: int("a").and_then(|v| u32::try_from(v).ok()).unwrap_or(0),
        max_attempts: int("m").and_then(|v| u32::try_from(v).ok()).unwrap_or(0),
        enqueued_at_ms: int("e").unwrap_or(0),
        run_at_ms: int("r").unwrap_or(0),
        started_at_ms: int("st"),
        finished_at_ms: int("f"),
        last_error: h.get("err").cloned(),
        result: h.get("res").cloned(),
        worker: h.get("w").cloned(),
    }
}

/// Jobs from the eleven-values-per-job answer of `take()`.
fn parse_leased(vals: &[Value], queue: &str, token_prefix: &str) -> Vec<Leased> {
    vals.chunks_exact(11)
        .map(|f| Leased {
            id: JobId(as_string(&f[0])),
            queue: queue.to_owned(),
            name: as_string(&f[1]),
            payload: as_string(&f[2]),
            attempt: u32::try_from(as_int(&f[3])).unwrap_or(1),
            policy: JobPolicy {
                retry: RetryPolicy {
                    max_attempts: u32::try_from(as_int(&f[4])).unwrap_or(1),
                    backoff_base_ms: u64::try_from(as_int(&f[6])).unwrap_or(1000),
                    backoff_max_ms: u64::try_from(as_int(&f[7])).unwrap_or(60_000),
                },
                timeout_ms: u64::try_from(as_int(&f[5])).unwrap_or(300_000),
            },
            enqueued_at_ms: as_int(&f[8]),
            due_at_ms: as_int(&f[9]),
            token: format!("{token_prefix}{}", as_int(&f[10])),
        })
        .collect()
}

fn as_string(v: &Value) -> String {
    match v {
        Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        Value::SimpleString(s) => s.clone(),
        Value::Int(i) => i.to_string(),
        _ => String::new(),
    }
}

fn as_int(v: &Value) -> i64 {
    match v {
        Value::Int(i) => *i,
        other => as_string(other).parse().unwrap_or(0),
    }
}

#[async_trait]
impl Broker for RedisBroker {
    fn engine(&self) -> &'static str {
        "redis"
    }

    fn clock(&self) -> &Clock {
        &self.inner.config.clock
    }

    async fn enqueue(&self, job: NewJob) -> BrokerResult<Enqueued> {
        let created = self
            .enqueue_queue(&job.queue.clone(), std::slice::from_ref(&job))
            .await?;
        Ok(Enqueued {
            id: job.id,
            created: created.first().copied().unwrap_or(false),
        })
    }

    async fn enqueue_many(&self, jobs: Vec<NewJob>) -> BrokerResult<Vec<Enqueued>> {
        // One script call per queue and per 1,000 jobs, all on the
        // multiplexed connection.
        let mut by_queue: HashMap<&str, Vec<usize>> = HashMap::new();
        for (i, j) in jobs.iter().enumerate() {
            by_queue.entry(j.queue.as_str()).or_default().push(i);
        }
        let mut created = vec![false; jobs.len()];
        for (queue, idx) in by_queue {
            for chunk in idx.chunks(1000) {
                let batch: Vec<NewJob> = chunk.iter().map(|&i| jobs[i].clone()).collect();
                let res = self.enqueue_queue(queue, &batch).await?;
                for (&i, c) in chunk.iter().zip(res) {
                    created[i] = c;
                }
            }
        }
        Ok(jobs
            .into_iter()
            .zip(created)
            .map(|(j, created)| Enqueued { id: j.id, created })
            .collect())
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
            let k = self.keys(queue);
            let token_prefix = self.token_prefix();
            let vals: Vec<Value> = self
                .inner
                .scripts
                .lease
                .key(&k.ready)
                .key(&k.run)
                .arg(&k.job_prefix)
                .arg(self.now())
                .arg(self.lease_ms())
                .arg(max - out.len())
                .arg(worker)
                .arg(&token_prefix)
                .invoke_async(&mut self.conn())
                .await
                .map_err(map_err)?;
            out.extend(parse_leased(&vals, queue, &token_prefix));
        }
        Ok(out)
    }

    async fn ack_and_lease(
        &self,
        lease: &LeaseRef,
        result: Option<&str>,
        next: usize,
        worker: &str,
    ) -> BrokerResult<(Settled, Vec<Leased>)> {
        let keep = Self::keep_ms(self.inner.config.retention.succeeded);
        self.settle_then_lease(lease, "ack", result.unwrap_or(""), keep, next, worker)
            .await
    }

    async fn wait_for_work(&self, queues: &[String], timeout: Duration) {
        let channels = queues.iter().map(|q| self.keys(q).wake).collect();
        self.inner.wake.wait(channels, timeout).await;
    }

    async fn heartbeat(&self, leases: &[LeaseRef]) -> BrokerResult<Vec<Beat>> {
        let mut by_queue: HashMap<&str, Vec<usize>> = HashMap::new();
        for (i, l) in leases.iter().enumerate() {
            by_queue.entry(l.queue.as_str()).or_default().push(i);
        }
        let expiry = self.now() + Self::keep_ms(self.inner.config.lease);
        let mut beats = vec![Beat::Lost; leases.len()];
        for (queue, idx) in by_queue {
            let k = self.keys(queue);
            let mut inv = self.inner.scripts.heartbeat.key(&k.run);
            inv.arg(&k.job_prefix).arg(expiry);
            for &i in &idx {
                inv.arg(leases[i].id.as_str()).arg(&leases[i].token);
            }
            let res: Vec<i64> = inv.invoke_async(&mut self.conn()).await.map_err(map_err)?;
            for (&i, r) in idx.iter().zip(res) {
                beats[i] = match r {
                    1 => Beat::Extended,
                    2 => Beat::CancelRequested,
                    _ => Beat::Lost,
                };
            }
        }
        Ok(beats)
    }

    async fn ack(&self, lease: &LeaseRef, result: Option<&str>) -> BrokerResult<Settled> {
        let expiry = Self::keep_ms(self.inner.config.retention.succeeded);
        self.settle(lease, "ack", result.unwrap_or(""), expiry)
            .await
    }

    async fn retry(&self, lease: &LeaseRef, run_at_ms: i64, error: &str) -> BrokerResult<Settled> {
        self.settle(lease, "retry", error, run_at_ms).await
    }

    async fn dead(&self, lease: &LeaseRef, error: &str) -> BrokerResult<Settled> {
        self.settle(lease, "dead", error, 0).await
    }

    async fn release(&self, lease: &LeaseRef) -> BrokerResult<Settled> {
        self.settle(lease, "release", "", 0).await
    }

    async fn cancelled(&self, lease: &LeaseRef) -> BrokerResult<Settled> {
        let expiry = Self::keep_ms(self.inner.config.retention.succeeded);
        self.settle(lease, "cancelled", "", expiry).await
    }

    async fn maintain(&self, queues: &[String]) -> BrokerResult<Maintenance> {
        let mut total = Maintenance::default();
        let dead_ms =
            i64::try_from(self.inner.config.retention.dead.as_millis()).unwrap_or(i64::MAX / 2);
        for queue in queues {
            let k = self.keys(queue);
            // Repeat while a step filled its chunk, up to 100 chunks a round.
            for _ in 0..100 {
                let r: Vec<i64> = self
                    .inner
                    .scripts
                    .maintain
                    .key(&k.sched)
                    .key(&k.ready)
                    .key(&k.run)
                    .key(&k.dead)
                    .arg(&k.job_prefix)
                    .arg(self.now())
                    .arg(CHUNK)
                    .arg(dead_ms)
                    .arg(&k.wake)
                    .arg(Self::keep_ms(self.inner.config.retention.succeeded))
                    .invoke_async(&mut self.conn())
                    .await
                    .map_err(map_err)?;
                let get = |i: usize| u64::try_from(r.get(i).copied().unwrap_or(0)).unwrap_or(0);
                let (p, rq, l, s) = (get(0), get(1), get(2), get(3));
                total.promoted += p;
                total.requeued += rq;
                total.lost_to_dead += l;
                total.swept += s;
                let chunk = CHUNK as u64;
                if p < chunk && rq + l < chunk && s < chunk {
                    break;
                }
            }
        }
        Ok(total)
    }

    async fn job(&self, id: &JobId) -> BrokerResult<Option<JobInfo>> {
        Ok(self
            .find(id)
            .await?
            .map(|(queue, h)| info_from_hash(id.as_str(), &queue, &h)))
    }

    async fn cancel(&self, id: &JobId) -> BrokerResult<CancelOutcome> {
        let Some((queue, _)) = self.find(id).await? else {
            return Ok(CancelOutcome::Unknown);
        };
        let k = self.keys(&queue);
        let (outcome, state): (String, String) = self
            .inner
            .scripts
            .cancel
            .key(&k.ready)
            .key(&k.sched)
            .arg(&k.job_prefix)
            .arg(id.as_str())
            .arg(self.now())
            .arg(Self::keep_ms(self.inner.config.retention.succeeded))
            .invoke_async(&mut self.conn())
            .await
            .map_err(map_err)?;
        Ok(match outcome.as_str() {
            "cancelled" => CancelOutcome::Cancelled,
            "requested" => CancelOutcome::Requested,
            "finished" => CancelOutcome::AlreadyFinished(
                JobState::parse(&state).unwrap_or(JobState::Succeeded),
            ),
            _ => CancelOutcome::Unknown,
        })
    }

    async fn dead_jobs(&self, queue: Option<&str>, limit: usize) -> BrokerResult<Vec<JobInfo>> {
        let mut all = Vec::new();
        for q in self.queue_list(queue).await? {
            let k = self.keys(&q);
            let ids: Vec<String> = self
                .conn()
                .zrevrange(&k.dead, 0, isize::try_from(limit).unwrap_or(isize::MAX) - 1)
                .await
                .map_err(map_err)?;
            if ids.is_empty() {
                continue;
            }
            let mut pipe = redis::pipe();
            for id in &ids {
                pipe.hgetall(format!("{}{id}", k.job_prefix));
            }
            let hashes: Vec<HashMap<String, String>> =
                pipe.query_async(&mut self.conn()).await.map_err(map_err)?;
            all.extend(
                ids.iter()
                    .zip(hashes)
                    .filter(|(_, h)| !h.is_empty())
                    .map(|(id, h)| info_from_hash(id, &q, &h)),
            );
        }
        all.sort_by_key(|j| std::cmp::Reverse(j.finished_at_ms));
        all.truncate(limit);
        Ok(all)
    }

    async fn rerun_dead(&self, id: &JobId) -> BrokerResult<bool> {
        let Some((queue, _)) = self.find(id).await? else {
            return Ok(false);
        };
        Ok(self
            .dead_admin(&queue, "rerun", &[id.as_str().to_owned()])
            .await?
            == 1)
    }

    async fn rerun_all_dead(&self, queue: Option<&str>) -> BrokerResult<u64> {
        let mut n = 0;
        for q in self.queue_list(queue).await? {
            let k = self.keys(&q);
            let total: u64 = self.conn().zcard(&k.dead).await.map_err(map_err)?;
            let mut done = 0;
            while done < total {
                let ids: Vec<String> =
                    self.conn().zrange(&k.dead, 0, 499).await.map_err(map_err)?;
                if ids.is_empty() {
                    break;
                }
                let moved = self.dead_admin(&q, "rerun", &ids).await?;
                done += u64::try_from(ids.len()).unwrap_or(0);
                n += moved;
            }
        }
        Ok(n)
    }

    async fn discard(&self, id: &JobId) -> BrokerResult<bool> {
        let Some((queue, _)) = self.find(id).await? else {
            return Ok(false);
        };
        Ok(self
            .dead_admin(&queue, "discard", &[id.as_str().to_owned()])
            .await?
            == 1)
    }

    async fn purge(&self, queue: &str) -> BrokerResult<u64> {
        let k = self.keys(queue);
        let mut n = 0;
        loop {
            let deleted: u64 = self
                .inner
                .scripts
                .purge
                .key(&k.ready)
                .key(&k.sched)
                .arg(&k.job_prefix)
                .arg(CHUNK)
                .invoke_async(&mut self.conn())
                .await
                .map_err(map_err)?;
            n += deleted;
            if deleted == 0 {
                return Ok(n);
            }
        }
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
            let k = self.keys(&q);
            let r: Vec<i64> = self
                .inner
                .scripts
                .stats
                .key(&k.ready)
                .key(&k.sched)
                .key(&k.run)
                .key(&k.dead)
                .key(&k.stats)
                .arg(&k.job_prefix)
                .invoke_async(&mut self.conn())
                .await
                .map_err(map_err)?;
            let get = |i: usize| r.get(i).copied().unwrap_or(0);
            let oldest = get(4);
            out.push(QueueStats {
                queue: q,
                queued: u64::try_from(get(0)).unwrap_or(0),
                scheduled: u64::try_from(get(1)).unwrap_or(0),
                running: u64::try_from(get(2)).unwrap_or(0),
                dead: u64::try_from(get(3)).unwrap_or(0),
                oldest_age_s: if oldest < 0 {
                    0.0
                } else {
                    ((now - oldest).max(0) as f64) / 1000.0
                },
                stale_acks: u64::try_from(get(5)).unwrap_or(0),
            });
        }
        Ok(out)
    }

    async fn queues(&self) -> BrokerResult<Vec<String>> {
        let mut q: Vec<String> = self
            .conn()
            .smembers(self.queues_key())
            .await
            .map_err(map_err)?;
        q.sort();
        Ok(q)
    }

    async fn register_worker(&self, info: &WorkerInfo) -> BrokerResult<()> {
        for q in &info.queues {
            self.register_queue(q).await?;
        }
        let json = serde_json::to_string(info).map_err(|e| BrokerError::Invalid(e.to_string()))?;
        let _: i64 = self
            .conn()
            .hset(self.workers_key(), &info.id, json)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn unregister_worker(&self, id: &str) -> BrokerResult<()> {
        let _: i64 = self
            .conn()
            .hdel(self.workers_key(), id)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn workers(&self) -> BrokerResult<Vec<WorkerInfo>> {
        let all: HashMap<String, String> = self
            .conn()
            .hgetall(self.workers_key())
            .await
            .map_err(map_err)?;
        let cutoff =
            self.now() - 3 * i64::try_from(self.inner.config.lease.as_millis()).unwrap_or(10_000);
        let mut live = Vec::new();
        let mut gone = Vec::new();
        for (id, json) in all {
            match serde_json::from_str::<WorkerInfo>(&json) {
                Ok(w) if w.last_seen_ms >= cutoff => live.push(w),
                _ => gone.push(id),
            }
        }
        if !gone.is_empty() {
            let _: i64 = self
                .conn()
                .hdel(self.workers_key(), gone)
                .await
                .map_err(map_err)?;
        }
        live.sort_by_key(|w| w.started_at_ms);
        Ok(live)
    }
}
