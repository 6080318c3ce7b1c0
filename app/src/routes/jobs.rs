//! `/api/v1/jobs`: any job's state by id, queue counts, and the jobs
//! console's API: browse the queues' jobs (supervisors and admins), and for
//! admins the dead set (list, re-run, discard), pause and resume a queue,
//! cancel or run a job now, and bulk retry or discard. Every action that
//! changes something writes a row to the audit log: who, when, what, and
//! how many jobs.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use paqueteria_core::domain::Role;
use paqueteria_core::store::{AuditAction, AuditEntry, User};
use paqueteria_jobs::broker::{
    CancelOutcome, DeadAction, JobFilter, JobId, JobInfo, ListState, QueueStats, SEARCH_LIMIT,
};
use serde::{Deserialize, Serialize};

use crate::auth::{Admins, Authorized, Everyone, Managers};
use crate::client::ClientAddr;
use crate::error::{ApiError, ApiResult, FieldError};
use crate::extract::{ValidJson, ValidPath, ValidQuery};
use crate::startup::AppState;

pub(crate) fn job_id(raw: String) -> ApiResult<JobId> {
    JobId::parse(raw).map_err(|msg| {
        ApiError::Validation(vec![FieldError {
            loc: vec!["path".to_owned(), "id".to_owned()],
            msg,
            kind: "value_error",
        }])
    })
}

pub(crate) fn broker_error(e: paqueteria_jobs::BrokerError) -> ApiError {
    match e {
        paqueteria_jobs::BrokerError::Unavailable(_) => {
            ApiError::Unavailable("the job system is unreachable; try again shortly".to_owned())
        }
        other => ApiError::Internal(format!("broker: {other}")),
    }
}

pub(crate) fn invalid(loc: &[&str], msg: impl Into<String>) -> ApiError {
    ApiError::Validation(vec![FieldError {
        loc: loc.iter().map(|s| (*s).to_owned()).collect(),
        msg: msg.into(),
        kind: "value_error",
    }])
}

/// What only admins see of a job: its payload, result and last error name
/// customers (phones, addresses, message text).
fn redact(info: &mut JobInfo) {
    info.payload = String::new();
    info.result = None;
    info.last_error = None;
}

/// Writes one row of the audit log for a jobs action by `user`.
pub(crate) async fn audit(
    s: &AppState,
    user: &User,
    client: ClientAddr,
    action: AuditAction,
    subject: &str,
    detail: &str,
) -> ApiResult<()> {
    let addr = client.to_audit();
    s.store
        .audit(&AuditEntry {
            actor_id: Some(user.id),
            action,
            subject: Some(subject),
            detail,
            client_addr: addr.as_deref(),
        })
        .await?;
    Ok(())
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
    if user.user().role != Role::Admin {
        redact(&mut info);
    }
    Ok(Json(info))
}

/// Paquetería's queues, then any other queue the broker has seen.
/// Paquetería's queues and any other the broker has seen.
pub(crate) async fn known_queues(s: &AppState) -> ApiResult<Vec<String>> {
    let mut names: Vec<String> = paqueteria_core::jobs::queues::ALL
        .iter()
        .map(|q| (*q).to_owned())
        .collect();
    for q in s.broker.queues().await.map_err(broker_error)? {
        if !names.contains(&q) {
            names.push(q);
        }
    }
    Ok(names)
}

/// Counts per queue.
#[utoipa::path(get, path = "/api/v1/jobs/queues", tag = "jobs", responses((status = 200, description = "Counts per queue", body = Vec<paqueteria_jobs::broker::QueueStats>), (status = 401, description = "Not signed in", body = crate::error::ErrorBody)), security(("oauth2" = [])))]
pub async fn queues(
    State(s): State<AppState>,
    _user: Authorized<Everyone>,
) -> ApiResult<Json<Vec<QueueStats>>> {
    let names = known_queues(&s).await?;
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
    let mut list = s.broker.workers().await.map_err(broker_error)?;
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
    user: Authorized<Admins>,
    client: ClientAddr,
    ValidPath(id): ValidPath<String>,
) -> ApiResult<StatusCode> {
    retry_dead(&s, user.user(), client, &job_id(id)?).await?;
    Ok(StatusCode::ACCEPTED)
}

