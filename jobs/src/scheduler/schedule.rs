//! The schedule: entries read from a TOML file, checked against a job
//! [`Catalog`], and the ticks each one fires.
//!
//! ```toml
//! [[entry]]
//! name = "nightly-cleanup"       # unique; a tick's job id is "<name>:<tick in UTC>"
//! cron = "0 3 * * 1-5"           # 5 fields (min hour day month weekday), or 6 with seconds first;
//!                               # weekday as in crontab: 0 or 7 Sunday, 1 Monday … 6 Saturday, or SUN–SAT
//! job = "maintenance.cleanup"    # a job of the catalog
//! payload = { older_than_days = 7 }  # its payload; "{date}" in a string becomes the tick's local date
//! tz = "America/Bogota"          # optional; default: the zone given to `parse`
//! catch_up = "once"              # ticks missed while no scheduler ran: "skip" (default), "once", "backfill:N"
//! ```
//!
//! # Ticks and daylight saving
//! A cron expression speaks of wall-clock time in the entry's zone. Ticks
//! are computed on the wall clock first, then placed on the UTC time line:
//! a wall time skipped by a DST jump fires once at the first valid instant
//! after the jump; a wall time that happens twice (the clock goes back)
//! fires once, at its first occurrence. Two wall times that land on the
//! same instant fire once.

use std::str::FromStr;

use crate::broker::{JobId, NewJob};
use crate::catalog::{Catalog, JobKind};
use chrono::{DateTime, LocalResult, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::Deserialize;

/// What to do with ticks missed while no scheduler ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CatchUp {
    /// Fire none of them.
    Skip,
    /// Fire the latest one.
    Once,
    /// Fire up to this many of the latest, oldest first.
    Backfill(u32),
}

impl FromStr for CatchUp {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            "skip" => Ok(Self::Skip),
            "once" => Ok(Self::Once),
            other => other
                .strip_prefix("backfill:")
                .and_then(|n| n.trim().parse::<u32>().ok())
                .filter(|n| *n > 0)
                .map(Self::Backfill)
                .ok_or_else(|| {
                    format!("catch_up {other:?} is not skip, once or backfill:N (N ≥ 1)")
                }),
        }
    }
}

impl std::fmt::Display for CatchUp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Skip => f.write_str("skip"),
            Self::Once => f.write_str("once"),
            Self::Backfill(n) => write!(f, "backfill:{n}"),
        }
    }
}

/// One entry of the schedule.
#[derive(Clone, Debug)]
pub struct Entry {
    /// Unique name; part of each tick's job id.
    pub name: String,
    /// The cron expression as written.
    pub cron: String,
    pub(super) schedule: cron::Schedule,
    /// The zone its cron expression speaks of.
    pub tz: Tz,
    /// The name of the job it enqueues.
    pub job: String,
    kind: JobKind,
    /// The payload, with `{date}` still in it.
    pub payload: serde_json::Value,
    /// What to do with missed ticks.
    pub catch_up: CatchUp,
}

/// A schedule that cannot be used; the message names the entry.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0}")]
pub struct ScheduleError(pub String);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    entry: Vec<RawEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    name: String,
    cron: String,
    job: String,
    #[serde(default)]
    payload: Option<toml::Table>,
    #[serde(default)]
    tz: Option<String>,
    #[serde(default)]
    catch_up: Option<String>,
}

