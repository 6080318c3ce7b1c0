//! The catalog as data: look a job up by name and turn raw JSON into a job
//! the broker accepts (what `worker enqueue <job> '<json>'` does).

use super::payloads::*;
use super::{Job, JobPolicy};
use crate::broker::NewJob;

/// Why a job could not be built.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CatalogError {
    /// No job has that name.
    #[error("unknown job {0:?}; known jobs: {known}", known = known_names())]
    UnknownJob(String),
    /// The payload does not decode or breaks a rule of the job.
    #[error("invalid payload for {job}: {reason}")]
    InvalidPayload {
        /// The job's name.
        job: String,
        /// What is wrong, naming the field.
        reason: String,
    },
}

/// One job of the catalog.
#[derive(Clone, Copy, Debug)]
pub struct CatalogEntry {
    /// Stable name.
    pub name: &'static str,
    /// Its queue.
    pub queue: &'static str,
    /// Its policy.
    pub policy: JobPolicy,
    build: fn(&str) -> Result<NewJob, CatalogError>,
}

impl CatalogEntry {
    fn of<J: Job>() -> Self {
        Self {
            name: J::NAME,
            queue: J::QUEUE,
            policy: J::policy(),
            build: build::<J>,
        }
    }

    /// Decodes and checks `payload` (JSON) and returns the job to enqueue.
    pub fn new_job(&self, payload: &str) -> Result<NewJob, CatalogError> {
        (self.build)(payload)
    }
}

fn build<J: Job>(payload: &str) -> Result<NewJob, CatalogError> {
    let job: J = serde_json::from_str(payload).map_err(|e| CatalogError::InvalidPayload {
        job: J::NAME.to_owned(),
        reason: e.to_string(),
    })?;
    job.to_new_job()
}

/// Every job, in the order of DESIGN.md §2, then the later additions and
/// `system.ping`.
pub fn catalog() -> Vec<CatalogEntry> {
    vec![
        CatalogEntry::of::<GenerateReportPdf>(),
        CatalogEntry::of::<GenerateReportXlsx>(),
        CatalogEntry::of::<StoreReport>(),
        CatalogEntry::of::<SendSms>(),
        CatalogEntry::of::<SendEmail>(),
        CatalogEntry::of::<StoreFile>(),
        CatalogEntry::of::<MakeThumbnail>(),
        CatalogEntry::of::<CleanupReports>(),
        CatalogEntry::of::<CleanupTmp>(),
        CatalogEntry::of::<RefreshDashboard>(),
        CatalogEntry::of::<SendDailyReminders>(),
        CatalogEntry::of::<ExpireRegistrations>(),
        CatalogEntry::of::<Ping>(),
    ]
}

/// The catalog entry of a job name.
pub fn lookup(name: &str) -> Result<CatalogEntry, CatalogError> {
    catalog()
        .into_iter()
        .find(|e| e.name == name)
        .ok_or_else(|| CatalogError::UnknownJob(name.to_owned()))
}

fn known_names() -> String {
    catalog()
        .iter()
        .map(|e| e.name)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_is_unique_and_every_queue_is_a_known_queue() {
        let names: std::collections::HashSet<_> = catalog().iter().map(|e| e.name).collect();
        assert_eq!(names.len(), catalog().len());
        for e in catalog() {
            assert!(super::super::queues::ALL.contains(&e.queue), "{}", e.name);
            assert!(e.policy.retry.max_attempts >= 1);
        }
    }

    #[test]
    fn new_job_uses_the_idempotency_key_as_id() {
        let job = lookup("sms.send")
            .and_then(|e| {
                e.new_job(r#"{"notification_id": 42, "to": "+573001234567", "body": "hola"}"#)
            })
            .map(|j| (j.id.to_string(), j.queue));
        assert_eq!(job, Ok(("sms.send:42".to_owned(), "sms".to_owned())));
    }

    #[test]
    fn new_job_names_the_bad_field() {
        let err = lookup("sms.send")
            .and_then(|e| e.new_job(r#"{"notification_id": 1, "to": "300123", "body": "x"}"#));
        match err {
            Err(CatalogError::InvalidPayload { reason, .. }) => {
                assert!(reason.contains("phone"), "{reason}")
            }
            other => panic!("expected invalid payload, got {other:?}"),
        }
        let err = lookup("sms.send").and_then(|e| {
            e.new_job(r#"{"notification_id": 1, "to": "+573001234567", "body": "x", "extra": 1}"#)
        });
        assert!(
            matches!(err, Err(CatalogError::InvalidPayload { reason, .. }) if reason.contains("extra"))
        );
    }

    #[test]
    fn lookup_of_unknown_job_lists_the_known_ones() {
        let msg = lookup("sms.sned")
            .map(|_| ())
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            msg.contains("sms.send") && msg.contains("report.pdf"),
            "{msg}"
        );
    }
}
