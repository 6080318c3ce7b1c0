//! The service apalis calls for each leased job: run its handler under the
//! time limit, then settle the attempt with the broker.
//!
//! | handler outcome | settle |
//! |---|---|
//! | `Ok(result)` | ack, result kept |
//! | `Err(Retry)`, time limit, panic | retry after backoff, or dead on the last attempt |
//! | `Err(Abort)`, undecodable payload, no handler | dead |
//! | `Err(Snooze(d))` | scheduled again in `d`; the attempt does not count |
//! | cancel requested (seen by a heartbeat) | cancelled |
//! | lease lost (seen by a heartbeat) | nothing: another worker holds the job now |
//! | shutdown grace over | released back to the queue; the attempt does not count |
//!
//! Handlers run in their own tokio task, so a panic is an error of that
//! attempt, not of the worker, and jobs run in parallel on every core.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::broker::{self, BrokerError, Leased, Settled, Settlement};
use crate::clock::system_now_ms;
use apalis_core::task::Task;
use futures::future::BoxFuture;
use tokio::sync::{mpsc, oneshot};
use tower::Service;
use tracing::Instrument;

use super::{Interrupt, Running, Shared, settler};
use crate::handler::{JobContext, JobError};

/// Runs and settles leased jobs.
#[derive(Clone)]
pub struct Dispatch {
    pub(super) shared: Arc<Shared>,
}

enum Outcome {
    Succeeded(Option<String>),
    Snoozed(Duration),
    Failed(String),
    Dead(String),
    Cancelled,
    Lost,
    HandBack,
}

impl Service<Task<Leased>> for Dispatch {
    type Response = ();
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<(), Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, task: Task<Leased>) -> Self::Future {
        let shared = self.shared.clone();
        let job = task.args;
        // Every log line of the attempt carries the request that caused
        // the job (when it has one), so the two can be found from each other.
        let span = tracing::info_span!(
            "job",
            job_id = %job.id,
            job = %job.name,
            queue = %job.queue,
            attempt = job.attempt,
            request_id = job.request_id.as_deref(),
        );
        Box::pin(
            async move {
                run(shared, job).await;
                Ok(())
            }
            .instrument(span),
        )
    }
}

