//! The page a refused request gets: 403 for a role or branch that may
//! not, 404, 409, 429 or 503, with the reason in the reader's language. A
//! page never answers a browser with the API's JSON.

use askama::Template;
use askama_web::WebTemplate;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::Chrome;
use crate::error::ApiError;

#[derive(Template, WebTemplate)]
#[template(path = "refused.html")]
struct RefusedPage {
    chrome: Chrome,
    heading: String,
    message: String,
}

/// The page for `status` with `message`.
pub(super) fn refused(chrome: Chrome, status: StatusCode, message: String) -> Response {
    let heading = chrome.t(match status {
        StatusCode::FORBIDDEN => "errors.forbidden_heading",
        StatusCode::NOT_FOUND => "errors.not_found_heading",
        StatusCode::CONFLICT
        | StatusCode::TOO_MANY_REQUESTS
        | StatusCode::UNPROCESSABLE_ENTITY
        | StatusCode::PAYLOAD_TOO_LARGE => "errors.conflict_heading",
        _ => "errors.unavailable_heading",
    });
    (
        status,
        RefusedPage {
            chrome,
            heading,
            message,
        },
    )
        .into_response()
}

/// The page for an error of the API's own code (the store's refusals,
/// the role checks): the same status, said for people.
pub(super) fn from_api(chrome: Chrome, e: ApiError) -> Response {
    let lang = chrome.lang;
    match e {
        ApiError::Forbidden(_) => {
            refused(chrome, StatusCode::FORBIDDEN, lang.t("errors.forbidden"))
        }
        ApiError::NotFound(_) => refused(chrome, StatusCode::NOT_FOUND, lang.t("errors.not_found")),
        ApiError::Conflict(detail) => {
            let msg = format!("{} ({detail})", lang.t("errors.conflict"));
            refused(chrome, StatusCode::CONFLICT, msg)
        }
        ApiError::TooManyRequests { .. } => refused(
            chrome,
            StatusCode::TOO_MANY_REQUESTS,
            lang.t("errors.too_many"),
        ),
        ApiError::Unavailable(_) => refused(
            chrome,
            StatusCode::SERVICE_UNAVAILABLE,
            lang.t("errors.unavailable"),
        ),
        ApiError::Internal(cause) => {
            // The cause goes to the log, not to the page.
            tracing::error!(error = %cause, "page failed");
            refused(
                chrome,
                StatusCode::INTERNAL_SERVER_ERROR,
                lang.t("errors.unavailable"),
            )
        }
        ApiError::Validation(fields) => {
            let said: Vec<String> = fields
                .iter()
                .map(|f| super::forms::said_in(lang, &f.msg))
                .collect();
            refused(chrome, StatusCode::UNPROCESSABLE_ENTITY, said.join("; "))
        }
        ApiError::TooLarge(detail) => refused(chrome, StatusCode::PAYLOAD_TOO_LARGE, detail),
        ApiError::Unauthorized => axum::response::Redirect::to("/login").into_response(),
    }
}

impl super::UiUser {
    /// Whether the user's role is one `P` admits (the API's own policies).
    pub(super) fn may<P: crate::auth::Policy>(&self) -> bool {
        P::ROLES.contains(&self.0.role)
    }
}
