//! Dates as a Colombian reader reads them: `2 dic 2026, 14:05` in the
//! business's time zone (`APP_TZ`). (Amounts read `$ 12.500` through
//! `Money`'s own `Display`.)

use chrono::{Datelike, TimeZone, Timelike};

use super::Lang;

/// `ms` (Unix milliseconds) as a day and time in `tz`, in `lang`.
pub fn datetime(ms: i64, tz: chrono_tz::Tz, lang: Lang) -> String {
    let Some(t) = tz.timestamp_millis_opt(ms).single() else {
        return String::new();
    };
    let month = lang.t(&format!("months.m{}", t.month()));
    match lang {
        Lang::Es => format!(
            "{} {month} {}, {:02}:{:02}",
            t.day(),
            t.year(),
            t.hour(),
            t.minute()
        ),
        Lang::En => format!(
            "{month} {}, {}, {:02}:{:02}",
            t.day(),
            t.year(),
            t.hour(),
            t.minute()
        ),
    }
}

/// The day of `ms` in `tz`, in `lang`: `2 dic 2026`, `Dec 2, 2026`.
pub fn date(ms: i64, tz: chrono_tz::Tz, lang: Lang) -> String {
    let Some(t) = tz.timestamp_millis_opt(ms).single() else {
        return String::new();
    };
    let month = lang.t(&format!("months.m{}", t.month()));
    match lang {
        Lang::Es => format!("{} {month} {}", t.day(), t.year()),
        Lang::En => format!("{month} {}, {}", t.day(), t.year()),
    }
}

/// `ms` in UTC, ISO 8601 (for the `title` a pointer shows).
pub fn utc(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_colombian_reads_the_date_and_the_amount_in_their_way() {
        // 2026-12-02 19:05 UTC is 14:05 in Bogotá.
        let ms = 1_796_238_300_000;
        let bogota = chrono_tz::America::Bogota;
        assert_eq!(datetime(ms, bogota, Lang::Es), "2 dic 2026, 14:05");
        assert_eq!(datetime(ms, bogota, Lang::En), "Dec 2, 2026, 14:05");
        assert_eq!(utc(ms), "2026-12-02 19:05 UTC");
        assert_eq!(date(ms, bogota, Lang::Es), "2 dic 2026");
        assert_eq!(date(ms, bogota, Lang::En), "Dec 2, 2026");
        use paqueteria_core::domain::Money;
        assert_eq!(Money::units(12_500).to_string(), "$ 12.500");
        assert_eq!(Money(1_250_050).to_string(), "$ 12.500,50");
    }
}
