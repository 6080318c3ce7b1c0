//! A parcel's page: status, fees, history, attachments, messages and the
//! actions the user's role may take in this status. The actions are the
//! API's: the same store call, the same role and branch rules (the page
//! offers only what the lifecycle allows; the store refuses the rest). A
//! stale version, a wrong PIN or a refused event shows the parcel as it
//! is now with the reason, never an error page.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum_csrf::CsrfToken;
use paqueteria_core::domain::branch_scope::{self as scope, Branches};
use paqueteria_core::domain::{ParcelEvent, Route, Service, thousands, transition};
use paqueteria_core::settings::HomeDeliveryProof;
use paqueteria_core::store::{Attachment, Handover, Parcel, PinRefused, StoreError};
use serde::Deserialize;

use super::format::{datetime, utc};
use super::pages::chrome;
use super::parcels::service_key;
use super::refusal::{from_api, refused};
use super::{Chrome, Lang, UiUser};
use crate::error::ApiError;
use crate::startup::AppState;

/// Every event, in the order the page offers them.
const EVENTS: [&str; 8] = [
    "receive",
    "dispatch",
    "arrive",
    "out_for_delivery",
    "deliver",
    "fail_attempt",
    "cancel",
    "return",
];

/// The event `name` with `reason`.
fn event_of(name: &str, reason: String) -> Option<ParcelEvent> {
    Some(match name {
        "receive" => ParcelEvent::Receive,
        "dispatch" => ParcelEvent::Dispatch,
        "arrive" => ParcelEvent::Arrive,
        "out_for_delivery" => ParcelEvent::OutForDelivery,
        "deliver" => ParcelEvent::Deliver,
        "fail_attempt" => ParcelEvent::FailAttempt { reason },
        "cancel" => ParcelEvent::Cancel { reason },
        "return" => ParcelEvent::Return { reason },
        _ => return None,
    })
}

/// A mistake in one action's form: the event, the field, what is wrong.
pub(super) type ActionError = (String, &'static str, String);

/// One action the user may take, as a form.
pub(super) struct Action {
    /// The event's name.
    pub event: &'static str,
    /// The button.
    pub label: String,
    /// It needs a reason.
    pub reason: bool,
    /// It needs the pickup PIN (a delivery).
    pub pin: bool,
    /// The identity document may stand in for the PIN.
    pub document: bool,
    /// What the recipient pays ("$ 12.000"), on a delivery.
    pub collect: Option<String>,
    /// The question asked before it is sent (it cannot be undone).
    pub confirm: Option<String>,
    /// Shown as a dangerous action.
    pub danger: bool,
    /// Its form's mistake, when it came back with one.
    pub error: Option<(&'static str, String)>,
}

impl Action {
    /// Whether its form has fields (then it opens in a `<details>`).
    pub fn has_fields(&self) -> bool {
        self.reason || self.pin
    }

    /// The mistake of `field`, if its form came back with one.
    pub fn error_of(&self, field: &str) -> Option<&str> {
        self.error
            .as_ref()
            .filter(|(f, _)| *f == field)
            .map(|(_, m)| m.as_str())
    }
}

/// The actions `user` may take on `parcel` now: those the lifecycle and
/// the branch rules allow (the store checks them again).
pub(super) fn actions_for(
    user: &UiUser,
    parcel: &Parcel,
    proof: HomeDeliveryProof,
    now_ms: i64,
    lang: Lang,
    error: Option<&ActionError>,
) -> Vec<Action> {
    let route = Route {
        service: parcel.service,
        same_branch: parcel.origin_branch_id == parcel.destination_branch_id,
    };
    let staff = scope::Staff {
        role: user.0.role,
        branch_id: user.0.branch_id,
    };
    let branches = Branches {
        origin: parcel.origin_branch_id,
        destination: parcel.destination_branch_id,
    };
    EVENTS
        .into_iter()
        .filter_map(|name| {
            let event = event_of(name, "-".to_owned())?;
            let allowed = transition(parcel.status, &event, user.0.role, route).is_ok()
                && scope::may_act(staff, parcel.status, &event, branches);
            if !allowed {
                return None;
            }
            let deliver = name == "deliver";
            let irreversible = matches!(name, "deliver" | "cancel" | "return");
            let collect = parcel.to_collect(now_ms);
            Some(Action {
                event: name,
                label: lang.t(&format!("actions.{name}")),
                reason: matches!(name, "fail_attempt" | "cancel" | "return"),
                pin: deliver,
                document: deliver
                    && parcel.service == Service::HomeDelivery
                    && proof == HomeDeliveryProof::PinOrDocument,
                collect: deliver.then(|| collect.to_string()),
                confirm: irreversible.then(|| {
                    lang.t_with(
                        &format!("actions.confirm_{name}"),
                        "code",
                        parcel.tracking_code.as_str(),
                    )
                }),
                danger: matches!(name, "cancel" | "return"),
                error: error
                    .filter(|(event, _, _)| event == name)
                    .map(|(_, field, msg)| (*field, msg.clone())),
            })
        })
        .collect()
}

/// One line of a parcel's history as the page shows it.
struct HistoryLine {
    when: String,
    when_utc: String,
    event: String,
    who: String,
    at: String,
    reason: String,
}

/// One SMS or email sent (or to be sent) about the parcel.
struct MessageLine {
    channel: String,
    to: String,
    text: String,
    state: String,
    /// `failed` or `unknown`: shown as a problem.
    trouble: bool,
}

/// A notice over the parcel: what just happened, or why it did not.
pub(super) struct Notice {
    pub text: String,
    /// A problem (shown as an alert), or a confirmation.
    pub problem: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "parcel.html")]
struct ParcelPage {
    chrome: Chrome,
    id: i64,
    version: i64,
    title: String,
    status: String,
    route: String,
    service: String,
    weight: String,
    quoted: String,
    cod: String,
    declared: String,
    storage: String,
    address: String,
    attempts: i64,
    notice: Option<Notice>,
    actions: Vec<Action>,
    /// Where an action goes after it (`courier` or the parcel).
    back: &'static str,
    history: Vec<HistoryLine>,
    messages: Vec<MessageLine>,
    attachments: Attachments,
}

/// The attachments part (also answered alone, as it refreshes itself).
pub(super) struct Attachments {
    parcel_id: i64,
    items: Vec<AttachmentLine>,
    /// Some are still being stored or processed: the part polls.
    busy: bool,
    /// Whether the user may add more (the parcel is not full).
    room: bool,
}

struct AttachmentLine {
    id: i64,
    filename: String,
    size: String,
    state_key: String,
    state: String,
    error: String,
    thumbnail: bool,
    downloadable: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "parcel_attachments.html")]
