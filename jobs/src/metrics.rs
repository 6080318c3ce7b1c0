//! The worker's Prometheus metrics. Their names are a contract with
//! dashboards and alerts: `<namespace>_jobs_started_total` and the rest below,
//! namespace `paqueteria` unless [`Metrics::with_namespace`] says otherwise.
//!
//! Job metrics carry `queue` and `job`; a job name this build has no handler
//! for is reported as `job="unknown"` so a bad producer cannot blow up label
//! cardinality. Broker gauges are read from the broker at scrape time.

use prometheus::{
    Encoder, GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

use crate::broker::QueueStats;

/// Every metric of the worker, on its own registry.
#[derive(Clone, Debug)]
pub struct Metrics {
    registry: Registry,
    /// `paqueteria_jobs_started_total{queue,job}`.
    pub started: IntCounterVec,
    /// `paqueteria_jobs_finished_total{queue,job,outcome}`, one per
    /// finished attempt; outcome is succeeded, retried (the attempt failed
    /// and will be retried), snoozed (gave its slot back, attempt not
    /// counted), dead, cancelled, released or lost.
    pub finished: IntCounterVec,
    /// `paqueteria_job_duration_seconds{queue,job}`.
    pub duration: HistogramVec,
    /// `paqueteria_job_wait_seconds{queue,job}`: due → start.
    pub wait: HistogramVec,
    /// `paqueteria_jobs_running{queue,job}`.
    pub running: IntGaugeVec,
    /// `paqueteria_queue_depth{queue,state}`; state is queued, scheduled,
    /// running or dead.
    pub queue_depth: IntGaugeVec,
    /// `paqueteria_queue_oldest_age_seconds{queue}`.
    pub oldest_age: GaugeVec,
    /// `paqueteria_queue_stale_acks{queue}`: settlements the fence rejected.
    pub stale_acks: IntGaugeVec,
    /// `paqueteria_worker_up`: 1 while this worker runs.
    pub up: IntGauge,
    /// `paqueteria_broker_up`: 1 when the last broker call succeeded.
    pub broker_up: IntGauge,
    /// `paqueteria_worker_concurrency`: this worker's slots (`-c`).
    pub concurrency: IntGauge,
    /// `paqueteria_workers_live`: workers with a live heartbeat in the
    /// broker, read at scrape time (every worker reports the same figure).
    pub workers_live: IntGauge,
    /// `paqueteria_jobs_reclaimed_total{outcome}`: jobs whose worker
    /// stopped beating, taken back by this process's maintenance;
    /// outcome is requeued or dead.
    pub reclaimed: IntCounterVec,
}

const JOB: &[&str] = &["queue", "job"];

impl Metrics {
    /// Creates and registers every metric under the `paqueteria` namespace.
    pub fn new() -> Self {
        Self::with_namespace("paqueteria")
    }

    /// Creates and registers every metric under `namespace` (letters,
    /// digits and `_`), on a registry of their own.
    #[expect(
        clippy::expect_used,
        reason = "metric definitions are static; a clash is a programming error found at start-up"
    )]
    pub fn with_namespace(namespace: &str) -> Self {
        let registry = Registry::new();
        let counter = |name: &str, help: &str, labels: &[&str]| {
            let c = IntCounterVec::new(Opts::new(name, help).namespace(namespace), labels)
                .expect("valid metric");
            registry
                .register(Box::new(c.clone()))
                .expect("unique metric");
            c
        };
        let started = counter("jobs_started_total", "Job attempts started.", JOB);
        let finished = counter(
            "jobs_finished_total",
            "Job attempts finished, by outcome.",
            &["queue", "job", "outcome"],
        );
        let buckets = vec![
            0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
            300.0, 600.0, 1200.0, 1800.0, 3600.0,
        ];
        let histogram = |name: &str, help: &str| {
            let h = HistogramVec::new(
                HistogramOpts::new(name, help)
                    .namespace(namespace)
                    .buckets(buckets.clone()),
                JOB,
            )
            .expect("valid metric");
            registry
                .register(Box::new(h.clone()))
                .expect("unique metric");
            h
        };
        let duration = histogram("job_duration_seconds", "Time one attempt ran.");
        let wait = histogram(
            "job_wait_seconds",
            "Time from a job being due to its attempt starting.",
        );
        let gauge_vec = |name: &str, help: &str, labels: &[&str]| {
            let g = IntGaugeVec::new(Opts::new(name, help).namespace(namespace), labels)
                .expect("valid metric");
            registry
                .register(Box::new(g.clone()))
                .expect("unique metric");
            g
        };
        let running = gauge_vec("jobs_running", "Attempts running in this worker.", JOB);
        let queue_depth = gauge_vec(
            "queue_depth",
            "Jobs in the broker, by queue and state.",
            &["queue", "state"],
        );
        let stale_acks = gauge_vec(
            "queue_stale_acks",
            "Settlements rejected because their lease had been reclaimed.",
            &["queue"],
        );
        let oldest_age = GaugeVec::new(
            Opts::new("queue_oldest_age_seconds", "Age of the oldest queued job.")
                .namespace(namespace),
            &["queue"],
        )
        .expect("valid metric");
        registry
            .register(Box::new(oldest_age.clone()))
            .expect("unique metric");
        let up = IntGauge::with_opts(
            Opts::new("worker_up", "1 while the worker runs.").namespace(namespace),
        )
        .expect("valid metric");
        registry
            .register(Box::new(up.clone()))
            .expect("unique metric");
        let broker_up = IntGauge::with_opts(
            Opts::new("broker_up", "1 when the last broker call succeeded.").namespace(namespace),
        )
        .expect("valid metric");
        registry
            .register(Box::new(broker_up.clone()))
            .expect("unique metric");
        let gauge = |name: &str, help: &str| {
            let g = IntGauge::with_opts(Opts::new(name, help).namespace(namespace))
                .expect("valid metric");
            registry
                .register(Box::new(g.clone()))
                .expect("unique metric");
            g
        };
        let concurrency = gauge("worker_concurrency", "Job slots of this worker.");
        let workers_live = gauge(
            "workers_live",
            "Workers with a live heartbeat in the broker.",
        );
        let reclaimed = counter(
            "jobs_reclaimed_total",
            "Jobs taken back from workers that stopped beating, by outcome.",
            &["outcome"],
        );
        Self {
            registry,
            started,
            finished,
            duration,
            wait,
            running,
            queue_depth,
            oldest_age,
            stale_acks,
            up,
            broker_up,
            concurrency,
            workers_live,
            reclaimed,
        }
    }

    /// Shows the series of `job` on `queue` from the start, at 0: its
    /// attempts started and finished as succeeded, retried or dead. A
    /// counter that first appears at 1 hides its first increase from
    /// `rate()` and `increase()`, so the first dead job would not show.
    pub fn init_job(&self, queue: &str, job: &str) {
        self.started.with_label_values(&[queue, job]).inc_by(0);
        for outcome in ["succeeded", "retried", "dead"] {
            self.finished
                .with_label_values(&[queue, job, outcome])
                .inc_by(0);
        }
    }

    /// Copies broker counts into the queue gauges.
    pub fn set_queue_stats(&self, stats: &[QueueStats]) {
        for s in stats {
            let q = s.queue.as_str();
            for (state, n) in [
                ("queued", s.queued),
                ("scheduled", s.scheduled),
                ("running", s.running),
                ("dead", s.dead),
            ] {
                self.queue_depth
                    .with_label_values(&[q, state])
                    .set(i64::try_from(n).unwrap_or(i64::MAX));
            }
            self.oldest_age.with_label_values(&[q]).set(s.oldest_age_s);
            self.stale_acks
                .with_label_values(&[q])
                .set(i64::try_from(s.stale_acks).unwrap_or(i64::MAX));
        }
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        encode(&self.registry)
    }
}

