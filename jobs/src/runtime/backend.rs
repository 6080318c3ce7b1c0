//! The apalis backend over our broker: leases jobs for the worker's free
//! slots only, without waiting for one lease round trip per job.
//!
//! A *fetcher* task keeps lease calls in flight for every free slot:
//! `free = concurrency − held − requested`, where held counts the jobs
//! leased and not settled (waiting for apalis or running). When a job
//! settles, its slot frees and the fetcher asks for one more job at once,
//! even while other lease calls are still on the wire, so the drain rate is
//! not capped by one round trip per job. Leased jobs wait in a channel that
//! apalis polls (apalis itself polls only when its concurrency limit has a
//! free slot). The sum never exceeds the concurrency, so a worker never
//! holds more jobs than it can run.
//!
//! When a lease comes back short, the queues are empty: the fetcher sleeps
//! on the broker's wake-up (pub/sub for Redis) rather than a poll timer.
//! Broker errors never reach apalis (a backend error ends an apalis worker):
//! the fetcher retries them with backoff.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::Duration;

use crate::broker::{BrokerError, Leased};
use apalis_core::backend::finalize::Ephemeral;
use apalis_core::backend::{Backend, BackendConfig};
use apalis_core::task::Task;
use apalis_core::task::task_id::RandomId;
use apalis_core::worker::context::WorkerContext;
use futures::StreamExt;
use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;
use tokio::sync::{mpsc, watch};
use tower::layer::util::Identity;

use super::Shared;

/// Leased jobs waiting for a free slot, handed to apalis one per poll.
pub struct BrokerBackend {
    shared: Arc<Shared>,
    jobs: mpsc::UnboundedReceiver<Leased>,
    close: Option<BoxFuture<'static, ()>>,
}

impl BrokerBackend {
    pub(super) fn new(shared: Arc<Shared>, jobs: mpsc::UnboundedReceiver<Leased>) -> Self {
        Self {
            shared,
            jobs,
            close: None,
        }
    }
}

/// A lease call on the wire: what it asked for, then what it brought.
type LeaseCall = BoxFuture<'static, (Ask, Result<Vec<Leased>, BrokerError>)>;

/// What one lease call asked for.
struct Ask {
    /// Jobs asked for.
    count: usize,
    /// The queues asked, by index into the plan (empty for a single-queue
    /// worker, which asks its one queue for every free slot).
    order: Vec<usize>,
}

