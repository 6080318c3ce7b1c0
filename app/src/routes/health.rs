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

/// Prometheus metrics of the app.
pub async fn metrics(State(s): State<AppState>) -> impl IntoResponse {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        s.metrics.render(),
    )
}
