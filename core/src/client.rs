//! The typed enqueue client: what the app and the scheduler call.

use crate::broker::{BrokerResult, Enqueued, SharedBroker};
use crate::jobs::Job;

/// Enqueues catalog jobs on a broker.
#[derive(Clone, Debug)]
pub struct JobClient {
    broker: SharedBroker,
}

impl JobClient {
    /// A client over `broker`.
    pub fn new(broker: SharedBroker) -> Self {
        Self { broker }
    }

    /// The broker under this client.
    pub fn broker(&self) -> &SharedBroker {
        &self.broker
    }

    /// Enqueues one job now.
    pub async fn enqueue<J: Job>(&self, job: &J) -> BrokerResult<Enqueued> {
        let new = job
            .to_new_job()
            .map_err(|e| crate::broker::BrokerError::Invalid(e.to_string()))?;
        self.broker.enqueue(new).await
    }

    /// Enqueues one job to run at `at_ms` (Unix ms).
    pub async fn enqueue_at<J: Job>(&self, job: &J, at_ms: i64) -> BrokerResult<Enqueued> {
        let new = job
            .to_new_job()
            .map_err(|e| crate::broker::BrokerError::Invalid(e.to_string()))?
            .at(at_ms);
        self.broker.enqueue(new).await
    }

    /// Enqueues many jobs of one kind in as few round trips as possible.
    pub async fn enqueue_many<J: Job>(&self, jobs: &[J]) -> BrokerResult<Vec<Enqueued>> {
        let new = jobs
            .iter()
            .map(Job::to_new_job)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| crate::broker::BrokerError::Invalid(e.to_string()))?;
        self.broker.enqueue_many(new).await
    }
}
