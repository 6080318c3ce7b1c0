//! `/api/v1/jobs`: any job's state by id, queue counts, and the dead set
//! (list, re-run, discard) for admins.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use paqueteria_jobs::broker::{JobId, JobInfo, QueueStats};
use serde::Deserialize;

use crate::auth::{Admins, Authorized, Everyone};
use crate::error::{ApiError, ApiResult, FieldError};
use crate::extract::{ValidPath, ValidQuery};
use crate::startup::AppState;

fn job_id(raw: String) -> ApiResult<JobId> {
    JobId::parse(raw).map_err(|msg| {
        ApiError::Validation(vec![FieldError {
            loc: vec!["path".to_owned(), "id".to_owned()],
            msg,
            kind: "value_error",
        }])
    })
}

fn broker_error(e: paqueteria_jobs::BrokerError) -> ApiError {
    ApiError::Internal(format!("broker: {e}"))
}

/// One job: state, attempts and timings for everyone; its payload, result
/// and last error (which name customers: phones, addresses, message text)
/// for admins only.
#[utoipa::path(get, path = "/api/v1/jobs/{id}", tag = "jobs", params(("id" = String, Path, description = "Job id")), responses((status = 200, description = "The job; payload, result and last error are empty but for admins", body = paqueteria_jobs::broker::JobInfo), (status = 401, description = "Not signed in", body = crate::error::ErrorBody), (status = 404, description = "Not found", body = crate::error::ErrorBody), (status = 422, description = "Invalid input", body = crate::error::ValidationBody)), security(("oauth2" = [])))]
pub async fn get(
    State(s): State<AppState>,
    user: Authorized<Everyone>,
    ValidPath(id): ValidPath<String>,
) -> ApiResult<Json<JobInfo>> {
    let id = job_id(id)?;
    let mut info = s
        .broker
        .job(&id)
        .await
        .map_err(broker_error)?
        .ok_or_else(|| ApiError::NotFound(format!("job {id}")))?;
    if user.user().role != paqueteria_core::domain::Role::Admin {
        info.payload = String::new();
        info.result = None;
        info.last_error = None;
    }
    Ok(Json(info))
}

/// Counts per queue.
#[utoipa::path(get, path = "/api/v1/jobs/queues", tag = "jobs", responses((status = 200, description = "Counts per queue", body = Vec<paqueteria_jobs::broker::QueueStats>), (status = 401, description = "Not signed in", body = crate::error::ErrorBody)), security(("oauth2" = [])))]
pub async fn queues(
    State(s): State<AppState>,
    _user: Authorized<Everyone>,
) -> ApiResult<Json<Vec<QueueStats>>> {
    let mut names: Vec<String> = paqueteria_core::jobs::queues::ALL
        .iter()
        .map(|q| (*q).to_owned())
        .collect();
    for q in s.broker.queues().await.map_err(broker_error)? {
        if !names.contains(&q) {
            names.push(q);
        }
    }
    Ok(Json(s.broker.stats(&names).await.map_err(broker_error)?))
}

/// The live worker processes (seen within three lease lengths): host,
/// pid, queues, concurrency, when each started and last beat; for
/// supervisors and admins, as `celery inspect` lists its workers.
#[utoipa::path(get, path = "/api/v1/workers", tag = "jobs", responses((status = 200, description = "Live workers, oldest first", body = Vec<paqueteria_jobs::broker::WorkerInfo>), (status = 401, description = "Not signed in", body = crate::error::ErrorBody), (status = 403, description = "Role not allowed", body = crate::error::ErrorBody), (status = 503, description = "The job system is unreachable", body = crate::error::ErrorBody)), security(("oauth2" = [])))]
pub async fn workers(
    State(s): State<AppState>,
    _user: Authorized<crate::auth::Managers>,
) -> ApiResult<Json<Vec<paqueteria_jobs::broker::WorkerInfo>>> {
    let mut list = s.broker.workers().await.map_err(|e| match e {
        paqueteria_jobs::BrokerError::Unavailable(_) => {
            ApiError::Unavailable("the job system is unreachable; try again shortly".to_owned())
        }
        other => broker_error(other),
    })?;
    list.sort_by(|a, b| (a.started_at_ms, &a.id).cmp(&(b.started_at_ms, &b.id)));
    Ok(Json(list))
}

/// `?queue=&limit=` of the dead-set listing.
#[derive(utoipa::IntoParams, Debug, Deserialize)]
pub struct DeadQuery {
    /// Only this queue.
    pub queue: Option<String>,
    /// At most this many (default 50, at most 500).
    pub limit: Option<usize>,
}

/// The dead set, newest first.
#[utoipa::path(get, path = "/api/v1/jobs/dead", tag = "jobs", params(DeadQuery), responses((status = 200, description = "Dead jobs, newest first", body = Vec<paqueteria_jobs::broker::JobInfo>), (status = 401, description = "Not signed in", body = crate::error::ErrorBody), (status = 403, description = "Role not allowed", body = crate::error::ErrorBody), (status = 422, description = "Invalid input", body = crate::error::ValidationBody)), security(("oauth2" = [])))]
pub async fn dead(
    State(s): State<AppState>,
    _user: Authorized<Admins>,
    ValidQuery(q): ValidQuery<DeadQuery>,
) -> ApiResult<Json<Vec<JobInfo>>> {
    let limit = q.limit.unwrap_or(50).min(500);
    Ok(Json(
        s.broker
            .dead_jobs(q.queue.as_deref(), limit)
            .await
            .map_err(broker_error)?,
    ))
}

/// Runs a dead job again with fresh attempts.
#[utoipa::path(post, path = "/api/v1/jobs/dead/{id}/retry", tag = "jobs", params(("id" = String, Path, description = "Job id")), responses((status = 202, description = "Queued again"), (status = 401, description = "Not signed in", body = crate::error::ErrorBody), (status = 403, description = "Role not allowed", body = crate::error::ErrorBody), (status = 404, description = "Not found", body = crate::error::ErrorBody), (status = 422, description = "Invalid input", body = crate::error::ValidationBody)), security(("oauth2" = [])))]
pub async fn retry(
    State(s): State<AppState>,
    _user: Authorized<Admins>,
    ValidPath(id): ValidPath<String>,
) -> ApiResult<StatusCode> {
    let id = job_id(id)?;
    if s.broker.rerun_dead(&id).await.map_err(broker_error)? {
        Ok(StatusCode::ACCEPTED)
    } else {
        Err(ApiError::NotFound(format!("dead job {id}")))
    }
}

/// Deletes a dead job.
#[utoipa::path(delete, path = "/api/v1/jobs/dead/{id}", tag = "jobs", params(("id" = String, Path, description = "Job id")), responses((status = 204, description = "Deleted"), (status = 401, description = "Not signed in", body = crate::error::ErrorBody), (status = 403, description = "Role not allowed", body = crate::error::ErrorBody), (status = 404, description = "Not found", body = crate::error::ErrorBody), (status = 422, description = "Invalid input", body = crate::error::ValidationBody)), security(("oauth2" = [])))]
pub async fn discard(
    State(s): State<AppState>,
    _user: Authorized<Admins>,
    ValidPath(id): ValidPath<String>,
) -> ApiResult<StatusCode> {
    let id = job_id(id)?;
    if s.broker.discard(&id).await.map_err(broker_error)? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound(format!("dead job {id}")))
    }
}
