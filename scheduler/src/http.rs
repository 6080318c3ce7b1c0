//! `/metrics` and `/health` of the scheduler.

use std::future::Future;

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use tokio::net::TcpListener;

use paqueteria_jobs::scheduler::SchedulerMetrics as Metrics;

/// Serves until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    metrics: Metrics,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let m = metrics.clone();
    let app = Router::new()
        .route(
            "/metrics",
            get(move || {
                let m = m.clone();
                async move {
                    (
                        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
                        m.render() + &paqueteria_core::telemetry::render_process_metrics(),
                    )
                        .into_response()
                }
            }),
        )
        .route(
            "/health",
            get(move || {
                let leader = metrics.is_leader.get() == 1;
                async move {
                    axum::Json(serde_json::json!({
                        "status": "ok",
                        "role": if leader { "leader" } else { "standby" },
                    }))
                }
            }),
        );
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}
