//! The business's calendar: which local day an instant falls on.

/// The local date (`YYYY-MM-DD`) at `now_ms` in `tz`, and when that day
/// started (Unix ms). A day whose midnight does not exist (a DST jump at
/// midnight) starts at its first valid instant.
pub fn local_day(now_ms: i64, tz: chrono_tz::Tz) -> (String, i64) {
    use chrono::{LocalResult, TimeZone};
    let Some(now) = tz.timestamp_millis_opt(now_ms).single() else {
        return ("1970-01-01".to_owned(), 0);
    };
    let date = now.date_naive();
    let mut start = date.and_time(chrono::NaiveTime::MIN);
    let start_ms = loop {
        match tz.from_local_datetime(&start) {
            LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => break t.timestamp_millis(),
            LocalResult::None => start += chrono::Duration::minutes(15),
        }
    };
    (date.format("%Y-%m-%d").to_string(), start_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_local_day_follows_the_time_zone() {
        // 2026-03-01 03:30 UTC is still 2026-02-28 in Bogota (UTC-5).
        let at = 1_772_335_800_000;
        let (date, start) = local_day(at, chrono_tz::America::Bogota);
        assert_eq!(date, "2026-02-28");
        assert_eq!(start, 1_772_254_800_000); // 2026-02-28 05:00 UTC
        let (date, start) = local_day(at, chrono_tz::UTC);
        assert_eq!(date, "2026-03-01");
        assert_eq!(start, 1_772_323_200_000);
    }

    #[test]
    fn a_day_without_midnight_starts_at_its_first_valid_instant() {
        // Santiago skipped 2022-09-11 00:00 → 01:00 (UTC-4 → UTC-3).
        let noon = 1_662_908_400_000; // 2022-09-11 12:00 local (15:00 UTC)
        let (date, start) = local_day(noon, chrono_tz::America::Santiago);
        assert_eq!(date, "2022-09-11");
        assert_eq!(start, 1_662_868_800_000); // 01:00 local = 04:00 UTC
    }
}