struct AttachmentsPart {
    chrome: Chrome,
    attachments: Attachments,
}

/// The attachments of parcel `id` for its page.
async fn attachments_of(s: &AppState, lang: Lang, id: i64) -> Result<Attachments, ApiError> {
    let (items, _) = s
        .store
        .parcel_attachments_page(id, 1, 100)
        .await
        .map_err(ApiError::from)?;
    let live = items.iter().filter(|a| a.state != "failed").count();
    let busy = items
        .iter()
        .any(|a| a.state == "pending" || (a.state == "stored" && a.kind == "photo"));
    Ok(Attachments {
        parcel_id: id,
        busy,
        room: (live as i64) < paqueteria_core::store::MAX_ATTACHMENTS_PER_PARCEL,
        items: items.iter().map(|a| attachment_line(a, lang)).collect(),
    })
}

fn attachment_line(a: &Attachment, lang: Lang) -> AttachmentLine {
    let kb = (a.size_bytes.max(0).unsigned_abs()).div_ceil(1024);
    AttachmentLine {
        id: a.id,
        filename: a.filename.clone(),
        size: format!("{} KB", thousands(kb)),
        state_key: a.state.clone(),
        state: lang.t(&format!("attachments.{}", a.state)),
        error: a.error.clone().unwrap_or_default(),
        thumbnail: a.thumb_key.is_some(),
        downloadable: !a.storage_key.is_empty(),
    }
}