/// Runs dead job `id` again for `user` (an admin), audited; 404 when it
/// is not in the dead set.
pub(crate) async fn retry_dead(
    s: &AppState,
    user: &User,
    client: ClientAddr,
    id: &JobId,
) -> ApiResult<()> {
    if s.broker.rerun_dead(id).await.map_err(broker_error)? {
        let subject = format!("job:{id}");
        audit(s, user, client, AuditAction::JobsRetried, &subject, "1 job").await?;
        Ok(())
    } else {
        Err(ApiError::NotFound(format!("dead job {id}")))
    }
}

/// Deletes a dead job.
#[utoipa::path(delete, path = "/api/v1/jobs/dead/{id}", tag = "jobs", params(("id" = String, Path, description = "Job id")), responses((status = 204, description = "Deleted"), (status = 401, description = "Not signed in", body = crate::error::ErrorBody), (status = 403, description = "Role not allowed", body = crate::error::ErrorBody), (status = 404, description = "Not found", body = crate::error::ErrorBody), (status = 422, description = "Invalid input", body = crate::error::ValidationBody)), security(("oauth2" = [])))]
pub async fn discard(
    State(s): State<AppState>,
    user: Authorized<Admins>,
    client: ClientAddr,
    ValidPath(id): ValidPath<String>,
) -> ApiResult<StatusCode> {
    discard_dead(&s, user.user(), client, &job_id(id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Deletes dead job `id` for `user` (an admin), audited; 404 when it is
/// not in the dead set.
pub(crate) async fn discard_dead(
    s: &AppState,
    user: &User,
    client: ClientAddr,
    id: &JobId,
) -> ApiResult<()> {
    if s.broker.discard(id).await.map_err(broker_error)? {
        let subject = format!("job:{id}");
        audit(
            s,
            user,
            client,
            AuditAction::JobsDiscarded,
            &subject,
            "1 job",
        )
        .await?;
        Ok(())
    } else {
        Err(ApiError::NotFound(format!("dead job {id}")))
    }
}

/// `GET /api/v1/jobs` query.
#[derive(utoipa::IntoParams, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobListQuery {
    /// Only this queue (default: every queue).
    pub queue: Option<String>,
    /// `queued` (default), `scheduled` (retrying ones included), `running`
    /// or `dead`.
    #[param(inline, value_type = Option<ListState>)]
    pub state: Option<ListState>,
    /// Only jobs of this name (exact), e.g. `sms.send`.
    pub name: Option<String>,
    /// Only jobs whose payload, last error or request id holds this text
    /// (ASCII letters in any case); admins only, since it reads what only
    /// they may see.
    /// Searches the newest 10,000 jobs of the state in each queue.
    pub q: Option<String>,
    /// Page, from 1 (default 1).
    pub page: Option<u32>,
    /// Jobs a page, 1 to 200 (default 50). A page ends at most 10,000 jobs
    /// deep.
    pub limit: Option<u32>,
}

/// A page of `GET /api/v1/jobs`.
#[derive(utoipa::ToSchema, Debug, Serialize)]
pub struct JobListPage {
    /// The jobs, newest first; payload, result and last error are empty but
    /// for admins.
    pub items: Vec<JobInfo>,
    /// This page's number.
    pub page: u32,
    /// Jobs a page.
    pub limit: u32,
    /// Whether another page follows.
    pub more: bool,
}

/// Browses the queues' jobs in one state, newest first, a page at a time;
/// for supervisors and admins.
#[utoipa::path(get, path = "/api/v1/jobs", tag = "jobs", params(JobListQuery), responses((status = 200, description = "A page of jobs", body = JobListPage), (status = 401, description = "Not signed in", body = crate::error::ErrorBody), (status = 403, description = "Role not allowed (a text search is for admins)", body = crate::error::ErrorBody), (status = 422, description = "Invalid input", body = crate::error::ValidationBody), (status = 503, description = "The job system is unreachable", body = crate::error::ErrorBody)), security(("oauth2" = [])))]
pub async fn list(
    State(s): State<AppState>,
    user: Authorized<Managers>,
    ValidQuery(q): ValidQuery<JobListQuery>,
) -> ApiResult<Json<JobListPage>> {
    Ok(Json(list_page(&s, user.user(), q).await?))
}

/// The page of jobs `q` asks for, as `user` (a supervisor or an admin) may
/// see it: a text search and payloads are for admins.
pub(crate) async fn list_page(
    s: &AppState,
    user: &User,
    q: JobListQuery,
) -> ApiResult<JobListPage> {
    let admin = user.role == Role::Admin;
    let page = q.page.unwrap_or(1);
    let limit = q.limit.unwrap_or(50);
    if page < 1 {
        return Err(invalid(&["query", "page"], "must be 1 or more"));
    }
    if !(1..=200).contains(&limit) {
        return Err(invalid(&["query", "limit"], "must be between 1 and 200"));
    }
    let offset = (usize::try_from(page - 1).unwrap_or(usize::MAX))
        .saturating_mul(usize::try_from(limit).unwrap_or(usize::MAX));
    if offset.saturating_add(usize::try_from(limit).unwrap_or(0)) > SEARCH_LIMIT {
        return Err(invalid(
            &["query", "page"],
            format!("a page may end at most {SEARCH_LIMIT} jobs deep; narrow the filter"),
        ));
    }
    let text = q.q.filter(|t| !t.is_empty());
    if text.is_some() && !admin {
        return Err(ApiError::Forbidden(
            "searching payloads and errors is for admins".to_owned(),
        ));
    }
    let filter = JobFilter {
        queue: q.queue.filter(|q| !q.is_empty()),
        state: q.state.unwrap_or(ListState::Queued),
        name: q.name.filter(|n| !n.is_empty()),
        text,
        offset,
        limit: usize::try_from(limit).unwrap_or(50),
    };
    let mut found = s.broker.list_jobs(&filter).await.map_err(broker_error)?;
    if !admin {
        found.jobs.iter_mut().for_each(redact);
    }
    Ok(JobListPage {
        items: found.jobs,
        page,
        limit,
        more: found.more,
    })
}

pub(crate) fn queue_name(raw: &str) -> ApiResult<&str> {
    if raw.is_empty()
        || raw.len() > 100
        || raw.contains(['{', '}'])
        || raw.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(invalid(
            &["path", "queue"],
            "a queue name has 1 to 100 characters, no braces or whitespace",
        ));
    }
    Ok(raw)
}

/// Pauses or resumes `queue` for `user` (an admin), audited; 404 for a
/// queue neither Paquetería's nor ever seen by the broker.
pub(crate) async fn pause_or_resume(
    s: &AppState,
    user: &User,
    client: ClientAddr,
    queue: &str,
    pause: bool,
) -> ApiResult<Json<QueueStats>> {
    let queue = queue_name(queue)?;
    if !known_queues(s).await?.iter().any(|q| q == queue) {
        return Err(ApiError::NotFound(format!("queue {queue}")));
    }
    let changed = if pause {
        s.broker.pause_queue(queue).await
    } else {
        s.broker.resume_queue(queue).await
    }
    .map_err(broker_error)?;
    let (action, detail) = match (pause, changed) {
        (true, true) => (AuditAction::QueuePaused, "paused"),
        (true, false) => (AuditAction::QueuePaused, "was paused already"),
        (false, true) => (AuditAction::QueueResumed, "resumed"),
        (false, false) => (AuditAction::QueueResumed, "was not paused"),
    };
    audit(s, user, client, action, &format!("queue:{queue}"), detail).await?;
    let stats = s
        .broker
        .stats(&[queue.to_owned()])
        .await
        .map_err(broker_error)?
        .pop()
        .ok_or_else(|| ApiError::Internal(format!("no counts for queue {queue}")))?;
    Ok(Json(stats))
}

/// Pauses a queue: it still takes jobs, but no worker runs any until it is
/// resumed (admins; audited). Pausing a paused queue changes nothing; a
/// queue neither Paquetería's nor ever seen by the broker is a 404 (a
/// typo would otherwise pause nothing).
#[utoipa::path(post, path = "/api/v1/jobs/queues/{queue}/pause", tag = "jobs", params(("queue" = String, Path, description = "Queue name")), responses((status = 200, description = "Paused; the queue's counts", body = paqueteria_jobs::broker::QueueStats), (status = 401, description = "Not signed in", body = crate::error::ErrorBody), (status = 403, description = "Role not allowed", body = crate::error::ErrorBody), (status = 404, description = "No such queue", body = crate::error::ErrorBody), (status = 422, description = "Invalid input", body = crate::error::ValidationBody), (status = 503, description = "The job system is unreachable", body = crate::error::ErrorBody)), security(("oauth2" = [])))]
pub async fn pause(
    State(s): State<AppState>,
    user: Authorized<Admins>,
    client: ClientAddr,
    ValidPath(queue): ValidPath<String>,
) -> ApiResult<Json<QueueStats>> {
    pause_or_resume(&s, user.user(), client, &queue, true).await
}

/// Resumes a paused queue: its waiting jobs run at once (admins; audited).
#[utoipa::path(post, path = "/api/v1/jobs/queues/{queue}/resume", tag = "jobs", params(("queue" = String, Path, description = "Queue name")), responses((status = 200, description = "Resumed; the queue's counts", body = paqueteria_jobs::broker::QueueStats), (status = 401, description = "Not signed in", body = crate::error::ErrorBody), (status = 403, description = "Role not allowed", body = crate::error::ErrorBody), (status = 404, description = "No such queue", body = crate::error::ErrorBody), (status = 422, description = "Invalid input", body = crate::error::ValidationBody), (status = 503, description = "The job system is unreachable", body = crate::error::ErrorBody)), security(("oauth2" = [])))]
pub async fn resume(
    State(s): State<AppState>,
    user: Authorized<Admins>,
    client: ClientAddr,
    ValidPath(queue): ValidPath<String>,
) -> ApiResult<Json<QueueStats>> {
    pause_or_resume(&s, user.user(), client, &queue, false).await
}

/// Makes a scheduled or retrying job due now (admins; audited).
#[utoipa::path(post, path = "/api/v1/jobs/{id}/run-now", tag = "jobs", params(("id" = String, Path, description = "Job id")), responses((status = 202, description = "Queued now"), (status = 401, description = "Not signed in", body = crate::error::ErrorBody), (status = 403, description = "Role not allowed", body = crate::error::ErrorBody), (status = 404, description = "Not found", body = crate::error::ErrorBody), (status = 409, description = "The job does not wait for a time", body = crate::error::ErrorBody), (status = 422, description = "Invalid input", body = crate::error::ValidationBody)), security(("oauth2" = [])))]
pub async fn run_now(
    State(s): State<AppState>,
    user: Authorized<Admins>,
    client: ClientAddr,
    ValidPath(id): ValidPath<String>,
) -> ApiResult<StatusCode> {
    run_job_now(&s, user.user(), client, &job_id(id)?).await?;
    Ok(StatusCode::ACCEPTED)
}

/// Makes job `id` due now for `user` (an admin), audited; 404 for no such
/// job, 409 for one that does not wait for a time.
pub(crate) async fn run_job_now(
    s: &AppState,
    user: &User,
    client: ClientAddr,
    id: &JobId,
) -> ApiResult<()> {
    if s.broker.run_now(id).await.map_err(broker_error)? {
        let subject = format!("job:{id}");
        audit(s, user, client, AuditAction::JobRunNow, &subject, "1 job").await?;
        return Ok(());
    }
    match s.broker.job(id).await.map_err(broker_error)? {
        None => Err(ApiError::NotFound(format!("job {id}"))),
        Some(job) => Err(ApiError::Conflict(format!(
            "job {id} is {}: only a scheduled or retrying job can run now",
            job.state
        ))),
    }
}

/// What a cancel did.
#[derive(utoipa::ToSchema, Debug, Serialize)]
pub struct Cancelled {
    /// `cancelled` (it was waiting), or `requested` (it is running: its
    /// worker stops it at its next heartbeat).
    pub outcome: &'static str,
}

/// Cancels a waiting job, or asks a running one to stop (admins; audited).
#[utoipa::path(post, path = "/api/v1/jobs/{id}/cancel", tag = "jobs", params(("id" = String, Path, description = "Job id")), responses((status = 200, description = "Cancelled, or asked to stop", body = Cancelled), (status = 401, description = "Not signed in", body = crate::error::ErrorBody), (status = 403, description = "Role not allowed", body = crate::error::ErrorBody), (status = 404, description = "Not found", body = crate::error::ErrorBody), (status = 409, description = "The job has ended already", body = crate::error::ErrorBody), (status = 422, description = "Invalid input", body = crate::error::ValidationBody)), security(("oauth2" = [])))]
pub async fn cancel(
    State(s): State<AppState>,
    user: Authorized<Admins>,
    client: ClientAddr,
    ValidPath(id): ValidPath<String>,
) -> ApiResult<Json<Cancelled>> {
    let outcome = cancel_job(&s, user.user(), client, &job_id(id)?).await?;
    Ok(Json(Cancelled { outcome }))
}

/// Cancels job `id` (or asks it to stop) for `user` (an admin), audited:
/// `cancelled` or `requested`; 404 for no such job, 409 for one that ended.
pub(crate) async fn cancel_job(
    s: &AppState,
    user: &User,
    client: ClientAddr,
    id: &JobId,
) -> ApiResult<&'static str> {
    let outcome = match s.broker.cancel(id).await.map_err(broker_error)? {
        CancelOutcome::Cancelled => "cancelled",
        CancelOutcome::Requested => "requested",
        CancelOutcome::AlreadyFinished(state) => {
            return Err(ApiError::Conflict(format!("job {id} is {state} already")));
        }
        CancelOutcome::Unknown => return Err(ApiError::NotFound(format!("job {id}"))),
    };
    let subject = format!("job:{id}");
    audit(
        s,
        user,
        client,
        AuditAction::JobCancelled,
        &subject,
        outcome,
    )
    .await?;
    Ok(outcome)
}