async fn run(shared: Arc<Shared>, job: Leased) {
    let label = if shared.handlers.contains(&job.name) {
        job.name.as_str()
    } else {
        "unknown"
    };
    let labels = [job.queue.as_str(), label];
    let m = &shared.metrics;
    m.started.with_label_values(&labels).inc();
    m.running.with_label_values(&labels).inc();
    let wait_ms = (system_now_ms() - job.due_at_ms).max(0);
    m.wait
        .with_label_values(&labels)
        .observe(wait_ms as f64 / 1000.0);

    let ctx = JobContext {
        id: job.id.clone(),
        name: job.name.clone(),
        queue: job.queue.clone(),
        attempt: job.attempt,
        worker_id: shared.worker_id.clone(),
        request_id: job.request_id.clone(),
    };
    let started = Instant::now();
    // In the attempt's span: the handler's own log lines carry the job and
    // the request that caused it.
    let handle = tokio::spawn(shared.handlers.call(ctx, &job.payload).in_current_span());
    let running = Arc::new(Running::new(job.lease_ref(), handle.abort_handle()));
    shared.running.insert(job.id.clone(), running.clone());
    let limit = Duration::from_millis(job.policy.timeout_ms.max(1));

    let outcome = match tokio::time::timeout(limit, handle).await {
        Ok(Ok(Ok(result))) => Outcome::Succeeded(result.map(|v| v.to_string())),
        Ok(Ok(Err(JobError::Retry(e)))) => Outcome::Failed(e),
        Ok(Ok(Err(JobError::Abort(e)))) => Outcome::Dead(e),
        Ok(Ok(Err(JobError::Snooze(d)))) => Outcome::Snoozed(d),
        Ok(Err(join)) if join.is_panic() => {
            Outcome::Failed(format!("handler panicked: {}", panic_message(join)))
        }
        Ok(Err(_cancelled)) => match running.interrupt() {
            Interrupt::Cancel => Outcome::Cancelled,
            Interrupt::Lost => Outcome::Lost,
            Interrupt::HandBack | Interrupt::None => Outcome::HandBack,
        },
        Err(_elapsed) => {
            running.abort();
            Outcome::Failed(format!("time limit of {limit:?} exceeded"))
        }
    };
    let elapsed = started.elapsed();
    shared.running.remove(&job.id);

    let lease = job.lease_ref();
    // A busy worker of one queue takes its next job in the same call as
    // the settlement. A worker of several lets the fetcher choose the
    // queue owed the slot.
    let refill = !shared.stopping.load(Ordering::Acquire) && shared.plan.is_single();
    let (outcome, label) = match outcome {
        Outcome::Succeeded(result) => (Some(broker::Outcome::Ack { result }), "succeeded"),
        Outcome::Snoozed(delay) => {
            tracing::debug!(snooze_s = delay.as_secs_f64(), "snoozed; the slot is free");
            let run_at_ms = due_in(delay);
            (Some(broker::Outcome::Snooze { run_at_ms }), "snoozed")
        }
        Outcome::Failed(error) if job.attempt < job.policy.retry.max_attempts => {
            let delay = job.policy.retry.backoff(job.attempt);
            tracing::warn!(%error, retry_in_s = delay.as_secs_f64(), "attempt failed; will retry");
            let run_at_ms = due_in(delay);
            (Some(broker::Outcome::Retry { run_at_ms, error }), "retried")
        }
        Outcome::Failed(error) | Outcome::Dead(error) => {
            tracing::error!(%error, attempts = job.attempt, "job is dead");
            (Some(broker::Outcome::Dead { error }), "dead")
        }
        Outcome::Cancelled => {
            tracing::info!("job cancelled by an operator");
            (Some(broker::Outcome::Cancelled), "cancelled")
        }
        Outcome::Lost => {
            tracing::warn!("lease lost (the broker took the job back); another attempt owns it");
            (None, "lost")
        }
        Outcome::HandBack => (Some(broker::Outcome::Release), "released"),
    };
    // The attempt counts as running until its settlement is handed over.
    let verdict = outcome.map(|o| submit(&shared, Settlement::new(lease, o), refill));
    m.running.with_label_values(&labels).dec();
    m.duration
        .with_label_values(&labels)
        .observe(elapsed.as_secs_f64());
    if let Some(verdict) = verdict {
        log_verdict(verdict.await, label);
    }
    m.finished
        .with_label_values(&[labels[0], labels[1], label])
        .inc();
    shared.plan.free(&job.queue);
    shared.held.fetch_sub(1, Ordering::AcqRel);
    shared.slot_freed.notify_one();
}

/// Hands one attempt's settlement to the settler (see
/// [`super::settler`]); the verdict arrives when its batch is settled.
fn submit(
    shared: &Arc<Shared>,
    settlement: Settlement,
    refill: bool,
) -> BoxFuture<'static, Result<Settled, BrokerError>> {
    let (reply, verdict) = oneshot::channel();
    let pending = settler::Pending {
        settlement,
        refill,
        reply,
    };
    let unsent = match shared.settle_tx.get() {
        Some(tx) => match tx.send(pending) {
            Ok(()) => None,
            Err(mpsc::error::SendError(p)) => Some(p),
        },
        None => Some(pending),
    };
    match unsent {
        None => Box::pin(async move {
            verdict
                .await
                .unwrap_or_else(|_| Err(BrokerError::Unavailable("the settler stopped".into())))
        }),
        // No settler (it stopped): settle this attempt on its own.
        Some(p) => {
            let broker = shared.broker.clone();
            Box::pin(async move {
                broker
                    .settle_one(&p.settlement.lease, p.settlement.outcome)
                    .await
            })
        }
    }
}

/// Logs, in the attempt's span, a verdict that is not a plain success.
fn log_verdict(verdict: Result<Settled, BrokerError>, what: &str) {
    match verdict {
        Ok(Settled::Done) => {}
        Ok(Settled::Stale) => tracing::warn!(
            settle = what,
            "settle rejected: the lease was reclaimed, another attempt owns the job"
        ),
        Err(e) => {
            tracing::error!(error = %e, settle = what, "could not settle; the job runs again when its lease ends");
        }
    }
}

/// The Unix ms `delay` from now.
fn due_in(delay: Duration) -> i64 {
    system_now_ms() + i64::try_from(delay.as_millis()).unwrap_or(i64::MAX / 2)
}

fn panic_message(join: tokio::task::JoinError) -> String {
    match join.try_into_panic() {
        Ok(p) => p
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "non-string panic".to_owned()),
        Err(e) => e.to_string(),
    }
}
