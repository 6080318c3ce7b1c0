//! The scheduler's metrics (DESIGN.md §8): ticks fired per entry, the last
//! tick's time, whether this process leads, and the lag between a tick's
//! time and its enqueue.

use prometheus::{
    Encoder, GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry,
};

/// The scheduler's registry and metrics.
#[derive(Clone, Debug)]
pub struct SchedulerMetrics {
    registry: Registry,
    /// `paqueteria_scheduler_ticks_total{entry}`: ticks enqueued.
    pub ticks: IntCounterVec,
    /// `paqueteria_scheduler_last_tick_timestamp_seconds{entry}`.
    pub last_tick: GaugeVec,
    /// `paqueteria_scheduler_is_leader`: 1 while this process leads.
    pub is_leader: IntGauge,
    /// `paqueteria_scheduler_tick_lag_seconds{entry}`: tick time → enqueue.
    pub lag: HistogramVec,
}

impl Default for SchedulerMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl SchedulerMetrics {
    /// Fresh metrics in their own registry.
    pub fn new() -> Self {
        let registry =
            Registry::new_custom(Some("paqueteria".to_owned()), None).unwrap_or_default();
        let ticks = IntCounterVec::new(
            Opts::new(
                "scheduler_ticks_total",
                "Ticks enqueued, per schedule entry.",
            ),
            &["entry"],
        );
        let last_tick = GaugeVec::new(
            Opts::new(
                "scheduler_last_tick_timestamp_seconds",
                "Unix time of the latest tick handled, per entry.",
            ),
            &["entry"],
        );
        let is_leader = IntGauge::new(
            "scheduler_is_leader",
            "1 while this scheduler holds the leader lease.",
        );
        let lag = HistogramVec::new(
            HistogramOpts::new(
                "scheduler_tick_lag_seconds",
                "Seconds from a tick's time to its enqueue.",
            )
            .buckets(vec![
                0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 15.0, 60.0, 300.0,
            ]),
            &["entry"],
        );
        // Names and labels are constants: these only fail on a programming
        // error, which the tests would show.
        let (ticks, last_tick, is_leader, lag) = match (ticks, last_tick, is_leader, lag) {
            (Ok(a), Ok(b), Ok(c), Ok(d)) => (a, b, c, d),
            _ => unreachable_metrics(),
        };
        for c in [
            Box::new(ticks.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(last_tick.clone()),
            Box::new(is_leader.clone()),
            Box::new(lag.clone()),
        ] {
            if let Err(e) = registry.register(c) {
                tracing::error!(error = %e, "cannot register a scheduler metric");
            }
        }
        Self {
            registry,
            ticks,
            last_tick,
            is_leader,
            lag,
        }
    }

    /// The text exposition.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        if let Err(e) = prometheus::TextEncoder::new().encode(&self.registry.gather(), &mut buf) {
            tracing::error!(error = %e, "cannot encode the metrics");
        }
        String::from_utf8(buf).unwrap_or_default()
    }
}

#[allow(clippy::panic)]
fn unreachable_metrics() -> ! {
    panic!("the scheduler's metric definitions are invalid")
}
