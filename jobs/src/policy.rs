//! Retry policies, time limits and retention: the plain values every other
//! part of the engine reads.

use std::time::Duration;

/// How often and how patiently a job is retried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first one included. A job whose attempt number
    /// reaches this goes to the dead set instead of being retried. A worker
    /// that dies mid-attempt uses up that attempt too.
    pub max_attempts: u32,
    /// Delay before the second attempt; it doubles for every attempt after.
    pub backoff_base_ms: u64,
    /// Upper bound of the delay.
    pub backoff_max_ms: u64,
}

impl RetryPolicy {
    /// The delay after `failed_attempts` failed attempts (1 for the first
    /// failure): exponential, capped, with "equal jitter": half the delay is
    /// fixed and half random, so a burst of failures does not retry in step
    /// yet never retries sooner than half the nominal delay.
    pub fn backoff(&self, failed_attempts: u32) -> Duration {
        let exp = failed_attempts.saturating_sub(1).min(32);
        let nominal = self
            .backoff_base_ms
            .saturating_mul(1u64 << exp)
            .min(self.backoff_max_ms);
        let half = nominal / 2;
        let jitter = if nominal > half {
            fastrand::u64(0..=nominal - half)
        } else {
            0
        };
        Duration::from_millis(half + jitter)
    }
}

/// Everything the broker and the worker need to know about how to run a job.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JobPolicy {
    /// Retries.
    pub retry: RetryPolicy,
    /// Time limit of one attempt; over it the attempt is cancelled and counts
    /// as failed.
    pub timeout_ms: u64,
}

impl JobPolicy {
    /// A policy from its parts, in seconds.
    pub const fn new(max_attempts: u32, base_s: u64, max_s: u64, timeout_s: u64) -> Self {
        Self {
            retry: RetryPolicy {
                max_attempts,
                backoff_base_ms: base_s * 1000,
                backoff_max_ms: max_s * 1000,
            },
            timeout_ms: timeout_s * 1000,
        }
    }
}

impl Default for JobPolicy {
    /// 5 attempts, 2 s doubling up to 10 min, 5 min time limit.
    fn default() -> Self {
        Self::new(5, 2, 600, 300)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_per_attempt_within_jitter_bounds() {
        let p = RetryPolicy {
            max_attempts: 10,
            backoff_base_ms: 1000,
            backoff_max_ms: 60_000,
        };
        for _ in 0..200 {
            let d1 = p.backoff(1).as_millis();
            let d3 = p.backoff(3).as_millis();
            assert!((500..=1000).contains(&d1), "first delay {d1}");
            assert!((2000..=4000).contains(&d3), "third delay {d3}");
        }
    }

    #[test]
    fn backoff_never_exceeds_the_cap() {
        let p = RetryPolicy {
            max_attempts: 100,
            backoff_base_ms: 1000,
            backoff_max_ms: 5000,
        };
        for n in 1..100 {
            assert!(p.backoff(n).as_millis() <= 5000);
        }
    }

    #[test]
    fn backoff_is_jittered() {
        let p = RetryPolicy {
            max_attempts: 5,
            backoff_base_ms: 10_000,
            backoff_max_ms: 10_000,
        };
        let distinct: std::collections::HashSet<_> = (0..50).map(|_| p.backoff(1)).collect();
        assert!(distinct.len() > 1, "fifty delays were all equal");
    }
}

/// How long finished jobs are kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retention {
    /// Succeeded and cancelled jobs (default 24 h).
    pub succeeded: Duration,
    /// Dead jobs (default 7 days).
    pub dead: Duration,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            succeeded: Duration::from_secs(24 * 3600),
            dead: Duration::from_secs(7 * 24 * 3600),
        }
    }
}
