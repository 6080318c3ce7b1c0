//! The SQLite engine: the embedded default. Same semantics as the Redis
//! engine on one machine; jobs survive a restart.

use std::path::Path;

use async_trait::async_trait;

use super::{
    Beat, Broker, BrokerConfig, BrokerError, BrokerResult, CancelOutcome, Enqueued, JobId, JobInfo,
    LeaseRef, Leased, Maintenance, NewJob, QueueStats, Settled, WorkerInfo,
};
use crate::clock::Clock;

/// The SQLite engine.
#[derive(Debug, Clone)]
pub struct SqliteBroker {
    config: BrokerConfig,
}

impl SqliteBroker {
    /// Opens (creating when missing) the database file at `path`.
    pub async fn open(path: &Path, config: BrokerConfig) -> BrokerResult<Self> {
        let _ = path;
        Ok(Self { config })
    }
}

fn todo_err() -> BrokerError {
    BrokerError::Failed("the sqlite engine is not implemented yet".to_owned())
}

#[async_trait]
impl Broker for SqliteBroker {
    fn engine(&self) -> &'static str {
        "sqlite"
    }
    fn clock(&self) -> &Clock {
        &self.config.clock
    }
    async fn enqueue(&self, _job: NewJob) -> BrokerResult<Enqueued> {
        Err(todo_err())
    }
    async fn enqueue_many(&self, _jobs: Vec<NewJob>) -> BrokerResult<Vec<Enqueued>> {
        Err(todo_err())
    }
    async fn lease(
        &self,
        _queues: &[String],
        _max: usize,
        _worker: &str,
    ) -> BrokerResult<Vec<Leased>> {
        Err(todo_err())
    }
    async fn wait_for_work(&self, _queues: &[String], timeout: std::time::Duration) {
        tokio::time::sleep(timeout).await;
    }
    async fn heartbeat(&self, _leases: &[LeaseRef]) -> BrokerResult<Vec<Beat>> {
        Err(todo_err())
    }
    async fn ack(&self, _lease: &LeaseRef, _result: Option<&str>) -> BrokerResult<Settled> {
        Err(todo_err())
    }
    async fn retry(
        &self,
        _lease: &LeaseRef,
        _run_at_ms: i64,
        _error: &str,
    ) -> BrokerResult<Settled> {
        Err(todo_err())
    }
    async fn dead(&self, _lease: &LeaseRef, _error: &str) -> BrokerResult<Settled> {
        Err(todo_err())
    }
    async fn release(&self, _lease: &LeaseRef) -> BrokerResult<Settled> {
        Err(todo_err())
    }
    async fn cancelled(&self, _lease: &LeaseRef) -> BrokerResult<Settled> {
        Err(todo_err())
    }
    async fn maintain(&self, _queues: &[String]) -> BrokerResult<Maintenance> {
        Err(todo_err())
    }
    async fn job(&self, _id: &JobId) -> BrokerResult<Option<JobInfo>> {
        Err(todo_err())
    }
    async fn cancel(&self, _id: &JobId) -> BrokerResult<CancelOutcome> {
        Err(todo_err())
    }
    async fn dead_jobs(&self, _queue: Option<&str>, _limit: usize) -> BrokerResult<Vec<JobInfo>> {
        Err(todo_err())
    }
    async fn rerun_dead(&self, _id: &JobId) -> BrokerResult<bool> {
        Err(todo_err())
    }
    async fn rerun_all_dead(&self, _queue: Option<&str>) -> BrokerResult<u64> {
        Err(todo_err())
    }
    async fn discard(&self, _id: &JobId) -> BrokerResult<bool> {
        Err(todo_err())
    }
    async fn purge(&self, _queue: &str) -> BrokerResult<u64> {
        Err(todo_err())
    }
    async fn stats(&self, _queues: &[String]) -> BrokerResult<Vec<QueueStats>> {
        Err(todo_err())
    }
    async fn queues(&self) -> BrokerResult<Vec<String>> {
        Err(todo_err())
    }
    async fn register_worker(&self, _info: &WorkerInfo) -> BrokerResult<()> {
        Err(todo_err())
    }
    async fn unregister_worker(&self, _id: &str) -> BrokerResult<()> {
        Err(todo_err())
    }
    async fn workers(&self) -> BrokerResult<Vec<WorkerInfo>> {
        Err(todo_err())
    }
}
