//! The handler registry: job name → async function.
//!
//! A handler is an async function from a decoded payload to a result. It
//! says whether a failure is worth retrying: [`JobError::Retry`] for
//! transient trouble (network, timeout, 5xx, 429), [`JobError::Abort`] for
//! what retrying cannot fix (4xx, a missing record), [`JobError::Snooze`]
//! for "not now" (a rate limit): the job gives its slot back and runs again
//! after the delay, the attempt not counted. A payload that does not
//! decode never reaches the handler: it goes to the dead set with the decode
//! error. CPU-heavy handlers register with [`Handlers::register_blocking`]
//! and run on the blocking pool, off the async threads.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use futures::future::BoxFuture;

use crate::broker::JobId;
use crate::job::Job;

/// Why an attempt failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JobError {
    /// Transient: retry with backoff while attempts remain.
    #[error("{0}")]
    Retry(String),
    /// Permanent: straight to the dead set.
    #[error("{0}")]
    Abort(String),
    /// Not a failure: give the slot back and run again after this long,
    /// without counting the attempt (a rate limit that says "not yet", a
    /// resource that is busy). Oban's snooze.
    #[error("snoozed for {0:?}")]
    Snooze(std::time::Duration),
}

impl JobError {
    /// A transient failure.
    pub fn retry(e: impl std::fmt::Display) -> Self {
        Self::Retry(e.to_string())
    }

    /// A permanent failure.
    pub fn abort(e: impl std::fmt::Display) -> Self {
        Self::Abort(e.to_string())
    }

    /// Run again after `delay`, this attempt not counted.
    pub fn snooze(delay: std::time::Duration) -> Self {
        Self::Snooze(delay)
    }
}

/// What a handler returns: an optional JSON result kept with the job.
pub type JobResult = Result<Option<serde_json::Value>, JobError>;

/// What a handler knows about the attempt it runs.
#[derive(Debug, Clone)]
pub struct JobContext {
    /// The job's id (the idempotency key of its side effects by default).
    pub id: JobId,
    /// The job's name.
    pub name: String,
    /// The queue it came from.
    pub queue: String,
    /// This attempt's number, from 1.
    pub attempt: u32,
    /// The worker process incarnation running it.
    pub worker_id: String,
    /// The id of the request that caused the job, if it carries one; a
    /// job it enqueues passes it on ([`crate::JobClient::enqueue_next`]).
    pub request_id: Option<String>,
}

type Handler = Arc<dyn Fn(JobContext, &str) -> BoxFuture<'static, JobResult> + Send + Sync>;

/// The registry: job name → handler.
#[derive(Clone, Default)]
pub struct Handlers {
    map: HashMap<String, Handler>,
    /// The queue of each typed job ([`crate::Job::QUEUE`]).
    queues: HashMap<String, &'static str>,
}

impl std::fmt::Debug for Handlers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.map.keys()).finish()
    }
}

fn decode<J: Job>(payload: &str) -> Result<J, JobError> {
    serde_json::from_str::<J>(payload)
        .map_err(|e| JobError::Abort(format!("payload does not decode as {}: {e}", J::NAME)))
}

impl Handlers {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers an async handler for job `J`; a later registration of the
    /// same name replaces it.
    pub fn register<J, F, Fut>(&mut self, handler: F) -> &mut Self
    where
        J: Job,
        F: Fn(JobContext, J) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = JobResult> + Send + 'static,
    {
        let handler = Arc::new(handler);
        self.queues.insert(J::NAME.to_owned(), J::QUEUE);
        self.map.insert(
            J::NAME.to_owned(),
            Arc::new(move |ctx, payload| {
                let decoded = decode::<J>(payload);
                let handler = handler.clone();
                Box::pin(async move { handler(ctx, decoded?).await })
            }),
        );
        self
    }

    /// Registers a CPU-heavy handler for job `J`: it runs on the
    /// blocking thread pool so it never stalls the async threads.
    pub fn register_blocking<J, F>(&mut self, handler: F) -> &mut Self
    where
        J: Job,
        F: Fn(JobContext, J) -> JobResult + Send + Sync + 'static,
    {
        let handler = Arc::new(handler);
        self.queues.insert(J::NAME.to_owned(), J::QUEUE);
        self.map.insert(
            J::NAME.to_owned(),
            Arc::new(move |ctx, payload| {
                let decoded = decode::<J>(payload);
                let handler = handler.clone();
                Box::pin(async move {
                    let job = decoded?;
                    // A thread of the blocking pool has neither the
                    // attempt's span nor the caller's subscriber: hand
                    // both over, so its log lines carry the job's ids.
                    let span = tracing::Span::current();
                    let dispatch = tracing::dispatcher::get_default(Clone::clone);
                    tokio::task::spawn_blocking(move || {
                        tracing::dispatcher::with_default(&dispatch, || {
                            span.in_scope(|| handler(ctx, job))
                        })
                    })
                    .await
                    .map_err(|e| JobError::Retry(format!("handler panicked: {e}")))?
                })
            }),
        );
        self
    }

    /// Registers a handler under any name, on the raw JSON payload (benchmarks
    /// and tests use this; typed jobs use [`Self::register`]).
    pub fn register_raw<F, Fut>(&mut self, name: &str, handler: F) -> &mut Self
    where
        F: Fn(JobContext, String) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = JobResult> + Send + 'static,
    {
        let handler = Arc::new(handler);
        self.map.insert(
            name.to_owned(),
            Arc::new(move |ctx, payload| {
                let handler = handler.clone();
                let payload = payload.to_owned();
                Box::pin(async move { handler(ctx, payload).await })
            }),
        );
        self
    }

    /// Each typed job's name and queue (raw handlers have no queue of
    /// their own), sorted by name.
    pub fn typed_jobs(&self) -> Vec<(&str, &'static str)> {
        let mut out: Vec<_> = self.queues.iter().map(|(n, q)| (n.as_str(), *q)).collect();
        out.sort_unstable();
        out
    }

    /// Whether a job name has a handler.
    pub fn contains(&self, name: &str) -> bool {
        self.map.contains_key(name)
    }

    /// Starts the handler of `ctx.name` on `payload`: what the runtime does
    /// for every leased job. A name without a handler fails with
    /// [`JobError::Abort`] (straight to the dead set).
    pub fn call(&self, ctx: JobContext, payload: &str) -> BoxFuture<'static, JobResult> {
        match self.map.get(&ctx.name) {
            Some(h) => h(ctx, payload),
            None => {
                let msg = format!("no handler for job {:?} in this worker build", ctx.name);
                Box::pin(async move { Err(JobError::Abort(msg)) })
            }
        }
    }
}
