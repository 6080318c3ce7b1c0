//! Enqueues acknowledged only once replicas hold them (`REDIS_ENQUEUE_WAIT`).
//!
//! Redis replicates asynchronously: a master answers a write before its
//! replicas have it, so a job acknowledged to the producer just before the
//! master dies may be missing on the replica that takes over. With an
//! [`EnqueueWait`], every enqueue is followed by `WAIT n timeout` in the
//! same pipeline, on the same server (on a cluster, the master of the
//! queue's slot), over connections of their own (four, used in turn): `WAIT` holds its connection
//! until the replicas answer, and the workers' connection must not stall
//! behind it. The enqueue succeeds only when `n` replicas acknowledged it;
//! otherwise it fails with [`BrokerError::Unavailable`] and the job may or
//! may not survive a failover.
//!
//! Enqueue is idempotent by job id, so the caller retries the same
//! [`NewJob`](crate::broker::NewJob) (same id) without risk of a second
//! job. When a retry finds every id already there, the script writes
//! nothing, and `WAIT` would only cover this connection's earlier writes;
//! so a small marker write (`P:{q}:wait`, expiring after a minute) goes
//! before a second `WAIT`. Replicas apply the master's writes in order,
//! so one that holds the marker holds the jobs.

use std::time::Duration;

use redis::Value;

use std::sync::atomic::{AtomicUsize, Ordering};

use super::{RedisBroker, RedisConnection, RedisTarget, map_err};
use crate::broker::{BrokerError, BrokerResult};

/// After each enqueue, wait until `replicas` replicas hold it, for at most
/// `timeout`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EnqueueWait {
    /// How many replicas must acknowledge the enqueue (at least 1).
    pub replicas: u32,
    /// How long to wait for them.
    pub timeout: Duration,
}

impl EnqueueWait {
    /// `replicas` replicas within `timeout`; `None` when `replicas` is 0
    /// (no waiting).
    pub fn new(replicas: u32, timeout: Duration) -> Option<Self> {
        (replicas > 0).then_some(Self { replicas, timeout })
    }

    fn timeout_ms(self) -> u64 {
        u64::try_from(self.timeout.as_millis())
            .unwrap_or(u64::MAX)
            .max(1)
    }
}

/// Connections of their own for waited enqueues. `WAIT` blocks its
/// connection, so enqueues on one connection wait one after another; on
/// several, their waits overlap.
const CONNECTIONS: usize = 4;

/// The wait and the connections it goes over, held by a broker that waits.
#[derive(Debug)]
pub(super) struct Waiting {
    wait: EnqueueWait,
    conns: Vec<RedisConnection>,
    next: AtomicUsize,
}

impl Waiting {
    /// Opens the connections (lazily, as the broker's own).
    pub(super) fn open(wait: EnqueueWait, target: &RedisTarget) -> redis::RedisResult<Self> {
        let conns = (0..CONNECTIONS)
            .map(|_| RedisConnection::open_target(target))
            .collect::<redis::RedisResult<_>>()?;
        Ok(Self {
            wait,
            conns,
            next: AtomicUsize::new(0),
        })
    }

    /// The next connection, in turn.
    fn conn(&self) -> RedisConnection {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.conns.len();
        self.conns[i].clone()
    }
}

/// `v` read as `T`, a server error in it as the error it is.
fn read<T: redis::FromRedisValue>(v: Option<Value>) -> redis::RedisResult<T> {
    let v = v.unwrap_or(Value::Nil).extract_error()?;
    Ok(redis::from_redis_value(v)?)
}

/// Whether the server did not know the script (first value of `answer`).
fn no_script(answer: &redis::RedisResult<Vec<Value>>) -> bool {
    let noscript = Some(redis::ServerErrorKind::NoScript);
    match answer {
        Ok(values) => matches!(values.first(), Some(Value::ServerError(e)) if e.kind() == noscript),
        Err(e) => e.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript),
    }
}

/// `WAIT` for `wait`'s replicas.
fn wait_cmd(wait: EnqueueWait) -> redis::Cmd {
    let mut cmd = redis::cmd("WAIT");
    cmd.arg(wait.replicas).arg(wait.timeout_ms());
    cmd
}

impl RedisBroker {
    /// Runs `script` (an `EVALSHA` of the enqueue script, whose keys hold
    /// `key`'s hash tag) then `WAIT`, in one pipeline on `key`'s server;
    /// loads the script there first if that server does not have it.
    pub(super) async fn enqueue_waited(
        &self,
        waiting: &Waiting,
        key: &str,
        marker: &str,
        script: redis::Cmd,
    ) -> BrokerResult<Vec<i64>> {
        let wait = waiting.wait;
        let mut conn = waiting.conn();
        let mut pipe = redis::pipe();
        pipe.add_command(script).add_command(wait_cmd(wait));
        let mut answer = conn.pipeline_at(key, &pipe).await;
        if no_script(&answer) {
            let mut load = redis::pipe();
            load.cmd("SCRIPT").arg("LOAD").arg(super::ENQUEUE_LUA);
            let _: String = conn
                .pipeline_at(key, &load)
                .await
                .and_then(|mut v| read(v.pop()))
                .map_err(map_err)?;
            answer = conn.pipeline_at(key, &pipe).await;
        }
        let mut values = answer.map_err(map_err)?.into_iter();
        let created: Vec<i64> = read(values.next()).map_err(map_err)?;
        let mut acked: u32 = read(values.next()).map_err(map_err)?;
        if !created.contains(&1) {
            // Nothing written now: wait on a write of ours that follows
            // the jobs an earlier attempt wrote.
            let mut pipe = redis::pipe();
            pipe.cmd("SET")
                .arg(marker)
                .arg(self.now())
                .arg("PX")
                .arg(60_000)
                .add_command(wait_cmd(wait));
            acked = conn
                .pipeline_at(key, &pipe)
                .await
                .and_then(|mut v| read(v.pop()))
                .map_err(map_err)?;
        }
        if acked < wait.replicas {
            return Err(BrokerError::Unavailable(format!(
                "the enqueue reached the master, but {acked} of the {} replicas \
                 REDIS_ENQUEUE_WAIT asks for acknowledged it within {} ms: \
                 enqueue the same job (same id) again",
                wait.replicas,
                wait.timeout_ms()
            )));
        }
        Ok(created)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_replicas_is_no_wait() {
        assert_eq!(EnqueueWait::new(0, Duration::from_secs(1)), None);
        let w = EnqueueWait::new(2, Duration::from_micros(10)).map(EnqueueWait::timeout_ms);
        assert_eq!(
            w,
            Some(1),
            "a timeout under 1 ms waits 1 ms, never forever (0)"
        );
    }
}
