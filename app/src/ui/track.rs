//! The public tracking page, no sign-in: `/track` asks for a tracking code,
//! `/track/{code}` shows where the parcel is and the steps it went
//! through, with their times and branches, and nothing personal (no
//! names, phones, addresses or reasons), as `GET /api/v1/track/{code}`.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use paqueteria_core::domain::TrackingCode;
use serde::Deserialize;

use super::format::{datetime, utc};
use super::{Chrome, Lang};
use crate::error::ApiError;
use crate::startup::AppState;

/// One step of the parcel's way.
struct Step {
    status: String,
    when: String,
    when_utc: String,
    branch: String,
}

/// What the page found for the code asked about.
struct Found {
    code: String,
    status: String,
    service: String,
    steps: Vec<Step>,
}

#[derive(Template, WebTemplate)]
#[template(path = "track.html")]
struct TrackPage {
    chrome: Chrome,
    code: String,
    error: Option<String>,
    found: Option<Found>,
}

/// `GET /track` query: the code typed in the form.
#[derive(Debug, Deserialize)]
pub struct TrackQuery {
    #[serde(default)]
    code: Option<String>,
}

fn public_chrome(headers: &HeaderMap) -> Chrome {
    Chrome {
        lang: Lang::from_headers(headers),
        user: None,
        csrf: String::new(),
        role: None,
    }
}

/// The form; with `?code=` it goes to that code's page.
pub async fn form(headers: HeaderMap, Query(q): Query<TrackQuery>) -> Response {
    if let Some(code) = q.code.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
        let code: String =
            form_urlencoded::byte_serialize(code.to_uppercase().as_bytes()).collect();
        return Redirect::to(&format!("/track/{code}")).into_response();
    }
    TrackPage {
        chrome: public_chrome(&headers),
        code: String::new(),
        error: None,
        found: None,
    }
    .into_response()
}

/// The parcel with tracking code `code`: 422 for a code that cannot be
/// one, 404 for one that is no parcel's.
pub async fn show(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(code): Path<String>,
) -> Response {
    let chrome = public_chrome(&headers);
    let lang = chrome.lang;
    let typed: String = code.trim().chars().take(40).collect();
    let refuse = |status: StatusCode, key: &str, chrome: Chrome| {
        let page = TrackPage {
            error: Some(lang.t_with(key, "code", &typed)),
            code: typed.clone(),
            found: None,
            chrome,
        };
        (status, page).into_response()
    };
    let Ok(parsed) = TrackingCode::parse(&typed.to_uppercase()) else {
        return refuse(StatusCode::UNPROCESSABLE_ENTITY, "track.invalid", chrome);
    };
    let parcel = match s.store.parcel_by_code(&parsed).await {
        Ok(Some(p)) => p,
        Ok(None) => return refuse(StatusCode::NOT_FOUND, "track.not_found", chrome),
        Err(e) => return ApiError::from(e).into_response(),
    };
    let (history, branches) = match (s.store.history(parcel.id).await, s.store.branches().await) {
        (Ok(h), Ok(b)) => (h, b),
        (Err(e), _) | (_, Err(e)) => return ApiError::from(e).into_response(),
    };
    let tz = s.settings.time_zone;
    let steps = history
        .iter()
        // status changes only: not a refused PIN, a correction or a void
        .filter(|e| e.from_status != Some(e.to_status))
        .map(|e| Step {
            status: lang.t(&format!("status.{}", e.to_status.as_str())),
            when: datetime(e.created_at_ms, tz, lang),
            when_utc: utc(e.created_at_ms),
            branch: e
                .branch_id
                .and_then(|id| branches.iter().find(|b| b.id == id))
                .map(|b| b.name.clone())
                .unwrap_or_default(),
        })
        .collect();
    let found = Found {
        code: parcel.tracking_code.as_str().to_owned(),
        status: lang.t(&format!("status.{}", parcel.status.as_str())),
        service: lang.t(&format!(
            "services.{}",
            super::parcels::service_key(parcel.service)
        )),
        steps,
    };
    TrackPage {
        chrome,
        code: found.code.clone(),
        error: None,
        found: Some(found),
    }
    .into_response()
}
