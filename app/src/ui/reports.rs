//! `/reports` (supervisors and admins, as `/api/v1/reports`): ask for a
//! PDF or Excel report of the parcels of a period, a branch or a status;
//! follow its job's progress (the row polls a small part of the page every
//! second until the report is done or failed) and download it; the list of
//! one's earlier reports (an admin's has everyone's).

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum_csrf::CsrfToken;
use paqueteria_core::domain::{ParcelStatus, Role, thousands};
use paqueteria_core::store::{Branch, Report};
use serde::Deserialize;

use super::format::{date, datetime, utc};
use super::forms::{Choice, FieldErrors, error_page, refused_unless};
use super::pages::{chrome, csrf_refused};
use super::{Chrome, Lang, UiUser};
use crate::auth::Managers;
use crate::error::ApiError;
use crate::routes::reports::{RequestReport, download_file, own_report, request_report};
use crate::startup::AppState;

/// Reports a page lists.
const PAGE_SIZE: u32 = 20;

/// A report as the list and its progress part show it.
struct Line {
    id: i64,
    kind: String,
    requested: String,
    requested_utc: String,
    /// What it covers: "1 ene 2026 – 31 ene 2026 · Bogotá Centro".
    covers: String,
    state: String,
    progress: i64,
    /// Still pending or running: its part polls.
    working: bool,
    done: bool,
    failed: bool,
    error: String,
}

impl Line {
    /// Report `r` as a line, its branch named from `branches`.
    fn of(r: &Report, branches: &[Branch], tz: chrono_tz::Tz, lang: Lang) -> Self {
        Self {
            covers: covers(&r.filters, branches, tz, lang),
            id: r.id,
            kind: lang.t(&format!("reports.kind_{}", r.kind)),
            requested: datetime(r.created_at_ms, tz, lang),
            requested_utc: utc(r.created_at_ms),
            state: lang.t(&format!("reports.state_{}", r.state)),
            progress: r.progress.clamp(0, 100),
            working: matches!(r.state.as_str(), "pending" | "running"),
            done: r.state == "done",
            failed: r.state == "failed",
            error: r.error.clone().unwrap_or_default(),
        }
    }
}

/// What a report's `filters` (as `request_report` keeps them) cover, in
/// words.
fn covers(
    filters: &serde_json::Value,
    branches: &[Branch],
    tz: chrono_tz::Tz,
    lang: Lang,
) -> String {
    let day = |key: &str| filters[key].as_i64().map(|ms| date(ms, tz, lang));
    let mut parts = Vec::new();
    match (day("from_ms"), day("to_ms")) {
        (Some(from), Some(to)) => parts.push(format!("{from} – {to}")),
        (Some(from), None) => parts.push(lang.t_with("reports.since", "day", &from)),
        (None, Some(to)) => parts.push(lang.t_with("reports.until", "day", &to)),
        (None, None) => {}
    }
    if let Some(id) = filters["branch_id"].as_i64() {
        parts.push(
            branches
                .iter()
                .find(|b| b.id == id)
                .map_or_else(|| id.to_string(), |b| b.name.clone()),
        );
    }
    if let Some(status) = filters["status"].as_str() {
        parts.push(lang.t(&format!("status.{status}")));
    }
    if parts.is_empty() {
        lang.t("reports.everything")
    } else {
        parts.join(" · ")
    }
}

/// The request form's fields, as typed (kept to show them again).
#[derive(Debug, Default, Deserialize)]
pub struct ReportForm {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    branch_id: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    authenticity_token: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "reports.html")]
struct ReportsPage {
    chrome: Chrome,
    form: ReportForm,
    kinds: Vec<Choice>,
    branches: Vec<Choice>,
    statuses: Vec<Choice>,
    errors: FieldErrors,
    lines: Vec<Line>,
    /// "3 reportes".
    total: String,
    previous: Option<u32>,
    next: Option<u32>,
}

#[derive(Template, WebTemplate)]
#[template(path = "report_progress.html")]
struct ProgressPart {
    chrome: Chrome,
    line: Line,
}

/// `GET /reports` query.
#[derive(Debug, Deserialize)]
pub struct ReportsQuery {
    #[serde(default)]
    page: Option<u32>,
}

/// The page with `form` (and its `errors`) and page `page` of the list.
async fn page(
    s: &AppState,
    chrome: Chrome,
    user: &UiUser,
    form: ReportForm,
    errors: FieldErrors,
    page: u32,
) -> Result<ReportsPage, ApiError> {
    let lang = chrome.lang;
    let whose = (user.0.role != Role::Admin).then_some(user.0.id);
    let (reports, total) = s.store.reports_page(whose, page, PAGE_SIZE).await?;
    let all_branches = s.store.branches().await?;
    let branches = all_branches
        .iter()
        .map(|b| {
            let id = b.id.to_string();
            let selected = id == form.branch_id;
            (id, b.name.clone(), selected)
        })
        .collect();
    let kinds = ["pdf", "xlsx"]
        .iter()
        .map(|k| {
            (
                (*k).to_owned(),
                lang.t(&format!("reports.kind_{k}")),
                form.kind == *k,
            )
        })
        .collect();
    let statuses = ParcelStatus::ALL
        .iter()
        .map(|st| {
            (
                st.as_str().to_owned(),
                lang.t(&format!("status.{}", st.as_str())),
                form.status == st.as_str(),
            )
        })
        .collect();
    let tz = s.settings.time_zone;
    Ok(ReportsPage {
        lines: reports
            .iter()
            .map(|r| Line::of(r, &all_branches, tz, lang))
            .collect(),
        total: if total == 1 {
            lang.t("reports.total_one")
        } else {
            lang.t_with("reports.total", "count", &thousands(total.unsigned_abs()))
        },
        previous: (page > 1).then(|| page - 1),
        next: (i64::from(page) * i64::from(PAGE_SIZE) < total).then(|| page + 1),
        kinds,
        branches,
        statuses,
        form,
        errors,
        chrome,
    })
}

