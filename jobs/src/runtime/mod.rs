//! The worker runtime: apalis-core's worker over our broker.
//!
//! apalis drives the loop (poll the backend when the concurrency limit has a
//! free slot, call the service, graceful stop); our parts are:
//! - [`BrokerBackend`]: leases jobs for free slots, sleeps on the broker's
//!   wake-up when idle, retries broker errors itself;
//! - which queue a free slot goes to ([`QueueSpec`]): the queues owed a
//!   slot by their weight first, none over its cap;
//! - [`Dispatch`]: runs a handler under its time limit in its own task and
//!   settles the attempt (ack, retry, dead, snoozed, cancelled, released);
//! - the settler: the attempts that end while a settle call is on the wire
//!   go together in the next one, with their slots' next jobs;
//! - three background loops: heartbeats (extend leases, notice lost and
//!   cancelled ones), housekeeping (promote due jobs, reclaim leases of dead
//!   workers, retention), and the worker's own liveness record.
//!
//! Shutdown (SIGTERM or Ctrl-C): stop leasing, let running jobs finish
//! within the grace period, hand the rest back to their queue at once.

mod backend;
mod dispatch;
mod outage;
mod queues;
mod settler;

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::broker::{Beat, JobId, LeaseRef, SharedBroker, WorkerInfo};
use apalis_core::worker::builder::WorkerBuilder;
use apalis_core::worker::context::WorkerContext;
use tokio::task::AbortHandle;
use tower::limit::ConcurrencyLimitLayer;

pub use backend::BrokerBackend;
pub use dispatch::Dispatch;
pub use outage::Outage;
use queues::QueuePlan;
pub use queues::{QueueSpec, QueueSpecError};

use crate::handler::Handlers;
use crate::metrics::Metrics;

/// The runtime ended on its own, which only a bug in it can cause (broker
/// errors are retried, never returned).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct RuntimeError(String);

/// How a worker runs.
#[derive(Clone, Debug)]
pub struct RuntimeConfig {
    /// Queues to consume, with their weights and caps (default: the queue
    /// `default`). See [`QueueSpec`] for how slots are shared among them.
    pub queues: Vec<QueueSpec>,
    /// Attempts running at once, across all queues.
    pub concurrency: usize,
    /// How long running jobs may finish after a stop signal.
    pub grace: Duration,
    /// The broker's lease length: heartbeats go out every third of it.
    pub lease: Duration,
    /// How often housekeeping runs.
    pub maintain_every: Duration,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        Self {
            queues: vec![QueueSpec::new("default")],
            concurrency: 4,
            grace: Duration::from_secs(25),
            lease: Duration::from_secs(8),
            maintain_every: Duration::from_millis(250),
        }
    }
}

/// Why a running attempt was interrupted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Interrupt {
    None = 0,
    Lost = 1,
    Cancel = 2,
    HandBack = 3,
}

/// One attempt in flight.
pub(crate) struct Running {
    lease: LeaseRef,
    abort: AbortHandle,
    interrupt: AtomicU8,
}

impl Running {
    fn new(lease: LeaseRef, abort: AbortHandle) -> Self {
        Self {
            lease,
            abort,
            interrupt: AtomicU8::new(Interrupt::None as u8),
        }
    }

    fn interrupt(&self) -> Interrupt {
        match self.interrupt.load(Ordering::Acquire) {
            1 => Interrupt::Lost,
            2 => Interrupt::Cancel,
            3 => Interrupt::HandBack,
            _ => Interrupt::None,
        }
    }

    fn stop(&self, why: Interrupt) {
        self.interrupt.store(why as u8, Ordering::Release);
        self.abort.abort();
    }

    fn abort(&self) {
        self.abort.abort();
    }
}

/// Attempts in flight, by job id.
#[derive(Default)]
pub(crate) struct RunningSet(Mutex<HashMap<JobId, Arc<Running>>>);

impl RunningSet {
    fn insert(&self, id: JobId, r: Arc<Running>) {
        if let Ok(mut m) = self.0.lock() {
            m.insert(id, r);
        }
    }
    fn remove(&self, id: &JobId) {
        if let Ok(mut m) = self.0.lock() {
            m.remove(id);
        }
    }
    fn snapshot(&self) -> Vec<Arc<Running>> {
        self.0
            .lock()
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default()
    }
}

