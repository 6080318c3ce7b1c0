//! Logs a broker outage once when it starts and once when it ends, however
//! many calls fail in between.
//!
//! Several loops talk to the broker at once (leasing, heartbeats,
//! housekeeping, settling); when the connection drops, calls already in
//! flight fail one after another even after a first call has succeeded on
//! the new connection. Failures within a short settle time of a recovery
//! therefore count as the same outage.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::broker::BrokerError;

use crate::metrics::Metrics;

const SETTLE: Duration = Duration::from_secs(2);

#[derive(Debug, Default)]
struct State {
    since: Option<Instant>,
    recovered: Option<Instant>,
}

/// Shared by every loop of one worker.
#[derive(Debug)]
pub struct Outage {
    state: Mutex<State>,
    metrics: Metrics,
}

impl Outage {
    pub(crate) fn new(metrics: Metrics) -> Self {
        Self {
            state: Mutex::new(State::default()),
            metrics,
        }
    }

    /// A broker call failed.
    pub(crate) fn failed(&self, what: &str, e: &BrokerError) {
        let Ok(mut s) = self.state.lock() else { return };
        self.metrics.broker_up.set(0);
        if s.since.is_some() {
            tracing::debug!(error = %e, during = what, "broker still unavailable");
            return;
        }
        s.since = Some(Instant::now());
        if s.recovered.is_some_and(|r| r.elapsed() < SETTLE) {
            tracing::debug!(error = %e, during = what, "broker call failed right after a recovery");
        } else {
            tracing::warn!(error = %e, during = what, "broker unavailable; retrying with backoff until it is back");
        }
    }

    /// A broker call succeeded.
    pub(crate) fn ok(&self) {
        let Ok(mut s) = self.state.lock() else { return };
        if let Some(t) = s.since.take() {
            self.metrics.broker_up.set(1);
            s.recovered = Some(Instant::now());
            tracing::info!(after_s = t.elapsed().as_secs_f64(), "broker is back");
        }
    }
}
