//! An entry's cadence in plain terms, for a console or a CLI to put in
//! words ("every 5 minutes", "Monday to Friday at 09:00"): the common
//! shapes of a cron expression, read from the parsed schedule (so names,
//! ranges and steps are already resolved). Anything else is `None`, and
//! the expression itself is the description.

use chrono::Weekday;
use cron::TimeUnitSpec;

use super::Entry;

/// How often an entry fires, when it has one of the common shapes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cadence {
    /// Every `n` minutes (`n` divides 60), every hour of every day.
    EveryMinutes(u32),
    /// Every `every` hours (`every` divides 24) at `minute`, every day.
    EveryHours {
        /// Hours between runs (1: hourly).
        every: u32,
        /// The minute of the hour.
        minute: u32,
    },
    /// At these wall-clock times (hour, minute), earliest first, on `days`.
    At {
        /// Times of day, earliest first.
        times: Vec<(u32, u32)>,
        /// Which days.
        days: Days,
    },
}

/// The days an [`Cadence::At`] entry runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Days {
    /// Every day.
    Every,
    /// These weekdays, Monday first.
    Weekdays(Vec<Weekday>),
    /// These days of the month, in order.
    MonthDays(Vec<u32>),
}

/// Times of day listed at most; more reads better as the expression.
const MAX_TIMES: usize = 6;

impl Entry {
    /// This entry's cadence, when its expression has a common shape: runs
    /// on the minute (second 0), every month and year, and either every
    /// `n` minutes, every `n` hours, or at a few times of day on every
    /// day, some weekdays or some days of the month.
    pub fn cadence(&self) -> Option<Cadence> {
        let s = &self.schedule;
        let seconds: Vec<u32> = s.seconds().iter().collect();
        if seconds != [0] || !s.months().is_all() || !s.years().is_all() {
            return None;
        }
        let minutes: Vec<u32> = s.minutes().iter().collect();
        let hours: Vec<u32> = s.hours().iter().collect();
        let every_day = s.days_of_month().is_all() && s.days_of_week().is_all();
        if every_day {
            if s.hours().is_all()
                && let Some(n) = step_from_zero(&minutes, 60).filter(|n| *n < 60)
            {
                return Some(Cadence::EveryMinutes(n));
            }
            if let ([minute], Some(every)) = (minutes.as_slice(), step_from_zero(&hours, 24))
                && every < 24
            {
                return Some(Cadence::EveryHours {
                    every,
                    minute: *minute,
                });
            }
        }
        let days = match (s.days_of_month().is_all(), s.days_of_week().is_all()) {
            (true, true) => Days::Every,
            (true, false) => {
                // The cron crate numbers weekdays from 1 (Sunday); Monday first.
                let mut days: Vec<Weekday> = s
                    .days_of_week()
                    .iter()
                    .filter_map(|o| Weekday::try_from(u8::try_from((o + 5) % 7).ok()?).ok())
                    .collect();
                days.sort_by_key(|d| d.num_days_from_monday());
                Days::Weekdays(days)
            }
            (false, true) => Days::MonthDays(s.days_of_month().iter().collect()),
            // Refused when the schedule is read (crontab would run on
            // either, the cron crate on both).
            (false, false) => return None,
        };
        if minutes.len() * hours.len() > MAX_TIMES {
            return None;
        }
        let mut times: Vec<(u32, u32)> = hours
            .iter()
            .flat_map(|h| minutes.iter().map(move |m| (*h, *m)))
            .collect();
        times.sort_unstable();
        Some(Cadence::At { times, days })
    }
}

/// `n` when `values` is exactly 0, n, 2n … below `period` and `n` divides
/// `period`.
fn step_from_zero(values: &[u32], period: u32) -> Option<u32> {
    let n = match values {
        [0] => period,
        [0, n, ..] => *n,
        _ => return None,
    };
    let expected: Vec<u32> = (0..period).step_by(n as usize).collect();
    (period.is_multiple_of(n) && values == expected.as_slice()).then_some(n)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::Catalog;

    #[derive(serde::Serialize, serde::Deserialize)]
    struct Ping {}
    impl crate::Job for Ping {
        const NAME: &'static str = "system.ping";
    }

    fn cadence(cron: &str) -> Option<Cadence> {
        let text = format!("[[entry]]\nname = \"e\"\ncron = \"{cron}\"\njob = \"system.ping\"\n");
        super::super::parse(&text, chrono_tz::UTC, &Catalog::new().with::<Ping>())
            .unwrap()
            .remove(0)
            .cadence()
    }

    #[test]
    fn common_shapes_are_read() {
        use Weekday::*;
        assert_eq!(cadence("* * * * *"), Some(Cadence::EveryMinutes(1)));
        assert_eq!(cadence("*/5 * * * *"), Some(Cadence::EveryMinutes(5)));
        assert_eq!(
            cadence("0 * * * *"),
            Some(Cadence::EveryHours {
                every: 1,
                minute: 0
            })
        );
        assert_eq!(
            cadence("15 * * * *"),
            Some(Cadence::EveryHours {
                every: 1,
                minute: 15
            })
        );
        assert_eq!(
            cadence("0 */6 * * *"),
            Some(Cadence::EveryHours {
                every: 6,
                minute: 0
            })
        );
        assert_eq!(
            cadence("0 7 * * *"),
            Some(Cadence::At {
                times: vec![(7, 0)],
                days: Days::Every
            })
        );
        assert_eq!(
            cadence("30 8,17 * * 1-5"),
            Some(Cadence::At {
                times: vec![(8, 30), (17, 30)],
                days: Days::Weekdays(vec![Mon, Tue, Wed, Thu, Fri])
            })
        );
        assert_eq!(
            cadence("0 9 * * 0,6"),
            Some(Cadence::At {
                times: vec![(9, 0)],
                days: Days::Weekdays(vec![Sat, Sun])
            })
        );
        assert_eq!(
            cadence("0 0 1,15 * *"),
            Some(Cadence::At {
                times: vec![(0, 0)],
                days: Days::MonthDays(vec![1, 15])
            })
        );
    }

    #[test]
    fn uncommon_shapes_are_left_to_the_expression() {
        for cron in [
            "*/7 * * * *", // 7 does not divide 60: runs at :56 then :00
            "0 0 1 1 *",   // once a year
            "*/10 9-17 * * *",
            "30 0 7 * * *", // at second 30
            "*/5 * * * 1-5",
        ] {
            assert_eq!(cadence(cron), None, "{cron}");
        }
    }
}