/// Parcel `id`'s page with `notice`, `status` and the form mistake
/// `error`.
pub(super) async fn detail(
    s: &AppState,
    chrome: Chrome,
    user: &UiUser,
    id: i64,
    status: StatusCode,
    notice: Option<Notice>,
    error: Option<ActionError>,
) -> Response {
    let lang = chrome.lang;
    let parcel = match crate::routes::parcels::visible_parcel(s, &user.0, id).await {
        Ok(p) => p,
        Err(e) => return from_api(chrome, e),
    };
    let read = (
        s.store.history(id).await,
        s.store.branches().await,
        s.store.notifications(id).await,
    );
    let (history, branches, messages) = match read {
        (Ok(h), Ok(b), Ok(m)) => (h, b, m),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return from_api(chrome, e.into()),
    };
    let attachments = match attachments_of(s, lang, id).await {
        Ok(a) => a,
        Err(e) => return from_api(chrome, e),
    };
    let name_of = |id: i64| {
        branches
            .iter()
            .find(|b| b.id == id)
            .map_or_else(|| id.to_string(), |b| b.name.clone())
    };
    let tz = s.settings.time_zone;
    let now = s.store.clock().now_ms();
    let messages = crate::routes::parcels::as_seen_by(&user.0, messages)
        .into_iter()
        .map(|n| MessageLine {
            channel: lang.t(&format!("messages.{}", n.channel)),
            to: n.recipient,
            text: n.body,
            trouble: matches!(n.state.as_str(), "failed" | "unknown"),
            state: lang.t(&format!("messages.{}", n.state)),
        })
        .collect();
    let storage = parcel.to_collect(now) - parcel.cod_amount;
    let page = ParcelPage {
        id,
        version: parcel.version,
        back: "",
        notice,
        actions: actions_for(
            user,
            &parcel,
            s.settings.home_delivery_proof,
            now,
            lang,
            error.as_ref(),
        ),
        messages,
        attachments,
        title: lang.t_with("parcel.title", "code", parcel.tracking_code.as_str()),
        status: lang.t(&format!("status.{}", parcel.status.as_str())),
        route: format!(
            "{} → {}",
            name_of(parcel.origin_branch_id),
            name_of(parcel.destination_branch_id)
        ),
        service: lang.t(&format!("services.{}", service_key(parcel.service))),
        weight: format!("{} g", thousands(u64::from(parcel.weight.0))),
        quoted: parcel.quoted_amount.to_string(),
        cod: parcel.cod_amount.to_string(),
        declared: parcel.declared_value.to_string(),
        storage: storage.to_string(),
        address: parcel.delivery_address.clone(),
        attempts: parcel.failed_attempts,
        history: history
            .iter()
            .map(|h| HistoryLine {
                when: datetime(h.created_at_ms, tz, lang),
                when_utc: utc(h.created_at_ms),
                event: lang.t(&format!("events.{}", h.event)),
                who: h.actor_name.clone().unwrap_or_default(),
                at: h.branch_name.clone().unwrap_or_default(),
                reason: h.reason.clone().unwrap_or_default(),
            })
            .collect(),
        chrome,
    };
    (status, page).into_response()
}

/// `GET /parcels/{id}` query: the action just done.
#[derive(Debug, Default, Deserialize)]
pub struct ShowQuery {
    #[serde(default)]
    pub(super) done: Option<String>,
}

/// `GET /parcels/{id}`: the parcel, for those who may see it (as
/// `GET /api/v1/parcels/{id}`).
pub async fn show(
    State(s): State<AppState>,
    headers: HeaderMap,
    user: UiUser,
    csrf: CsrfToken,
    Path(id): Path<i64>,
    Query(q): Query<ShowQuery>,
) -> Response {
    let chrome = chrome(&headers, Some(&user), &csrf);
    let notice = q
        .done
        .filter(|d| EVENTS.contains(&d.as_str()))
        .map(|d| Notice {
            text: chrome.lang.t(&format!("actions.done_{d}")),
            problem: false,
        });
    let page = detail(&s, chrome, &user, id, StatusCode::OK, notice, None).await;
    (csrf, page).into_response()
}

/// `POST /parcels/{id}/events`: an action's form.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct EventForm {
    authenticity_token: String,
    event: String,
    version: i64,
    reason: String,
    pin: String,
    document: String,
    /// `courier`: go back to the courier's day after it.
    back: String,
}

