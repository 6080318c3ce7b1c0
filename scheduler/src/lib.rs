//! The Paquetería scheduler (beat): enqueues the schedule's jobs into the
//! broker, once per tick, across restarts, deploys and failovers.
//!
//! # Layout
//! - [`schedule`]: entries from TOML, cron ticks in a time zone (DST rules).
//! - [`state`]: the last tick per entry, in a file written atomically.
//! - [`leader`]: one leader (a Redis lease, or a file lock when embedded).
//! - [`engine`]: the step that enqueues due ticks and records them.
//! - [`metrics`], [`http`]: `/metrics` and `/health`.
//! - [`settings`], [`cli`], [`list`]: configuration and the commands.

pub mod cli;
pub mod engine;
pub mod http;
pub mod leader;
pub mod metrics;
pub mod schedule;
pub mod settings;
pub mod state;

use chrono::TimeZone;

pub use engine::{Scheduler, Step};

/// `scheduler list`: every entry, its next three runs in its local time,
/// and its last handled tick.
pub fn list(
    entries: &[schedule::Entry],
    state: &state::StateFile,
    now_ms: i64,
    out: &mut impl std::io::Write,
) -> std::io::Result<()> {
    for e in entries {
        writeln!(
            out,
            "{}  [{}]  {}  job {}  catch-up {}",
            e.name, e.cron, e.tz, e.job, e.catch_up
        )?;
        let mut after = now_ms;
        for _ in 0..3 {
            let Some(t) = e.next_after(after) else { break };
            let local =
                e.tz.timestamp_millis_opt(t)
                    .single()
                    .map(|d| d.format("%Y-%m-%d %H:%M:%S %Z").to_string())
                    .unwrap_or_default();
            writeln!(out, "    next  {local}")?;
            after = t;
        }
        match state.get(&e.name) {
            Some(s) => writeln!(out, "    last  {}", schedule::utc_text(s.last_tick_ms))?,
            None => writeln!(out, "    last  never")?,
        }
    }
    Ok(())
}