/// `<namespace>_jobs_enqueued_total{queue,job}`: jobs this process
/// created, counted by the [`crate::metered()`] broker it enqueues
/// through (the web app, the scheduler, a worker whose jobs enqueue
/// others). An enqueue the id fence turns away does not count. One per
/// process, rendered on its `/metrics`.
#[derive(Clone, Debug)]
pub struct EnqueueMetrics {
    registry: Registry,
    enqueued: IntCounterVec,
}

impl EnqueueMetrics {
    /// Registers the counter under `namespace`.
    #[expect(
        clippy::expect_used,
        reason = "metric definitions are static; a clash is a programming error found at start-up"
    )]
    pub fn new(namespace: &str) -> Self {
        let registry = Registry::new();
        let enqueued = IntCounterVec::new(
            Opts::new("jobs_enqueued_total", "Jobs enqueued by this process.").namespace(namespace),
            JOB,
        )
        .expect("valid metric");
        registry
            .register(Box::new(enqueued.clone()))
            .expect("unique metric");
        Self { registry, enqueued }
    }

    /// The counter of jobs created on `queue` under `job`'s name.
    pub fn counter(&self, queue: &str, job: &str) -> prometheus::IntCounter {
        self.enqueued.with_label_values(&[queue, job])
    }

    /// Jobs counted so far on `queue` under `job`'s name.
    pub fn get(&self, queue: &str, job: &str) -> u64 {
        self.enqueued.with_label_values(&[queue, job]).get()
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        encode(&self.registry)
    }
}

fn encode(registry: &Registry) -> String {
    let mut buf = Vec::new();
    if let Err(e) = TextEncoder::new().encode(&registry.gather(), &mut buf) {
        tracing::error!(error = %e, "could not encode metrics");
    }
    String::from_utf8(buf).unwrap_or_default()
}

/// Metrics of the process itself, for any binary: `<namespace>_build_info`
/// (always 1, labelled with the build's `version` and `revision`) and, on
/// Linux, the `process_*` series: CPU seconds, resident and virtual
/// memory, open and maximum file descriptors, start time.
#[derive(Clone, Debug)]
pub struct ProcessMetrics {
    registry: Registry,
}

impl ProcessMetrics {
    /// Registers the build's labels and the process collector.
    #[expect(
        clippy::expect_used,
        reason = "metric definitions are static; a clash is a programming error found at start-up"
    )]
    pub fn new(namespace: &str, version: &str, revision: &str) -> Self {
        let registry = Registry::new();
        let info = IntGaugeVec::new(
            Opts::new("build_info", "The build that runs: always 1.").namespace(namespace),
            &["version", "revision"],
        )
        .expect("valid metric");
        info.with_label_values(&[version, revision]).set(1);
        registry.register(Box::new(info)).expect("unique metric");
        #[cfg(target_os = "linux")]
        registry
            .register(Box::new(
                prometheus::process_collector::ProcessCollector::for_self(),
            ))
            .expect("unique metric");
        Self { registry }
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        encode(&self.registry)
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