/// `POST /parcels/{id}/events`: applies an action (the API's
/// `POST /api/v1/parcels/{id}/transition`), then shows the parcel again;
/// a refusal shows the parcel as it is now with the reason.
pub async fn act(
    State(s): State<AppState>,
    headers: HeaderMap,
    user: UiUser,
    csrf: CsrfToken,
    request: crate::access::RequestId,
    Path(id): Path<i64>,
    axum::Form(f): axum::Form<EventForm>,
) -> Response {
    let chrome = chrome(&headers, Some(&user), &csrf);
    let lang = chrome.lang;
    if csrf.verify(&f.authenticity_token).is_err() {
        let msg = lang.t("errors.csrf");
        return refused(chrome, StatusCode::FORBIDDEN, msg);
    }
    let Some(event) = event_of(&f.event, f.reason.trim().to_owned()) else {
        let msg = lang.t("errors.not_found");
        return refused(chrome, StatusCode::NOT_FOUND, msg);
    };
    let name = event.name();
    let optional = |v: &str| Some(v.trim().to_owned()).filter(|t| !t.is_empty());
    // The messages it writes carry the request's id to their send jobs.
    let applied = s
        .store
        .for_request(request.as_deref())
        .apply_event(
            id,
            f.version,
            &event,
            &crate::routes::parcels::actor(&user.0),
            &Handover {
                pin: optional(&f.pin),
                document: optional(&f.document),
            },
        )
        .await;
    let problem = |text: String| {
        Some(Notice {
            text,
            problem: true,
        })
    };
    let (status, notice, error) = match applied {
        Ok(_) => {
            s.outbox_kick.notify_one();
            let to = if f.back == "courier" {
                format!("/courier?done={name}")
            } else {
                format!("/parcels/{id}?done={name}")
            };
            return Redirect::to(&to).into_response();
        }
        Err(StoreError::Conflict(_)) => {
            (StatusCode::CONFLICT, problem(lang.t("actions.stale")), None)
        }
        Err(StoreError::Transition(t)) => match t {
            paqueteria_core::domain::InvalidTransition::ReasonRequired { .. } => (
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                Some((name.to_owned(), "reason", lang.t("actions.reason_needed"))),
            ),
            paqueteria_core::domain::InvalidTransition::Forbidden { .. } => {
                let msg = lang.t("errors.forbidden");
                return refused(chrome, StatusCode::FORBIDDEN, msg);
            }
            paqueteria_core::domain::InvalidTransition::NotFromHere { .. } => (
                StatusCode::CONFLICT,
                problem(lang.t("actions.not_now")),
                None,
            ),
        },
        Err(StoreError::Pin(refused_pin)) => match refused_pin {
            PinRefused::Locked { retry_after_s, .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                problem(lang.t_with(
                    "actions.pin_locked",
                    "minutes",
                    &retry_after_s.div_ceil(60).to_string(),
                )),
                None,
            ),
            PinRefused::Missing { .. } => (
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                Some((name.to_owned(), "pin", lang.t("actions.pin_missing"))),
            ),
            PinRefused::Wrong { .. } => (
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                Some((name.to_owned(), "pin", lang.t("actions.pin_wrong"))),
            ),
        },
        Err(e) => return from_api(chrome, e.into()),
    };
    let page = detail(&s, chrome, &user, id, status, notice, error).await;
    (csrf, page).into_response()
}

/// `GET /parcels/{id}/attachments`: the attachments part, which polls
/// itself while one is being stored or processed.
pub async fn attachments(
    State(s): State<AppState>,
    headers: HeaderMap,
    user: UiUser,
    csrf: CsrfToken,
    Path(id): Path<i64>,
) -> Response {
    let chrome = chrome(&headers, Some(&user), &csrf);
    if let Err(e) = crate::routes::parcels::visible_parcel(&s, &user.0, id).await {
        return from_api(chrome, e);
    }
    match attachments_of(&s, chrome.lang, id).await {
        Ok(attachments) => AttachmentsPart {
            chrome,
            attachments,
        }
        .into_response(),
        Err(e) => from_api(chrome, e),
    }
}

/// The header the page's script sends the CSRF token in with an upload.
const CSRF_HEADER: &str = "x-csrf-token";

/// `POST /parcels/{id}/attachments`: an upload from the parcel's page
/// (the API's checks and job). The page's script sends it with the CSRF
/// token in a header (never in the URL, where proxies log it) and shows
/// the answer: 202 with the pending attachment, or the reason it was
/// refused in the reader's language (`{"detail": "…"}`).
pub async fn upload(
    State(s): State<AppState>,
    headers: HeaderMap,
    user: UiUser,
    csrf: CsrfToken,
    request: crate::access::RequestId,
    Path(id): Path<i64>,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Response {
    let lang = chrome(&headers, Some(&user), &csrf).lang;
    let token = headers
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let said = |status: StatusCode, text: String| {
        (status, axum::Json(serde_json::json!({ "detail": text }))).into_response()
    };
    if csrf.verify(token).is_err() {
        return said(StatusCode::FORBIDDEN, lang.t("errors.csrf"));
    }
    match crate::routes::attachments::accept_upload(&s, &user.0, &request, id, multipart).await {
        Ok(accepted) => (StatusCode::ACCEPTED, axum::Json(accepted)).into_response(),
        Err(ApiError::Validation(fields)) => {
            let text: Vec<String> = fields
                .iter()
                .map(|f| super::forms::said_in(lang, &f.msg))
                .collect();
            said(StatusCode::UNPROCESSABLE_ENTITY, text.join("; "))
        }
        Err(ApiError::TooLarge(detail)) => said(
            StatusCode::PAYLOAD_TOO_LARGE,
            super::forms::said_in(lang, &detail),
        ),
        Err(ApiError::Conflict(detail)) => {
            said(StatusCode::CONFLICT, super::forms::said_in(lang, &detail))
        }
        Err(ApiError::Forbidden(_)) => said(StatusCode::FORBIDDEN, lang.t("errors.forbidden")),
        Err(ApiError::NotFound(_)) => said(StatusCode::NOT_FOUND, lang.t("errors.not_found")),
        Err(e) => {
            tracing::error!(error = %e, "upload from the parcel page failed");
            said(
                StatusCode::INTERNAL_SERVER_ERROR,
                lang.t("errors.unavailable"),
            )
        }
    }
}
