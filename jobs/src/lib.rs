//! A background job engine for Rust services: what Celery and Celery beat
//! are to a Python service, in one crate.
//!
//! - **Never loses a job.** A job is acknowledged after its handler returns;
//!   a worker killed mid-job (SIGKILL, a lost host) gives its jobs back when
//!   its lease runs out (8 s by default), and every attempt carries a fencing
//!   token so a late worker cannot settle a job that is running elsewhere.
//! - **Retries that mean something.** A handler says [`JobError::Retry`]
//!   (backoff: exponential, capped, jittered), [`JobError::Abort`] (straight
//!   to the dead set), or [`JobError::Snooze`] (run again after a delay, the
//!   attempt not counted). Out of attempts, a job waits in the dead set with
//!   its payload and last error, to be re-run or discarded.
//! - **Effectively once.** A job with an idempotency key gets the id
//!   `name:key`; enqueueing it again while its record exists does nothing.
//! - **Two engines, one behaviour.** Redis ([`broker::redis`], production:
//!   one server, a Redis Cluster when the URL names several nodes, or a
//!   master behind Redis Sentinel, see [`broker::redis::RedisTarget`]) and SQLite ([`broker::sqlite`],
//!   embedded: nothing to install). One conformance suite
//!   (`tests/conformance/`) runs unchanged against both, and against a
//!   cluster.
//! - **Fair queues.** A worker serves several queues, each with an optional
//!   weight and concurrency cap ([`QueueSpec`]), so a slow or rate-limited
//!   queue never starves the others.
//! - **Cron that fires once.** The [`scheduler`] persists its last tick per
//!   entry, holds a leader lease, and enqueues each tick under a
//!   deterministic id: restarts and failovers never fire a tick twice.
//! - **An operator's console in the broker.** Pause and resume a queue,
//!   browse its queued, scheduled, running and dead jobs with filters, run a
//!   waiting job now, retry or discard dead jobs in bulk, and read each
//!   queue's throughput of the last minute and hour ([`Broker`]); all of it
//!   is kept in Redis or SQLite, so it survives restarts.
//!
//! # Guide
//!
//! ## Define a job
//! A job is a plain serde type that names its queue and policy:
//! ```
//! use paqueteria_jobs::{Job, JobPolicy};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Debug, Serialize, Deserialize)]
//! pub struct SendInvoice {
//!     pub invoice_id: i64,
//! }
//!
//! impl Job for SendInvoice {
//!     const NAME: &'static str = "invoice.send"; // stored with every job: never rename
//!     const QUEUE: &'static str = "email";
//!     fn policy() -> JobPolicy {
//!         JobPolicy::new(8, 5, 3600, 60) // 8 attempts, 5 s doubling to 1 h, 60 s limit
//!     }
//!     fn idempotency_key(&self) -> Option<String> {
//!         Some(self.invoice_id.to_string()) // one send per invoice
//!     }
//! }
//! ```
//!
//! ## Register a handler
//! A handler is an async function of the job; its error says what happens
//! next:
//! ```
//! # use paqueteria_jobs::{Job, JobContext, JobError, JobResult, Handlers};
//! # #[derive(serde::Serialize, serde::Deserialize)]
//! # struct SendInvoice { invoice_id: i64 }
//! # impl Job for SendInvoice { const NAME: &'static str = "invoice.send"; }
//! async fn send_invoice(ctx: JobContext, job: SendInvoice) -> JobResult {
//!     if job.invoice_id < 0 {
//!         return Err(JobError::abort("no such invoice")); // to the dead set
//!     }
//!     // ... a 503 from the mail server would be `Err(JobError::retry(e))`
//!     Ok(Some(serde_json::json!({ "sent_by": ctx.worker_id })))
//! }
//!
//! let mut handlers = Handlers::new();
//! handlers.register::<SendInvoice, _, _>(send_invoice);
//! ```
//!
//! ## Enqueue, from any process
//! Producers need only the job type and a broker on the same storage:
//! ```no_run
//! # use paqueteria_jobs::{Job, JobClient, BrokerConfig, EngineConfig, connect};
//! # #[derive(serde::Serialize, serde::Deserialize)]
//! # struct SendInvoice { invoice_id: i64 }
//! # impl Job for SendInvoice { const NAME: &'static str = "invoice.send"; }
//! # async fn produce() -> Result<(), Box<dyn std::error::Error>> {
//! let engine = EngineConfig::redis("redis://127.0.0.1:6379/0", "myapp");
//! let client = JobClient::new(connect(&engine, BrokerConfig::default()).await?);
//! let done = client.enqueue(&SendInvoice { invoice_id: 42 }).await?;
//! println!("enqueued {}", done.id); // "invoice.send:42"
//! # Ok(()) }
//! ```
//!
//! ## Run a worker
//! [`Runtime`] leases jobs for its free slots, runs their handlers under
//! their time limits, heartbeats, takes back the jobs of dead workers, and
//! on SIGTERM stops fetching, lets running jobs finish within the grace
//! period and hands the rest back:
//! ```no_run
//! # use paqueteria_jobs::*;
//! # async fn work(broker: SharedBroker, handlers: Handlers) -> Result<(), Box<dyn std::error::Error>> {
//! let config = RuntimeConfig {
//!     queues: QueueSpec::parse_list("email:3,reports@1,default")?, // weights and caps
//!     concurrency: 8,
//!     ..RuntimeConfig::default()
//! };
//! Runtime::build(config, broker, handlers, Metrics::new())
//!     .run_until_stopped(shutdown_signal())
//!     .await?;
//! # Ok(()) }
//! ```
//!
//! ## Schedule with cron
//! A schedule file names each entry's cron expression, time zone, job and
//! payload ([`scheduler::parse`]); [`scheduler::Scheduler`] enqueues each
//! tick once, across restarts and standby schedulers. See
//! `examples/cron.rs`.
//!
//! ## Test a handler with the embedded engine
//! The SQLite engine needs no server, so a test runs the real runtime:
//! ```
//! # use paqueteria_jobs::*;
//! # #[derive(serde::Serialize, serde::Deserialize)]
//! # struct Add { a: i64, b: i64 }
//! # impl Job for Add { const NAME: &'static str = "math.add"; }
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let broker = connect(&EngineConfig::sqlite(dir.path().join("jobs.db")), BrokerConfig::default()).await?;
//! let mut handlers = Handlers::new();
//! handlers.register::<Add, _, _>(|_ctx, job: Add| async move { Ok(Some((job.a + job.b).into())) });
//!
//! let id = JobClient::new(broker.clone()).enqueue(&Add { a: 2, b: 3 }).await?.id;
//! let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
//! let worker = tokio::spawn(
//!     Runtime::build(RuntimeConfig::default(), broker.clone(), handlers, Metrics::new())
//!         .run_until_stopped(async { let _ = stopped.await; }),
//! );
//! let info = loop {
//!     match broker.job(&id).await? {
//!         Some(info) if info.state == JobState::Succeeded => break info,
//!         _ => broker.wait_for_work(&[], std::time::Duration::from_millis(20)).await,
//!     }
//! };
//! assert_eq!(info.result.as_deref(), Some("5"));
//! let _ = stop.send(());
//! worker.await??;
//! # Ok(()) }
//! ```
//!
//! # Layout
//! - [`job`], [`catalog`], [`policy`]: what a job is.
//! - [`broker`]: the [`Broker`] trait, its types, and its two engines.
//! - [`client`]: the typed enqueue client.
//! - [`handler`]: the registry of handlers and their error type.
//! - [`runtime`]: the worker, on apalis-core.
//! - [`metrics`]: the worker's Prometheus metrics.
//! - [`scheduler`]: cron entries, the state file, the leader lease.
//! - [`clock`], [`shutdown`]: "now" (movable in tests) and the stop signal.
//! - [`testing`]: bounded waits for tests (`eventually`, `job_ended`).
//!
//! # What apalis provides
//! The runtime is apalis-core 1.0: its `Worker` drives the loop (poll the
//! backend while a `tower` concurrency limit has a free slot, call the
//! service, stop gracefully), and `WorkerContext` carries the stop signal.
//! The storage under it is ours: [`runtime::BrokerBackend`] implements
//! apalis-core's `Backend` trait over a [`Broker`], and
//! [`runtime::Dispatch`] is the `tower::Service` that runs a handler and
//! settles its attempt. apalis-redis is not used: on a real Redis it wedged
//! on large backlogs, picked up work only at heartbeats, stopped on one Redis
//! error or one bad payload, and ignored `max_attempts`.

#![deny(missing_docs)]

pub mod broker;
pub mod catalog;
pub mod client;
pub mod clock;
pub mod handler;
pub mod job;
pub mod metered;
pub mod metrics;
pub mod policy;
pub mod runtime;
pub mod scheduler;
pub mod shutdown;
pub mod testing;

pub use broker::{
    Broker, BrokerConfig, BrokerError, BrokerResult, EngineConfig, JobId, JobInfo, JobState,
    NewJob, SharedBroker, connect,
};
pub use catalog::{Catalog, CatalogError, JobKind};
pub use client::JobClient;
pub use clock::Clock;
pub use handler::{Handlers, JobContext, JobError, JobResult};
pub use job::{InvalidJob, Job};
pub use metered::{Metered, metered};
pub use metrics::{EnqueueMetrics, Metrics, ProcessMetrics};
pub use policy::{JobPolicy, Retention, RetryPolicy};
pub use runtime::{QueueSpec, Runtime, RuntimeConfig, RuntimeError};
pub use shutdown::shutdown_signal;
