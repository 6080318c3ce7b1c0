//! The [`Job`] trait: a plain serde type that names its queue and policy.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::broker::{JobId, NewJob};
use crate::policy::JobPolicy;

/// A job that cannot be enqueued: its payload breaks a rule of the job
/// ([`Job::check`]), does not serialize, or makes an invalid id.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("invalid payload for {job}: {reason}")]
pub struct InvalidJob {
    /// The job's name.
    pub job: String,
    /// What is wrong, naming the field.
    pub reason: String,
}

/// A job: a serde payload with a stable name, a queue and a policy.
///
/// ```
/// use paqueteria_jobs::{Job, JobPolicy};
/// use serde::{Deserialize, Serialize};
///
/// /// Sends the welcome email of a new account.
/// #[derive(Serialize, Deserialize)]
/// struct SendWelcome {
///     user_id: i64,
/// }
///
/// impl Job for SendWelcome {
///     const NAME: &'static str = "email.welcome";
///     const QUEUE: &'static str = "email";
///     fn policy() -> JobPolicy {
///         // 5 attempts, 10 s doubling up to 10 min, 30 s time limit.
///         JobPolicy::new(5, 10, 600, 30)
///     }
///     fn idempotency_key(&self) -> Option<String> {
///         Some(self.user_id.to_string()) // one welcome per user
///     }
/// }
///
/// let job = SendWelcome { user_id: 7 }.to_new_job().unwrap();
/// assert_eq!(job.id.as_str(), "email.welcome:7");
/// assert_eq!(job.queue, "email");
/// ```
pub trait Job: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The stable name stored with every enqueued job, which workers
    /// dispatch on. Never rename a job: jobs already enqueued carry it.
    const NAME: &'static str;
    /// The queue it is enqueued on (default `"default"`).
    const QUEUE: &'static str = "default";

    /// Attempts, backoff and time limit (default [`JobPolicy::default`]).
    fn policy() -> JobPolicy {
        JobPolicy::default()
    }

    /// A key that makes enqueueing idempotent: two enqueues with the same key
    /// give one job (the second returns the first one's id) for as long as the
    /// first job's record exists. `None` (the default) means every enqueue is
    /// a new job.
    fn idempotency_key(&self) -> Option<String> {
        None
    }

    /// Checks what serde cannot (a phone number's form, a non-empty body);
    /// the message names the field. Runs before every enqueue.
    fn check(&self) -> Result<(), String> {
        Ok(())
    }

    /// The job ready to hand to a broker: checked, serialized, its id
    /// `NAME:key` when it has an idempotency key, else a fresh time-ordered
    /// id.
    fn to_new_job(&self) -> Result<NewJob, InvalidJob> {
        let invalid = |reason: String| InvalidJob {
            job: Self::NAME.to_owned(),
            reason,
        };
        self.check().map_err(invalid)?;
        let payload = serde_json::to_string(self).map_err(|e| invalid(e.to_string()))?;
        let id = match self.idempotency_key() {
            Some(key) => JobId::parse(format!("{}:{key}", Self::NAME)).map_err(invalid)?,
            None => JobId::generate(),
        };
        Ok(NewJob {
            id,
            name: Self::NAME.to_owned(),
            queue: Self::QUEUE.to_owned(),
            payload,
            run_at_ms: None,
            policy: Self::policy(),
            request_id: None,
        })
    }
}
