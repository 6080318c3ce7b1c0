//! The typed enqueue client: what producers (a web app, the scheduler, a
//! job enqueueing the next step of a chain) call.

use std::time::Duration;

use crate::broker::{BrokerError, BrokerResult, Enqueued, NewJob, SharedBroker};
use crate::job::Job;

/// Enqueues typed jobs on a broker. Cheap to clone; share one per process.
///
/// A job that breaks its own rules ([`Job::check`]) is refused with
/// [`BrokerError::Invalid`] before anything is sent. A job with an
/// idempotency key that is already enqueued is not enqueued again:
/// [`Enqueued::created`] is false and the id is the existing job's.
#[derive(Clone, Debug)]
pub struct JobClient {
    broker: SharedBroker,
}

fn new_job<J: Job>(job: &J) -> BrokerResult<NewJob> {
    job.to_new_job()
        .map_err(|e| BrokerError::Invalid(e.to_string()))
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

    /// Enqueues one job, due now.
    pub async fn enqueue<J: Job>(&self, job: &J) -> BrokerResult<Enqueued> {
        self.broker.enqueue(new_job(job)?).await
    }

    /// Enqueues the next step of a chain from inside a job's handler: due
    /// now, carrying the request id of the job that runs (`cause`), so
    /// the whole chain's log lines lead back to the request.
    pub async fn enqueue_next<J: Job>(
        &self,
        job: &J,
        cause: &crate::handler::JobContext,
    ) -> BrokerResult<Enqueued> {
        self.broker
            .enqueue(new_job(job)?.with_request_id(cause.request_id.clone()))
            .await
    }

    /// Enqueues one job due at `at_ms` (Unix ms, by the broker's clock).
    pub async fn enqueue_at<J: Job>(&self, job: &J, at_ms: i64) -> BrokerResult<Enqueued> {
        self.broker.enqueue(new_job(job)?.at(at_ms)).await
    }

    /// Enqueues one job due `delay` from now (Celery's `countdown`).
    pub async fn enqueue_in<J: Job>(&self, job: &J, delay: Duration) -> BrokerResult<Enqueued> {
        let delay_ms = i64::try_from(delay.as_millis()).unwrap_or(i64::MAX / 2);
        let at_ms = self.broker.clock().now_ms().saturating_add(delay_ms);
        self.enqueue_at(job, at_ms).await
    }

    /// Enqueues many jobs of one kind in as few round trips as the engine
    /// allows; the answers are in the order of `jobs`. One invalid job
    /// refuses the whole batch before anything is sent.
    pub async fn enqueue_many<J: Job>(&self, jobs: &[J]) -> BrokerResult<Vec<Enqueued>> {
        let new = jobs.iter().map(new_job).collect::<BrokerResult<Vec<_>>>()?;
        self.broker.enqueue_many(new).await
    }
}
