//! Paquetería's built-in schedule (`scheduler/schedule.toml`), used when
//! `SCHEDULE_FILE` is unset, and how a schedule file is read against
//! Paquetería's job catalog. The engine (ticks, catch-up, leader lease) is
//! `paqueteria_jobs::scheduler`.

use chrono_tz::Tz;
use paqueteria_jobs::scheduler::{Entry, ScheduleError};

/// The built-in schedule.
pub const DEFAULT_SCHEDULE: &str = include_str!("../schedule.toml");

/// Parses a schedule against Paquetería's catalog; `default_tz` applies
/// where an entry names none.
pub fn parse(text: &str, default_tz: Tz) -> Result<Vec<Entry>, ScheduleError> {
    paqueteria_jobs::scheduler::parse(text, default_tz, &paqueteria_core::jobs::catalog())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use chrono::DateTime;
    use paqueteria_jobs::scheduler::utc_text;

    use super::*;

    fn ms(s: &str) -> i64 {
        DateTime::parse_from_rfc3339(s).unwrap().timestamp_millis()
    }

    #[test]
    fn the_defaults_parse() {
        let entries = parse(DEFAULT_SCHEDULE, chrono_tz::America::Bogota).unwrap();
        let names: Vec<_> = entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "cleanup-reports",
                "cleanup-tmp",
                "refresh-dashboard",
                "pickup-reminders",
                "expire-registrations"
            ]
        );
        let reminders = &entries[3];
        // 08:00 in Bogota is 13:00 UTC; the payload gets the local date.
        let tick = reminders.next_after(ms("2026-11-23T12:00:00Z")).unwrap();
        assert_eq!(utc_text(tick), "2026-11-23T13:00:00Z");
        let job = reminders.new_job(tick).unwrap();
        assert_eq!(job.id.as_str(), "pickup-reminders:2026-11-23T13:00:00Z");
        assert_eq!(job.payload, r#"{"date":"2026-11-23"}"#);
        assert_eq!(job.queue, "maintenance");
    }

    #[test]
    fn an_entry_whose_payload_does_not_fit_its_job_is_named() {
        let e = parse(
            "[[entry]]\nname = \"z\"\ncron = \"0 * * * *\"\njob = \"maintenance.daily_reminders\"\npayload = { date = \"tomorrow\" }\n",
            chrono_tz::UTC,
        )
        .unwrap_err()
        .0;
        assert!(e.contains("entry \"z\"") && e.contains("date"), "{e}");
    }
}
