//! A broker that counts what this process enqueues: every producer (the
//! web app, the scheduler, a job that enqueues the next step) goes through
//! [`Metered`], so `paqueteria_jobs_enqueued_total{queue,job}` is right
//! whichever path the enqueue took.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use prometheus::IntCounter;

use crate::broker::{
    Beat, Broker, BrokerResult, CancelOutcome, DeadAction, Enqueued, JobFilter, JobId, JobInfo,
    JobPage, LeaseRef, Leased, Maintenance, NewJob, QueueStats, Refill, SettledMany, Settlement,
    SharedBroker, ThroughputPoint, WorkerInfo,
};
use crate::clock::Clock;
use crate::metrics::EnqueueMetrics;

/// Wraps `broker` so each job it creates counts in `metrics`; an enqueue
/// the id fence answers "already there" does not count.
pub fn metered(broker: SharedBroker, metrics: &EnqueueMetrics) -> SharedBroker {
    Arc::new(Metered {
        inner: broker,
        metrics: metrics.clone(),
    })
}

/// See [`metered`].
#[derive(Debug)]
pub struct Metered {
    inner: SharedBroker,
    metrics: EnqueueMetrics,
}

/// The counter of `job`'s queue and name, taken before the job moves
/// into the broker: a handle, no copy of the labels.
fn counter(metrics: &EnqueueMetrics, job: &NewJob) -> IntCounter {
    metrics.counter(&job.queue, &job.name)
}

fn count(counter: &IntCounter, done: &Enqueued) {
    if done.created {
        counter.inc();
    }
}

#[async_trait]
impl Broker for Metered {
    fn engine(&self) -> &'static str {
        self.inner.engine()
    }

    fn clock(&self) -> &Clock {
        self.inner.clock()
    }

    async fn enqueue(&self, job: NewJob) -> BrokerResult<Enqueued> {
        let counter = counter(&self.metrics, &job);
        let done = self.inner.enqueue(job).await?;
        count(&counter, &done);
        Ok(done)
    }

    async fn enqueue_many(&self, jobs: Vec<NewJob>) -> BrokerResult<Vec<Enqueued>> {
        let counters: Vec<_> = jobs.iter().map(|j| counter(&self.metrics, j)).collect();
        let done = self.inner.enqueue_many(jobs).await?;
        for (c, d) in counters.iter().zip(&done) {
            count(c, d);
        }
        Ok(done)
    }

    async fn lease(
        &self,
        queues: &[String],
        max: usize,
        worker: &str,
    ) -> BrokerResult<Vec<Leased>> {
        self.inner.lease(queues, max, worker).await
    }

    async fn wait_for_work(&self, queues: &[String], timeout: Duration) {
        self.inner.wait_for_work(queues, timeout).await;
    }

    async fn heartbeat(&self, leases: &[LeaseRef]) -> BrokerResult<Vec<Beat>> {
        self.inner.heartbeat(leases).await
    }

    async fn settle_many(
        &self,
        batch: &[Settlement],
        refill: Option<Refill<'_>>,
    ) -> BrokerResult<SettledMany> {
        self.inner.settle_many(batch, refill).await
    }

    fn settle_calls_in_flight(&self) -> usize {
        self.inner.settle_calls_in_flight()
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

    async fn throughput_series(&self, queues: &[String]) -> BrokerResult<Vec<ThroughputPoint>> {
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

    async fn queues(&self) -> BrokerResult<Vec<String>> {
        self.inner.queues().await
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
