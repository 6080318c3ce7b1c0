//! One SMS rate limit shared by every worker.
//!
//! With Redis, a GCRA (generic cell rate algorithm) in one Lua script:
//! the key holds the theoretical arrival time of the next message, read
//! against Redis's own clock (`TIME`), so workers on different hosts share
//! one budget without trusting each other's clocks. With the embedded
//! engine there is one process, and an in-process limiter (governor) does
//! the same.
//!
//! A job that finds no turn free does not wait for one inside its worker
//! slot: [`RateLimit::try_acquire`] says how long until the next turn, and
//! the job snoozes that long (the slot goes to another queue's job).

use std::num::NonZeroU32;
use std::time::Duration;

use paqueteria_jobs::broker::redis::RedisConnection;

/// The limiter.
pub enum RateLimit {
    /// Shared through Redis.
    Redis {
        /// The connection.
        conn: RedisConnection,
        /// The key.
        key: String,
        /// Microseconds between messages.
        interval_us: u64,
        /// `scripts/gcra.lua`, loaded once.
        script: redis::Script,
    },
    /// In this process.
    Local(governor::DefaultDirectRateLimiter),
}

impl std::fmt::Debug for RateLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Redis {
                key, interval_us, ..
            } => f
                .debug_struct("Redis")
                .field("key", key)
                .field("interval_us", interval_us)
                .finish(),
            Self::Local(_) => f.write_str("Local"),
        }
    }
}

impl RateLimit {
    /// `per_second` messages a second across every worker on this Redis
    /// (one server or a cluster: the script touches one key).
    pub async fn redis(url: &str, prefix: &str, per_second: u32) -> redis::RedisResult<Self> {
        let conn = RedisConnection::open(url)?;
        Ok(Self::Redis {
            conn,
            key: format!("{prefix}:ratelimit:sms"),
            interval_us: 1_000_000 / u64::from(per_second.max(1)),
            script: redis::Script::new(include_str!("scripts/gcra.lua")),
        })
    }

    /// `per_second` messages a second in this process.
    pub fn local(per_second: u32) -> Self {
        let rate = NonZeroU32::new(per_second).unwrap_or(NonZeroU32::MIN);
        Self::Local(governor::RateLimiter::direct(
            governor::Quota::per_second(rate).allow_burst(NonZeroU32::MIN),
        ))
    }

    /// Takes one message's turn if it is free now; else says how long
    /// until the next one (nothing is taken). A Redis error paces locally
    /// (one interval's wait) and lets the message go: the gateway's own 429
    /// is the backstop.
    pub async fn try_acquire(&mut self) -> Result<(), Duration> {
        match self {
            Self::Local(l) => l.check().map_err(|not_until| {
                not_until.wait_time_from(governor::clock::Clock::now(
                    &governor::clock::DefaultClock::default(),
                ))
            }),
            Self::Redis {
                conn,
                key,
                interval_us,
                script,
            } => {
                let wait: redis::RedisResult<u64> = script
                    .key(key.as_str())
                    .arg(*interval_us)
                    .invoke_async(conn)
                    .await;
                match wait {
                    Ok(0) => Ok(()),
                    Ok(us) => Err(Duration::from_micros(us)),
                    Err(e) => {
                        tracing::warn!(error = %e, "SMS rate limit unavailable; pacing locally");
                        tokio::time::sleep(Duration::from_micros(*interval_us)).await;
                        Ok(())
                    }
                }
            }
        }
    }

    /// Waits until one message may go (for callers that have no slot to
    /// give back).
    pub async fn acquire(&mut self) {
        while let Err(wait) = self.try_acquire().await {
            tokio::time::sleep(wait).await;
        }
    }
}
