//! `/api/v1/reports`: ask for a report (its job is enqueued at once and its
//! id returned) and follow its progress. The file itself is built and stored
//! by the report job.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use paqueteria_core::jobs::{GenerateReportPdf, GenerateReportXlsx, Job};
use paqueteria_core::store::Report;
use serde::Deserialize;

use crate::auth::{Authorized, Managers};
use crate::error::{ApiError, ApiResult};
use crate::extract::ValidJson;
use crate::startup::AppState;

/// `POST /api/v1/reports`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestReport {
    /// `pdf` or `xlsx`.
    pub kind: String,
    /// Parcels registered from (Unix ms).
    #[serde(default)]
    pub from_ms: Option<i64>,
    /// Parcels registered until (Unix ms).
    #[serde(default)]
    pub to_ms: Option<i64>,
    /// Only this branch.
    #[serde(default)]
    pub branch_id: Option<i64>,
    /// Only this status.
    #[serde(default)]
    pub status: Option<paqueteria_core::domain::ParcelStatus>,
}

/// Asks for a report; answers 202 with the report row and its job id.
#[utoipa::path(post, path = "/api/v1/reports", tag = "reports", request_body = RequestReport, responses((status = 202, description = "Accepted; follow it at /api/v1/reports/{id}", body = Report), (status = 401, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody), (status = 422, body = crate::error::ValidationBody)), security(("oauth2" = [])))]
pub async fn request(
    State(s): State<AppState>,
    user: Authorized<Managers>,
    ValidJson(r): ValidJson<RequestReport>,
) -> ApiResult<(StatusCode, Json<Report>)> {
    if let (Some(from), Some(to)) = (r.from_ms, r.to_ms)
        && from > to
    {
        return Err(ApiError::field("to_ms", "must not be before from_ms"));
    }
    let filters = serde_json::json!({
        "from_ms": r.from_ms, "to_ms": r.to_ms, "branch_id": r.branch_id, "status": r.status,
    });
    let report = s
        .store
        .create_report(&r.kind, &filters, Some(user.user().id))
        .await?;
    let job = match r.kind.as_str() {
        "pdf" => GenerateReportPdf {
            report_id: report.id,
        }
        .to_new_job(),
        _ => GenerateReportXlsx {
            report_id: report.id,
        }
        .to_new_job(),
    }
    .map_err(|e| ApiError::Internal(e.to_string()))?;
    let enqueued = s
        .broker
        .enqueue(job)
        .await
        .map_err(|e| ApiError::Internal(format!("broker: {e}")))?;
    s.store
        .set_report_job(report.id, enqueued.id.as_str())
        .await?;
    Ok((StatusCode::ACCEPTED, Json(s.store.report(report.id).await?)))
}

/// A report's state and progress.
#[utoipa::path(get, path = "/api/v1/reports/{id}", tag = "reports", params(("id" = i64, Path, description = "Report id")), responses((status = 200, description = "The report", body = Report), (status = 401, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody), (status = 422, body = crate::error::ValidationBody)), security(("oauth2" = [])))]
pub async fn get(
    State(s): State<AppState>,
    _user: Authorized<Managers>,
    Path(id): Path<i64>,
) -> ApiResult<Json<Report>> {
    Ok(Json(s.store.report(id).await?))
}

/// Downloads a finished report: the file itself from local storage, or a
/// redirect to a short-lived link when the files are on S3.
#[utoipa::path(get, path = "/api/v1/reports/{id}/download", tag = "reports", params(("id" = i64, Path, description = "Report id")), responses((status = 200, description = "The PDF or Excel file, as an attachment", content(("application/pdf"), ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))), (status = 307, description = "Redirect to a presigned link"), (status = 401, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody), (status = 409, description = "Not finished yet", body = crate::error::ErrorBody), (status = 422, body = crate::error::ValidationBody)), security(("oauth2" = [])))]
pub async fn download(
    State(s): State<AppState>,
    _user: Authorized<Managers>,
    Path(id): Path<i64>,
) -> ApiResult<axum::response::Response> {
    let report = s.store.report(id).await?;
    let Some(key) = report.file_key.filter(|_| report.state == "done") else {
        return Err(ApiError::Conflict(format!(
            "report {id} is {}; download it once it is done",
            report.state
        )));
    };
    let (filename, mime) = paqueteria_worker::report::download_name(id, &report.kind);
    crate::routes::attachments::serve(&s, &key, &filename, mime, &format!("report {id}")).await
}