/// Parses a schedule file; `default_tz` applies where an entry names none.
/// Every entry's job must be in `catalog` and accept its payload; the
/// error names the entry.
pub fn parse(text: &str, default_tz: Tz, catalog: &Catalog) -> Result<Vec<Entry>, ScheduleError> {
    let file: File =
        toml::from_str(text).map_err(|e| ScheduleError(format!("the schedule file: {e}")))?;
    let mut entries: Vec<Entry> = Vec::new();
    for raw in file.entry {
        let name = raw.name.trim().to_owned();
        let bad = |what: String| ScheduleError(format!("entry {name:?}: {what}"));
        if name.is_empty()
            || name.len() > 64
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            return Err(bad(
                "name must be 1 to 64 letters, digits, '-', '_' or '.'".to_owned()
            ));
        }
        if entries.iter().any(|e| e.name == name) {
            return Err(bad("name is used twice".to_owned()));
        }
        let schedule = parse_cron(&raw.cron).map_err(&bad)?;
        let tz = match raw.tz.as_deref() {
            Some(z) => z
                .trim()
                .parse::<Tz>()
                .map_err(|_| bad(format!("tz {z:?} is not an IANA time zone")))?,
            None => default_tz,
        };
        let catch_up = match raw.catch_up.as_deref() {
            Some(c) => c.parse().map_err(|e: String| bad(e))?,
            None => CatchUp::Skip,
        };
        let payload = serde_json::to_value(raw.payload.unwrap_or_default())
            .map_err(|e| bad(format!("payload: {e}")))?;
        let kind = *catalog
            .lookup(raw.job.trim())
            .map_err(|e| bad(e.to_string()))?;
        let entry = Entry {
            name: name.clone(),
            kind,
            cron: raw.cron.trim().to_owned(),
            schedule,
            tz,
            job: raw.job.trim().to_owned(),
            payload,
            catch_up,
        };
        // The job must exist and accept the payload (with a sample date).
        entry.new_job(0).map_err(|e| bad(e.to_string()))?;
        entries.push(entry);
    }
    if entries.is_empty() {
        return Err(ScheduleError("the schedule has no [[entry]]".to_owned()));
    }
    Ok(entries)
}

/// Five fields (minute first) or six/seven (seconds first, then optional
/// year). The weekday field reads as in crontab and Celery: 0 or 7 is
/// Sunday, 1 Monday … 6 Saturday, or the names SUN…SAT; it is turned into
/// the `cron` crate's numbering (1 is Sunday … 7 Saturday) here.
fn parse_cron(expr: &str) -> Result<cron::Schedule, String> {
    let mut fields: Vec<String> = expr.split_whitespace().map(str::to_owned).collect();
    let weekday = match fields.len() {
        5 => {
            fields.insert(0, "0".to_owned());
            5
        }
        6 | 7 => 5,
        n => {
            return Err(format!(
                "cron {expr:?} has {n} fields, not 5 (or 6 with seconds)"
            ));
        }
    };
    let any = |f: &str| f == "*" || f == "?";
    if !any(&fields[weekday - 2]) && !any(&fields[weekday]) {
        return Err(format!(
            "cron {expr:?} restricts both the day of the month and the weekday: crontab runs on \
             either, this scheduler would need both; write two entries"
        ));
    }
    fields[weekday] =
        crontab_weekdays(&fields[weekday]).map_err(|e| format!("cron {expr:?}: {e}"))?;
    cron::Schedule::from_str(&fields.join(" ")).map_err(|e| format!("cron {expr:?}: {e}"))
}

/// A crontab weekday field (0–7, Sunday 0 or 7, or the names SUN–SAT) in
/// the `cron` crate's numbering (1–7, Sunday 1): `*` and `?` pass
/// unchanged; names, numbers, ranges and steps become the list of days
/// they name, as crontab reads them (`n/step` runs from n to 7).
fn crontab_weekdays(field: &str) -> Result<String, String> {
    const NAMES: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];
    if field == "*" || field == "?" {
        return Ok(field.to_owned());
    }
    let day = |s: &str| -> Result<u32, String> {
        let upper = s.to_ascii_uppercase();
        if let Some(i) = NAMES.iter().position(|n| *n == upper) {
            return Ok(i as u32);
        }
        s.parse::<u32>()
            .ok()
            .filter(|d| *d <= 7)
            .ok_or_else(|| format!("weekday {s:?} is not 0–7 (0 and 7 are Sunday) or SUN–SAT"))
    };
    let mut days = std::collections::BTreeSet::new();
    for part in field.split(',') {
        let (base, step) = match part.split_once('/') {
            Some((b, s)) => (
                b,
                Some(
                    s.parse::<u32>()
                        .ok()
                        .filter(|s| *s > 0)
                        .ok_or_else(|| format!("weekday step {s:?} is not a whole number ≥ 1"))?,
                ),
            ),
            None => (part, None),
        };
        let (from, to) = match (base, base.split_once('-')) {
            ("*" | "?", _) => (0, 7),
            (_, Some((a, b))) => (day(a)?, day(b)?),
            (_, None) if step.is_some() => (day(base)?, 7),
            (_, None) => (day(base)?, day(base)?),
        };
        if from > to {
            return Err(format!("weekday range {base:?} runs backwards"));
        }
        for d in (from..=to).step_by(step.unwrap_or(1) as usize) {
            // Sunday is 0 or 7 in crontab, 1 in the cron crate.
            days.insert(d % 7 + 1);
        }
    }
    Ok(days
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(","))
}

