//! `/metrics` and `/health` of the worker, on `--metrics-addr`.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use paqueteria_jobs::{Metrics, SharedBroker};
use tokio::net::TcpListener;

#[derive(Clone)]
struct AppState {
    broker: SharedBroker,
    metrics: Metrics,
    queues: Arc<Vec<String>>,
}

/// The metrics and health endpoint.
pub struct MetricsServer {
    listener: TcpListener,
    state: AppState,
}

impl MetricsServer {
    /// Serves on an already-bound listener (tests bind port 0).
    pub fn build(
        listener: TcpListener,
        broker: SharedBroker,
        metrics: Metrics,
        queues: Vec<String>,
    ) -> Self {
        Self {
            listener,
            state: AppState {
                broker,
                metrics,
                queues: Arc::new(queues),
            },
        }
    }

    /// Where it listens.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` completes.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let app = Router::new()
            .route("/metrics", get(metrics))
            .route("/health", get(health))
            .with_state(self.state);
        axum::serve(self.listener, app)
            .with_graceful_shutdown(shutdown)
            .await
    }
}

async fn metrics(State(s): State<AppState>) -> impl IntoResponse {
    // Broker gauges are read at scrape time, bounded so a slow broker never
    // makes the scrape time out.
    match tokio::time::timeout(Duration::from_secs(2), s.broker.stats(&s.queues)).await {
        Ok(Ok(stats)) => {
            s.metrics.broker_up.set(1);
            s.metrics.set_queue_stats(&stats);
        }
        _ => s.metrics.broker_up.set(0),
    }
    if let Ok(Ok(live)) = tokio::time::timeout(Duration::from_secs(1), s.broker.workers()).await {
        s.metrics
            .workers_live
            .set(i64::try_from(live.len()).unwrap_or(i64::MAX));
    }
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        s.metrics.render() + &paqueteria_core::telemetry::render_process_metrics(),
    )
}

async fn health(State(s): State<AppState>) -> impl IntoResponse {
    let broker_ok = matches!(
        tokio::time::timeout(Duration::from_secs(2), s.broker.queues()).await,
        Ok(Ok(_))
    );
    let body = serde_json::json!({
        "status": if broker_ok { "ok" } else { "degraded" },
        "broker": if broker_ok { "ok" } else { "unavailable" },
        "engine": s.broker.engine(),
    });
    // The worker process is alive even while the broker is down (it keeps
    // retrying), so liveness stays 200; the body says what is degraded.
    (StatusCode::OK, axum::Json(body))
}
