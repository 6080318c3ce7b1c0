//! The console's schedule: each entry of the scheduler's schedule with its
//! cron expression and what it means in words, its time zone, its next
//! run, its last run and how it ended (read from the broker, see
//! [`crate::routes::schedule`]), its catch-up policy, and "run now" for
//! admins (as `scheduler run-now`).

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum_csrf::CsrfToken;

use super::super::format::{datetime, utc};
use super::super::pages::chrome;
use super::super::refusal::{from_api, refused};
use super::super::{Chrome, UiUser};
use super::jobs::ActionForm;
use super::{admin_form, cron_words, may_act, may_read};
use crate::client::ClientAddr;
use crate::startup::AppState;

/// A moment: local time, UTC.
type When = (String, String);

/// One entry's line.
struct EntryLine {
    name: String,
    cron: String,
    /// The cadence in words, when it has a common shape.
    words: Option<String>,
    tz: String,
    job: String,
    queue: String,
    catch_up: String,
    next: Option<When>,
    /// The last run: its tick, its state's words and key, its job's page.
    last: Option<(When, String, &'static str, String)>,
}

#[derive(Template, WebTemplate)]
#[template(path = "console_schedule.html")]
struct SchedulePage {
    chrome: Chrome,
    entries: Vec<EntryLine>,
    /// An admin reads it: "run now" is offered.
    admin: bool,
}

/// `GET /console/schedule`: the entries (admins and supervisors).
pub async fn page(
    State(s): State<AppState>,
    headers: HeaderMap,
    user: UiUser,
    csrf: CsrfToken,
) -> Response {
    let chrome = chrome(&headers, Some(&user), &csrf);
    let lang = chrome.lang;
    if !may_read(&user) {
        let msg = lang.t("errors.forbidden");
        return refused(chrome, StatusCode::FORBIDDEN, msg);
    }
    let runs = match crate::routes::schedule::entry_runs(&s).await {
        Ok(r) => r,
        Err(e) => return from_api(chrome, e),
    };
    let tz = s.settings.time_zone;
    let when = |ms: i64| (datetime(ms, tz, lang), utc(ms));
    let entries = runs
        .into_iter()
        .map(|r| EntryLine {
            name: r.entry.name.clone(),
            cron: r.entry.cron.clone(),
            words: r.entry.cadence().map(|c| cron_words::words(&c, lang)),
            tz: r.entry.tz.name().to_owned(),
            job: r.entry.job.clone(),
            queue: r.entry.queue().to_owned(),
            catch_up: cron_words::catch_up(r.entry.catch_up, lang),
            next: r.next_ms.map(when),
            last: r.last.map(|(tick, j)| {
                let key = j.state.as_str();
                (
                    when(tick),
                    lang.t(&format!("job_states.{key}")),
                    key,
                    format!("/console/jobs/{}", super::jobs::path_of(j.id.as_str())),
                )
            }),
        })
        .collect();
    let page = SchedulePage {
        admin: may_act(&user),
        entries,
        chrome,
    };
    (csrf, page).into_response()
}

/// `POST /console/schedule/{entry}/run-now` (admins): enqueues one run
/// now, then shows its job.
pub async fn run_now(
    State(s): State<AppState>,
    headers: HeaderMap,
    user: UiUser,
    csrf: CsrfToken,
    client: ClientAddr,
    Path(entry): Path<String>,
    axum::Form(f): axum::Form<ActionForm>,
) -> Response {
    let chrome = match admin_form(&headers, &user, &csrf, &f.authenticity_token) {
        Ok(c) => c,
        Err(refusal) => return *refusal,
    };
    match crate::routes::schedule::run_entry_now(&s, &user.0, client, &entry).await {
        Ok(id) => Redirect::to(&format!(
            "/console/jobs/{}?done=scheduled",
            super::jobs::path_of(&id)
        ))
        .into_response(),
        Err(e) => from_api(chrome, e),
    }
}