impl Entry {
    /// The queue its job runs on.
    pub fn queue(&self) -> &'static str {
        self.kind.queue
    }

    /// Ticks after `after_ms` up to and including `until_ms`, oldest first,
    /// at most `limit` of them (the latest ones when there are more).
    pub fn ticks_between(&self, after_ms: i64, until_ms: i64, limit: usize) -> Vec<i64> {
        // Catching up looks back a year at most.
        let after_ms = after_ms.max(until_ms.saturating_sub(366 * 86_400_000));
        let mut out = std::collections::VecDeque::new();
        for t in self.ticks_after(after_ms) {
            if t > until_ms {
                break;
            }
            if out.len() == limit {
                out.pop_front();
            }
            out.push_back(t);
        }
        out.into()
    }

    /// Ticks at or before `until_ms` and after `after_ms`, newest first, at
    /// most `limit` of them: walked backwards, so looking for the last run
    /// costs the ticks it returns, not the ticks since `after_ms`.
    pub fn ticks_before(&self, until_ms: i64, after_ms: i64, limit: usize) -> Vec<i64> {
        // Start a few hours of wall time late: around a DST change the wall
        // clock and the time line disagree by an hour or two.
        let end_wall = self
            .tz
            .timestamp_millis_opt(until_ms)
            .single()
            .map(|d| d.naive_local() + chrono::Duration::hours(3))
            .unwrap_or_default();
        let wall_end = Utc.from_utc_datetime(&end_wall);
        let mut out: Vec<i64> = Vec::new();
        for wall in self.schedule.after(&wall_end).rev() {
            let t = place(self.tz, wall.naive_utc());
            if t > until_ms || out.last().is_some_and(|last| t >= *last) {
                continue;
            }
            if t <= after_ms || out.len() == limit {
                break;
            }
            out.push(t);
        }
        out
    }

    /// The longest time between two consecutive ticks over the week
    /// after `from_ms` (a regular entry's period; for an irregular one, its
    /// longest gap), in ms. `None` when fewer than two ticks fall in it.
    pub fn longest_gap_ms(&self, from_ms: i64) -> Option<i64> {
        const WEEK_MS: i64 = 7 * 86_400_000;
        let mut prev: Option<i64> = None;
        let mut longest: Option<i64> = None;
        for t in self.ticks_after(from_ms).take(MAX_GAP_TICKS) {
            if let Some(p) = prev {
                longest = Some(longest.map_or(t - p, |l: i64| l.max(t - p)));
            }
            prev = Some(t);
            if t > from_ms + WEEK_MS {
                break;
            }
        }
        longest
    }

    /// The next tick strictly after `after_ms`.
    pub fn next_after(&self, after_ms: i64) -> Option<i64> {
        self.ticks_after(after_ms).next()
    }

    /// Ticks strictly after `after_ms`, in order, on the UTC time line.
    pub fn ticks_after(&self, after_ms: i64) -> impl Iterator<Item = i64> + '_ {
        // Start one day of wall time early: around a DST change the wall
        // clock and the time line disagree by up to a few hours.
        let start_wall = self
            .tz
            .timestamp_millis_opt(after_ms)
            .single()
            .map(|d| d.naive_local() - chrono::Duration::days(1))
            .unwrap_or_default();
        let wall_start = Utc.from_utc_datetime(&start_wall);
        let tz = self.tz;
        let mut last = after_ms;
        self.schedule
            .after(&wall_start)
            .map(move |wall| place(tz, wall.naive_utc()))
            .filter(move |t| {
                if *t > last {
                    last = *t;
                    true
                } else {
                    false
                }
            })
    }

    /// The job of the tick at `tick_ms`: its payload with `{date}` filled
    /// in, its id `<entry>:<tick in UTC>`.
    pub fn new_job(&self, tick_ms: i64) -> Result<NewJob, ScheduleError> {
        let date = self
            .tz
            .timestamp_millis_opt(tick_ms)
            .single()
            .map(|d| d.format("%Y-%m-%d").to_string())
            .unwrap_or_default();
        let payload = fill_date(&self.payload, &date);
        let mut job = self
            .kind
            .new_job(&payload.to_string())
            .map_err(|e| ScheduleError(e.to_string()))?;
        job.id = JobId::parse(tick_id(&self.name, tick_ms)).map_err(ScheduleError)?;
        Ok(job)
    }
}