/// The most ids one bulk request may name.
const BULK_IDS: usize = 1000;

/// Which dead jobs a bulk action takes by filter: the ones
/// `GET /api/v1/jobs?state=dead` would list with the same `queue`, `name`
/// and `q`, at most the newest 10,000 of each queue.
#[derive(utoipa::ToSchema, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BulkFilter {
    /// Only this queue.
    pub queue: Option<String>,
    /// Only this job name (exact).
    pub name: Option<String>,
    /// Only jobs whose payload, last error or request id holds this text.
    pub q: Option<String>,
}

/// `POST /api/v1/jobs/bulk`: an action on dead jobs named by `ids`, or on
/// every dead job `filter` matches (one of the two).
#[derive(utoipa::ToSchema, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BulkRequest {
    /// `retry` (queue them again with fresh attempts) or `discard` (delete
    /// them).
    #[schema(value_type = String)]
    pub action: DeadAction,
    /// The jobs, by id (at most 1,000); ids not in the dead set are skipped.
    pub ids: Option<Vec<String>>,
    /// Or every dead job this matches.
    pub filter: Option<BulkFilter>,
}

/// What a bulk action did.
#[derive(utoipa::ToSchema, Debug, Serialize)]
pub struct BulkDone {
    /// `retry` or `discard`.
    pub action: &'static str,
    /// Dead jobs retried or discarded.
    pub count: u64,
}

