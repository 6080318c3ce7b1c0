//! The jobs console's actions that delete or create jobs (admins; each
//! audited): purge a queue's waiting jobs, behind a typed confirmation;
//! duplicate a job with its payload as it was or edited, checked against
//! the catalog as `worker enqueue` checks it.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use paqueteria_core::store::{AuditAction, User};
use paqueteria_jobs::broker::JobId;
use serde::{Deserialize, Serialize};

use super::jobs::{audit, broker_error, invalid, job_id, known_queues, queue_name};
use crate::access::RequestId;
use crate::auth::{Admins, Authorized};
use crate::client::ClientAddr;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ValidJson, ValidPath};
use crate::startup::AppState;

/// What a purge needs: the queue's name typed again.
#[derive(utoipa::ToSchema, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PurgeRequest {
    /// The queue's name, typed again to confirm.
    pub confirm: String,
}

/// What a purge did.
#[derive(utoipa::ToSchema, Debug, Serialize)]
pub struct Purged {
    /// Queued and scheduled jobs deleted.
    pub purged: u64,
}

/// Deletes every queued and scheduled job of a queue (admins; audited).
/// Running and dead jobs stay. The body must name the queue again.
#[utoipa::path(post, path = "/api/v1/jobs/queues/{queue}/purge", tag = "jobs", params(("queue" = String, Path, description = "Queue name")), request_body = PurgeRequest, responses((status = 200, description = "Purged; how many jobs were deleted", body = Purged), (status = 401, description = "Not signed in", body = crate::error::ErrorBody), (status = 403, description = "Role not allowed", body = crate::error::ErrorBody), (status = 404, description = "No such queue", body = crate::error::ErrorBody), (status = 422, description = "The confirmation does not name the queue", body = crate::error::ValidationBody), (status = 503, description = "The job system is unreachable", body = crate::error::ErrorBody)), security(("oauth2" = [])))]
pub async fn purge(
    State(s): State<AppState>,
    user: Authorized<Admins>,
    client: ClientAddr,
    ValidPath(queue): ValidPath<String>,
    ValidJson(req): ValidJson<PurgeRequest>,
) -> ApiResult<Json<Purged>> {
    let purged = purge_queue(&s, user.user(), client, &queue, &req.confirm).await?;
    Ok(Json(Purged { purged }))
}

/// Purges `queue` for `user` (an admin) when `confirm` is its name,
/// audited with the count; 404 for a queue nobody knows.
pub(crate) async fn purge_queue(
    s: &AppState,
    user: &User,
    client: ClientAddr,
    queue: &str,
    confirm: &str,
) -> ApiResult<u64> {
    let queue = queue_name(queue)?;
    if !known_queues(s).await?.iter().any(|q| q == queue) {
        return Err(ApiError::NotFound(format!("queue {queue}")));
    }
    if confirm.trim() != queue {
        return Err(invalid(
            &["body", "confirm"],
            format!("type the queue's name, {queue}, to confirm"),
        ));
    }
    let purged = s.broker.purge(queue).await.map_err(broker_error)?;
    let detail = format!("{purged} waiting jobs deleted");
    audit(
        s,
        user,
        client,
        AuditAction::QueuePurged,
        &format!("queue:{queue}"),
        &detail,
    )
    .await?;
    Ok(purged)
}

/// A duplicate's payload: the original's when absent.
#[derive(utoipa::ToSchema, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DuplicateRequest {
    /// The new job's payload (JSON); the original's when absent.
    #[schema(value_type = Option<Object>)]
    #[serde(default)]
    pub payload: Option<serde_json::Value>,
}

/// The job a duplicate created.
#[derive(utoipa::ToSchema, Debug, Serialize)]
pub struct Duplicated {
    /// The new job's id.
    pub id: String,
}

/// Enqueues a copy of a job, its payload as it was or edited, checked by
/// the job's type as `worker enqueue` checks it (admins; audited). The
/// copy runs with fresh attempts on the job's queue. A job whose id comes
/// from its payload (an SMS's notification, say) keeps the send-once
/// promise: a copy with the same payload is the same job, and is refused.
#[utoipa::path(post, path = "/api/v1/jobs/{id}/duplicate", tag = "jobs", params(("id" = String, Path, description = "Job id")), request_body = DuplicateRequest, responses((status = 201, description = "Enqueued; the new job's id", body = Duplicated), (status = 401, description = "Not signed in", body = crate::error::ErrorBody), (status = 403, description = "Role not allowed", body = crate::error::ErrorBody), (status = 404, description = "Not found", body = crate::error::ErrorBody), (status = 409, description = "A job with the copy's id exists already", body = crate::error::ErrorBody), (status = 422, description = "The payload does not fit the job", body = crate::error::ValidationBody), (status = 503, description = "The job system is unreachable", body = crate::error::ErrorBody)), security(("oauth2" = [])))]
pub async fn duplicate(
    State(s): State<AppState>,
    user: Authorized<Admins>,
    client: ClientAddr,
    request: RequestId,
    ValidPath(id): ValidPath<String>,
    ValidJson(req): ValidJson<DuplicateRequest>,
) -> ApiResult<(StatusCode, Json<Duplicated>)> {
    let payload = req.payload.map(|p| p.to_string());
    let id = duplicate_job(
        &s,
        user.user(),
        (client, &request),
        &job_id(id)?,
        payload.as_deref(),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(Duplicated {
            id: id.as_str().to_owned(),
        }),
    ))
}

/// Enqueues a copy of job `id` for `user` (an admin) with `payload` (the
/// original's when `None`), audited; the new job's id. The copy carries
/// the id of `request`, which made it (not the original's). 404 for no
/// such job, 422 at `body.payload` for a payload the job refuses, 409
/// when the copy's id is taken.
pub(crate) async fn duplicate_job(
    s: &AppState,
    user: &User,
    (client, request): (ClientAddr, &RequestId),
    id: &JobId,
    payload: Option<&str>,
) -> ApiResult<JobId> {
    let original = s
        .broker
        .job(id)
        .await
        .map_err(broker_error)?
        .ok_or_else(|| ApiError::NotFound(format!("job {id}")))?;
    let catalog = paqueteria_core::jobs::catalog();
    let kind = catalog
        .lookup(&original.name)
        .map_err(|e| invalid(&["path", "id"], e.to_string()))?;
    let payload = payload.unwrap_or(&original.payload);
    let as_json = |p: &str| serde_json::from_str::<serde_json::Value>(p).ok();
    let edited = as_json(payload) != as_json(&original.payload);
    let new = kind
        .new_job(payload)
        .map_err(|e| invalid(&["body", "payload"], e.to_string()))?;
    let done = s
        .broker
        .enqueue(request.attach(new))
        .await
        .map_err(broker_error)?;
    if !done.created {
        return Err(ApiError::Conflict(format!(
            "job {} exists already: its id comes from its payload, so this copy would be the same job; retry or run that one instead",
            done.id
        )));
    }
    audit(
        s,
        user,
        client,
        AuditAction::JobDuplicated,
        &format!("job:{}", done.id),
        &if edited {
            // Whether, not how: a payload names customers.
            format!("copy of {id}, payload edited")
        } else {
            format!("copy of {id}")
        },
    )
    .await?;
    Ok(done.id)
}
