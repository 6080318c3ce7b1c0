//! Logs a broker outage once when it starts and once when it ends, however
//! many calls fail in between.

use std::sync::Mutex;
use std::time::Instant;

use paqueteria_core::BrokerError;

use crate::metrics::Metrics;

/// Shared by every loop of one worker.
#[derive(Debug)]
pub struct Outage {
    since: Mutex<Option<Instant>>,
    metrics: Metrics,
}

impl Outage {
    pub(crate) fn new(metrics: Metrics) -> Self {
        Self {
            since: Mutex::new(None),
            metrics,
        }
    }

    /// A broker call failed.
    pub(crate) fn failed(&self, what: &str, e: &BrokerError) {
        let Ok(mut since) = self.since.lock() else {
            return;
        };
        if since.is_none() {
            *since = Some(Instant::now());
            self.metrics.broker_up.set(0);
            tracing::warn!(error = %e, during = what, "broker unavailable; retrying with backoff until it is back");
        } else {
            tracing::debug!(error = %e, during = what, "broker still unavailable");
        }
    }

    /// A broker call succeeded.
    pub(crate) fn ok(&self) {
        let Ok(mut since) = self.since.lock() else {
            return;
        };
        if let Some(t) = since.take() {
            self.metrics.broker_up.set(1);
            tracing::info!(after_s = t.elapsed().as_secs_f64(), "broker is back");
        }
    }
}
