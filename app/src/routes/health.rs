//! `/health` (liveness), `/health/ready` (store and broker reachable) and
//! `/metrics`.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;

use crate::startup::AppState;

/// Liveness: the process serves requests.
#[utoipa::path(get, path = "/health", tag = "ops", responses((status = 200, description = "The process serves requests")))]
pub async fn live() -> impl IntoResponse {
    Json(serde_json::json!({ "status": "ok" }))
}

/// Readiness: the store and the broker answer within 2 s each.
#[utoipa::path(get, path = "/health/ready", tag = "ops", responses((status = 200, description = "Store and broker answer"), (status = 503, description = "Store or broker unavailable")))]
pub async fn ready(State(s): State<AppState>) -> impl IntoResponse {
    let limit = Duration::from_secs(2);
    let store = matches!(
        tokio::time::timeout(limit, s.store.ping()).await,
        Ok(Ok(()))
    );
    let broker = matches!(
        tokio::time::timeout(limit, s.broker.queues()).await,
        Ok(Ok(_))
    );
    let code = if store && broker {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let word = |ok: bool| if ok { "ok" } else { "unavailable" };
    (
        code,
        Json(serde_json::json!({
            "status": word(store && broker),
            "store": word(store),
            "broker": word(broker),
        })),
    )
}

/// Prometheus metrics of the app; in the all-in-one run also its
/// worker's (with the broker's queue gauges, read now) and its
/// scheduler's, as the worker and scheduler processes serve theirs.
pub async fn metrics(State(s): State<AppState>) -> impl IntoResponse {
    let timeout = std::time::Duration::from_secs(2);
    match tokio::time::timeout(timeout, s.store.outbox_backlog()).await {
        Ok(Ok(backlog)) => s.metrics.set_outbox(&backlog),
        Ok(Err(e)) => tracing::warn!(error = %e, "cannot read the outbox backlog for /metrics"),
        Err(_) => tracing::warn!("reading the outbox backlog for /metrics timed out"),
    }
    let mut body = s.metrics.render();
    body.push_str(&paqueteria_core::telemetry::render_process_metrics());
    if let Some(engine) = &s.engine_metrics {
        let queues = crate::routes::jobs::known_queues(&s)
            .await
            .unwrap_or_default();
        match tokio::time::timeout(timeout, s.broker.stats(&queues)).await {
            Ok(Ok(stats)) => {
                engine.worker.broker_up.set(1);
                engine.worker.set_queue_stats(&stats);
            }
            _ => engine.worker.broker_up.set(0),
        }
        if let Ok(Ok(live)) = tokio::time::timeout(timeout, s.broker.workers()).await {
            engine
                .worker
                .workers_live
                .set(i64::try_from(live.len()).unwrap_or(i64::MAX));
        }
        body.push_str(&engine.worker.render());
        body.push_str(&engine.scheduler.render());
    }
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        body,
    )
}
