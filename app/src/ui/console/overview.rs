//! The console's overview: per queue, what waits, runs and died and how
//! long the oldest waiting job has waited, what succeeded and failed in the
//! last minute and hour; the last hour's throughput as a chart; the live
//! workers. The part with the figures refreshes itself every few seconds.
//! "Find a job by id", which leads to the job's page; for admins, purge a
//! queue behind a typed confirmation.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum_csrf::CsrfToken;
use paqueteria_core::domain::thousands;
use serde::Deserialize;

use super::super::format::{datetime, utc};
use super::super::pages::chrome;
use super::super::refusal::{from_api, refused};
use super::super::{Chrome, Lang, UiUser};
use super::throughput::ThroughputChart;
use super::{admin_form, may_read};
use crate::client::ClientAddr;
use crate::error::ApiError;
use crate::startup::AppState;

/// One queue's line.
struct QueueLine {
    name: String,
    queued: String,
    scheduled: String,
    running: String,
    dead: String,
    /// "3 s", "2 min 5 s", or "—" when nothing waits.
    oldest: String,
    /// Something waits long or died: shown as trouble.
    trouble: bool,
    /// Paused: it takes jobs and runs none.
    paused: bool,
    /// "120 ✓ · 3 ✗": succeeded and failed in the last minute, and hour.
    minute: String,
    hour: String,
}

/// One live worker.
struct WorkerLine {
    host: String,
    pid: u32,
    queues: String,
    concurrency: usize,
    started: String,
    started_utc: String,
    last_seen: String,
}

/// The figures part (also answered alone to its own refresh).
struct Overview {
    queues: Vec<QueueLine>,
    workers: Vec<WorkerLine>,
    /// When it was read, for the "as of" line.
    read_at: String,
    /// An admin reads it: pause and resume are offered.
    admin: bool,
    /// The CSRF token of those forms.
    csrf: String,
    /// The last hour, minute by minute, every queue together.
    chart: ThroughputChart,
}

/// The purge form as it was sent, and what was wrong with it.
#[derive(Default)]
struct PurgeForm {
    queue: String,
    error: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "console_overview.html")]
struct OverviewPage {
    chrome: Chrome,
    overview: Overview,
    /// A job id that was looked for and not found.
    missing: Option<String>,
    /// What was just done.
    notice: Option<String>,
    /// The purge form (admins).
    purge: PurgeForm,
}

#[derive(Template, WebTemplate)]
#[template(path = "console_overview_part.html")]
struct OverviewPart {
    chrome: Chrome,
    overview: Overview,
}

/// A wait in seconds as people say it.
fn wait(seconds: f64, lang: Lang) -> String {
    if seconds <= 0.0 {
        return "—".to_owned();
    }
    let s = seconds.round() as u64;
    match s {
        0..60 => lang.t_with("console.seconds", "n", &s.to_string()),
        60..3600 => lang
            .t_with("console.minutes", "n", &(s / 60).to_string())
            .replace("%{s}", &(s % 60).to_string()),
        _ => lang
            .t_with("console.hours", "n", &(s / 3600).to_string())
            .replace("%{m}", &(s % 3600 / 60).to_string()),
    }
}

/// The queues and workers as they are now, for `user`.
async fn read(s: &AppState, user: &UiUser, chrome: &Chrome) -> Result<Overview, ApiError> {
    let lang = chrome.lang;
    let unavailable =
        |e: paqueteria_jobs::BrokerError| ApiError::Unavailable(format!("broker: {e}"));
    let names = crate::routes::jobs::known_queues(s).await?;
    let stats = s.broker.stats(&names).await.map_err(unavailable)?;
    let series = s
        .broker
        .throughput_series(&names)
        .await
        .map_err(unavailable)?;
    let mut workers = s.broker.workers().await.map_err(unavailable)?;
    workers.sort_by(|a, b| (a.started_at_ms, &a.id).cmp(&(b.started_at_ms, &b.id)));
    let tz = s.settings.time_zone;
    let now = s.store.clock().now_ms();
    Ok(Overview {
        queues: stats
            .iter()
            .map(|q| QueueLine {
                name: q.queue.clone(),
                queued: thousands(q.queued),
                scheduled: thousands(q.scheduled),
                running: thousands(q.running),
                dead: thousands(q.dead),
                oldest: wait(q.oldest_age_s, lang),
                trouble: q.dead > 0 || q.oldest_age_s > 60.0,
                paused: q.paused,
                minute: lang
                    .t_with(
                        "console.throughput",
                        "ok",
                        &thousands(q.throughput.succeeded_1m),
                    )
                    .replace("%{failed}", &thousands(q.throughput.failed_1m)),
                hour: lang
                    .t_with(
                        "console.throughput",
                        "ok",
                        &thousands(q.throughput.succeeded_1h),
                    )
                    .replace("%{failed}", &thousands(q.throughput.failed_1h)),
            })
            .collect(),
        workers: workers
            .iter()
            .map(|w| WorkerLine {
                host: w.hostname.clone(),
                pid: w.pid,
                queues: w.queues.join(", "),
                concurrency: w.concurrency,
                started: datetime(w.started_at_ms, tz, lang),
                started_utc: utc(w.started_at_ms),
                last_seen: wait(((now - w.last_seen_ms).max(0) as f64) / 1000.0, lang),
            })
            .collect(),
        read_at: datetime(now, tz, lang),
        admin: super::may_act(user),
        csrf: chrome.csrf.clone(),
        chart: ThroughputChart::of(&series, tz, lang),
    })
}

