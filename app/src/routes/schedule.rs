//! `/api/v1/schedule`: the scheduler's entries (the schedule file the
//! scheduler reads, `SCHEDULE_FILE`, or the built-in one) with their next
//! run and their last run as the broker knows it, for supervisors and
//! admins; and "run now" for admins, as `scheduler run-now` does.
//!
//! The last run is read from the broker, not from the scheduler's state
//! file (which lives with the scheduler): each tick's job has the id
//! `<entry>:<tick in UTC>`, so the newest tick whose job the broker still
//! holds (within its retention) is the last run.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use paqueteria_core::store::{AuditAction, User};
use paqueteria_jobs::broker::{JobId, JobInfo, JobState};
use paqueteria_jobs::scheduler::{Entry, Scheduler, SchedulerError, tick_id};
use serde::Serialize;

use super::jobs::{audit, broker_error};
use crate::auth::{Admins, Authorized, Managers};
use crate::client::ClientAddr;
use crate::error::{ApiError, ApiResult};
use crate::extract::ValidPath;
use crate::startup::AppState;

/// How far back a last run is looked for: the dead jobs' retention and a
/// day.
const LOOK_BACK_MS: i64 = 8 * 86_400_000;

/// Ticks whose jobs are looked up per entry at most (newest first).
const TICKS_LOOKED_UP: usize = 24;

/// One entry with its runs, as the console and the API show it.
pub(crate) struct EntryRuns<'a> {
    /// The entry.
    pub entry: &'a Entry,
    /// Its next tick (Unix ms).
    pub next_ms: Option<i64>,
    /// Its newest tick whose job the broker still holds: the tick (Unix
    /// ms) and the job.
    pub last: Option<(i64, JobInfo)>,
}

/// Every entry of the schedule with its next and last run.
pub(crate) async fn entry_runs(s: &AppState) -> ApiResult<Vec<EntryRuns<'_>>> {
    let now = s.broker.clock().now_ms();
    let mut out = Vec::with_capacity(s.schedule.len());
    for entry in s.schedule.iter() {
        let mut last = None;
        for tick in entry.ticks_before(now, now - LOOK_BACK_MS, TICKS_LOOKED_UP) {
            let Ok(id) = JobId::parse(tick_id(&entry.name, tick)) else {
                continue;
            };
            if let Some(job) = s.broker.job(&id).await.map_err(broker_error)? {
                last = Some((tick, job));
                break;
            }
        }
        out.push(EntryRuns {
            entry,
            next_ms: entry.next_after(now),
            last,
        });
    }
    Ok(out)
}

/// A schedule entry's last run.
#[derive(utoipa::ToSchema, Debug, Serialize)]
pub struct LastRun {
    /// The tick's job id (`<entry>:<tick in UTC>`).
    pub job_id: String,
    /// Its state.
    pub state: JobState,
    /// The tick it ran for (Unix ms).
    pub tick_at_ms: i64,
    /// When it ended (Unix ms), if it has.
    pub finished_at_ms: Option<i64>,
}

/// One entry of the schedule.
#[derive(utoipa::ToSchema, Debug, Serialize)]
pub struct ScheduleEntry {
    /// Its name.
    pub name: String,
    /// Its cron expression as written (weekdays as in crontab).
    pub cron: String,
    /// The zone its cron expression speaks of.
    pub tz: String,
    /// The job it enqueues.
    pub job: String,
    /// That job's queue.
    pub queue: String,
    /// What it does with ticks missed while no scheduler ran: `skip`,
    /// `once` or `backfill:N`.
    pub catch_up: String,
    /// Its next tick (Unix ms).
    pub next_run_at_ms: Option<i64>,
    /// Its newest tick whose job the broker still holds.
    pub last_run: Option<LastRun>,
}

/// The schedule's entries with their next and last runs (supervisors and
/// admins).
#[utoipa::path(get, path = "/api/v1/schedule", tag = "jobs", responses((status = 200, description = "The schedule's entries, in file order", body = Vec<ScheduleEntry>), (status = 401, description = "Not signed in", body = crate::error::ErrorBody), (status = 403, description = "Role not allowed", body = crate::error::ErrorBody), (status = 503, description = "The job system is unreachable", body = crate::error::ErrorBody)), security(("oauth2" = [])))]
pub async fn list(
    State(s): State<AppState>,
    _user: Authorized<Managers>,
) -> ApiResult<Json<Vec<ScheduleEntry>>> {
    let runs = entry_runs(&s).await?;
    Ok(Json(
        runs.into_iter()
            .map(|r| ScheduleEntry {
                name: r.entry.name.clone(),
                cron: r.entry.cron.clone(),
                tz: r.entry.tz.name().to_owned(),
                job: r.entry.job.clone(),
                queue: r.entry.queue().to_owned(),
                catch_up: r.entry.catch_up.to_string(),
                next_run_at_ms: r.next_ms,
                last_run: r.last.map(|(tick, j)| LastRun {
                    job_id: j.id.as_str().to_owned(),
                    state: j.state,
                    tick_at_ms: tick,
                    finished_at_ms: j.finished_at_ms,
                }),
            })
            .collect(),
    ))
}

/// The job a run-now enqueued.
#[derive(utoipa::ToSchema, Debug, Serialize)]
pub struct RunNow {
    /// Its id (`<entry>:manual:<uuid>`).
    pub job_id: String,
}

/// Enqueues one run of an entry now, outside its schedule, as
/// `scheduler run-now` does (admins; audited). Its ticks are unchanged.
#[utoipa::path(post, path = "/api/v1/schedule/{entry}/run-now", tag = "jobs", params(("entry" = String, Path, description = "Entry name")), responses((status = 202, description = "Enqueued; the job's id", body = RunNow), (status = 401, description = "Not signed in", body = crate::error::ErrorBody), (status = 403, description = "Role not allowed", body = crate::error::ErrorBody), (status = 404, description = "No such entry", body = crate::error::ErrorBody), (status = 503, description = "The job system is unreachable", body = crate::error::ErrorBody)), security(("oauth2" = [])))]
pub async fn run_now(
    State(s): State<AppState>,
    user: Authorized<Admins>,
    client: ClientAddr,
    ValidPath(entry): ValidPath<String>,
) -> ApiResult<(StatusCode, Json<RunNow>)> {
    let job_id = run_entry_now(&s, user.user(), client, &entry).await?;
    Ok((StatusCode::ACCEPTED, Json(RunNow { job_id })))
}

/// Runs entry `name` now for `user` (an admin), audited; the job's id.
pub(crate) async fn run_entry_now(
    s: &AppState,
    user: &User,
    client: ClientAddr,
    name: &str,
) -> ApiResult<String> {
    if !s.schedule.iter().any(|e| e.name == name) {
        return Err(ApiError::NotFound(format!("schedule entry {name:?}")));
    }
    let now = s.broker.clock().now_ms();
    let id = Scheduler::run_now(&s.schedule, &s.broker, name, now)
        .await
        .map_err(|e| match e {
            SchedulerError::Enqueue { source, .. } => broker_error(source),
            other => ApiError::Internal(other.to_string()),
        })?;
    audit(
        s,
        user,
        client,
        AuditAction::ScheduleRunNow,
        &format!("schedule:{name}"),
        &format!("job {id}"),
    )
    .await?;
    Ok(id)
}