/// State shared by the backend, the dispatcher and the loops.
pub(crate) struct Shared {
    broker: SharedBroker,
    handlers: Handlers,
    metrics: Metrics,
    /// The queues' names, for housekeeping and wake-ups.
    queues: Vec<String>,
    /// The queues' shares, caps and counts.
    plan: QueuePlan,
    concurrency: usize,
    worker_id: String,
    /// Jobs leased and not yet settled, whether waiting for apalis or
    /// running: the slots in use. One counter, so the fetcher reads it in
    /// one load; two counts read one after the other could both miss a job
    /// moving from one to the other, and lease one job too many.
    held: AtomicUsize,
    /// Woken whenever an attempt settles and its slot frees.
    slot_freed: tokio::sync::Notify,
    /// Where leased jobs go to wait for apalis (set when the runtime starts).
    next_jobs: std::sync::OnceLock<tokio::sync::mpsc::UnboundedSender<crate::broker::Leased>>,
    /// Where finished attempts go to be settled together (set when the
    /// runtime starts).
    settle_tx: std::sync::OnceLock<tokio::sync::mpsc::UnboundedSender<settler::Pending>>,
    /// Set when the worker stops leasing.
    stopping: std::sync::atomic::AtomicBool,
    running: RunningSet,
    outage: Outage,
}

impl Shared {
    /// Queues jobs leased outside the fetcher (by a settle's refill) for
    /// apalis, counted as held before their slot is released so the
    /// fetcher never sees a slot free twice.
    async fn hand_to_runtime(&self, jobs: Vec<crate::broker::Leased>) {
        for job in jobs {
            self.held.fetch_add(1, Ordering::AcqRel);
            self.plan.hold(&job.queue);
            let sent = match self.next_jobs.get() {
                Some(tx) if !self.stopping.load(Ordering::Acquire) => tx.send(job).map_err(|e| e.0),
                _ => Err(job),
            };
            if let Err(job) = sent {
                self.held.fetch_sub(1, Ordering::AcqRel);
                self.plan.free(&job.queue);
                backend::hand_back(self, &job).await;
            }
        }
    }
}

/// A worker process's job runtime.
pub struct Runtime {
    shared: Arc<Shared>,
    config: RuntimeConfig,
    info: WorkerInfo,
}

impl Runtime {
    /// Builds a runtime; nothing runs until [`Self::run_until_stopped`].
    pub fn build(
        config: RuntimeConfig,
        broker: SharedBroker,
        handlers: Handlers,
        metrics: Metrics,
    ) -> Self {
        let worker_id = format!(
            "{}-{}-{}",
            gethostname::gethostname().to_string_lossy(),
            std::process::id(),
            &uuid::Uuid::now_v7().simple().to_string()[20..]
        );
        for (job, queue) in handlers.typed_jobs() {
            if config.queues.iter().any(|q| q.name == queue) {
                metrics.init_job(queue, job);
            }
        }
        let now = broker.clock().now_ms();
        let info = WorkerInfo {
            id: worker_id.clone(),
            hostname: gethostname::gethostname().to_string_lossy().into_owned(),
            pid: std::process::id(),
            queues: config.queues.iter().map(|q| q.name.clone()).collect(),
            concurrency: config.concurrency,
            started_at_ms: now,
            last_seen_ms: now,
        };
        let shared = Arc::new(Shared {
            outage: Outage::new(metrics.clone()),
            broker,
            handlers,
            metrics,
            queues: config.queues.iter().map(|q| q.name.clone()).collect(),
            plan: QueuePlan::new(&config.queues, config.concurrency.max(1)),
            concurrency: config.concurrency.max(1),
            worker_id,
            held: AtomicUsize::new(0),
            slot_freed: tokio::sync::Notify::new(),
            next_jobs: std::sync::OnceLock::new(),
            settle_tx: std::sync::OnceLock::new(),
            stopping: std::sync::atomic::AtomicBool::new(false),
            running: RunningSet::default(),
        });
        Self {
            shared,
            config,
            info,
        }
    }

    /// This process incarnation's id (new at every start).
    pub fn worker_id(&self) -> &str {
        &self.shared.worker_id
    }

    /// Runs jobs until `shutdown` completes, then stops gracefully.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), RuntimeError> {
        let shared = self.shared.clone();
        let cfg = self.config.clone();
        shared.metrics.up.set(1);
        shared
            .metrics
            .concurrency
            .set(i64::try_from(shared.concurrency).unwrap_or(i64::MAX));
        tracing::info!(
            worker_id = %shared.worker_id,
            queues = %cfg.queues.iter().map(ToString::to_string).collect::<Vec<_>>().join(","),
            concurrency = cfg.concurrency,
            engine = shared.broker.engine(),
            "worker started"
        );

        let (jobs_tx, jobs_rx) = tokio::sync::mpsc::unbounded_channel();
        let (stop_fetching, fetch_stop) = tokio::sync::watch::channel(false);
        let _ = shared.next_jobs.set(jobs_tx.clone());
        let (settle_tx, settle_rx) = tokio::sync::mpsc::unbounded_channel();
        let _ = shared.settle_tx.set(settle_tx);
        let fetcher = tokio::spawn(backend::fetcher(shared.clone(), jobs_tx, fetch_stop));
        let ctx = WorkerContext::new(&shared.worker_id);
        let worker = WorkerBuilder::new(&ctx)
            .backend(BrokerBackend::new(shared.clone(), jobs_rx))
            .layer(ConcurrencyLimitLayer::new(shared.concurrency))
            .build(Dispatch {
                shared: shared.clone(),
            });
        let mut run = tokio::spawn(worker.run());

