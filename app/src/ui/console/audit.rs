//! The console's audit log (admins): who did what, when, to what and how
//! many: the console's and the API's job actions, sign-ins, user changes,
//! payment voids, PIN reissues, resends. Newest first, by action, a page
//! at a time.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum_csrf::CsrfToken;
use paqueteria_core::store::{AuditAction, AuditFilter};
use serde::Deserialize;

use super::super::format::{datetime, utc};
use super::super::pages::chrome;
use super::super::refusal::{from_api, refused};
use super::super::{Chrome, UiUser};
use super::may_act;
use crate::startup::AppState;

/// Rows a page shows.
const PAGE_SIZE: u32 = 50;

/// `GET /console/audit` query.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct AuditQuery {
    action: String,
    before: Option<i64>,
}

struct Line {
    when: String,
    when_utc: String,
    who: String,
    action: String,
    subject: String,
    detail: String,
    from: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "console_audit.html")]
struct AuditPage {
    chrome: Chrome,
    actions: Vec<(String, bool)>,
    lines: Vec<Line>,
    older: Option<String>,
}

/// `GET /console/audit`: the audit log (admins, as `GET /api/v1/audit`).
pub async fn list(
    State(s): State<AppState>,
    headers: HeaderMap,
    user: UiUser,
    csrf: CsrfToken,
    Query(q): Query<AuditQuery>,
) -> Response {
    let chrome = chrome(&headers, Some(&user), &csrf);
    if !may_act(&user) {
        let msg = chrome.t("errors.forbidden");
        return refused(chrome, StatusCode::FORBIDDEN, msg);
    }
    let action = AuditAction::parse(&q.action);
    let rows = match s
        .store
        .audit_log(&AuditFilter {
            action,
            actor_id: None,
            before_id: q.before,
            limit: PAGE_SIZE,
        })
        .await
    {
        Ok(r) => r,
        Err(e) => return from_api(chrome, e.into()),
    };
    let tz = s.settings.time_zone;
    let lang = chrome.lang;
    let older = (rows.len() == PAGE_SIZE as usize)
        .then(|| rows.last().map(|r| r.id))
        .flatten()
        .map(|id| {
            form_urlencoded::Serializer::new(String::new())
                .append_pair("action", action.map_or("", AuditAction::as_str))
                .append_pair("before", &id.to_string())
                .finish()
        });
    let page = AuditPage {
        actions: AuditAction::ALL
            .iter()
            .map(|a| (a.as_str().to_owned(), Some(*a) == action))
            .collect(),
        lines: rows
            .into_iter()
            .map(|r| Line {
                when: datetime(r.created_at_ms, tz, lang),
                when_utc: utc(r.created_at_ms),
                who: r.actor_name.unwrap_or_default(),
                action: r.action.as_str().to_owned(),
                subject: r.subject.unwrap_or_default(),
                detail: r.detail,
                from: r.client_addr.unwrap_or_default(),
            })
            .collect(),
        older,
        chrome,
    };
    (csrf, page).into_response()
}