/// Retries or discards many dead jobs at once, by id or by filter (admins;
/// audited with the count).
#[utoipa::path(post, path = "/api/v1/jobs/bulk", tag = "jobs", request_body = BulkRequest, responses((status = 200, description = "Done; how many jobs it took", body = BulkDone), (status = 401, description = "Not signed in", body = crate::error::ErrorBody), (status = 403, description = "Role not allowed", body = crate::error::ErrorBody), (status = 422, description = "Invalid input", body = crate::error::ValidationBody), (status = 503, description = "The job system is unreachable", body = crate::error::ErrorBody)), security(("oauth2" = [])))]
pub async fn bulk(
    State(s): State<AppState>,
    user: Authorized<Admins>,
    client: ClientAddr,
    ValidJson(req): ValidJson<BulkRequest>,
) -> ApiResult<Json<BulkDone>> {
    Ok(Json(bulk_action(&s, user.user(), client, req).await?))
}

/// Retries or discards the dead jobs `req` names for `user` (an admin),
/// audited with the count.
pub(crate) async fn bulk_action(
    s: &AppState,
    user: &User,
    client: ClientAddr,
    req: BulkRequest,
) -> ApiResult<BulkDone> {
    let (count, detail) = match (req.ids, req.filter) {
        (Some(ids), None) => {
            if ids.is_empty() || ids.len() > BULK_IDS {
                return Err(invalid(
                    &["body", "ids"],
                    format!("name 1 to {BULK_IDS} jobs"),
                ));
            }
            let ids = ids
                .into_iter()
                .map(|raw| JobId::parse(raw).map_err(|msg| invalid(&["body", "ids"], msg)))
                .collect::<ApiResult<Vec<_>>>()?;
            let n = s
                .broker
                .bulk_dead(req.action, &ids)
                .await
                .map_err(broker_error)?;
            let listed: Vec<&str> = ids.iter().map(JobId::as_str).collect();
            (
                n,
                format!("{n} of {} jobs: {}", ids.len(), listed.join(", ")),
            )
        }
        (None, Some(f)) => {
            let filter = JobFilter {
                queue: f.queue.filter(|q| !q.is_empty()),
                state: ListState::Dead,
                name: f.name.filter(|n| !n.is_empty()),
                text: f.q.filter(|t| !t.is_empty()),
                offset: 0,
                limit: SEARCH_LIMIT,
            };
            let n = s
                .broker
                .bulk_dead_matching(req.action, &filter)
                .await
                .map_err(broker_error)?;
            let describe = |k: &str, v: &Option<String>| {
                v.as_deref()
                    .map(|v| format!(" {k}={v:?}"))
                    .unwrap_or_default()
            };
            (
                n,
                format!(
                    "{n} jobs matching the dead set filter{}{}{}",
                    describe("queue", &filter.queue),
                    describe("name", &filter.name),
                    describe("q", &filter.text)
                ),
            )
        }
        _ => {
            return Err(invalid(&["body"], "give either ids or filter"));
        }
    };
    let action = match req.action {
        DeadAction::Retry => AuditAction::JobsRetried,
        DeadAction::Discard => AuditAction::JobsDiscarded,
    };
    audit(s, user, client, action, "jobs:bulk", &detail).await?;
    Ok(BulkDone {
        action: req.action.as_str(),
        count,
    })
}
