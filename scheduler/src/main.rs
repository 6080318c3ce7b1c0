//! `scheduler`: runs the beat, or lists and triggers its entries. See
//! `scheduler --help`.

use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser;
use paqueteria_core::clock::Clock;
use paqueteria_scheduler::cli::{Cli, Command};
use paqueteria_scheduler::metrics::Metrics;
use paqueteria_scheduler::settings::SchedulerSettings;
use paqueteria_scheduler::state::StateFile;
use paqueteria_scheduler::{Scheduler, list};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    paqueteria_core::telemetry::init("info");
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
        let mut out = std::io::stdout();
        return match list(&entries, &state, clock.now_ms(), &mut out) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(1)
            }
        };
    }
    let broker = match paqueteria_core::broker::connect(&settings.core).await {
        Ok(b) => b,
        Err(e) => {
            eprintln!(
                "error: cannot open the broker ({}): {e}",
                settings.core.broker.describe()
            );
            return ExitCode::from(2);
        }
    };
    let result = match cli.command {
        Some(Command::RunNow { entry }) => {
            Scheduler::run_now(&entries, &broker, &entry, clock.now_ms())
                .await
                .map(|id| println!("{id}"))
        }
        _ => run(settings, entries, broker, clock, cli.metrics_addr).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

async fn run(
    settings: SchedulerSettings,
    entries: Vec<paqueteria_scheduler::schedule::Entry>,
    broker: paqueteria_core::broker::SharedBroker,
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
    let metrics = Metrics::new();
    let leadership = settings.leadership().await?;
    let scheduler = Scheduler::new(
        entries,
        &settings.state_path,
        broker,
        leadership,
        metrics.clone(),
        clock.now_ms(),
        settings.lease,
    )
    .context("open the scheduler state")?;
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let server = tokio::spawn(paqueteria_scheduler::http::serve(
        listener,
        metrics,
        async move {
            let _ = stop_rx.wait_for(|s| *s).await;
        },
    ));
    let result = scheduler.run(clock, shutdown_signal()).await;
    let _ = stop_tx.send(true);
    let _ = server.await;
    result
}

/// Completes on SIGTERM or Ctrl-C.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
