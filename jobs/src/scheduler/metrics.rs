//! The scheduler's metrics (DESIGN.md §8): ticks fired and missed per
//! entry, the last tick's time, the last success of each entry's job, each
//! entry's period, whether this process leads, when its loop last ran, and
//! the lag between a tick's time and its enqueue.

use prometheus::{
    Encoder, Gauge, GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry,
    core::Collector,
};

/// The scheduler's registry and metrics.
#[derive(Clone, Debug)]
pub struct SchedulerMetrics {
    registry: Registry,
    /// `paqueteria_scheduler_ticks_total{entry}`: ticks enqueued.
    pub ticks: IntCounterVec,
    /// `paqueteria_scheduler_missed_ticks_total{entry}`: ticks whose time
    /// passed while no scheduler led: skipped by the entry's catch-up
    /// policy, or fired late by it.
    pub missed: IntCounterVec,
    /// `paqueteria_scheduler_last_tick_timestamp_seconds{entry}`.
    pub last_tick: GaugeVec,
    /// `paqueteria_scheduler_last_success_timestamp_seconds{entry}`: when
    /// the job of the entry's latest succeeded tick finished.
    pub last_success: GaugeVec,
    /// `paqueteria_scheduler_entry_interval_seconds{entry}`: the time
    /// between two ticks (an irregular entry's longest gap over a week).
    pub interval: GaugeVec,
    /// `paqueteria_scheduler_is_leader`: 1 while this process leads.
    pub is_leader: IntGauge,
    /// `paqueteria_scheduler_heartbeat_timestamp_seconds`: when this
    /// process last ran its loop as leader (0 while it has not led).
    pub heartbeat: Gauge,
    /// `paqueteria_scheduler_tick_lag_seconds{entry}`: tick time → enqueue.
    pub lag: HistogramVec,
}

impl Default for SchedulerMetrics {
    fn default() -> Self {
        Self::new()
    }
}

const ENTRY: &[&str] = &["entry"];

impl SchedulerMetrics {
    /// Fresh metrics in their own registry.
    #[expect(
        clippy::expect_used,
        reason = "metric definitions are static; a clash is a programming error found at start-up"
    )]
    pub fn new() -> Self {
        let registry =
            Registry::new_custom(Some("paqueteria".to_owned()), None).expect("valid namespace");
        fn register<C: Collector + Clone + 'static>(registry: &Registry, c: C) -> C {
            registry
                .register(Box::new(c.clone()))
                .expect("unique metric");
            c
        }
        let counter = |name: &str, help: &str| {
            register(
                &registry,
                IntCounterVec::new(Opts::new(name, help), ENTRY).expect("valid metric"),
            )
        };
        let gauge_vec = |name: &str, help: &str| {
            register(
                &registry,
                GaugeVec::new(Opts::new(name, help), ENTRY).expect("valid metric"),
            )
        };
        Self {
            ticks: counter(
                "scheduler_ticks_total",
                "Ticks enqueued, per schedule entry.",
            ),
            missed: counter(
                "scheduler_missed_ticks_total",
                "Ticks that passed while no scheduler led, skipped or fired late, per entry.",
            ),
            last_tick: gauge_vec(
                "scheduler_last_tick_timestamp_seconds",
                "Unix time of the latest tick handled, per entry.",
            ),
            last_success: gauge_vec(
                "scheduler_last_success_timestamp_seconds",
                "Unix time the job of the entry's latest succeeded tick finished.",
            ),
            interval: gauge_vec(
                "scheduler_entry_interval_seconds",
                "Seconds between two ticks of the entry (the longest gap over a week).",
            ),
            is_leader: register(
                &registry,
                IntGauge::new(
                    "scheduler_is_leader",
                    "1 while this scheduler holds the leader lease.",
                )
                .expect("valid metric"),
            ),
            heartbeat: register(
                &registry,
                Gauge::new(
                    "scheduler_heartbeat_timestamp_seconds",
                    "Unix time this scheduler last ran its loop as leader.",
                )
                .expect("valid metric"),
            ),
            lag: register(
                &registry,
                HistogramVec::new(
                    HistogramOpts::new(
                        "scheduler_tick_lag_seconds",
                        "Seconds from a tick's time to its enqueue.",
                    )
                    .buckets(vec![
                        0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 15.0, 60.0, 300.0,
                    ]),
                    ENTRY,
                )
                .expect("valid metric"),
            ),
            registry,
        }
    }

    /// Shows `entry`'s series from the start (counters at 0), so its panels
    /// and alerts have a series before its first tick.
    pub fn init_entry(&self, entry: &str) {
        self.ticks.with_label_values(&[entry]).inc_by(0);
        self.missed.with_label_values(&[entry]).inc_by(0);
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