        // The settler outlives the worker's last attempt: it is stopped
        // with the loops, after the attempts handed back at shutdown.
        let loops = [
            tokio::spawn(settler::settler(shared.clone(), settle_rx)),
            tokio::spawn(heartbeat_loop(shared.clone(), cfg.lease / 3)),
            tokio::spawn(maintain_loop(shared.clone(), cfg.maintain_every)),
            tokio::spawn(liveness_loop(
                shared.clone(),
                self.info.clone(),
                cfg.lease / 3,
            )),
        ];

        tokio::select! {
            () = shutdown => {}
            res = &mut run => {
                // apalis ended on its own: only a bug gets here, since the
                // backend never reports errors.
                for l in &loops { l.abort(); }
                fetcher.abort();
                shared.metrics.up.set(0);
                return match res {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(e)) => Err(RuntimeError(format!("worker stopped: {e}"))),
                    Err(e) => Err(RuntimeError(format!("worker task failed: {e}"))),
                };
            }
        }

        let running = shared.running.snapshot().len();
        tracing::info!(
            running,
            grace_s = cfg.grace.as_secs_f64(),
            "stopping: no new jobs; waiting for running ones"
        );
        shared.stopping.store(true, Ordering::Release);
        let _ = stop_fetching.send(true);
        if let Err(e) = ctx.stop() {
            tracing::debug!(error = %e, "worker context was not running");
        }
        if tokio::time::timeout(cfg.grace, &mut run).await.is_err() {
            let left = shared.running.snapshot();
            tracing::warn!(
                jobs = left.len(),
                "grace period over: handing unfinished jobs back to their queue"
            );
            for r in &left {
                r.stop(Interrupt::HandBack);
            }
            if tokio::time::timeout(Duration::from_secs(5), &mut run)
                .await
                .is_err()
            {
                run.abort();
            }
        }
        if tokio::time::timeout(Duration::from_secs(5), fetcher)
            .await
            .is_err()
        {
            tracing::warn!(
                "lease calls still on the wire at exit; their jobs return when their lease ends"
            );
        }
        for l in &loops {
            l.abort();
        }
        if let Err(e) = shared.broker.unregister_worker(&shared.worker_id).await {
            tracing::debug!(error = %e, "could not unregister the worker");
        }
        shared.metrics.up.set(0);
        tracing::info!("worker stopped");
        Ok(())
    }
}

async fn heartbeat_loop(shared: Arc<Shared>, every: Duration) {
    let mut tick = tokio::time::interval(every.max(Duration::from_millis(100)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let running = shared.running.snapshot();
        if running.is_empty() {
            continue;
        }
        let leases: Vec<LeaseRef> = running.iter().map(|r| r.lease.clone()).collect();
        match shared.broker.heartbeat(&leases).await {
            Ok(beats) => {
                shared.outage.ok();
                for (r, beat) in running.iter().zip(beats) {
                    match beat {
                        Beat::Extended => {}
                        Beat::Lost => r.stop(Interrupt::Lost),
                        Beat::CancelRequested => r.stop(Interrupt::Cancel),
                    }
                }
            }
            Err(e) => shared.outage.failed("heartbeat", &e),
        }
    }
}

async fn maintain_loop(shared: Arc<Shared>, every: Duration) {
    let mut tick = tokio::time::interval(every.max(Duration::from_millis(10)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match shared.broker.maintain(&shared.queues).await {
            Ok(m) => {
                shared.outage.ok();
                let reclaimed = &shared.metrics.reclaimed;
                reclaimed
                    .with_label_values(&["requeued"])
                    .inc_by(m.requeued);
                reclaimed
                    .with_label_values(&["dead"])
                    .inc_by(m.lost_to_dead);
                if m.requeued + m.lost_to_dead > 0 {
                    tracing::warn!(
                        requeued = m.requeued,
                        dead = m.lost_to_dead,
                        "took back jobs of a worker that stopped beating"
                    );
                }
                if m.swept > 0 {
                    tracing::debug!(
                        swept = m.swept,
                        "deleted finished jobs past their retention"
                    );
                }
            }
            Err(e) => shared.outage.failed("maintain", &e),
        }
    }
}

async fn liveness_loop(shared: Arc<Shared>, mut info: WorkerInfo, every: Duration) {
    let mut tick = tokio::time::interval(every.max(Duration::from_millis(100)));
    loop {
        tick.tick().await;
        info.last_seen_ms = shared.broker.clock().now_ms();
        if let Err(e) = shared.broker.register_worker(&info).await {
            shared.outage.failed("register worker", &e);
        }
    }
}
