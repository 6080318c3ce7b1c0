//! One SMS rate limit shared by every worker.
//!
//! With Redis, a GCRA (generic cell rate algorithm) in one Lua script:
//! the key holds the theoretical arrival time of the next message, read
//! against Redis's own clock (`TIME`), so workers on different hosts share
//! one budget without trusting each other's clocks. With the embedded
//! engine there is one process, and an in-process limiter (governor) does
//! the same.

use std::num::NonZeroU32;
use std::time::Duration;

use redis::aio::ConnectionManager;

const GCRA: &str = r"
-- KEYS[1] the limiter; ARGV[1] emission interval (µs).
-- Returns 0 when a message may go now, else the µs to wait.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
-- tat: the earliest time the next message may go (no burst).
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat > now then
  return tat - now
end
local new_tat = now + interval
redis.call('SET', KEYS[1], tostring(new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1000)
return 0
";

/// The limiter.
pub enum RateLimit {
    /// Shared through Redis.
    Redis {
        /// The connection.
        conn: ConnectionManager,
        /// The key.
        key: String,
        /// Microseconds between messages.
        interval_us: u64,
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
    /// `per_second` messages a second across every worker on this Redis.
    pub async fn redis(url: &str, prefix: &str, per_second: u32) -> redis::RedisResult<Self> {
        let conn = ConnectionManager::new(redis::Client::open(url)?).await?;
        Ok(Self::Redis {
            conn,
            key: format!("{prefix}:ratelimit:sms"),
            interval_us: 1_000_000 / u64::from(per_second.max(1)),
        })
    }

    /// `per_second` messages a second in this process.
    pub fn local(per_second: u32) -> Self {
        let rate = NonZeroU32::new(per_second).unwrap_or(NonZeroU32::MIN);
        Self::Local(governor::RateLimiter::direct(
            governor::Quota::per_second(rate).allow_burst(NonZeroU32::MIN),
        ))
    }

    /// Waits until one message may go. A Redis error waits one interval
    /// and lets the message go: the gateway's own 429 is the backstop.
    pub async fn acquire(&mut self) {
        match self {
            Self::Local(l) => l.until_ready().await,
            Self::Redis {
                conn,
                key,
                interval_us,
            } => loop {
                let wait: redis::RedisResult<u64> = redis::Script::new(GCRA)
                    .key(key.as_str())
                    .arg(*interval_us)
                    .invoke_async(conn)
                    .await;
                match wait {
                    Ok(0) => return,
                    Ok(us) => tokio::time::sleep(Duration::from_micros(us)).await,
                    Err(e) => {
                        tracing::warn!(error = %e, "SMS rate limit unavailable; pacing locally");
                        tokio::time::sleep(Duration::from_micros(*interval_us)).await;
                        return;
                    }
                }
            },
        }
    }
}
