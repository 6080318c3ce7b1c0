//! `GET /api/v1/track/{code}`: public tracking, no sign-in, no personal
//! data: status and the history of statuses with their times and branches.

use axum::Json;
use axum::extract::State;
use paqueteria_core::domain::TrackingCode;

use crate::error::{ApiError, ApiResult};
use crate::extract::ValidPath;
use crate::startup::AppState;

/// Status and history of a parcel by tracking code.
#[utoipa::path(get, path = "/api/v1/track/{code}", tag = "tracking", params(("code" = String, Path, description = "Tracking code")), responses((status = 200, description = "Status and history, no personal data"), (status = 404, description = "Not found", body = crate::error::ErrorBody), (status = 422, description = "Invalid input", body = crate::error::ValidationBody)))]
pub async fn track(
    State(s): State<AppState>,
    ValidPath(code): ValidPath<String>,
) -> ApiResult<Json<serde_json::Value>> {
    let code = TrackingCode::parse(&code).map_err(|e| {
        ApiError::Validation(vec![crate::error::FieldError {
            loc: vec!["path".to_owned(), "code".to_owned()],
            msg: e.to_string(),
            kind: "value_error",
        }])
    })?;
    let parcel = s
        .store
        .parcel_by_code(&code)
        .await?
        .ok_or_else(|| ApiError::NotFound("parcel".to_owned()))?;
    let history: Vec<serde_json::Value> = s
        .store
        .history(parcel.id)
        .await?
        .into_iter()
        // status changes only: not a refused PIN or a reissued one
        .filter(|e| e.from_status != Some(e.to_status))
        .map(|e| serde_json::json!({ "status": e.to_status, "at_ms": e.created_at_ms, "branch_id": e.branch_id }))
        .collect();
    Ok(Json(serde_json::json!({
        "tracking_code": parcel.tracking_code,
        "status": parcel.status,
        "service": parcel.service,
        "history": history,
    })))
}
