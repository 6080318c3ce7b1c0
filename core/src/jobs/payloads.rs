//! The payload of every job in the catalog.
//!
//! Payloads carry ids of rows, not copies of them, wherever the row exists
//! (a report, an attachment, a notification): the handler reads the current
//! row, and the row is where idempotency is recorded.

use serde::{Deserialize, Serialize};

use paqueteria_jobs::{Job, JobPolicy};

use super::queues;
use crate::domain::Phone;

/// Builds a PDF report of parcels and stores it (`report.pdf`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenerateReportPdf {
    /// The report row that holds the filters and receives the result.
    pub report_id: i64,
}

impl Job for GenerateReportPdf {
    const NAME: &'static str = "report.pdf";
    const QUEUE: &'static str = queues::REPORTS;
    fn policy() -> JobPolicy {
        JobPolicy::new(3, 10, 300, 600)
    }
    fn idempotency_key(&self) -> Option<String> {
        Some(self.report_id.to_string())
    }
}

/// Builds the same report as an Excel workbook (`report.xlsx`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenerateReportXlsx {
    /// The report row.
    pub report_id: i64,
}

impl Job for GenerateReportXlsx {
    const NAME: &'static str = "report.xlsx";
    const QUEUE: &'static str = queues::REPORTS;
    fn policy() -> JobPolicy {
        JobPolicy::new(3, 10, 300, 600)
    }
    fn idempotency_key(&self) -> Option<String> {
        Some(self.report_id.to_string())
    }
}

/// Moves a generated report from `tmp/` to its place and tells the
/// requester (`report.store`), the second step of the report chain.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreReport {
    /// The report row.
    pub report_id: i64,
}

impl Job for StoreReport {
    const NAME: &'static str = "report.store";
    const QUEUE: &'static str = queues::REPORTS;
    fn policy() -> JobPolicy {
        JobPolicy::new(4, 5, 120, 120)
    }
    fn idempotency_key(&self) -> Option<String> {
        Some(self.report_id.to_string())
    }
}

/// Sends one SMS through the gateway (`sms.send`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendSms {
    /// The notification row; its id is the idempotency key.
    pub notification_id: i64,
    /// Recipient, E.164.
    pub to: Phone,
    /// Message text.
    pub body: String,
}

impl Job for SendSms {
    const NAME: &'static str = "sms.send";
    const QUEUE: &'static str = queues::SMS;
    fn policy() -> JobPolicy {
        JobPolicy::new(8, 5, 3600, 30)
    }
    fn idempotency_key(&self) -> Option<String> {
        Some(self.notification_id.to_string())
    }
    fn check(&self) -> Result<(), String> {
        if self.body.trim().is_empty() {
            return Err("body: must not be empty".to_owned());
        }
        Ok(())
    }
}

/// Sends one email over SMTP (`email.send`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendEmail {
    /// The notification row; its id is the idempotency key.
    pub notification_id: i64,
    /// Recipient address.
    pub to: String,
    /// Template name (one per event: `received`, `delivered`, `report_ready`…).
    pub template: String,
    /// Values the template fills in.
    #[serde(default)]
    pub context: serde_json::Value,
}

impl Job for SendEmail {
    const NAME: &'static str = "email.send";
    const QUEUE: &'static str = queues::DEFAULT;
    fn policy() -> JobPolicy {
        JobPolicy::new(8, 5, 3600, 60)
    }
    fn idempotency_key(&self) -> Option<String> {
        Some(self.notification_id.to_string())
    }
    fn check(&self) -> Result<(), String> {
        let parts: Vec<&str> = self.to.split('@').collect();
        if parts.len() != 2 || parts[0].is_empty() || !parts[1].contains('.') {
            return Err(format!("to: {:?} is not an email address", self.to));
        }
        if self.template.trim().is_empty() {
            return Err("template: must not be empty".to_owned());
        }
        Ok(())
    }
}

/// Moves an uploaded file into object storage (`file.store`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreFile {
    /// The attachment row.
    pub attachment_id: i64,
}

