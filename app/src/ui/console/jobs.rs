//! The console's jobs: browse a state of the queues (queued, scheduled,
//! running, dead), newest first, filtered by queue, job name and text in
//! the payload, error or request id (admins), a page at a time; export what the filter
//! matches as JSON or CSV; and the admins' actions, each the API's own
//! (same checks, same audit row): retry or discard dead jobs (the selected
//! rows, or every one the filter matches), and on one job retry, discard,
//! cancel or run now; pause and resume a queue.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum_csrf::CsrfToken;
use paqueteria_jobs::broker::{DeadAction, JobId, JobInfo, ListState, SEARCH_LIMIT};
use serde::Deserialize;

use super::super::format::{datetime, utc};
use super::super::pages::chrome;
use super::super::refusal::{from_api, refused};
use super::super::{Chrome, Lang, UiUser};
use super::{admin_form, may_act, may_read};
use crate::client::ClientAddr;
use crate::error::ApiError;
use crate::routes::jobs::{BulkFilter, BulkRequest, JobListQuery};
use crate::startup::AppState;

/// Jobs a page shows.
const PAGE_SIZE: u32 = 50;

/// The states the browser offers, in the order of a job's life.
const STATES: [ListState; 4] = [
    ListState::Queued,
    ListState::Scheduled,
    ListState::Running,
    ListState::Dead,
];

/// `GET /console/jobs` query: the filter, as the API's `GET /api/v1/jobs`
/// takes it (empty fields are no filter).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct Filter {
    queue: String,
    state: String,
    name: String,
    q: String,
    page: Option<u32>,
    /// Set after an action: what it did.
    done: Option<String>,
}

impl Filter {
    fn state(&self) -> ListState {
        ListState::parse(&self.state).unwrap_or(ListState::Dead)
    }

    fn query(&self, page: u32, limit: u32) -> JobListQuery {
        let opt = |s: &str| Some(s.trim().to_owned()).filter(|t| !t.is_empty());
        JobListQuery {
            queue: opt(&self.queue),
            state: Some(self.state()),
            name: opt(&self.name),
            q: opt(&self.q),
            page: Some(page),
            limit: Some(limit),
        }
    }

    /// The URL query of this filter (`page` when given).
    fn url(&self, page: Option<u32>) -> String {
        let mut q = form_urlencoded::Serializer::new(String::new());
        q.append_pair("queue", &self.queue)
            .append_pair("state", self.state().as_str())
            .append_pair("name", &self.name)
            .append_pair("q", &self.q);
        if let Some(p) = page {
            q.append_pair("page", &p.to_string());
        }
        q.finish()
    }
}

/// One row of the list.
struct Row {
    id: String,
    /// The id, escaped for a URL path.
    href: String,
    name: String,
    queue: String,
    attempts: String,
    when: String,
    when_utc: String,
    error: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "console_jobs.html")]
