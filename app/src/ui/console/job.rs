//! One job's page: name, queue, state, attempts of max, its timings, the
//! request that enqueued it (its `X-Request-Id`), the payload (pretty
//! JSON), result and last error (admins only: they name customers, as in
//! the API), and the parcel or report it belongs to. For admins, its
//! actions, and "duplicate" with its payload to edit.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum_csrf::CsrfToken;
use paqueteria_jobs::broker::{JobInfo, JobState};

use super::super::format::{datetime, utc};
use super::super::pages::chrome;
use super::super::refusal::{from_api, refused};
use super::super::{Chrome, Lang, UiUser};
use super::{may_act, may_read};
use crate::error::ApiError;
use crate::startup::AppState;

/// A moment of the job's life: its name, when (local), when (UTC).
type Moment = (String, String, String);

#[derive(Template, WebTemplate)]
#[template(path = "console_job.html")]
struct JobPage {
    chrome: Chrome,
    id: String,
    name: String,
    queue: String,
    state: String,
    state_key: &'static str,
    attempts: String,
    worker: String,
    moments: Vec<Moment>,
    /// "1.2 s", once it ran to an end.
    run_time: Option<String>,
    /// The id of the request that enqueued it (`X-Request-Id`), to find
    /// that request's access-log line and the job's own log lines.
    request_id: Option<String>,
    /// Shown to admins only.
    payload: Option<String>,
    result: Option<String>,
    last_error: Option<String>,
    /// What it belongs to: label, link.
    belongs: Option<(String, String)>,
    /// The id, escaped for a URL path.
    href: String,
    /// What an admin may do with it now: action, button, confirmation.
    actions: Vec<(&'static str, String, Option<String>)>,
    /// What was just done to it.
    notice: Option<String>,
    /// The duplicate form (admins, jobs of the catalog): its payload and
    /// what was wrong with it.
    duplicate: Option<(String, Option<String>)>,
}

/// The payload as indented JSON (as stored when it is not JSON).
fn pretty(payload: &str) -> String {
    serde_json::from_str::<serde_json::Value>(payload)
        .and_then(|v| serde_json::to_string_pretty(&v))
        .unwrap_or_else(|_| payload.to_owned())
}

/// The parcel or report `job` works for, from its payload's ids (a
/// parcel only when `user` may see it).
async fn belongs_to(
    s: &AppState,
    user: &UiUser,
    job: &JobInfo,
    lang: Lang,
) -> Option<(String, String)> {
    let v: serde_json::Value = serde_json::from_str(&job.payload).ok()?;
    let id = |key: &str| v.get(key).and_then(serde_json::Value::as_i64);
    let parcel = if let Some(p) = id("parcel_id") {
        Some(p)
    } else if let Some(a) = id("attachment_id") {
        s.store.attachment(a).await.ok().map(|a| a.parcel_id)
    } else if let Some(n) = id("notification_id") {
        s.store.notification(n).await.ok().and_then(|n| n.parcel_id)
    } else {
        None
    };
    if let Some(p) = parcel {
        let code = crate::routes::parcels::visible_parcel(s, &user.0, p)
            .await
            .ok()?
            .tracking_code
            .as_str()
            .to_owned();
        return Some((
            lang.t_with("console.of_parcel", "code", &code),
            format!("/parcels/{p}"),
        ));
    }
    id("report_id").map(|r| {
        (
            lang.t_with("console.of_report", "id", &r.to_string()),
            "/reports".to_owned(),
        )
    })
}

/// `GET /console/jobs/{id}` query: the action just done.
#[derive(Debug, Default, serde::Deserialize)]
pub struct JobQuery {
    #[serde(default)]
    done: Option<String>,
}

/// The actions an admin may take on a job in `state`: action, button,
/// confirmation for what cannot be undone.
fn actions_for(state: JobState, lang: Lang) -> Vec<(&'static str, String, Option<String>)> {
    let mut out = Vec::new();
    match state {
        JobState::Dead => {
            out.push(("retry", lang.t("console.retry"), None));
            out.push((
                "discard",
                lang.t("console.discard"),
                Some(lang.t("console.confirm_discard")),
            ));
        }
        JobState::Scheduled | JobState::Retrying => {
            out.push(("run-now", lang.t("console.run_now"), None));
            out.push((
                "cancel",
                lang.t("console.cancel"),
                Some(lang.t("console.confirm_cancel")),
            ));
        }
        JobState::Queued | JobState::Running => out.push((
            "cancel",
            lang.t("console.cancel"),
            Some(lang.t("console.confirm_cancel")),
        )),
        JobState::Succeeded | JobState::Cancelled => {}
    }
    out
}

/// `GET /console/jobs/{id}`: the job (admins and supervisors).
pub async fn show(
    State(s): State<AppState>,
    headers: HeaderMap,
    user: UiUser,
    csrf: CsrfToken,
    Path(id): Path<String>,
    axum::extract::Query(q): axum::extract::Query<JobQuery>,
) -> Response {
    let chrome = chrome(&headers, Some(&user), &csrf);
    let lang = chrome.lang;
    if !may_read(&user) {
        let msg = lang.t("errors.forbidden");
        return refused(chrome, StatusCode::FORBIDDEN, msg);
    }
    let notice = q
        .done
        .filter(|d| {
            matches!(
                d.as_str(),
                "retry" | "cancel" | "run_now" | "duplicate" | "scheduled"
            )
        })
        .map(|d| lang.t_with(&format!("console.done_{d}"), "n", "1"));
    render(&s, &user, csrf, chrome, &id, StatusCode::OK, notice, None).await
}

/// The page of job `id` with `status`; `duplicate` is a duplicate form
/// sent back with its error.
#[allow(clippy::too_many_arguments)]
pub(super) async fn render(
    s: &AppState,
    user: &UiUser,
    csrf: CsrfToken,
    chrome: Chrome,
    id: &str,
    status: StatusCode,
    notice: Option<String>,
    duplicate: Option<(String, String)>,
) -> Response {
    let lang = chrome.lang;
    let not_found = |chrome: Chrome| {
        let msg = chrome.lang.t("errors.not_found");
        refused(chrome, StatusCode::NOT_FOUND, msg)
    };
    let Ok(job_id) = paqueteria_jobs::JobId::parse(id) else {
        return not_found(chrome);
    };
    let job = match s.broker.job(&job_id).await {
        Ok(Some(j)) => j,
        Ok(None) => return not_found(chrome),
        Err(e) => return from_api(chrome, ApiError::Unavailable(e.to_string())),
    };
    let tz = s.settings.time_zone;
    let moment = |key: &str, ms: i64| (lang.t(key), datetime(ms, tz, lang), utc(ms));
    let mut moments = vec![
        moment("console.enqueued", job.enqueued_at_ms),
        moment("console.due", job.run_at_ms),
    ];
    if let Some(t) = job.started_at_ms {
        moments.push(moment("console.started", t));
    }
    if let Some(t) = job.finished_at_ms {
        moments.push(moment("console.finished", t));
    }
    let run_time = job
        .started_at_ms
        .zip(job.finished_at_ms)
        .map(|(a, b)| format!("{:.1} s", (b - a).max(0) as f64 / 1000.0));
    let admin = may_act(user);
    let belongs = belongs_to(s, user, &job, lang).await;
    let state_key = job.state.as_str();
    let in_catalog = paqueteria_core::jobs::catalog().lookup(&job.name).is_ok();
    let duplicate = match duplicate {
        Some((payload, error)) => Some((payload, Some(error))),
        None => (admin && in_catalog).then(|| (pretty(&job.payload), None)),
    };
    let page = JobPage {
        href: form_urlencoded::byte_serialize(job.id.as_str().as_bytes()).collect(),
        actions: if admin {
            actions_for(job.state, lang)
        } else {
            Vec::new()
        },
        notice,
        id: job.id.as_str().to_owned(),
        name: job.name.clone(),
        queue: job.queue.clone(),
        state: lang.t(&format!("job_states.{state_key}")),
        state_key,
        attempts: lang
            .t_with("console.attempts", "n", &job.attempts.to_string())
            .replace("%{max}", &job.max_attempts.to_string()),
        worker: job.worker.clone().unwrap_or_default(),
        moments,
        run_time,
        request_id: job.request_id.clone(),
        payload: admin.then(|| pretty(&job.payload)),
        result: job.result.clone().filter(|_| admin),
        last_error: job.last_error.clone().filter(|_| admin),
        belongs,
        duplicate,
        chrome,
    };
    (status, csrf, page).into_response()
}
