//! A delegating broker with hooks, for runtime tests that need a broker to
//! fail or wait at a chosen moment.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use paqueteria_jobs::broker::{
    Beat, BrokerError, BrokerResult, CancelOutcome, DeadAction, Enqueued, JobFilter, JobPage,
    LeaseRef, Leased, Maintenance, QueueStats, Refill, SettledMany, Settlement, WorkerInfo,
};
use paqueteria_jobs::{Broker, Clock, JobId, JobInfo, NewJob, SharedBroker};
use tokio::sync::{Notify, oneshot};

/// A broker that passes every call to `inner`, with hooks a test can set:
/// lease calls fail while `down` is set (as a Redis outage seen by the
/// lease calls would), every settle call's batch size is recorded, the
/// next settle calls can be held until the test lets them go, and the
/// number of settle calls the runtime keeps on the wire can be set.
#[derive(Debug, Default)]
pub struct Hooked {
    pub inner: Option<SharedBroker>,
    pub down: AtomicBool,
    pub failed: AtomicUsize,
    /// The number of attempts each settle call carried, in order.
    pub batches: Mutex<Vec<usize>>,
    /// Gates for the next settle calls, one each in order: such a call
    /// reports itself on `held` and waits for its gate to fire (or be
    /// dropped) before it goes to `inner`.
    pub hold_settles: Mutex<VecDeque<oneshot::Receiver<()>>>,
    pub held: Notify,
    /// Settle calls on the wire at once (0: as `inner` says).
    pub settle_calls: AtomicUsize,
}

impl Hooked {
    pub fn new(inner: SharedBroker) -> Self {
        Self {
            inner: Some(inner),
            ..Self::default()
        }
    }

    fn inner(&self) -> &SharedBroker {
        self.inner
            .as_ref()
            .expect("Hooked::new sets the inner broker")
    }
}

#[async_trait]
impl Broker for Hooked {
    fn engine(&self) -> &'static str {
        self.inner().engine()
    }
    fn clock(&self) -> &Clock {
        self.inner().clock()
    }
    async fn enqueue(&self, job: NewJob) -> BrokerResult<Enqueued> {
        self.inner().enqueue(job).await
    }
    async fn enqueue_many(&self, jobs: Vec<NewJob>) -> BrokerResult<Vec<Enqueued>> {
        self.inner().enqueue_many(jobs).await
    }
    async fn lease(
        &self,
        queues: &[String],
        max: usize,
        worker: &str,
    ) -> BrokerResult<Vec<Leased>> {
        if self.down.load(Ordering::SeqCst) {
            self.failed.fetch_add(1, Ordering::SeqCst);
            return Err(BrokerError::Unavailable("the test's outage".to_owned()));
        }
        self.inner().lease(queues, max, worker).await
    }
    async fn wait_for_work(&self, queues: &[String], timeout: Duration) {
        self.inner().wait_for_work(queues, timeout).await;
    }
    async fn heartbeat(&self, leases: &[LeaseRef]) -> BrokerResult<Vec<Beat>> {
        self.inner().heartbeat(leases).await
    }
    async fn settle_many(
        &self,
        batch: &[Settlement],
        refill: Option<Refill<'_>>,
    ) -> BrokerResult<SettledMany> {
        self.batches.lock().unwrap().push(batch.len());
        let hold = self.hold_settles.lock().unwrap().pop_front();
        if let Some(gate) = hold {
            self.held.notify_one();
            let _ = gate.await;
        }
        // The refill is a lease: it fails with the others.
        let refill = refill.filter(|_| !self.down.load(Ordering::SeqCst));
        self.inner().settle_many(batch, refill).await
    }
    fn settle_calls_in_flight(&self) -> usize {
        match self.settle_calls.load(Ordering::SeqCst) {
            0 => self.inner().settle_calls_in_flight(),
            n => n,
        }
    }
    async fn maintain(&self, queues: &[String]) -> BrokerResult<Maintenance> {
        self.inner().maintain(queues).await
    }
    async fn job(&self, id: &JobId) -> BrokerResult<Option<JobInfo>> {
        self.inner().job(id).await
    }
    async fn cancel(&self, id: &JobId) -> BrokerResult<CancelOutcome> {
        self.inner().cancel(id).await
    }
    async fn dead_jobs(&self, queue: Option<&str>, limit: usize) -> BrokerResult<Vec<JobInfo>> {
        self.inner().dead_jobs(queue, limit).await
    }
    async fn rerun_dead(&self, id: &JobId) -> BrokerResult<bool> {
        self.inner().rerun_dead(id).await
    }
    async fn rerun_all_dead(&self, queue: Option<&str>) -> BrokerResult<u64> {
        self.inner().rerun_all_dead(queue).await
    }
    async fn discard(&self, id: &JobId) -> BrokerResult<bool> {
        self.inner().discard(id).await
    }
    async fn purge(&self, queue: &str) -> BrokerResult<u64> {
        self.inner().purge(queue).await
    }
    async fn stats(&self, queues: &[String]) -> BrokerResult<Vec<QueueStats>> {
        self.inner().stats(queues).await
    }
    async fn queues(&self) -> BrokerResult<Vec<String>> {
        self.inner().queues().await
    }
    async fn throughput_series(
        &self,
        queues: &[String],
    ) -> BrokerResult<Vec<paqueteria_jobs::broker::ThroughputPoint>> {
        self.inner().throughput_series(queues).await
    }
    async fn pause_queue(&self, queue: &str) -> BrokerResult<bool> {
        self.inner().pause_queue(queue).await
    }
    async fn resume_queue(&self, queue: &str) -> BrokerResult<bool> {
        self.inner().resume_queue(queue).await
    }
    async fn list_jobs(&self, filter: &JobFilter) -> BrokerResult<JobPage> {
        self.inner().list_jobs(filter).await
    }
    async fn run_now(&self, id: &JobId) -> BrokerResult<bool> {
        self.inner().run_now(id).await
    }
    async fn bulk_dead(&self, action: DeadAction, ids: &[JobId]) -> BrokerResult<u64> {
        self.inner().bulk_dead(action, ids).await
    }
    async fn bulk_dead_matching(
        &self,
        action: DeadAction,
        filter: &JobFilter,
    ) -> BrokerResult<u64> {
        self.inner().bulk_dead_matching(action, filter).await
    }
    async fn register_worker(&self, info: &WorkerInfo) -> BrokerResult<()> {
        self.inner().register_worker(info).await
    }
    async fn unregister_worker(&self, id: &str) -> BrokerResult<()> {
        self.inner().unregister_worker(id).await
    }
    async fn workers(&self) -> BrokerResult<Vec<WorkerInfo>> {
        self.inner().workers().await
    }
}