struct JobsPage {
    chrome: Chrome,
    queues: Vec<(String, bool)>,
    states: Vec<(String, String, bool)>,
    name: String,
    q: String,
    rows: Vec<Row>,
    notice: Option<String>,
    /// The filter as hidden fields of the bulk form: name, value.
    hidden: Vec<(&'static str, String)>,
    /// Links to the neighbouring pages and the exports.
    previous: Option<String>,
    next: Option<String>,
    export: String,
    page_label: String,
    /// Admin on the dead set: the bulk actions are offered.
    bulk: bool,
    /// Admin: the text search is offered (it reads payloads).
    search: bool,
}

pub(super) fn path_of(id: &str) -> String {
    form_urlencoded::byte_serialize(id.as_bytes()).collect()
}

fn row(j: &JobInfo, tz: chrono_tz::Tz, lang: Lang, admin: bool) -> Row {
    let at = j.finished_at_ms.unwrap_or(j.run_at_ms);
    Row {
        id: j.id.as_str().to_owned(),
        href: path_of(j.id.as_str()),
        name: j.name.clone(),
        queue: j.queue.clone(),
        attempts: format!("{}/{}", j.attempts, j.max_attempts),
        when: datetime(at, tz, lang),
        when_utc: utc(at),
        error: j
            .last_error
            .as_deref()
            .filter(|_| admin)
            .map(|e| e.chars().take(160).collect())
            .unwrap_or_default(),
    }
}

/// `GET /console/jobs`: a page of the jobs the filter selects.
pub async fn list(
    State(s): State<AppState>,
    headers: HeaderMap,
    user: UiUser,
    csrf: CsrfToken,
    axum::extract::Query(f): axum::extract::Query<Filter>,
) -> Response {
    let chrome = chrome(&headers, Some(&user), &csrf);
    let lang = chrome.lang;
    if !may_read(&user) {
        let msg = lang.t("errors.forbidden");
        return refused(chrome, StatusCode::FORBIDDEN, msg);
    }
    let admin = may_act(&user);
    let page = f.page.unwrap_or(1).max(1);
    let queues = match crate::routes::jobs::known_queues(&s).await {
        Ok(q) => q,
        Err(e) => return from_api(chrome, e),
    };
    let found = match crate::routes::jobs::list_page(&s, &user.0, f.query(page, PAGE_SIZE)).await {
        Ok(p) => p,
        Err(e) => return from_api(chrome, e),
    };
    let tz = s.settings.time_zone;
    let state = f.state();
    let notice = f.done.as_deref().map(|d| {
        let (key, n) = d.split_once(':').unwrap_or((d, ""));
        lang.t_with(&format!("console.done_{key}"), "n", n)
    });
    let page_view = JobsPage {
        queues: queues
            .into_iter()
            .map(|q| {
                let selected = q == f.queue;
                (q, selected)
            })
            .collect(),
        states: STATES
            .iter()
            .map(|st| {
                (
                    st.as_str().to_owned(),
                    lang.t(&format!("console.col_{}", st.as_str())),
                    *st == state,
                )
            })
            .collect(),
        name: f.name.clone(),
        q: f.q.clone(),
        rows: found
            .items
            .iter()
            .map(|j| row(j, tz, lang, admin))
            .collect(),
        notice,
        hidden: vec![
            ("queue", f.queue.clone()),
            ("name", f.name.clone()),
            ("q", f.q.clone()),
        ],
        previous: (page > 1).then(|| f.url(Some(page - 1))),
        next: found.more.then(|| f.url(Some(page + 1))),
        export: f.url(None),
        page_label: lang.t_with("parcels.page", "page", &page.to_string()),
        bulk: admin && state == ListState::Dead,
        search: admin,
        chrome,
    };
    (csrf, page_view).into_response()
}

/// `POST /console/jobs/bulk`: retry or discard the selected dead jobs, or
/// every dead job the filter matches.
pub async fn bulk(
    State(s): State<AppState>,
    headers: HeaderMap,
    user: UiUser,
    csrf: CsrfToken,
    client: ClientAddr,
    body: String,
) -> Response {
    // Repeated `id` fields: read as pairs (a struct would keep one).
    let pairs: Vec<(String, String)> = form_urlencoded::parse(body.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let field = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let chrome = match admin_form(&headers, &user, &csrf, &field("authenticity_token")) {
        Ok(c) => c,
        Err(refusal) => return *refusal,
    };
    let lang = chrome.lang;
    let action = match field("action").as_str() {
        "retry" => DeadAction::Retry,
        "discard" => DeadAction::Discard,
        _ => {
            let msg = lang.t("errors.not_found");
            return refused(chrome, StatusCode::NOT_FOUND, msg);
        }
    };
    let opt = |v: String| Some(v).filter(|t| !t.trim().is_empty());
    let ids: Vec<String> = pairs
        .iter()
        .filter(|(k, _)| k == "id")
        .map(|(_, v)| v.clone())
        .collect();
    let req = if field("scope") == "matching" {
        BulkRequest {
            action,
            ids: None,
            filter: Some(BulkFilter {
                queue: opt(field("queue")),
                name: opt(field("name")),
                q: opt(field("q")),
            }),
        }
    } else {
        BulkRequest {
            action,
            ids: Some(ids),
            filter: None,
        }
    };
    let back = Filter {
        queue: field("queue"),
        state: "dead".to_owned(),
        name: field("name"),
        q: field("q"),
        page: None,
        done: None,
    };
    match crate::routes::jobs::bulk_action(&s, &user.0, client, req).await {
        Ok(done) => Redirect::to(&format!(
            "/console/jobs?{}&done={}:{}",
            back.url(None),
            done.action,
            done.count
        ))
        .into_response(),
        Err(e) => from_api(chrome, e),
    }
}

/// An action's form: the CSRF token.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ActionForm {
    pub(super) authenticity_token: String,
    /// A duplicate's payload (JSON), as edited.
    pub(super) payload: Option<String>,
}

/// `POST /console/jobs/{id}/{action}`: `retry` or `discard` (dead),
/// `cancel`, `run-now` on one job (admins), then back to its page.
pub async fn act(
    State(s): State<AppState>,
    headers: HeaderMap,
    user: UiUser,
    csrf: CsrfToken,
    (client, request): (ClientAddr, crate::access::RequestId),
    Path((id, action)): Path<(String, String)>,
    axum::Form(f): axum::Form<ActionForm>,
) -> Response {
    let chrome = match admin_form(&headers, &user, &csrf, &f.authenticity_token) {
        Ok(c) => c,
        Err(refusal) => return *refusal,
    };
    let lang = chrome.lang;
    let Ok(job) = JobId::parse(id) else {
        let msg = lang.t("errors.not_found");
        return refused(chrome, StatusCode::NOT_FOUND, msg);
    };
    use crate::routes::jobs as api;
    if action == "duplicate" {
        let from = (client, &request);
        return duplicate(&s, &user, csrf, chrome, from, &job, f.payload).await;
    }
    let done = match action.as_str() {
        "retry" => api::retry_dead(&s, &user.0, client, &job)
            .await
            .map(|()| "retry"),
        "discard" => api::discard_dead(&s, &user.0, client, &job)
            .await
            .map(|()| "discard"),
        "cancel" => api::cancel_job(&s, &user.0, client, &job)
            .await
            .map(|_| "cancel"),
        "run-now" => api::run_job_now(&s, &user.0, client, &job)
            .await
            .map(|()| "run_now"),
        _ => {
            let msg = lang.t("errors.not_found");
            return refused(chrome, StatusCode::NOT_FOUND, msg);
        }
    };
    match done {
        // A discarded job is gone: back to the dead set.
        Ok("discard") => Redirect::to("/console/jobs?state=dead&done=discard:1").into_response(),
        Ok(what) => Redirect::to(&format!(
            "/console/jobs/{}?done={what}",
            path_of(job.as_str())
        ))
        .into_response(),
        Err(e) => from_api(chrome, e),
    }
}

/// The duplicate action: the new job's page, or the form again (422)
/// with what the job's type says is wrong with the payload.
async fn duplicate(
    s: &AppState,
    user: &UiUser,
    csrf: CsrfToken,
    chrome: Chrome,
    from: (ClientAddr, &crate::access::RequestId),
    job: &JobId,
    payload: Option<String>,
) -> Response {
    let payload = payload.unwrap_or_default();
    let done =
        crate::routes::job_actions::duplicate_job(s, &user.0, from, job, Some(&payload)).await;
    match done {
        Ok(new) => Redirect::to(&format!(
            "/console/jobs/{}?done=duplicate",
            path_of(new.as_str())
        ))
        .into_response(),
        Err(ApiError::Validation(errors)) => {
            let why = errors
                .into_iter()
                .map(|e| e.msg)
                .collect::<Vec<_>>()
                .join("; ");
            let error = chrome.lang.t_with("console.duplicate_invalid", "why", &why);
            super::job::render(
                s,
                user,
                csrf,
                chrome,
                job.as_str(),
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                Some((payload, error)),
            )
            .await
        }
        Err(e) => from_api(chrome, e),
    }
}

/// `POST /console/queues/{queue}/{pause|resume}` (admins), then back to
/// the overview.
pub async fn queue(
    State(s): State<AppState>,
    headers: HeaderMap,
    user: UiUser,
    csrf: CsrfToken,
    client: ClientAddr,
    Path((queue, action)): Path<(String, String)>,
    axum::Form(f): axum::Form<ActionForm>,
) -> Response {
    let chrome = match admin_form(&headers, &user, &csrf, &f.authenticity_token) {
        Ok(c) => c,
        Err(refusal) => return *refusal,
    };
    let lang = chrome.lang;
    let pause = match action.as_str() {
        "pause" => true,
        "resume" => false,
        _ => {
            let msg = lang.t("errors.not_found");
            return refused(chrome, StatusCode::NOT_FOUND, msg);
        }
    };
    match crate::routes::jobs::pause_or_resume(&s, &user.0, client, &queue, pause).await {
        Ok(_) => Redirect::to("/console").into_response(),
        Err(e) => from_api(chrome, e),
    }
}

/// `GET /console/jobs/export.json?…`: every job the filter matches (at
/// most the newest 10,000) as JSON; payloads for admins only.
pub async fn export_json(
    State(s): State<AppState>,
    headers: HeaderMap,
    user: UiUser,
    csrf: CsrfToken,
    axum::extract::Query(f): axum::extract::Query<Filter>,
) -> Response {
    export(&s, &headers, &user, &csrf, &f, false).await
}

/// `GET /console/jobs/export.csv?…`: the same as CSV.
pub async fn export_csv(
    State(s): State<AppState>,
    headers: HeaderMap,
    user: UiUser,
    csrf: CsrfToken,
    axum::extract::Query(f): axum::extract::Query<Filter>,
) -> Response {
    export(&s, &headers, &user, &csrf, &f, true).await
}

async fn export(
    s: &AppState,
    headers: &HeaderMap,
    user: &UiUser,
    csrf: &CsrfToken,
    f: &Filter,
    as_csv: bool,
) -> Response {
    let chrome = chrome(headers, Some(user), csrf);
    if !may_read(user) {
        let msg = chrome.t("errors.forbidden");
        return refused(chrome, StatusCode::FORBIDDEN, msg);
    }
    let mut jobs: Vec<JobInfo> = Vec::new();
    let limit = 200u32;
    let pages = u32::try_from(SEARCH_LIMIT).unwrap_or(u32::MAX) / limit;
    for page in 1..=pages {
        match crate::routes::jobs::list_page(s, &user.0, f.query(page, limit)).await {
            Ok(p) => {
                let more = p.more;
                jobs.extend(p.items);
                if !more {
                    break;
                }
            }
            Err(e) => return from_api(chrome, e),
        }
    }
    let name = format!("jobs-{}", f.state().as_str());
    if as_csv {
        return download(
            csv(&jobs),
            "text/csv; charset=utf-8",
            &format!("{name}.csv"),
        );
    }
    match serde_json::to_vec_pretty(&jobs) {
        Ok(body) => download(body, "application/json", &format!("{name}.json")),
        Err(e) => from_api(chrome, crate::error::ApiError::Internal(e.to_string())),
    }
}

fn download(body: Vec<u8>, content_type: &'static str, filename: &str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (
                header::CONTENT_DISPOSITION,
                HeaderValue::from_str(&format!("attachment; filename=\"{filename}\""))
                    .unwrap_or(HeaderValue::from_static("attachment")),
            ),
        ],
        body,
    )
        .into_response()
}

/// The jobs as CSV (RFC 4180: every field quoted, quotes doubled).
fn csv(jobs: &[JobInfo]) -> Vec<u8> {
    let field = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    let mut out = String::from(
        "id,name,queue,state,attempts,max_attempts,enqueued_at_ms,run_at_ms,started_at_ms,finished_at_ms,worker,last_error,payload\r\n",
    );
    for j in jobs {
        let opt = |v: Option<i64>| v.map(|v| v.to_string()).unwrap_or_default();
        let cells = [
            field(j.id.as_str()),
            field(&j.name),
            field(&j.queue),
            field(j.state.as_str()),
            j.attempts.to_string(),
            j.max_attempts.to_string(),
            j.enqueued_at_ms.to_string(),
            j.run_at_ms.to_string(),
            opt(j.started_at_ms),
            opt(j.finished_at_ms),
            field(j.worker.as_deref().unwrap_or_default()),
            field(j.last_error.as_deref().unwrap_or_default()),
            field(&j.payload),
        ];
        out.push_str(&cells.join(","));
        out.push_str("\r\n");
    }
    out.into_bytes()
}