impl Job for StoreFile {
    const NAME: &'static str = "file.store";
    const QUEUE: &'static str = queues::FILES;
    fn policy() -> JobPolicy {
        JobPolicy::new(5, 5, 600, 300)
    }
    fn idempotency_key(&self) -> Option<String> {
        Some(self.attachment_id.to_string())
    }
}

/// Makes thumbnails of a parcel photo (`file.thumbnail`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MakeThumbnail {
    /// The attachment row of the photo.
    pub attachment_id: i64,
}

impl Job for MakeThumbnail {
    const NAME: &'static str = "file.thumbnail";
    const QUEUE: &'static str = queues::FILES;
    fn policy() -> JobPolicy {
        JobPolicy::new(5, 5, 600, 120)
    }
    fn idempotency_key(&self) -> Option<String> {
        Some(self.attachment_id.to_string())
    }
}

/// Deletes reports older than the retention (`maintenance.cleanup_reports`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CleanupReports {
    /// Overrides the configured retention, in days.
    #[serde(default)]
    pub older_than_days: Option<u32>,
}

impl Job for CleanupReports {
    const NAME: &'static str = "maintenance.cleanup_reports";
    const QUEUE: &'static str = queues::MAINTENANCE;
    fn policy() -> JobPolicy {
        JobPolicy::new(3, 30, 600, 600)
    }
}

/// Deletes temp and upload leftovers (`maintenance.cleanup_tmp`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CleanupTmp {
    /// Overrides the configured bound, in hours.
    #[serde(default)]
    pub older_than_hours: Option<u32>,
}

impl Job for CleanupTmp {
    const NAME: &'static str = "maintenance.cleanup_tmp";
    const QUEUE: &'static str = queues::MAINTENANCE;
    fn policy() -> JobPolicy {
        JobPolicy::new(3, 30, 600, 600)
    }
}

/// Recomputes the dashboard figures (`maintenance.refresh_dashboard`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefreshDashboard {}

impl Job for RefreshDashboard {
    const NAME: &'static str = "maintenance.refresh_dashboard";
    const QUEUE: &'static str = queues::MAINTENANCE;
    fn policy() -> JobPolicy {
        JobPolicy::new(2, 10, 60, 120)
    }
}

/// Sends one pickup reminder per waiting parcel (`maintenance.daily_reminders`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendDailyReminders {
    /// The local date the reminders are for, `YYYY-MM-DD`.
    pub date: String,
}

impl Job for SendDailyReminders {
    const NAME: &'static str = "maintenance.daily_reminders";
    const QUEUE: &'static str = queues::MAINTENANCE;
    fn policy() -> JobPolicy {
        JobPolicy::new(3, 60, 1800, 1800)
    }
    fn idempotency_key(&self) -> Option<String> {
        Some(self.date.clone())
    }
    fn check(&self) -> Result<(), String> {
        let ok = self.date.len() == 10
            && self.date.char_indices().all(|(i, c)| {
                if i == 4 || i == 7 {
                    c == '-'
                } else {
                    c.is_ascii_digit()
                }
            });
        if ok {
            Ok(())
        } else {
            Err(format!("date: {:?} is not YYYY-MM-DD", self.date))
        }
    }
}

/// Cancels registrations whose parcel was never handed in
/// (`maintenance.expire_registrations`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpireRegistrations {
    /// Overrides the 15-day bound, in days.
    #[serde(default)]
    pub older_than_days: Option<u32>,
}

impl Job for ExpireRegistrations {
    const NAME: &'static str = "maintenance.expire_registrations";
    const QUEUE: &'static str = queues::MAINTENANCE;
    fn policy() -> JobPolicy {
        JobPolicy::new(3, 60, 1800, 600)
    }
}

/// A round trip through the broker and a worker (`system.ping`), for
/// operators checking that workers answer.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ping {}

impl Job for Ping {
    const NAME: &'static str = "system.ping";
    const QUEUE: &'static str = queues::DEFAULT;
    fn policy() -> JobPolicy {
        JobPolicy::new(1, 1, 1, 10)
    }
}
