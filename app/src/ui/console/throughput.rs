//! The overview's throughput chart: the last hour minute by minute, jobs
//! that succeeded under attempts that failed, as an inline SVG whose
//! geometry is worked out here so the template only draws.

use chrono::TimeZone;
use paqueteria_core::domain::thousands;
use paqueteria_jobs::broker::ThroughputPoint;

use super::super::Lang;

/// Drawing area, in SVG units.
pub const WIDTH: i64 = 600;
/// Height of the bars' area; the labels go below it.
pub const HEIGHT: i64 = 100;
/// Width of one bar.
pub const BAR: i64 = 8;

/// One minute's stacked bar.
pub struct MinuteBar {
    pub x: i64,
    /// Top and height of the succeeded part (at the bottom).
    pub ok_y: i64,
    pub ok_h: i64,
    /// Top and height of the failed part (on top of it).
    pub failed_y: i64,
    pub failed_h: i64,
    /// "14:05: 120 bien, 3 fallidos".
    pub title: String,
}

/// The hour's chart.
pub struct ThroughputChart {
    pub bars: Vec<MinuteBar>,
    /// Labels under the bars: x, anchor (`start`, `middle`, `end`), text.
    pub labels: Vec<(i64, &'static str, String)>,
    pub width: i64,
    pub height: i64,
    /// The chart said in one sentence.
    pub summary: String,
}

impl ThroughputChart {
    /// The chart of `series` (oldest first), times in `tz`.
    pub fn of(series: &[ThroughputPoint], tz: chrono_tz::Tz, lang: Lang) -> Self {
        let n = i64::try_from(series.len()).unwrap_or(0).max(1);
        let slot = WIDTH / n;
        let top = series
            .iter()
            .map(|p| p.succeeded + p.failed)
            .max()
            .unwrap_or(0)
            .max(1);
        let height_of = |v: u64| i64::try_from(v * HEIGHT as u64 / top).unwrap_or(HEIGHT);
        let bars = series
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let x = i64::try_from(i).unwrap_or(0) * slot + (slot - BAR) / 2;
                let ok_h = height_of(p.succeeded);
                let failed_h = height_of(p.succeeded + p.failed) - ok_h;
                let time = tz
                    .timestamp_millis_opt(p.end_ms - 60_000)
                    .single()
                    .map(|t| t.format("%H:%M").to_string())
                    .unwrap_or_default();
                MinuteBar {
                    x,
                    ok_y: HEIGHT - ok_h,
                    ok_h,
                    failed_y: HEIGHT - ok_h - failed_h,
                    failed_h,
                    title: lang
                        .t("console.chart_minute")
                        .replace("%{time}", &time)
                        .replace("%{ok}", &thousands(p.succeeded))
                        .replace("%{failed}", &thousands(p.failed)),
                }
            })
            .collect();
        let labels = vec![
            (
                0,
                "start",
                lang.t_with("console.chart_ago", "n", &n.to_string()),
            ),
            (
                WIDTH / 2,
                "middle",
                lang.t_with("console.chart_ago", "n", &(n - n / 2).to_string()),
            ),
            (WIDTH, "end", lang.t("console.chart_now")),
        ];
        let ok: u64 = series.iter().map(|p| p.succeeded).sum();
        let failed: u64 = series.iter().map(|p| p.failed).sum();
        Self {
            bars,
            labels,
            width: WIDTH,
            height: HEIGHT + 16,
            summary: lang
                .t("console.chart_summary")
                .replace("%{ok}", &thousands(ok))
                .replace("%{failed}", &thousands(failed)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_busiest_minute_fills_the_height_failures_stacked_on_top() {
        let series: Vec<ThroughputPoint> = (0..60)
            .map(|i| ThroughputPoint {
                end_ms: 1_764_738_000_000 + i * 60_000,
                succeeded: if i == 59 { 30 } else { 0 },
                failed: if i == 59 {
                    10
                } else if i == 0 {
                    4
                } else {
                    0
                },
            })
            .collect();
        let c = ThroughputChart::of(&series, chrono_tz::UTC, Lang::Es);
        assert_eq!(c.bars.len(), 60);
        let last = &c.bars[59];
        assert_eq!((last.ok_h, last.failed_h, last.failed_y), (75, 25, 0));
        assert_eq!((c.bars[0].ok_h, c.bars[0].failed_h), (0, 10));
        assert!(c.bars.iter().all(|b| b.x >= 0 && b.x + BAR <= WIDTH));
        assert!(
            last.title.contains("30 bien, 10 fallidos"),
            "{}",
            last.title
        );
        assert!(
            c.summary.starts_with("30 terminaron bien y 14"),
            "{}",
            c.summary
        );
        assert_eq!(c.labels[2].2, "ahora");
    }
}
