//! The home page's chart: receptions and deliveries of the last 14 days
//! as an inline SVG (no script, no image request), its geometry worked
//! out here so the template only draws.

use chrono::{Datelike, TimeZone};
use paqueteria_core::store::DayFigures;

use super::Lang;

/// Drawing area, in SVG units.
pub const WIDTH: i64 = 560;
/// Height of the bars' area; the day labels go below it.
pub const HEIGHT: i64 = 120;
const SLOT: i64 = WIDTH / 14;
const BAR: i64 = 11;

/// One day's pair of bars.
pub struct DayBars {
    /// Left edge of the received bar.
    pub x: i64,
    /// Left edge of the delivered bar.
    pub x2: i64,
    /// Top and height of the received bar.
    pub received_y: i64,
    pub received_h: i64,
    /// Top and height of the delivered bar.
    pub delivered_y: i64,
    pub delivered_h: i64,
    /// Centre of the day's label.
    pub label_x: i64,
    /// The day of the month.
    pub label: String,
    /// What a screen reader and a hover say: "3 dic: 12 recibidos, 9 entregados".
    pub title: String,
}

/// The chart of `days` (oldest first) in `tz`.
pub struct Chart {
    pub days: Vec<DayBars>,
    /// Width and height of the whole drawing (labels included).
    pub width: i64,
    pub height: i64,
    /// The chart said in one sentence, for its `aria-label`.
    pub summary: String,
}

impl Chart {
    /// The chart of `days`.
    pub fn of(days: &[DayFigures], tz: chrono_tz::Tz, lang: Lang) -> Self {
        let top = days
            .iter()
            .map(|d| d.received.max(d.delivered))
            .max()
            .unwrap_or(0)
            .max(1);
        let height_of = |n: i64| n * HEIGHT / top;
        let bars = days
            .iter()
            .enumerate()
            .map(|(i, d)| {
                let i = i64::try_from(i).unwrap_or(0);
                let x = i * SLOT + (SLOT - 2 * BAR) / 2;
                let (day, month) = tz
                    .timestamp_millis_opt(d.day_start_ms + 12 * 3_600_000)
                    .single()
                    .map_or((0, 1), |t| (t.day(), t.month()));
                let date = format!("{day} {}", lang.t(&format!("months.m{month}")));
                let title = lang
                    .t("home.chart_day")
                    .replace("%{date}", &date)
                    .replace("%{received}", &d.received.to_string())
                    .replace("%{delivered}", &d.delivered.to_string());
                DayBars {
                    x,
                    x2: x + BAR,
                    received_y: HEIGHT - height_of(d.received),
                    received_h: height_of(d.received),
                    delivered_y: HEIGHT - height_of(d.delivered),
                    delivered_h: height_of(d.delivered),
                    label_x: x + BAR,
                    label: day.to_string(),
                    title,
                }
            })
            .collect();
        let received: i64 = days.iter().map(|d| d.received).sum();
        let delivered: i64 = days.iter().map(|d| d.delivered).sum();
        Self {
            days: bars,
            width: WIDTH,
            height: HEIGHT + 16,
            summary: lang
                .t("home.chart_summary")
                .replace("%{received}", &received.to_string())
                .replace("%{delivered}", &delivered.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_busiest_day_fills_the_height_and_an_empty_one_draws_nothing() {
        let day = 86_400_000;
        let start = 1_764_738_000_000; // 3 Dec 2025, 00:00 in Bogotá
        let days: Vec<DayFigures> = (0..14)
            .map(|i| DayFigures {
                day_start_ms: start + i * day,
                received: if i == 13 { 40 } else { i },
                delivered: if i == 0 { 0 } else { 10 },
            })
            .collect();
        let c = Chart::of(&days, chrono_tz::America::Bogota, Lang::Es);
        assert_eq!(c.days.len(), 14);
        assert_eq!(c.days[13].received_h, HEIGHT);
        assert_eq!(c.days[13].received_y, 0);
        assert_eq!(c.days[0].received_h, 0);
        assert_eq!(c.days[0].delivered_h, 0);
        assert_eq!(c.days[1].delivered_h, HEIGHT / 4);
        assert_eq!(c.days[0].label, "3");
        assert!(c.days[0].title.starts_with("3 dic"), "{}", c.days[0].title);
        assert!(c.days.iter().all(|d| d.x2 + BAR <= WIDTH));
    }
}
