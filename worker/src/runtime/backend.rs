//! The apalis backend over our broker: leases jobs for the worker's free
//! slots only.
//!
//! apalis polls the backend only once the service (behind a concurrency
//! limit) is ready, so one poll means at least one free slot. A fetch asks
//! the broker for every free slot at once (concurrency minus attempts in
//! flight) and hands the jobs out one per poll; no new fetch starts while
//! any are left, so the worker never holds more jobs than it can run.
//! When nothing is queued the fetch sleeps on the broker's wake-up, not on a
//! timer. Broker errors never reach apalis (a backend error ends an apalis
//! worker): they are retried here with backoff.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::Duration;

use apalis_core::backend::finalize::Ephemeral;
use apalis_core::backend::{Backend, BackendConfig};
use apalis_core::task::Task;
use apalis_core::task::task_id::RandomId;
use apalis_core::worker::context::WorkerContext;
use futures::future::BoxFuture;
use paqueteria_core::BrokerError;
use paqueteria_core::broker::Leased;
use tower::layer::util::Identity;

use super::Shared;

/// Leases jobs from the broker for an apalis worker.
pub struct BrokerBackend {
    shared: Arc<Shared>,
    buffer: VecDeque<Leased>,
    fetch: Option<BoxFuture<'static, Vec<Leased>>>,
    close: Option<BoxFuture<'static, ()>>,
}

impl BrokerBackend {
    pub(super) fn new(shared: Arc<Shared>) -> Self {
        Self {
            shared,
            buffer: VecDeque::new(),
            fetch: None,
            close: None,
        }
    }
}

async fn fetch(shared: Arc<Shared>) -> Vec<Leased> {
    let mut backoff = Duration::from_millis(100);
    loop {
        let free = shared
            .concurrency
            .saturating_sub(shared.in_flight.load(Ordering::Acquire))
            .max(1);
        match shared
            .broker
            .lease(&shared.queues, free, &shared.worker_id)
            .await
        {
            Ok(jobs) if !jobs.is_empty() => {
                shared.outage.ok();
                return jobs;
            }
            Ok(_) => {
                shared.outage.ok();
                backoff = Duration::from_millis(100);
                shared
                    .broker
                    .wait_for_work(&shared.queues, Duration::from_secs(1))
                    .await;
            }
            Err(e) => {
                shared.outage.failed("lease", &e);
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
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
        loop {
            if let Some(job) = self.buffer.pop_front() {
                return Poll::Ready(Some(Ok(Task::new(job))));
            }
            let fut = self
                .fetch
                .get_or_insert_with(|| Box::pin(fetch(self.shared.clone())));
            match Pin::new(fut).poll(cx) {
                Poll::Ready(jobs) => {
                    self.fetch = None;
                    self.buffer.extend(jobs);
                }
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    fn poll_close(
        &mut self,
        cx: &mut Context<'_>,
        _worker: &WorkerContext,
    ) -> Poll<Result<(), Self::Error>> {
        // Jobs leased but not started are handed straight back.
        if self.close.is_none() {
            let leftover: Vec<Leased> = self.buffer.drain(..).collect();
            let broker = self.shared.broker.clone();
            self.close = Some(Box::pin(async move {
                for job in leftover {
                    if let Err(e) = broker.release(&job.lease_ref()).await {
                        tracing::warn!(job_id = %job.id, error = %e, "could not hand back an unstarted job; it returns when its lease ends");
                    }
                }
            }));
        }
        match self.close.as_mut().map(|f| Pin::new(f).poll(cx)) {
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