/// Ticks read at most to find an entry's longest gap (a week of minutes).
const MAX_GAP_TICKS: usize = 10_081;

/// `<entry>:<tick in UTC, RFC 3339>`: the job id of one tick.
pub fn tick_id(entry: &str, tick_ms: i64) -> String {
    format!("{entry}:{}", utc_text(tick_ms))
}

/// A Unix-ms instant as `2026-11-23T13:00:00Z`.
pub fn utc_text(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .map(|d| d.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|| ms.to_string())
}

/// A wall time in `tz` on the time line (see the module docs).
fn place(tz: Tz, wall: NaiveDateTime) -> i64 {
    let mut probe = wall;
    // A gap is at most a few hours long; give up on a broken zone table.
    for _ in 0..(24 * 60) {
        match tz.from_local_datetime(&probe) {
            LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => {
                return t.timestamp_millis();
            }
            // In a gap: the first valid minute after it.
            LocalResult::None => probe += chrono::Duration::minutes(1),
        }
    }
    Utc.from_utc_datetime(&wall).timestamp_millis()
}

fn fill_date(v: &serde_json::Value, date: &str) -> serde_json::Value {
    match v {
        serde_json::Value::String(s) => serde_json::Value::String(s.replace("{date}", date)),
        serde_json::Value::Array(a) => a.iter().map(|x| fill_date(x, date)).collect(),
        serde_json::Value::Object(o) => o
            .iter()
            .map(|(k, x)| (k.clone(), fill_date(x, date)))
            .collect::<serde_json::Map<_, _>>()
            .into(),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[derive(serde::Serialize, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Ping {}
    impl crate::Job for Ping {
        const NAME: &'static str = "system.ping";
    }

    /// A job whose payload must hold a date.
    #[derive(serde::Serialize, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Daily {
        date: String,
    }
    impl crate::Job for Daily {
        const NAME: &'static str = "daily.report";
        const QUEUE: &'static str = "reports";
        fn check(&self) -> Result<(), String> {
            chrono::NaiveDate::parse_from_str(&self.date, "%Y-%m-%d")
                .map(|_| ())
                .map_err(|_| format!("date: {:?} is not YYYY-MM-DD", self.date))
        }
    }

    fn catalog() -> Catalog {
        Catalog::new().with::<Ping>().with::<Daily>()
    }

    fn ms(s: &str) -> i64 {
        DateTime::parse_from_rfc3339(s).unwrap().timestamp_millis()
    }

    fn one(cron: &str, tz: &str) -> Entry {
        let text = format!(
            "[[entry]]\nname = \"e\"\ncron = \"{cron}\"\njob = \"system.ping\"\ntz = \"{tz}\"\n"
        );
        parse(&text, chrono_tz::UTC, &catalog()).unwrap().remove(0)
    }

    #[test]
    fn a_bad_entry_is_named() {
        let err = |text: &str| parse(text, chrono_tz::UTC, &catalog()).unwrap_err().0;
        let e =
            err("[[entry]]\nname = \"nightly\"\ncron = \"61 * * * *\"\njob = \"system.ping\"\n");
        assert!(e.starts_with("entry \"nightly\": cron"), "{e}");
        let e = err("[[entry]]\nname = \"x\"\ncron = \"* * *\"\njob = \"system.ping\"\n");
        assert!(e.contains("entry \"x\"") && e.contains("3 fields"), "{e}");
        let e = err("[[entry]]\nname = \"y\"\ncron = \"0 * * * *\"\njob = \"no.such\"\n");
        assert!(
            e.contains("entry \"y\"") && e.contains("unknown job"),
            "{e}"
        );
        let e = err(
            "[[entry]]\nname = \"z\"\ncron = \"0 * * * *\"\njob = \"daily.report\"\npayload = { date = \"tomorrow\" }\n",
        );
        assert!(e.contains("entry \"z\"") && e.contains("date"), "{e}");
        let e = err(
            "[[entry]]\nname = \"w\"\ncron = \"0 * * * *\"\njob = \"system.ping\"\ntz = \"Moon/Base\"\n",
        );
        assert!(e.contains("entry \"w\"") && e.contains("Moon/Base"), "{e}");
        let e = err(
            "[[entry]]\nname = \"v\"\ncron = \"0 * * * *\"\njob = \"system.ping\"\ncatch_up = \"all\"\n",
        );
        assert!(e.contains("entry \"v\"") && e.contains("catch_up"), "{e}");
    }

    #[test]
    fn a_tick_fills_in_its_local_date_and_its_id() {
        let text = "[[entry]]\nname = \"morning\"\ncron = \"0 8 * * *\"\njob = \"daily.report\"\npayload = { date = \"{date}\" }\n";
        let entry = parse(text, chrono_tz::America::Bogota, &catalog())
            .unwrap()
            .remove(0);
        // 08:00 in Bogota is 13:00 UTC; the payload gets the local date.
        let tick = entry.next_after(ms("2026-11-23T12:00:00Z")).unwrap();
        assert_eq!(utc_text(tick), "2026-11-23T13:00:00Z");
        let job = entry.new_job(tick).unwrap();
        assert_eq!(job.id.as_str(), "morning:2026-11-23T13:00:00Z");
        assert_eq!(job.payload, r#"{"date":"2026-11-23"}"#);
        assert_eq!(job.queue, "reports");
    }

    #[test]
    fn a_skipped_wall_time_fires_once_at_the_next_valid_time() {
        // Madrid, 2026-03-29: 02:00 → 03:00 (UTC+1 → UTC+2).
        let daily = one("30 2 * * *", "Europe/Madrid");
        let ticks = daily.ticks_between(ms("2026-03-27T12:00:00Z"), ms("2026-03-31T12:00:00Z"), 10);
        let text: Vec<_> = ticks.iter().map(|t| utc_text(*t)).collect();
        assert_eq!(
            text,
            [
                "2026-03-28T01:30:00Z", // 02:30 CET
                "2026-03-29T01:00:00Z", // 02:30 does not exist: 03:00 CEST
                "2026-03-30T00:30:00Z", // 02:30 CEST
                "2026-03-31T00:30:00Z",
            ]
        );
        // Every 15 minutes through the gap: the four skipped ticks fire once.
        let quarter = one("*/15 * * * *", "Europe/Madrid");
        let ticks =
            quarter.ticks_between(ms("2026-03-29T00:40:00Z"), ms("2026-03-29T01:20:00Z"), 10);
        let text: Vec<_> = ticks.iter().map(|t| utc_text(*t)).collect();
        assert_eq!(
            text,
            [
                "2026-03-29T00:45:00Z", // 01:45 CET
                "2026-03-29T01:00:00Z", // 02:00-02:45 skipped → 03:00 CEST, once
                "2026-03-29T01:15:00Z", // 03:15 CEST
            ]
        );
    }

    #[test]
    fn a_repeated_wall_time_fires_once() {
        // Madrid, 2026-10-25: 03:00 → 02:00 (UTC+2 → UTC+1).
        let daily = one("30 2 * * *", "Europe/Madrid");
        let ticks = daily.ticks_between(ms("2026-10-24T12:00:00Z"), ms("2026-10-26T12:00:00Z"), 10);
        let text: Vec<_> = ticks.iter().map(|t| utc_text(*t)).collect();
        assert_eq!(
            text,
            ["2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"],
            "02:30 happens twice on the 25th and fires at the first"
        );
        let hourly = one("0 * * * *", "Europe/Madrid");
        let ticks =
            hourly.ticks_between(ms("2026-10-24T23:30:00Z"), ms("2026-10-25T02:30:00Z"), 10);
        let text: Vec<_> = ticks.iter().map(|t| utc_text(*t)).collect();
        assert_eq!(
            text,
            [
                "2026-10-25T00:00:00Z", // 02:00 CEST
                // 03:00 CEST = 02:00 CET: the wall clock's second 02:00 is not a new tick
                "2026-10-25T02:00:00Z", // 03:00 CET
            ]
        );
    }

    #[test]
    fn ticks_before_walk_back_newest_first() {
        let quarter = one("*/15 * * * *", "UTC");
        let back = quarter.ticks_before(ms("2026-11-23T10:20:00Z"), ms("2026-11-23T09:40:00Z"), 10);
        let text: Vec<_> = back.iter().map(|t| utc_text(*t)).collect();
        assert_eq!(
            text,
            [
                "2026-11-23T10:15:00Z",
                "2026-11-23T10:00:00Z",
                "2026-11-23T09:45:00Z"
            ]
        );
        assert_eq!(
            quarter.ticks_before(ms("2026-11-23T10:15:00Z"), 0, 2).len(),
            2
        );
        assert_eq!(
            utc_text(quarter.ticks_before(ms("2026-11-23T10:15:00Z"), 0, 1)[0]),
            "2026-11-23T10:15:00Z",
            "a tick at the bound counts"
        );
        // Every second over years: as cheap as the ticks it returns.
        let second = one("* * * * * *", "Europe/Madrid");
        assert_eq!(
            second.ticks_before(ms("2026-10-25T01:00:00Z"), 0, 3).len(),
            3
        );
    }

    #[test]
    fn weekdays_read_as_in_crontab() {
        // 2026-11-22 is a Sunday; the next seven days, Monday first.
        let days = |cron: &str| -> Vec<String> {
            one(cron, "UTC")
                .ticks_between(ms("2026-11-22T12:00:00Z"), ms("2026-11-29T12:00:00Z"), 10)
                .iter()
                .map(|t| {
                    DateTime::<Utc>::from_timestamp_millis(*t)
                        .unwrap()
                        .format("%a")
                        .to_string()
                })
                .collect()
        };
        assert_eq!(days("0 8 * * 1"), ["Mon"]);
        assert_eq!(days("0 8 * * 0"), ["Sun"]);
        assert_eq!(days("0 8 * * 7"), ["Sun"]);
        assert_eq!(days("0 8 * * 1-5"), ["Mon", "Tue", "Wed", "Thu", "Fri"]);
        assert_eq!(days("0 8 * * MON-FRI"), ["Mon", "Tue", "Wed", "Thu", "Fri"]);
        assert_eq!(days("0 8 * * 5-7"), ["Fri", "Sat", "Sun"]);
        assert_eq!(days("0 8 * * */2"), ["Tue", "Thu", "Sat", "Sun"]);
        assert_eq!(days("0 8 * * 6,0"), ["Sat", "Sun"]);
        assert_eq!(days("0 0 8 * * 1"), ["Mon"], "six fields read the same");
        assert_eq!(days("0 8 * * MON-5"), ["Mon", "Tue", "Wed", "Thu", "Fri"]);
        assert_eq!(
            days("0 8 * * 5/1"),
            ["Fri", "Sat", "Sun"],
            "n/step runs to the week's end"
        );
        assert_eq!(days("0 8 * * 1/2"), ["Mon", "Wed", "Fri", "Sun"]);
        assert_eq!(
            days("0 8 * * 0-7"),
            ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
        );
        let err = parse(
            "[[entry]]\nname = \"e\"\ncron = \"0 8 * * 8\"\njob = \"system.ping\"\n",
            chrono_tz::UTC,
            &catalog(),
        )
        .unwrap_err()
        .0;
        assert!(err.contains("weekday \"8\""), "{err}");
        let err = parse(
            "[[entry]]\nname = \"e\"\ncron = \"0 0 1 * 1\"\njob = \"system.ping\"\n",
            chrono_tz::UTC,
            &catalog(),
        )
        .unwrap_err()
        .0;
        assert!(
            err.contains("both the day of the month and the weekday"),
            "{err}"
        );
    }
}
