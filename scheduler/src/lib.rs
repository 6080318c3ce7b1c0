//! Paquetería's scheduler (beat): its schedule, settings and command line
//! over the engine's scheduler (`paqueteria_jobs::scheduler`), which
//! enqueues each tick once across restarts, deploys and failovers.
//!
//! # Layout
//! - [`schedule`]: the built-in schedule and how a schedule file is read.
//! - [`settings`]: `SCHEDULE_FILE`, `SCHEDULER_TZ`, `SCHEDULER_STATE`…
//! - [`cli`]: `scheduler`, `scheduler list`, `scheduler run-now`.
//! - [`http`]: `/metrics` and `/health`.

pub mod cli;
pub mod http;
pub mod schedule;
pub mod settings;

use std::process::ExitCode;

use anyhow::Context as _;
use chrono::TimeZone;
use paqueteria_jobs::scheduler::{Entry, Scheduler, SchedulerMetrics, StateFile, utc_text};
use paqueteria_jobs::{Clock, SharedBroker};

use crate::cli::{Cli, Command};
use crate::settings::SchedulerSettings;

/// What `scheduler` does with its command line. Exit code 2 for bad
/// settings or a bad schedule.
pub async fn main(cli: Cli) -> ExitCode {
    if let Some(Command::Healthcheck) = cli.command {
        let addr = match cli.metrics_addr {
            Some(a) => Ok(a),
            None => {
                paqueteria_core::health::addr_from_env("SCHEDULER_METRICS_ADDR", "127.0.0.1:9102")
            }
        };
        return match addr {
            Ok(a) => paqueteria_core::health::exit(a, "/health").await,
            // 1, not 2: a container runtime reserves 2 in health checks.
            Err(e) => {
                eprintln!("unhealthy: invalid setting {e}");
                ExitCode::from(1)
            }
        };
    }
    let settings = match SchedulerSettings::from_env() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: invalid setting {e}");
            return ExitCode::from(2);
        }
    };
    let entries = match settings.entries() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let clock = Clock::system();
    if let Some(Command::List) = cli.command {
        let (state, _) = StateFile::load(&settings.state_path, clock.now_ms());
        return exit(
            list(&entries, &state, clock.now_ms(), &mut std::io::stdout()).map_err(Into::into),
        );
    }
    let broker = match settings.core.connect_broker().await {
        Ok(b) => b,
        Err(e) => {
            let engine = settings.core.broker.describe();
            eprintln!("error: cannot open the broker ({engine}): {e}");
            return ExitCode::from(2);
        }
    };
    exit(match cli.command {
        Some(Command::RunNow { entry }) => {
            Scheduler::run_now(&entries, &broker, &entry, clock.now_ms())
                .await
                .map(|id| println!("{id}"))
                .map_err(Into::into)
        }
        _ => run(settings, entries, broker, clock, cli.metrics_addr).await,
    })
}

fn exit(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

/// Runs the beat with its `/metrics` server until SIGTERM or Ctrl-C.
pub async fn run(
    settings: SchedulerSettings,
    entries: Vec<Entry>,
    broker: SharedBroker,
    clock: Clock,
    metrics_addr: Option<std::net::SocketAddr>,
) -> anyhow::Result<()> {
    let addr = metrics_addr.unwrap_or(settings.metrics_addr);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("bind --metrics-addr {addr}"))?;
    tracing::info!(addr = %listener.local_addr()?, "serving /metrics and /health");
    tracing::info!(
        broker = %settings.core.broker.describe(),
        state = %settings.state_path.display(),
        entries = entries.len(),
        tz = %settings.tz,
        "scheduler starting"
    );
    let scheduler = settings
        .scheduler(entries, broker, SchedulerMetrics::new())
        .await?;
    let metrics = scheduler.metrics().clone();
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let server = tokio::spawn(http::serve(listener, metrics, async move {
        let _ = stop_rx.wait_for(|s| *s).await;
    }));
    scheduler
        .run(clock, paqueteria_jobs::shutdown_signal())
        .await;
    let _ = stop_tx.send(true);
    let _ = server.await;
    Ok(())
}

/// `scheduler list`: every entry, its next three runs in its local time,
/// and its last handled tick.
pub fn list(
    entries: &[Entry],
    state: &StateFile,
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
            Some(s) => writeln!(out, "    last  {}", utc_text(s.last_tick_ms))?,
            None => writeln!(out, "    last  never")?,
        }
    }
    Ok(())
}