/// `GET /reports`: the form and the user's reports.
pub async fn list(
    State(s): State<AppState>,
    headers: HeaderMap,
    user: UiUser,
    csrf: CsrfToken,
    Query(q): Query<ReportsQuery>,
) -> Response {
    let chrome = chrome(&headers, Some(&user), &csrf);
    if let Some(refused) = refused_unless::<Managers>(&chrome, &csrf, &user) {
        return refused;
    }
    let form = ReportForm {
        kind: "pdf".to_owned(),
        ..ReportForm::default()
    };
    let n = q.page.unwrap_or(1).max(1);
    match page(&s, chrome.clone(), &user, form, FieldErrors::default(), n).await {
        Ok(p) => (csrf, p).into_response(),
        Err(e) => error_page(chrome, csrf, e),
    }
}

/// The API's request for what `f` asks, or the fields the form got wrong.
fn to_request(f: &ReportForm, tz: chrono_tz::Tz, lang: Lang) -> Result<RequestReport, FieldErrors> {
    let mut errors = FieldErrors::default();
    let mut day = |field: &str, text: &str, days: i64| {
        let text = text.trim();
        if text.is_empty() {
            return None;
        }
        let ms = super::forms::day_start(text, tz, days);
        if ms.is_none() {
            errors.add(lang, field, "forms.bad_date");
        }
        ms
    };
    // The period is whole local days: from the first's 00:00 to the end
    // of the last.
    let from_ms = day("from", &f.from, 0);
    let to_ms = day("to", &f.to, 1).map(|ms| ms - 1);
    let branch_id = match f.branch_id.trim() {
        "" => None,
        b => match b.parse::<i64>() {
            Ok(id) => Some(id),
            Err(_) => {
                errors.add(lang, "branch_id", "forms.bad_choice");
                None
            }
        },
    };
    let status = match f.status.trim() {
        "" => None,
        st => {
            let found = ParcelStatus::ALL.into_iter().find(|s| s.as_str() == st);
            if found.is_none() {
                errors.add(lang, "status", "forms.bad_choice");
            }
            found
        }
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(RequestReport {
        kind: f.kind.trim().to_owned(),
        from_ms,
        to_ms,
        branch_id,
        status,
    })
}

/// `POST /reports`: asks for the report as `POST /api/v1/reports` does,
/// then back to the list, where its progress shows; 422 with the form and
/// the message next to each field the API refuses.
pub async fn request(
    State(s): State<AppState>,
    headers: HeaderMap,
    user: UiUser,
    csrf: CsrfToken,
    request: crate::access::RequestId,
    axum::Form(f): axum::Form<ReportForm>,
) -> Response {
    let chrome = chrome(&headers, Some(&user), &csrf);
    if let Some(refused) = refused_unless::<Managers>(&chrome, &csrf, &user) {
        return refused;
    }
    if csrf.verify(&f.authenticity_token).is_err() {
        return csrf_refused(chrome.lang);
    }
    let lang = chrome.lang;
    let errors = match to_request(&f, s.settings.time_zone, lang) {
        Ok(r) => match request_report(&s, &user.0, &r, &request).await {
            Ok(_) => return Redirect::to("/reports").into_response(),
            Err(e) => {
                let renamed = FieldErrors::from_api(e, lang, |field| match field {
                    "from_ms" => Some("from"),
                    "to_ms" => Some("to"),
                    _ => None,
                });
                match renamed {
                    Ok(errors) => errors,
                    Err(e) => return error_page(chrome, csrf, e),
                }
            }
        },
        Err(errors) => errors,
    };
    match page(&s, chrome.clone(), &user, f, errors, 1).await {
        Ok(p) => (StatusCode::UNPROCESSABLE_ENTITY, csrf, p).into_response(),
        Err(e) => error_page(chrome, csrf, e),
    }
}

/// `GET /reports/{id}/progress`: one report's state, the part of the page
/// that polls while its job runs (and stops polling once done or failed).
pub async fn progress(
    State(s): State<AppState>,
    headers: HeaderMap,
    user: UiUser,
    csrf: CsrfToken,
    Path(id): Path<i64>,
) -> Response {
    let chrome = chrome(&headers, Some(&user), &csrf);
    if let Some(refused) = refused_unless::<Managers>(&chrome, &csrf, &user) {
        return refused;
    }
    match own_report(&s, &user.0, id).await {
        Ok(r) => {
            // The part shows the state alone: no branch names needed.
            let line = Line::of(&r, &[], s.settings.time_zone, chrome.lang);
            ProgressPart { chrome, line }.into_response()
        }
        Err(e) => error_page(chrome, csrf, e),
    }
}

/// `GET /reports/{id}/download`: the file, with the API's access rules
/// (the requester or an admin, once done).
pub async fn download(
    State(s): State<AppState>,
    headers: HeaderMap,
    user: UiUser,
    csrf: CsrfToken,
    Path(id): Path<i64>,
) -> Response {
    let chrome = chrome(&headers, Some(&user), &csrf);
    if let Some(refused) = refused_unless::<Managers>(&chrome, &csrf, &user) {
        return refused;
    }
    match download_file(&s, &user.0, id).await {
        Ok(file) => file,
        Err(e) => error_page(chrome, csrf, e),
    }
}
