//! The runtime through broker errors it must ride out: lease calls that fail
//! while every queue is at its cap must neither wedge the worker nor make
//! it spin; once the broker answers again, new jobs run.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use paqueteria_jobs::broker::{
    Beat, BrokerError, BrokerResult, CancelOutcome, DeadAction, Enqueued, JobFilter, JobPage,
    LeaseRef, Leased, Maintenance, QueueStats, Settled, WorkerInfo,
};
use paqueteria_jobs::testing::{eventually, job_ended};
use paqueteria_jobs::{
    Broker, BrokerConfig, Clock, EngineConfig, Handlers, JobId, JobInfo, JobState, Metrics, NewJob,
    QueueSpec, Runtime, RuntimeConfig, SharedBroker, connect,
};

/// A broker whose lease calls fail while `down` is set, as a Redis outage
/// seen by the lease calls would; everything else goes to `inner`.
#[derive(Debug)]
struct FlakyLeases {
    inner: SharedBroker,
    down: AtomicBool,
    failed: AtomicUsize,
}

#[async_trait]
impl Broker for FlakyLeases {
    fn engine(&self) -> &'static str {
        self.inner.engine()
    }
    fn clock(&self) -> &Clock {
        self.inner.clock()
    }
    async fn enqueue(&self, job: NewJob) -> BrokerResult<Enqueued> {
        self.inner.enqueue(job).await
    }
    async fn enqueue_many(&self, jobs: Vec<NewJob>) -> BrokerResult<Vec<Enqueued>> {
        self.inner.enqueue_many(jobs).await
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
        self.inner.lease(queues, max, worker).await
    }
    async fn wait_for_work(&self, queues: &[String], timeout: Duration) {
        self.inner.wait_for_work(queues, timeout).await;
    }
    async fn heartbeat(&self, leases: &[LeaseRef]) -> BrokerResult<Vec<Beat>> {
        self.inner.heartbeat(leases).await
    }
    async fn ack(&self, lease: &LeaseRef, result: Option<&str>) -> BrokerResult<Settled> {
        self.inner.ack(lease, result).await
    }
    async fn retry(&self, lease: &LeaseRef, run_at_ms: i64, error: &str) -> BrokerResult<Settled> {
        self.inner.retry(lease, run_at_ms, error).await
    }
    async fn dead(&self, lease: &LeaseRef, error: &str) -> BrokerResult<Settled> {
        self.inner.dead(lease, error).await
    }
    async fn release(&self, lease: &LeaseRef) -> BrokerResult<Settled> {
        self.inner.release(lease).await
    }
    async fn snooze(&self, lease: &LeaseRef, run_at_ms: i64) -> BrokerResult<Settled> {
        self.inner.snooze(lease, run_at_ms).await
    }
    async fn cancelled(&self, lease: &LeaseRef) -> BrokerResult<Settled> {
        self.inner.cancelled(lease).await
    }
    async fn maintain(&self, queues: &[String]) -> BrokerResult<Maintenance> {
        self.inner.maintain(queues).await
    }
    async fn job(&self, id: &JobId) -> BrokerResult<Option<JobInfo>> {
        self.inner.job(id).await
    }
    async fn cancel(&self, id: &JobId) -> BrokerResult<CancelOutcome> {
        self.inner.cancel(id).await
    }
    async fn dead_jobs(&self, queue: Option<&str>, limit: usize) -> BrokerResult<Vec<JobInfo>> {
        self.inner.dead_jobs(queue, limit).await
    }
    async fn rerun_dead(&self, id: &JobId) -> BrokerResult<bool> {
        self.inner.rerun_dead(id).await
    }
    async fn rerun_all_dead(&self, queue: Option<&str>) -> BrokerResult<u64> {
        self.inner.rerun_all_dead(queue).await
    }
    async fn discard(&self, id: &JobId) -> BrokerResult<bool> {
        self.inner.discard(id).await
    }
    async fn purge(&self, queue: &str) -> BrokerResult<u64> {
        self.inner.purge(queue).await
    }
    async fn stats(&self, queues: &[String]) -> BrokerResult<Vec<QueueStats>> {
        self.inner.stats(queues).await
    }
    async fn queues(&self) -> BrokerResult<Vec<String>> {
        self.inner.queues().await
    }
    async fn throughput_series(
        &self,
        queues: &[String],
    ) -> BrokerResult<Vec<paqueteria_jobs::broker::ThroughputPoint>> {
        self.inner.throughput_series(queues).await
    }
    async fn pause_queue(&self, queue: &str) -> BrokerResult<bool> {
        self.inner.pause_queue(queue).await
    }
    async fn resume_queue(&self, queue: &str) -> BrokerResult<bool> {
        self.inner.resume_queue(queue).await
    }
    async fn list_jobs(&self, filter: &JobFilter) -> BrokerResult<JobPage> {
        self.inner.list_jobs(filter).await
    }
    async fn run_now(&self, id: &JobId) -> BrokerResult<bool> {
        self.inner.run_now(id).await
    }
    async fn bulk_dead(&self, action: DeadAction, ids: &[JobId]) -> BrokerResult<u64> {
        self.inner.bulk_dead(action, ids).await
    }
    async fn bulk_dead_matching(
        &self,
        action: DeadAction,
        filter: &JobFilter,
    ) -> BrokerResult<u64> {
        self.inner.bulk_dead_matching(action, filter).await
    }
    async fn register_worker(&self, info: &WorkerInfo) -> BrokerResult<()> {
        self.inner.register_worker(info).await
    }
    async fn unregister_worker(&self, id: &str) -> BrokerResult<()> {
        self.inner.unregister_worker(id).await
    }
    async fn workers(&self) -> BrokerResult<Vec<WorkerInfo>> {
        self.inner.workers().await
    }
}

/// Two queues capped at one job each and four slots: the first lease call
/// on the wire counts against both caps, so the next finds every queue at
/// its cap. Its failure must not leave the worker waiting for a slot to
/// free (nothing runs) or spinning on its backoff: once the broker answers,
/// a new job runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_leases_again_after_lease_errors_while_every_queue_was_capped() {
    let dir = tempfile::tempdir().unwrap();
    let inner = connect(
        &EngineConfig::sqlite(dir.path().join("jobs.sqlite3")),
        BrokerConfig::default(),
    )
    .await
    .unwrap();
    let flaky = Arc::new(FlakyLeases {
        inner,
        down: AtomicBool::new(true),
        failed: AtomicUsize::new(0),
    });
    let broker: SharedBroker = flaky.clone();
    let mut h = Handlers::new();
    h.register_raw("t", |_ctx, _p| async { Ok(None) });
    let runtime = Runtime::build(
        RuntimeConfig {
            queues: QueueSpec::parse_list("a@1,b@1").unwrap(),
            concurrency: 4,
            ..RuntimeConfig::default()
        },
        broker.clone(),
        h,
        Metrics::new(),
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let worker = tokio::spawn(runtime.run_until_stopped(async {
        let _ = stopped.await;
    }));
    eventually(Duration::from_secs(10), "lease calls to fail", || async {
        flaky.failed.load(Ordering::SeqCst) >= 2
    })
    .await;
    flaky.down.store(false, Ordering::SeqCst);
    let id = broker
        .enqueue(NewJob::new("t", "a", "{}"))
        .await
        .unwrap()
        .id;
    let info = job_ended(&broker, &id, Duration::from_secs(10)).await;
    assert_eq!(info.state, JobState::Succeeded);
    let _ = stop.send(());
    worker.await.unwrap().unwrap();
}
