//! The job catalog: every job Paquetería runs, as a typed payload with a
//! stable name, its queue and its policy.
//!
//! The app, the worker and the scheduler all enqueue through this catalog, so
//! a job cannot be enqueued with a payload the worker does not understand.
//! Handlers live in the `worker` crate (`worker/src/jobs/`); this module only
//! says what each job *is*.
//!
//! | job | queue | max attempts | time limit | idempotency key |
//! |---|---|---|---|---|
//! | `report.pdf` | reports | 3 | 10 min | report id |
//! | `report.xlsx` | reports | 3 | 10 min | report id |
//! | `sms.send` | sms | 8 | 30 s | notification id |
//! | `email.send` | default | 8 | 60 s | notification id |
//! | `file.store` | files | 5 | 5 min | attachment id |
//! | `file.thumbnail` | files | 5 | 2 min | attachment id |
//! | `maintenance.cleanup_reports` | maintenance | 3 | 10 min | none |
//! | `maintenance.cleanup_tmp` | maintenance | 3 | 10 min | none |
//! | `maintenance.refresh_dashboard` | maintenance | 2 | 2 min | none |
//! | `maintenance.daily_reminders` | maintenance | 3 | 30 min | the local date |
//! | `system.ping` | default | 1 | 10 s | none |

mod catalog;
mod payloads;
mod policy;

pub use catalog::{CatalogEntry, CatalogError, catalog, lookup};
pub use payloads::*;
pub use policy::{JobPolicy, RetryPolicy};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::broker::{JobId, NewJob};

/// The five queues a worker consumes by default.
pub mod queues {
    /// PDF and Excel reports: slow, CPU-heavy.
    pub const REPORTS: &str = "reports";
    /// Outbound SMS.
    pub const SMS: &str = "sms";
    /// Uploads and thumbnails.
    pub const FILES: &str = "files";
    /// Clean-ups, dashboard refresh, reminders.
    pub const MAINTENANCE: &str = "maintenance";
    /// Email and anything without a queue of its own.
    pub const DEFAULT: &str = "default";
    /// Every queue, in the order `worker inspect` prints them.
    pub const ALL: [&str; 5] = [REPORTS, SMS, FILES, MAINTENANCE, DEFAULT];
}

/// A job: a serde payload with a stable name, a queue and a policy.
pub trait Job: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The stable name stored with every enqueued job. Never rename one:
    /// jobs already in Redis carry it.
    const NAME: &'static str;
    /// The queue it is enqueued on.
    const QUEUE: &'static str;

    /// Retry policy and time limit.
    fn policy() -> JobPolicy;

    /// A key that makes enqueueing idempotent: two enqueues with the same key
    /// give one job (the second returns the first one's id) for as long as the
    /// first job's record exists. `None` means every enqueue is a new job.
    fn idempotency_key(&self) -> Option<String> {
        None
    }

    /// Checks what serde cannot (an E.164 phone, a non-empty body).
    fn check(&self) -> Result<(), String> {
        Ok(())
    }

    /// The job ready to hand to a broker: id from the idempotency key when
    /// there is one, otherwise a fresh time-ordered id.
    fn to_new_job(&self) -> Result<NewJob, CatalogError> {
        self.check()
            .map_err(|reason| CatalogError::InvalidPayload {
                job: Self::NAME.to_owned(),
                reason,
            })?;
        let payload = serde_json::to_string(self).map_err(|e| CatalogError::InvalidPayload {
            job: Self::NAME.to_owned(),
            reason: e.to_string(),
        })?;
        let id = match self.idempotency_key() {
            Some(key) => JobId::parse(format!("{}:{key}", Self::NAME)).map_err(|reason| {
                CatalogError::InvalidPayload {
                    job: Self::NAME.to_owned(),
                    reason,
                }
            })?,
            None => JobId::generate(),
        };
        Ok(NewJob {
            id,
            name: Self::NAME.to_owned(),
            queue: Self::QUEUE.to_owned(),
            payload,
            run_at_ms: None,
            policy: Self::policy(),
        })
    }
}
