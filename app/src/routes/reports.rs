//! `/api/v1/reports`: ask for a report (its job is enqueued at once and its
//! id returned), list one's reports and follow their progress. The file
//! itself is built and stored by the report job. A report is the
//! requester's: only they and admins list, read or download it (403 for
//! another supervisor).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use paqueteria_core::domain::Role;
use paqueteria_core::jobs::{GenerateReportPdf, GenerateReportXlsx, Job};
use paqueteria_core::store::{Report, User};
use serde::{Deserialize, Serialize};

use crate::access::RequestId;
use crate::auth::{Authorized, Managers};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ValidJson, ValidPath};
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
#[utoipa::path(post, path = "/api/v1/reports", tag = "reports", request_body = RequestReport, responses((status = 202, description = "Accepted; follow it at /api/v1/reports/{id}", body = Report), (status = 401, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody), (status = 422, body = crate::error::ValidationBody), (status = 503, description = "The job system is unavailable; nothing was kept", body = crate::error::ErrorBody)), security(("oauth2" = [])))]
pub async fn request(
    State(s): State<AppState>,
    user: Authorized<Managers>,
    request: RequestId,
    ValidJson(r): ValidJson<RequestReport>,
) -> ApiResult<(StatusCode, Json<Report>)> {
    Ok((
        StatusCode::ACCEPTED,
        Json(request_report(&s, user.user(), &r, &request).await?),
    ))
}

/// Records report `r` for `user` (a manager: the caller checks the role)
/// and enqueues its job, which carries `request`'s id; the report as it
/// is then. The web UI's reports page asks through here too.
pub(crate) async fn request_report(
    s: &AppState,
    user: &User,
    r: &RequestReport,
    request: &RequestId,
) -> ApiResult<Report> {
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
        .create_report(&r.kind, &filters, Some(user.id))
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
    let enqueued = match s.broker.enqueue(request.attach(job)).await {
        Ok(e) => e,
        Err(e) => {
            // Nothing is left behind: the report row goes, so no report
            // waits "pending" for a job that was never queued.
            s.store.forget_unqueued_report(report.id).await?;
            return Err(if e.is_transient() {
                tracing::warn!(error = %e, "job system unavailable; report refused");
                ApiError::Unavailable(
                    "the job system is unavailable; try again in a few seconds".to_owned(),
                )
            } else {
                ApiError::Internal(format!("broker: {e}"))
            });
        }
    };
    s.store
        .set_report_job(report.id, enqueued.id.as_str())
        .await?;
    Ok(s.store.report(report.id).await?)
}

/// `GET /api/v1/reports` query: the page.
#[derive(utoipa::IntoParams, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportsQuery {
    /// Page, from 1 (default 1).
    pub page: Option<u32>,
    /// Rows per page, 1 to 100 (default 20).
    pub page_size: Option<u32>,
}

/// One page of reports.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReportPage {
    /// The reports, newest first.
    pub items: Vec<Report>,
    /// How many there are in all.
    pub total: i64,
    /// This page, from 1.
    pub page: u32,
    /// Rows per page.
    pub page_size: u32,
}

/// The caller's reports, newest first (an admin's list has everyone's).
#[utoipa::path(get, path = "/api/v1/reports", tag = "reports", params(ReportsQuery), responses((status = 200, description = "A page of reports", body = ReportPage), (status = 401, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody), (status = 422, body = crate::error::ValidationBody)), security(("oauth2" = [])))]
pub async fn list(
    State(s): State<AppState>,
    user: Authorized<Managers>,
    crate::extract::ValidQuery(q): crate::extract::ValidQuery<ReportsQuery>,
) -> ApiResult<Json<ReportPage>> {
    let (page, page_size) = crate::routes::attachments::page_of(q.page, q.page_size, 20, 100)?;
    let user = user.user();
    let whose = (user.role != Role::Admin).then_some(user.id);
    let (items, total) = s.store.reports_page(whose, page, page_size).await?;
    Ok(Json(ReportPage {
        items,
        total,
        page,
        page_size,
    }))
}

/// Report `id`, if `user` asked for it or is an admin; 403 otherwise.
pub(crate) async fn own_report(s: &AppState, user: &User, id: i64) -> ApiResult<Report> {
    let report = s.store.report(id).await?;
    if user.role != Role::Admin && report.requested_by != Some(user.id) {
        return Err(ApiError::Forbidden(format!(
            "report {id} was asked for by someone else"
        )));
    }
    Ok(report)
}

/// A report's state and progress.
#[utoipa::path(get, path = "/api/v1/reports/{id}", tag = "reports", params(("id" = i64, Path, description = "Report id")), responses((status = 200, description = "The report", body = Report), (status = 401, body = crate::error::ErrorBody), (status = 403, description = "Not your report (admins see all)", body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody), (status = 422, body = crate::error::ValidationBody)), security(("oauth2" = [])))]
pub async fn get(
    State(s): State<AppState>,
    user: Authorized<Managers>,
    ValidPath(id): ValidPath<i64>,
) -> ApiResult<Json<Report>> {
    Ok(Json(own_report(&s, user.user(), id).await?))
}

/// Downloads a finished report: the file itself from local storage, or a
/// redirect to a short-lived link when the files are on S3.
#[utoipa::path(get, path = "/api/v1/reports/{id}/download", tag = "reports", params(("id" = i64, Path, description = "Report id")), responses((status = 200, description = "The PDF or Excel file, as an attachment", content(("application/pdf"), ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))), (status = 307, description = "Redirect to a presigned link"), (status = 401, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody), (status = 409, description = "Not finished yet", body = crate::error::ErrorBody), (status = 422, body = crate::error::ValidationBody)), security(("oauth2" = [])))]
pub async fn download(
    State(s): State<AppState>,
    user: Authorized<Managers>,
    ValidPath(id): ValidPath<i64>,
) -> ApiResult<axum::response::Response> {
    download_file(&s, user.user(), id).await
}

/// Report `id`'s file for `user` (the requester or an admin; 403 for
/// anyone else, 409 while it is not done).
pub(crate) async fn download_file(
    s: &AppState,
    user: &User,
    id: i64,
) -> ApiResult<axum::response::Response> {
    let report = own_report(s, user, id).await?;
    let Some(key) = report.file_key.filter(|_| report.state == "done") else {
        return Err(ApiError::Conflict(format!(
            "report {id} is {}; download it once it is done",
            report.state
        )));
    };
    let (filename, mime) = paqueteria_core::domain::report::download_name(id, &report.kind);
    crate::routes::attachments::serve(s, &key, &filename, mime, &format!("report {id}")).await
}
