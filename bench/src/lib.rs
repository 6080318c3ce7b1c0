//! The benchmark jobs and the settings shared by `bench-worker` and
//! `bench-enqueue` (the contract is in `bench/README.md`).
//!
//! Both binaries use the real broker, the real worker runtime and the real
//! enqueue API; only the job bodies are bench-specific. The jobs live in the
//! Redis engine at `BENCH_REDIS_URL` unless `BENCH_BROKER` names another
//! engine (`sqlite:///abs/path.sqlite3`, or any Redis URL, a cluster's
//! too); the side effect the harness reads always goes to
//! `BENCH_REDIS_URL`.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use paqueteria_jobs::broker::redis::RedisBroker;
use paqueteria_jobs::{BrokerConfig, EngineConfig, NewJob, SharedBroker};

use paqueteria_jobs::{Handlers, JobError, JobResult};
use serde::{Deserialize, Serialize};

/// The environment of both binaries.
#[derive(Clone, Debug)]
pub struct BenchEnv {
    /// `BENCH_REDIS_URL`: where the side effect goes, and the broker unless
    /// `broker` is set.
    pub redis_url: String,
    /// `BENCH_PREFIX`: result keys, and the broker's key prefix.
    pub prefix: String,
    /// `BENCH_QUEUE`.
    pub queue: String,
    /// `BENCH_BROKER`, when set and not empty: the engine the jobs live in.
    pub broker: Option<String>,
}

impl BenchEnv {
    /// Reads the environment; a missing variable is named.
    pub fn from_env() -> anyhow::Result<Self> {
        let var = |name: &str| std::env::var(name).with_context(|| format!("{name} must be set"));
        Ok(Self {
            redis_url: var("BENCH_REDIS_URL")?,
            prefix: var("BENCH_PREFIX")?,
            queue: std::env::var("BENCH_QUEUE").unwrap_or_else(|_| "default".to_owned()),
            broker: std::env::var("BENCH_BROKER").ok().filter(|b| !b.is_empty()),
        })
    }

    /// The engine the jobs live in: `BENCH_BROKER` when set, else Redis at
    /// `BENCH_REDIS_URL`; Redis keys go under `{BENCH_PREFIX}:broker`.
    pub fn engine(&self) -> anyhow::Result<EngineConfig> {
        engine_config(
            self.broker.as_deref().unwrap_or(&self.redis_url),
            &format!("{}:broker", self.prefix),
        )
    }

    /// The broker the jobs go through (enough for `bench-enqueue`).
    pub async fn broker(&self) -> anyhow::Result<SharedBroker> {
        match self.broker {
            None => Ok(Arc::new(self.results_broker()?)),
            Some(_) => self.open_engine().await,
        }
    }

    /// The broker the jobs go through, and the Redis broker at
    /// `BENCH_REDIS_URL` whose multiplexed connection every handler shares
    /// for its side effect (see [`handlers`]). Without `BENCH_BROKER` the
    /// two are one broker, so the side effect goes over the broker's own
    /// connection, as a real handler's Redis calls would; with it, that
    /// Redis broker is opened for its connection alone (lazily: it runs
    /// no job).
    pub async fn worker_parts(&self) -> anyhow::Result<(SharedBroker, Arc<RedisBroker>)> {
        let results = Arc::new(self.results_broker()?);
        let broker: SharedBroker = match self.broker {
            None => results.clone(),
            Some(_) => self.open_engine().await?,
        };
        Ok((broker, results))
    }

    fn results_broker(&self) -> anyhow::Result<RedisBroker> {
        Ok(RedisBroker::connect(
            &self.redis_url,
            &format!("{}:broker", self.prefix),
            BrokerConfig::default(),
        )?)
    }

    async fn open_engine(&self) -> anyhow::Result<SharedBroker> {
        let engine = self.engine()?;
        paqueteria_jobs::connect(&engine, BrokerConfig::default())
            .await
            .with_context(|| format!("opening BENCH_BROKER ({})", engine.describe()))
    }
}

/// The engine a `BENCH_BROKER` value names: `sqlite://PATH` (so
/// `sqlite:///abs/jobs.sqlite3`; a `?query` is ignored) is the embedded
/// engine in that file; anything else is a Redis URL the jobs crate checks,
/// with its keys under `prefix`.
pub fn engine_config(url: &str, prefix: &str) -> anyhow::Result<EngineConfig> {
    if let Some(rest) = url.strip_prefix("sqlite://") {
        let path = rest.split('?').next().unwrap_or(rest);
        anyhow::ensure!(!path.is_empty(), "{url:?}: no SQLite file named");
        return Ok(EngineConfig::sqlite(path));
    }
    Ok(EngineConfig::redis_checked(url, prefix)?)
}

