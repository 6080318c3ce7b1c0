//! Paquetería's job catalog: every job it runs, as a typed payload with a
//! stable name, its queue and its policy (the [`paqueteria_jobs::Job`]
//! trait).
//!
//! The app, the worker and the scheduler all enqueue through these types,
//! so a job cannot be enqueued with a payload the worker does not
//! understand. Handlers live in the `worker` crate (`worker/src/jobs/`);
//! this module only says what each job *is*.
//!
//! | job | queue | max attempts | time limit | idempotency key |
//! |---|---|---|---|---|
//! | `report.pdf` | reports | 3 | 10 min | report id |
//! | `report.xlsx` | reports | 3 | 10 min | report id |
//! | `report.store` | reports | 4 | 2 min | report id |
//! | `sms.send` | sms | 8 | 30 s | notification id |
//! | `email.send` | default | 8 | 60 s | notification id |
//! | `file.store` | files | 5 | 5 min | attachment id |
//! | `file.thumbnail` | files | 5 | 2 min | attachment id |
//! | `maintenance.cleanup_reports` | maintenance | 3 | 10 min | none |
//! | `maintenance.cleanup_tmp` | maintenance | 3 | 10 min | none |
//! | `maintenance.refresh_dashboard` | maintenance | 2 | 2 min | none |
//! | `maintenance.daily_reminders` | maintenance | 3 | 30 min | the local date |
//! | `maintenance.expire_registrations` | maintenance | 3 | 10 min | none |
//! | `system.ping` | default | 1 | 10 s | none |

mod payloads;

pub use paqueteria_jobs::{Catalog, CatalogError, Job, JobKind, JobPolicy};
pub use payloads::*;

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

/// Every job Paquetería runs, in the order of the table above.
pub fn catalog() -> Catalog {
    Catalog::new()
        .with::<GenerateReportPdf>()
        .with::<GenerateReportXlsx>()
        .with::<StoreReport>()
        .with::<SendSms>()
        .with::<SendEmail>()
        .with::<StoreFile>()
        .with::<MakeThumbnail>()
        .with::<CleanupReports>()
        .with::<CleanupTmp>()
        .with::<RefreshDashboard>()
        .with::<SendDailyReminders>()
        .with::<ExpireRegistrations>()
        .with::<Ping>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_is_unique_and_every_queue_is_a_known_queue() {
        let c = catalog();
        let names: std::collections::HashSet<_> = c.kinds().iter().map(|e| e.name).collect();
        assert_eq!(names.len(), c.kinds().len());
        for e in c.kinds() {
            assert!(queues::ALL.contains(&e.queue), "{}", e.name);
            assert!(e.policy.retry.max_attempts >= 1);
        }
    }

    #[test]
    fn new_job_uses_the_idempotency_key_as_id() {
        let job = catalog()
            .lookup("sms.send")
            .and_then(|e| {
                e.new_job(r#"{"notification_id": 42, "to": "+573001234567", "body": "hola"}"#)
            })
            .map(|j| (j.id.to_string(), j.queue));
        assert_eq!(job, Ok(("sms.send:42".to_owned(), "sms".to_owned())));
    }

    #[test]
    fn new_job_names_the_bad_field() {
        let c = catalog();
        let err = c
            .lookup("sms.send")
            .and_then(|e| e.new_job(r#"{"notification_id": 1, "to": "300123", "body": "x"}"#));
        match err {
            Err(CatalogError::InvalidPayload { reason, .. }) => {
                assert!(reason.contains("phone"), "{reason}")
            }
            other => panic!("expected invalid payload, got {other:?}"),
        }
        let err = c.lookup("sms.send").and_then(|e| {
            e.new_job(r#"{"notification_id": 1, "to": "+573001234567", "body": "x", "extra": 1}"#)
        });
        assert!(
            matches!(err, Err(CatalogError::InvalidPayload { reason, .. }) if reason.contains("extra"))
        );
    }

    #[test]
    fn lookup_of_unknown_job_lists_the_known_ones() {
        let msg = catalog()
            .lookup("sms.sned")
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
