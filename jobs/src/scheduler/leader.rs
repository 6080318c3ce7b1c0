//! Who may enqueue: one leader among any number of schedulers.
//!
//! - **Redis** (production): a lease key holding `<token>|<expiry ms>`. The
//!   holder renews it on every step; anyone may take it once the expiry
//!   has passed, so a standby takes over within the lease time when the
//!   leader dies. The expiry is compared with the caller's clock (so tests
//!   can move time); the key also gets a real TTL of three leases as a
//!   backstop. The leader also copies each entry's last tick into a Redis
//!   hash, so a standby that takes over carries on from where the leader
//!   stopped rather than from its own, older state file.
//! - **File lock** (embedded): an exclusive lock on a file beside the state
//!   file; the OS drops it when the process dies.
//!
//! Leadership is the first fence. The second is the tick's deterministic
//! job id, so even two leaders at once could not enqueue a tick twice.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::broker::redis::RedisConnection;

/// The lease's scripts, loaded once per contender and called by SHA.
struct Scripts {
    acquire: redis::Script,
    release: redis::Script,
    record: redis::Script,
}

impl Scripts {
    fn load() -> Self {
        Self {
            acquire: redis::Script::new(include_str!("scripts/acquire.lua")),
            release: redis::Script::new(include_str!("scripts/release.lua")),
            record: redis::Script::new(include_str!("scripts/record.lua")),
        }
    }
}

/// The Redis lease.
pub struct RedisLease {
    conn: RedisConnection,
    lease_key: String,
    ticks_key: String,
    token: String,
    lease: Duration,
    scripts: Scripts,
}

impl std::fmt::Debug for RedisLease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisLease")
            .field("lease_key", &self.lease_key)
            .field("lease", &self.lease)
            .finish_non_exhaustive()
    }
}

impl RedisLease {
    /// A contender for the lease under `prefix`, on Redis at `url` (one
    /// server or a cluster: each script touches one key).
    pub async fn connect(url: &str, prefix: &str, lease: Duration) -> redis::RedisResult<Self> {
        let conn = RedisConnection::open(url)?;
        Ok(Self {
            conn,
            lease_key: format!("{prefix}:scheduler:leader"),
            ticks_key: format!("{prefix}:scheduler:ticks"),
            token: uuid::Uuid::now_v7().to_string(),
            lease,
            scripts: Scripts::load(),
        })
    }
}

/// The embedded lock.
#[derive(Debug)]
pub struct FileLock {
    path: PathBuf,
    held: Option<std::fs::File>,
}

impl FileLock {
    /// A contender for the lock file at `path`.
    pub fn new(path: PathBuf) -> Self {
        Self { path, held: None }
    }
}

/// How this scheduler competes for leadership.
#[derive(Debug)]
pub enum Leadership {
    /// A lease in Redis.
    Redis(Box<RedisLease>),
    /// A file lock.
    File(FileLock),
}

impl Leadership {
    /// Takes or keeps leadership at `now_ms`; false means standby. A Redis
    /// error counts as standby (a leader that cannot renew must not act).
    pub async fn hold(&mut self, now_ms: i64) -> bool {
        match self {
            Self::Redis(l) => {
                let lease_ms = i64::try_from(l.lease.as_millis()).unwrap_or(i64::MAX);
                let got: redis::RedisResult<i64> = l
                    .scripts
                    .acquire
                    .key(&l.lease_key)
                    .arg(&l.token)
                    .arg(now_ms)
                    .arg(lease_ms)
                    .arg(lease_ms.saturating_mul(3).max(1_000))
                    .invoke_async(&mut l.conn)
                    .await;
                match got {
                    Ok(v) => v == 1,
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot reach Redis for the leader lease; standing by");
                        false
                    }
                }
            }
            Self::File(f) => {
                if f.held.is_some() {
                    return true;
                }
                let file = match std::fs::OpenOptions::new()
                    .create(true)
                    .truncate(false)
                    .write(true)
                    .open(&f.path)
                {
                    Ok(file) => file,
                    Err(e) => {
                        tracing::warn!(path = %f.path.display(), error = %e, "cannot open the scheduler lock file");
                        return false;
                    }
                };
                match file.try_lock() {
                    Ok(()) => {
                        f.held = Some(file);
                        true
                    }
                    Err(_) => false,
                }
            }
        }
    }

    /// Gives leadership up (graceful shutdown), so a standby need not wait
    /// for the lease to run out.
    pub async fn release(&mut self) {
        match self {
            Self::Redis(l) => {
                let r: redis::RedisResult<i64> = l
                    .scripts
                    .release
                    .key(&l.lease_key)
                    .arg(&l.token)
                    .invoke_async(&mut l.conn)
                    .await;
                if let Err(e) = r {
                    tracing::warn!(error = %e, "could not release the leader lease; it runs out by itself");
                }
            }
            Self::File(f) => f.held = None,
        }
    }

    /// The last ticks the leaders recorded, per entry (Redis only).
    pub async fn shared_ticks(&mut self) -> HashMap<String, i64> {
        match self {
            Self::Redis(l) => {
                let got: redis::RedisResult<HashMap<String, i64>> = redis::cmd("HGETALL")
                    .arg(&l.ticks_key)
                    .query_async(&mut l.conn)
                    .await;
                got.unwrap_or_else(|e| {
                    tracing::warn!(error = %e, "cannot read the shared tick state; using the state file");
                    HashMap::new()
                })
            }
            Self::File(_) => HashMap::new(),
        }
    }

    /// Shares an entry's last tick (Redis only).
    pub async fn share_tick(&mut self, entry: &str, tick_ms: i64) {
        if let Self::Redis(l) = self {
            let r: redis::RedisResult<i64> = l
                .scripts
                .record
                .key(&l.ticks_key)
                .arg(entry)
                .arg(tick_ms)
                .invoke_async(&mut l.conn)
                .await;
            if let Err(e) = r {
                tracing::warn!(error = %e, "cannot share the tick state; the job ids still fence duplicates");
            }
        }
    }
}