/// The payload of every bench job.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BenchJob {
    /// Sequence number (−1 for the harness's readiness probe).
    pub seq: i64,
    /// Unix time in seconds taken just before the send.
    pub t_enq: f64,
    /// Milliseconds of sleep or CPU.
    #[serde(default)]
    pub ms: u64,
}

/// The three job kinds.
pub const KINDS: [&str; 3] = ["noop", "sleep_ms", "cpu_ms"];

/// The job's name in the broker for a kind.
pub fn job_name(kind: &str) -> String {
    format!("bench.{kind}")
}

/// A job ready to enqueue.
pub fn new_job(env: &BenchEnv, kind: &str, seq: i64, ms: u64) -> NewJob {
    let payload = BenchJob {
        seq,
        t_enq: unix_seconds_f64(),
        ms,
    };
    NewJob::new(
        job_name(kind),
        env.queue.clone(),
        serde_json::to_string(&payload).unwrap_or_default(),
    )
}

/// Handlers of the three kinds; each records its side effect in Redis
/// (`HSETNX wait`, `HINCRBY runs`) before it returns, so before the ack,
/// over `results`' multiplexed connection, which all of them share (see
/// [`BenchEnv::worker_parts`]).
pub fn handlers(env: &BenchEnv, results: &RedisBroker) -> anyhow::Result<Handlers> {
    let conn = results.connection();
    let wait_key = format!("{}:wait", env.prefix);
    let runs_key = format!("{}:runs", env.prefix);
    let mut h = Handlers::new();
    for kind in KINDS {
        let conn = conn.clone();
        let (wait_key, runs_key) = (wait_key.clone(), runs_key.clone());
        h.register_raw(&job_name(kind), move |_ctx, payload| {
            let mut conn = conn.clone();
            let (wait_key, runs_key) = (wait_key.clone(), runs_key.clone());
            async move {
                let job: BenchJob = serde_json::from_str(&payload)
                    .map_err(|e| JobError::abort(format!("bad bench payload: {e}")))?;
                let t_start = unix_seconds_f64();
                match kind {
                    // A thread's sleep, off the async threads: the kernel's
                    // timer wakes it within tens of microseconds, where
                    // tokio's timer rounds every sleep up to its next
                    // millisecond tick. Neither uses the CPU while waiting.
                    "sleep_ms" => {
                        let d = Duration::from_millis(job.ms);
                        tokio::task::spawn_blocking(move || std::thread::sleep(d))
                            .await
                            .map_err(JobError::retry)?;
                    }
                    "cpu_ms" => {
                        let ms = job.ms;
                        tokio::task::spawn_blocking(move || burn_cpu(ms))
                            .await
                            .map_err(JobError::retry)?;
                    }
                    _ => {}
                }
                record(
                    &mut conn,
                    &wait_key,
                    &runs_key,
                    job.seq,
                    t_start - job.t_enq,
                )
                .await
            }
        });
    }
    Ok(h)
}

async fn record(
    conn: &mut paqueteria_jobs::broker::redis::RedisConnection,
    wait_key: &str,
    runs_key: &str,
    seq: i64,
    wait_s: f64,
) -> JobResult {
    redis::pipe()
        .hset_nx(wait_key, seq, wait_s)
        .ignore()
        .hincr(runs_key, seq, 1)
        .ignore()
        .query_async::<()>(conn)
        .await
        .map_err(JobError::retry)?;
    Ok(None)
}

/// Burns `ms` milliseconds of this thread's CPU time.
fn burn_cpu(ms: u64) {
    let target = Duration::from_millis(ms);
    let start = cpu_time::ThreadTime::now();
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    while start.elapsed() < target {
        for _ in 0..1000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
        }
        std::hint::black_box(x);
    }
}

/// Unix time in seconds, as a float (the bench contract's unit).
pub fn unix_seconds_f64() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_sqlite_url_names_the_embedded_engine_in_that_file() {
        let e = engine_config("sqlite:///tmp/x/jobs.sqlite3?mode=rwc", "p:broker").unwrap();
        assert!(
            matches!(&e, EngineConfig::Sqlite { path } if path == std::path::Path::new("/tmp/x/jobs.sqlite3")),
            "{e:?}"
        );
        assert!(engine_config("sqlite://", "p:broker").is_err());
    }

    #[test]
    fn a_redis_url_names_the_redis_engine_under_the_prefix() {
        let e = engine_config("redis://127.0.0.1:6390/0", "bench:x:broker").unwrap();
        assert!(
            matches!(&e, EngineConfig::Redis { prefix, .. } if prefix == "bench:x:broker"),
            "{e:?}"
        );
        assert!(engine_config("http://127.0.0.1", "p").is_err());
    }
}
