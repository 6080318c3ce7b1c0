//! The console's messages: every SMS and email (a supervisor's: those of
//! their branch's parcels), filtered by state and channel, newest first,
//! with a resend for the failed ones that keeps the send-once promise
//! (only a message that certainly did not leave is sent again; one that
//! may have, `unknown`, never is; nor a pickup PIN, which a newer one may
//! have replaced).

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum_csrf::CsrfToken;
use serde::Deserialize;

use super::super::format::{datetime, utc};
use super::super::pages::chrome;
use super::super::refusal::{from_api, refused};
use super::super::{Chrome, UiUser};
use super::{may_act, may_read};
use crate::startup::AppState;

/// Rows a page shows.
const PAGE_SIZE: i64 = 50;

/// The states a message can be in, as the filter offers them.
const STATES: [&str; 6] = [
    "pending", "enqueued", "sending", "sent", "failed", "unknown",
];

/// `GET /console/messages` query.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct MessagesQuery {
    state: String,
    channel: String,
    before: Option<i64>,
    /// Set after a resend: `1` done, `0` it was no longer failed.
    resent: Option<u8>,
}

struct Line {
    id: i64,
    when: String,
    when_utc: String,
    channel: String,
    to: String,
    text: String,
    state: String,
    error: String,
    trouble: bool,
    parcel_id: Option<i64>,
    /// The resend button is offered (a failed row, an admin).
    resend: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "console_messages.html")]
struct MessagesPage {
    chrome: Chrome,
    states: Vec<(String, String, bool)>,
    channels: Vec<(String, String, bool)>,
    lines: Vec<Line>,
    notice: Option<String>,
    /// The query of the next (older) page.
    older: Option<String>,
}

/// `GET /console/messages`: the messages, for admins and supervisors.
pub async fn list(
    State(s): State<AppState>,
    headers: HeaderMap,
    user: UiUser,
    csrf: CsrfToken,
    Query(q): Query<MessagesQuery>,
) -> Response {
    let chrome = chrome(&headers, Some(&user), &csrf);
    let lang = chrome.lang;
    if !may_read(&user) {
        let msg = lang.t("errors.forbidden");
        return refused(chrome, StatusCode::FORBIDDEN, msg);
    }
    let state = STATES.into_iter().find(|st| *st == q.state);
    let channel = ["sms", "email"].into_iter().find(|c| *c == q.channel);
    // Supervisors read the messages of their branch's parcels; admins all.
    let branch = (user.0.role != paqueteria_core::domain::Role::Admin)
        .then_some(user.0.branch_id)
        .flatten();
    let rows = match s
        .store
        .messages(state, channel, branch, q.before, PAGE_SIZE)
        .await
    {
        Ok(r) => r,
        Err(e) => return from_api(chrome, e.into()),
    };
    let tz = s.settings.time_zone;
    let act = may_act(&user);
    let older = (rows.len() as i64 == PAGE_SIZE)
        .then(|| rows.last().map(|(n, _)| n.id))
        .flatten()
        .map(|id| {
            form_urlencoded::Serializer::new(String::new())
                .append_pair("state", state.unwrap_or_default())
                .append_pair("channel", channel.unwrap_or_default())
                .append_pair("before", &id.to_string())
                .finish()
        });
    let (notifications, created): (Vec<_>, Vec<_>) = rows.into_iter().unzip();
    let lines = crate::routes::parcels::as_seen_by(&user.0, notifications)
        .into_iter()
        .zip(created)
        .map(|(n, at)| Line {
            id: n.id,
            when: datetime(at, tz, lang),
            when_utc: utc(at),
            channel: lang.t(&format!("messages.{}", n.channel)),
            to: n.recipient,
            text: n.body,
            trouble: matches!(n.state.as_str(), "failed" | "unknown"),
            resend: act
                && n.state == "failed"
                && n.template != paqueteria_core::store::PIN_TEMPLATE,
            state: lang.t(&format!("messages.{}", n.state)),
            error: n.error.unwrap_or_default(),
            parcel_id: n.parcel_id,
        })
        .collect();
    let notice = q.resent.map(|r| {
        lang.t(if r == 1 {
            "console.resent"
        } else {
            "console.not_resent"
        })
    });
    let page = MessagesPage {
        states: STATES
            .iter()
            .map(|st| {
                (
                    (*st).to_owned(),
                    lang.t(&format!("messages.{st}")),
                    Some(*st) == state,
                )
            })
            .collect(),
        channels: ["sms", "email"]
            .iter()
            .map(|c| {
                (
                    (*c).to_owned(),
                    lang.t(&format!("messages.{c}")),
                    Some(*c) == channel,
                )
            })
            .collect(),
        lines,
        notice,
        older,
        chrome,
    };
    (csrf, page).into_response()
}

/// The resend form.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ResendForm {
    authenticity_token: String,
}

/// `POST /console/messages/{id}/resend`: sends a failed message again
/// (admins), written to the audit log.
pub async fn resend(
    State(s): State<AppState>,
    headers: HeaderMap,
    user: UiUser,
    csrf: CsrfToken,
    request: crate::access::RequestId,
    Path(id): Path<i64>,
    axum::Form(f): axum::Form<ResendForm>,
) -> Response {
    let chrome = match super::admin_form(&headers, &user, &csrf, &f.authenticity_token) {
        Ok(c) => c,
        Err(refusal) => return *refusal,
    };
    // The new send job carries this request's id.
    let resent = match s
        .store
        .for_request(request.as_deref())
        .resend_notification(id, user.0.id)
        .await
    {
        Ok(r) => r,
        Err(e) => return from_api(chrome, e.into()),
    };
    if resent {
        s.outbox_kick.notify_one();
    }
    Redirect::to(&format!("/console/messages?resent={}", u8::from(resent))).into_response()
}
