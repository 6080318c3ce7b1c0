//! The Paquetería worker: the handlers of Paquetería's jobs on the
//! `paqueteria-jobs` runtime, and the operator commands.
//!
//! # Layout
//! - [`jobs`]: the handlers, one module per job family (`jobs/sms.rs` is
//!   the SMS job), and [`jobs::handlers`], which registers them all.
//! - [`transport`]: how messages leave (SMTP, the SMS gateway, its rate
//!   limit).
//! - [`report`]: PDF and Excel rendering of the parcel report.
//! - [`services`]: what the handlers share (store, files, job client).
//! - [`cli`], [`commands`]: `worker -Q … -c 4`, `worker inspect`,
//!   `worker enqueue`…
//! - [`http`]: the worker's `/metrics` and `/health`.

pub mod cli;
pub mod commands;
pub mod http;
pub mod jobs;
pub mod report;
pub mod services;
pub mod transport;

use std::future::Future;
use std::process::ExitCode;

use anyhow::Context as _;
use paqueteria_core::settings::Settings;
use paqueteria_jobs::{Handlers, Metrics, Runtime, RuntimeConfig, SharedBroker};

/// What `worker` does with its command line: an operator command, or a
/// worker until SIGTERM / Ctrl-C. Exit code 2 for bad settings.
pub async fn main(cli: cli::Cli) -> ExitCode {
    if let Some(cli::Command::Healthcheck) = cli.command {
        return paqueteria_core::health::exit(cli.run.metrics_addr, "/health").await;
    }
    let settings = match Settings::from_env() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: invalid setting {e}");
            return ExitCode::from(2);
        }
    };
    let broker = match settings.connect_broker().await {
        Ok(b) => b,
        Err(e) => {
            let engine = settings.broker.describe();
            eprintln!("error: cannot open the broker ({engine}): {e}");
            return ExitCode::from(2);
        }
    };
    let result = match cli.command {
        Some(cmd) => commands::execute(cmd, &broker, &mut std::io::stdout()).await,
        None => {
            tracing::info!(broker = %settings.broker.describe(), "job engine");
            let handlers = match services::Services::open(&settings, broker.clone())
                .await
                .and_then(|s| jobs::handlers(&s))
            {
                Ok(h) => h,
                Err(e) => {
                    eprintln!("error: {e:#}");
                    return ExitCode::from(2);
                }
            };
            run(
                cli.run,
                broker,
                &settings,
                handlers,
                paqueteria_jobs::shutdown_signal(),
            )
            .await
            .map(|()| 0)
        }
    };
    match result {
        Ok(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

/// Runs a worker with its `/metrics` server until `shutdown` completes.
pub async fn run(
    args: cli::RunArgs,
    broker: SharedBroker,
    settings: &Settings,
    handlers: Handlers,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let metrics = Metrics::new();
    let listener = tokio::net::TcpListener::bind(args.metrics_addr)
        .await
        .with_context(|| format!("bind --metrics-addr {}", args.metrics_addr))?;
    let queues = args.queues.0;
    let names = queues.iter().map(|q| q.name.clone()).collect();
    let server = http::MetricsServer::build(listener, broker.clone(), metrics.clone(), names);
    tracing::info!(addr = %server.local_addr()?, "serving /metrics and /health");
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut server_stop = stop_rx.clone();
    let server = tokio::spawn(server.run_until_stopped(async move {
        let _ = server_stop.wait_for(|s| *s).await;
    }));
    let runtime = Runtime::build(
        RuntimeConfig {
            queues,
            concurrency: usize::from(args.concurrency),
            grace: args.grace,
            lease: settings.lease,
            ..RuntimeConfig::default()
        },
        broker,
        handlers,
        metrics,
    );
    let result = runtime.run_until_stopped(shutdown).await;
    let _ = stop_tx.send(true);
    let _ = server.await;
    Ok(result?)
}
