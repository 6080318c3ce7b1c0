//! The Paquetería worker: runs jobs from the broker on the apalis runtime.
//!
//! # Layout
//! - [`runtime`]: the apalis worker over our [`paqueteria_core::Broker`]:
//!   the backend that leases jobs, the service that runs and settles them,
//!   heartbeats, housekeeping and graceful shutdown.
//! - [`jobs`]: the handler registry (the seam where each job's handler
//!   plugs in) and the handlers themselves, one module per job family.
//! - [`metrics`]: the Prometheus metrics of DESIGN.md §8.
//! - [`http`]: `/metrics` and `/health`.
//! - [`cli`] and [`commands`]: `worker`, `worker inspect`, `worker enqueue`…

pub mod cli;
pub mod commands;
pub mod http;
pub mod jobs;
pub mod metrics;
pub mod report;
pub mod runtime;
pub mod services;
pub mod telemetry;
pub mod transport;

use std::future::Future;

use anyhow::Context as _;
use paqueteria_core::broker::SharedBroker;

/// Runs a worker with its `/metrics` server until `shutdown` completes.
pub async fn run(
    args: cli::RunArgs,
    broker: SharedBroker,
    lease: std::time::Duration,
    handlers: jobs::Handlers,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let metrics = metrics::Metrics::new();
    let listener = tokio::net::TcpListener::bind(args.metrics_addr)
        .await
        .with_context(|| format!("bind --metrics-addr {}", args.metrics_addr))?;
    let server = http::MetricsServer::build(
        listener,
        broker.clone(),
        metrics.clone(),
        args.queues.clone(),
    );
    tracing::info!(addr = %server.local_addr()?, "serving /metrics and /health");
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut server_stop = stop_rx.clone();
    let server = tokio::spawn(server.run_until_stopped(async move {
        let _ = server_stop.wait_for(|s| *s).await;
    }));
    let runtime = runtime::Runtime::build(
        runtime::RuntimeConfig {
            queues: args.queues,
            concurrency: usize::from(args.concurrency),
            grace: args.grace,
            lease,
            ..runtime::RuntimeConfig::default()
        },
        broker,
        handlers,
        metrics,
    );
    let result = runtime.run_until_stopped(shutdown).await;
    let _ = stop_tx.send(true);
    let _ = server.await;
    result
}

/// Completes on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
