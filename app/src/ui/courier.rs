//! The courier's day, made for a phone: the home deliveries waiting at
//! their branch (take one out), and the parcels they carry (deliver with
//! the PIN and collect what is due, or record a failed attempt with the
//! reason). The actions are the parcel page's, with the same rules.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum_csrf::CsrfToken;
use paqueteria_core::domain::Role;
use paqueteria_core::store::Parcel;

use super::pages::chrome;
use super::parcel::{Action, ShowQuery, actions_for};
use super::refusal::{from_api, refused};
use super::{Chrome, Lang, UiUser};
use crate::error::ApiError;
use crate::startup::AppState;

/// One parcel of the day, with what the courier may do with it.
struct Stop {
    id: i64,
    version: i64,
    code: String,
    recipient: String,
    phone: String,
    address: String,
    collect: String,
    attempts: i64,
    actions: Vec<Action>,
}

#[derive(Template, WebTemplate)]
#[template(path = "courier.html")]
struct CourierPage {
    chrome: Chrome,
    done: Option<String>,
    round: Vec<Stop>,
    waiting: Vec<Stop>,
}

/// The stops of `parcels`, with their recipients.
async fn stops(
    s: &AppState,
    user: &UiUser,
    lang: Lang,
    parcels: Vec<Parcel>,
) -> Result<Vec<Stop>, ApiError> {
    let now = s.store.clock().now_ms();
    let mut out = Vec::with_capacity(parcels.len());
    for p in parcels {
        let recipient = s.store.customer(p.recipient_id).await?;
        out.push(Stop {
            id: p.id,
            version: p.version,
            code: p.tracking_code.as_str().to_owned(),
            recipient: recipient.name,
            phone: recipient.phone.as_str().to_owned(),
            address: p.delivery_address.clone(),
            collect: p.to_collect(now).to_string(),
            attempts: p.failed_attempts,
            actions: actions_for(user, &p, s.settings.home_delivery_proof, now, lang, None),
        });
    }
    Ok(out)
}

/// `GET /courier`: the courier's day (couriers only).
pub async fn day(
    State(s): State<AppState>,
    headers: HeaderMap,
    user: UiUser,
    csrf: CsrfToken,
    Query(q): Query<ShowQuery>,
) -> Response {
    let chrome = chrome(&headers, Some(&user), &csrf);
    let lang = chrome.lang;
    if user.0.role != Role::Courier {
        let msg = lang.t("errors.forbidden");
        return refused(chrome, StatusCode::FORBIDDEN, msg);
    }
    let Some(branch) = user.0.branch_id else {
        let msg = lang.t("courier.no_branch");
        return refused(chrome, StatusCode::FORBIDDEN, msg);
    };
    let lists = (
        s.store.courier_round(user.0.id).await,
        s.store.waiting_for_a_courier(branch).await,
    );
    let (round, waiting) = match lists {
        (Ok(r), Ok(w)) => (r, w),
        (Err(e), _) | (_, Err(e)) => return from_api(chrome, e.into()),
    };
    let built = (
        stops(&s, &user, lang, round).await,
        stops(&s, &user, lang, waiting).await,
    );
    let (round, waiting) = match built {
        (Ok(r), Ok(w)) => (r, w),
        (Err(e), _) | (_, Err(e)) => return from_api(chrome, e),
    };
    let done = q
        .done
        .filter(|d| matches!(d.as_str(), "out_for_delivery" | "deliver" | "fail_attempt"))
        .map(|d| lang.t(&format!("actions.done_{d}")));
    let page = CourierPage {
        chrome,
        done,
        round,
        waiting,
    };
    (csrf, page).into_response()
}
