//! A schedule entry's cadence in the reader's words ("Todos los días a las
//! 07:00", "Monday to Friday at 09:00"), from the engine's
//! [`Cadence`]; an expression of no common shape has no words, and the
//! page shows the expression alone.

use chrono::Weekday;
use paqueteria_jobs::scheduler::{Cadence, CatchUp, Days};

use super::super::Lang;

/// `a`, `a y b`, `a, b y c` (or "and").
fn listed(items: &[String], lang: Lang) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} {} {last}", init.join(", "), lang.t("cron.and")),
    }
}

fn day_name(d: Weekday, lang: Lang, plural: bool) -> String {
    let n = d.number_from_monday();
    lang.t(&format!("cron.{}{n}", if plural { "days" } else { "day" }))
}

/// The days' words, the `times` put in.
fn on_days(days: &Days, times: &str, lang: Lang) -> String {
    let with_times = |key: &str| lang.t_with(key, "times", times);
    match days {
        Days::Every => with_times("cron.every_day"),
        Days::Weekdays(list) => {
            let n: Vec<u32> = list.iter().map(|d| d.number_from_monday()).collect();
            let consecutive = n.windows(2).all(|w| w[1] == w[0] + 1);
            match (list.first(), list.last()) {
                (Some(first), Some(last)) if consecutive && list.len() >= 3 => {
                    with_times("cron.day_range")
                        .replace("%{from}", &day_name(*first, lang, false))
                        .replace("%{to}", &day_name(*last, lang, false))
                }
                _ => {
                    let names: Vec<String> =
                        list.iter().map(|d| day_name(*d, lang, true)).collect();
                    with_times("cron.on_days").replace("%{days}", &listed(&names, lang))
                }
            }
        }
        Days::MonthDays(list) => {
            let names: Vec<String> = list.iter().map(u32::to_string).collect();
            let key = if names.len() == 1 {
                "cron.month_day"
            } else {
                "cron.month_days"
            };
            with_times(key).replace("%{days}", &listed(&names, lang))
        }
    }
}

/// `cadence` said in `lang`.
pub fn words(cadence: &Cadence, lang: Lang) -> String {
    match cadence {
        Cadence::EveryMinutes(1) => lang.t("cron.every_minute"),
        Cadence::EveryMinutes(n) => lang.t_with("cron.every_minutes", "n", &n.to_string()),
        Cadence::EveryHours { every: 1, minute } => {
            lang.t_with("cron.hourly", "m", &minute.to_string())
        }
        Cadence::EveryHours { every, minute } => lang
            .t_with("cron.every_hours", "n", &every.to_string())
            .replace("%{m}", &minute.to_string()),
        Cadence::At { times, days } => {
            let times: Vec<String> = times
                .iter()
                .map(|(h, m)| format!("{h:02}:{m:02}"))
                .collect();
            on_days(days, &listed(&times, lang), lang)
        }
    }
}

/// A catch-up policy in `lang`.
pub fn catch_up(policy: CatchUp, lang: Lang) -> String {
    match policy {
        CatchUp::Skip => lang.t("cron.catch_up_skip"),
        CatchUp::Once => lang.t("cron.catch_up_once"),
        CatchUp::Backfill(n) => lang.t_with("cron.catch_up_backfill", "n", &n.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Weekday::*;

    fn at(times: &[(u32, u32)], days: Days) -> Cadence {
        Cadence::At {
            times: times.to_vec(),
            days,
        }
    }

    #[test]
    fn cadences_read_as_people_say_them() {
        let es = |c: Cadence| words(&c, Lang::Es);
        let en = |c: Cadence| words(&c, Lang::En);
        assert_eq!(es(Cadence::EveryMinutes(5)), "Cada 5 minutos");
        assert_eq!(en(Cadence::EveryMinutes(1)), "Every minute");
        assert_eq!(
            es(Cadence::EveryHours {
                every: 1,
                minute: 15
            }),
            "Cada hora, en el minuto 15"
        );
        assert_eq!(
            en(Cadence::EveryHours {
                every: 6,
                minute: 0
            }),
            "Every 6 hours at minute 0"
        );
        assert_eq!(es(at(&[(7, 0)], Days::Every)), "Todos los días a las 07:00");
        assert_eq!(en(at(&[(7, 0)], Days::Every)), "Every day at 07:00");
        let workdays = Days::Weekdays(vec![Mon, Tue, Wed, Thu, Fri]);
        assert_eq!(
            es(at(&[(8, 30), (17, 30)], workdays.clone())),
            "De lunes a viernes a las 08:30 y 17:30"
        );
        assert_eq!(en(at(&[(9, 0)], workdays)), "Monday to Friday at 09:00");
        let weekend = Days::Weekdays(vec![Sat, Sun]);
        assert_eq!(
            es(at(&[(9, 0)], weekend.clone())),
            "Los sábados y domingos a las 09:00"
        );
        assert_eq!(
            en(at(&[(9, 0)], weekend)),
            "On Saturdays and Sundays at 09:00"
        );
        assert_eq!(
            es(at(&[(0, 0)], Days::MonthDays(vec![1, 15]))),
            "Los días 1 y 15 de cada mes a las 00:00"
        );
        assert_eq!(
            es(at(&[(6, 0)], Days::Weekdays(vec![Mon, Wed, Fri]))),
            "Los lunes, miércoles y viernes a las 06:00"
        );
    }

    #[test]
    fn catch_up_policies_are_said() {
        assert_eq!(
            catch_up(CatchUp::Once, Lang::En),
            "The latest missed tick runs"
        );
        assert_eq!(
            catch_up(CatchUp::Backfill(3), Lang::Es),
            "Se corren hasta 3 ticks perdidos"
        );
    }
}