/// `GET /console` query: a job id to find, or the purge just done.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct FindQuery {
    job: String,
    purged: String,
    n: u64,
}

/// `GET /console`: the overview (admins and supervisors); `?job=ID` goes
/// to that job's page.
pub async fn page(
    State(s): State<AppState>,
    headers: HeaderMap,
    user: UiUser,
    csrf: CsrfToken,
    Query(q): Query<FindQuery>,
) -> Response {
    let chrome = chrome(&headers, Some(&user), &csrf);
    if !may_read(&user) {
        let msg = chrome.t("errors.forbidden");
        return refused(chrome, StatusCode::FORBIDDEN, msg);
    }
    let wanted = q.job.trim();
    let mut missing = None;
    if !wanted.is_empty() {
        match paqueteria_jobs::JobId::parse(wanted) {
            Ok(id) => match s.broker.job(&id).await {
                Ok(Some(_)) => {
                    let path: String =
                        form_urlencoded::byte_serialize(id.as_str().as_bytes()).collect();
                    return Redirect::to(&format!("/console/jobs/{path}")).into_response();
                }
                Ok(None) => missing = Some(wanted.to_owned()),
                Err(e) => return from_api(chrome, ApiError::Unavailable(e.to_string())),
            },
            Err(_) => missing = Some(wanted.to_owned()),
        }
    }
    let notice = (!q.purged.is_empty()).then(|| {
        chrome
            .lang
            .t_with("console.done_purge", "n", &thousands(q.n))
            .replace("%{queue}", &q.purged)
    });
    let status = if missing.is_some() {
        StatusCode::NOT_FOUND
    } else {
        StatusCode::OK
    };
    render(
        &s,
        &user,
        csrf,
        chrome,
        status,
        missing,
        notice,
        PurgeForm::default(),
    )
    .await
}

/// The overview page with its forms' state.
#[allow(clippy::too_many_arguments)]
async fn render(
    s: &AppState,
    user: &UiUser,
    csrf: CsrfToken,
    chrome: Chrome,
    status: StatusCode,
    missing: Option<String>,
    notice: Option<String>,
    purge: PurgeForm,
) -> Response {
    match read(s, user, &chrome).await {
        Ok(overview) => (
            status,
            csrf,
            OverviewPage {
                chrome,
                overview,
                missing,
                notice,
                purge,
            },
        )
            .into_response(),
        Err(e) => from_api(chrome, e),
    }
}

/// The purge form's fields.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct PurgeFields {
    authenticity_token: String,
    queue: String,
    confirm: String,
}

/// `POST /console/purge` (admins): deletes a queue's waiting jobs when
/// the confirmation names the queue; else the overview again, 422, with
/// the field's error.
pub async fn purge(
    State(s): State<AppState>,
    headers: HeaderMap,
    user: UiUser,
    csrf: CsrfToken,
    client: ClientAddr,
    axum::Form(f): axum::Form<PurgeFields>,
) -> Response {
    let chrome = match admin_form(&headers, &user, &csrf, &f.authenticity_token) {
        Ok(c) => c,
        Err(refusal) => return *refusal,
    };
    let queue = f.queue.trim();
    match crate::routes::job_actions::purge_queue(&s, &user.0, client, queue, &f.confirm).await {
        Ok(n) => {
            let q: String = form_urlencoded::Serializer::new(String::new())
                .append_pair("purged", queue)
                .append_pair("n", &n.to_string())
                .finish();
            Redirect::to(&format!("/console?{q}")).into_response()
        }
        Err(ApiError::Validation(_)) => {
            let error = chrome.lang.t_with("console.purge_mismatch", "queue", queue);
            let purge = PurgeForm {
                queue: queue.to_owned(),
                error: Some(error),
            };
            render(
                &s,
                &user,
                csrf,
                chrome,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                None,
                purge,
            )
            .await
        }
        Err(e) => from_api(chrome, e),
    }
}

/// `GET /console/overview`: the figures alone, for the page's refresh.
pub async fn part(
    State(s): State<AppState>,
    headers: HeaderMap,
    user: UiUser,
    csrf: CsrfToken,
) -> Response {
    let chrome = chrome(&headers, Some(&user), &csrf);
    if !may_read(&user) {
        let msg = chrome.t("errors.forbidden");
        return refused(chrome, StatusCode::FORBIDDEN, msg);
    }
    match read(&s, &user, &chrome).await {
        Ok(overview) => OverviewPart { chrome, overview }.into_response(),
        Err(e) => from_api(chrome, e),
    }
}