/// Keeps the free slots filled until `stop` turns true, then hands back
/// whatever its last lease calls bring.
///
/// A worker of one queue asks for every free slot in one call. A worker of
/// several asks for one job per call, each call in the order the
/// [`super::QueuePlan`] gives at that moment, so each slot goes to the
/// queue owed it (see [`super::QueueSpec`]).
pub(super) async fn fetcher(
    shared: Arc<Shared>,
    tx: mpsc::UnboundedSender<Leased>,
    mut stop: watch::Receiver<bool>,
) {
    let mut pending: FuturesUnordered<LeaseCall> = FuturesUnordered::new();
    let mut requested = 0usize;
    let mut starved = false;
    // Every queue not at its cap was asked and had nothing: a slot freed by
    // a capped queue may let it be asked again.
    let mut capped_out = false;
    let mut errors = 0u32;
    let mut retry_at = tokio::time::Instant::now();
    let mut rng = fastrand::Rng::new();
    let single = shared.plan.is_single();
    loop {
        if *stop.borrow() {
            break;
        }
        let used = shared.held.load(Ordering::Acquire) + requested;
        let free = shared.concurrency.saturating_sub(used);
        if free > 0 && !starved && !capped_out && tokio::time::Instant::now() >= retry_at {
            let ask = if single {
                Ask {
                    count: free,
                    order: Vec::new(),
                }
            } else {
                let order = shared.plan.order(&mut rng);
                if order.is_empty() {
                    // Every queue is at its cap: wait for a slot to free.
                    capped_out = true;
                    continue;
                }
                shared.plan.asking(&order, true);
                Ask { count: 1, order }
            };
            requested += ask.count;
            let s = shared.clone();
            pending.push(Box::pin(async move {
                let res = if ask.order.is_empty() {
                    s.broker.lease(&s.queues, ask.count, &s.worker_id).await
                } else {
                    let names: Vec<String> = ask
                        .order
                        .iter()
                        .map(|&i| s.plan.queues[i].spec.name.clone())
                        .collect();
                    s.broker.lease(&names, ask.count, &s.worker_id).await
                };
                (ask, res)
            }));
            continue;
        }
        tokio::select! {
            Some((ask, res)) = pending.next(), if !pending.is_empty() => {
                requested -= ask.count;
                shared.plan.asking(&ask.order, false);
                // A call came back: the counts it held against the caps are
                // gone, so a queue left out a moment ago may have room.
                capped_out = false;
                match res {
                    Ok(jobs) => {
                        errors = 0;
                        shared.outage.ok();
                        if jobs.len() < ask.count {
                            // Short: every queue asked was empty. Queues left
                            // out for their cap were not asked.
                            starved = true;
                            capped_out = !single && ask.order.len() < shared.plan.queues.len();
                        }
                        for job in jobs {
                            shared.held.fetch_add(1, Ordering::AcqRel);
                            shared.plan.hold(&job.queue);
                            if let Err(mpsc::error::SendError(job)) = tx.send(job) {
                                shared.held.fetch_sub(1, Ordering::AcqRel);
                                shared.plan.free(&job.queue);
                                hand_back(&shared, &job).await;
                            }
                        }
                    }
                    Err(e) => {
                        shared.outage.failed("lease", &e);
                        // Whatever an earlier answer said about the queues,
                        // ask again once the backoff is over.
                        starved = false;
                        capped_out = false;
                        errors += 1;
                        let backoff = Duration::from_millis(100 * 2u64.pow(errors.min(6))).min(Duration::from_secs(5));
                        retry_at = tokio::time::Instant::now() + backoff;
                    }
                }
            }
            () = shared.slot_freed.notified() => {
                if capped_out {
                    // A capped queue may have room again: ask everyone.
                    capped_out = false;
                    starved = false;
                }
            }
            () = shared.broker.wait_for_work(&shared.queues, Duration::from_secs(1)), if starved && pending.is_empty() => {
                starved = false;
                capped_out = false;
            }
            () = tokio::time::sleep_until(retry_at), if errors > 0 && tokio::time::Instant::now() < retry_at => {}
            _ = stop.changed() => {}
        }
    }
    // Stopping: lease calls still on the wire may bring jobs; give them back.
    while let Some((ask, res)) = pending.next().await {
        shared.plan.asking(&ask.order, false);
        if let Ok(jobs) = res {
            for job in jobs {
                hand_back(&shared, &job).await;
            }
        }
    }
}

pub(super) async fn hand_back(shared: &Shared, job: &Leased) {
    if let Err(e) = shared.broker.release(&job.lease_ref()).await {
        tracing::warn!(job_id = %job.id, error = %e, "could not hand back an unstarted job; it returns when its lease ends");
    }
}

impl Backend for BrokerBackend {
    type Task = Task<Leased>;
    type Error = BrokerError;

    fn poll_ready(
        &mut self,
        _cx: &mut Context<'_>,
        _worker: &WorkerContext,
    ) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn poll_next(
        &mut self,
        cx: &mut Context<'_>,
        _worker: &WorkerContext,
    ) -> Poll<Option<Result<Self::Task, Self::Error>>> {
        match self.jobs.poll_recv(cx) {
            // The job keeps its slot (`held`) from the lease to its settle.
            Poll::Ready(Some(job)) => Poll::Ready(Some(Ok(Task::new(job)))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }

    fn poll_close(
        &mut self,
        cx: &mut Context<'_>,
        _worker: &WorkerContext,
    ) -> Poll<Result<(), Self::Error>> {
        // Jobs leased but not started are handed straight back.
        if self.close.is_none() {
            self.jobs.close();
            let mut leftover = Vec::new();
            while let Ok(job) = self.jobs.try_recv() {
                self.shared.held.fetch_sub(1, Ordering::AcqRel);
                self.shared.plan.free(&job.queue);
                leftover.push(job);
            }
            let shared = self.shared.clone();
            self.close = Some(Box::pin(async move {
                for job in leftover {
                    hand_back(&shared, &job).await;
                }
            }));
        }
        match self.close.as_mut().map(|f| f.as_mut().poll(cx)) {
            Some(Poll::Pending) => Poll::Pending,
            _ => Poll::Ready(Ok(())),
        }
    }
}

impl BackendConfig for BrokerBackend {
    type Args = Leased;
    type Id = RandomId;
    type Kind = Ephemeral;
    type Config = ();
    type Layer = Identity;

    fn config(&self) -> &Self::Config {
        &()
    }

    fn middleware(&mut self, _worker: &mut WorkerContext) -> Self::Layer {
        Identity::new()
    }
}
