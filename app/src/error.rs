//! API errors, shaped like FastAPI's so clients of the system we replace
//! keep working: `{"detail": "…"}`, and for validation errors (422)
//! `{"detail": [{"loc": ["body", "sender", "phone"], "msg": "…", "type": "value_error"}]}`.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use paqueteria_core::store::{PinRefused, StoreError};
use serde::Serialize;

/// One invalid field.
#[derive(utoipa::ToSchema, Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// Where: `["body", "weight_grams"]`, `["path", "id"]`…
    pub loc: Vec<String>,
    /// What is wrong.
    pub msg: String,
    /// `value_error` (bad value) or `missing`.
    #[serde(rename = "type")]
    pub kind: &'static str,
}

/// The body of every error but a 422.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// What went wrong.
    pub detail: String,
}

/// The body of a 422.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ValidationBody {
    /// One entry per invalid field.
    pub detail: Vec<FieldError>,
}

/// An error answer.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 422 with the failing fields.
    #[error("invalid request")]
    Validation(Vec<FieldError>),
    /// 401: no or bad credentials.
    #[error("not signed in")]
    Unauthorized,
    /// 403: signed in, not allowed.
    #[error("{0}")]
    Forbidden(String),
    /// 404.
    #[error("{0} not found")]
    NotFound(String),
    /// 409: the row changed, or a unique key is taken.
    #[error("{0}")]
    Conflict(String),
    /// 413: the upload is over the limit.
    #[error("{0}")]
    TooLarge(String),
    /// 429 with `Retry-After`: too many attempts; try again in
    /// `retry_after_s` seconds.
    #[error("{detail}")]
    TooManyRequests {
        /// What is limited.
        detail: String,
        /// Whole seconds to wait.
        retry_after_s: u64,
    },
    /// 503 with `Retry-After`: a part the request needs (the job system) is
    /// unavailable for now; nothing was changed.
    #[error("{0}")]
    Unavailable(String),
    /// 500; the cause is logged once, never sent.
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    /// A 422 for one body field.
    pub fn field(field: &str, msg: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError {
            loc: vec!["body".to_owned(), field.to_owned()],
            msg: msg.into(),
            kind: "value_error",
        }])
    }

    /// A 422 for several body fields, each a dotted path (`sender.name`)
    /// and what is wrong with it.
    pub fn fields(problems: Vec<(String, String)>) -> Self {
        Self::Validation(
            problems
                .into_iter()
                .map(|(path, msg)| FieldError {
                    loc: std::iter::once("body".to_owned())
                        .chain(path.split('.').map(str::to_owned))
                        .collect(),
                    msg,
                    kind: "value_error",
                })
                .collect(),
        )
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => Self::NotFound(what.to_owned()),
            StoreError::Conflict(msg) => Self::Conflict(msg),
            StoreError::Transition(t) => Self::Conflict(t.to_string()),
            StoreError::Forbidden(msg) => Self::Forbidden(msg),
            StoreError::Pin(refused) => match refused {
                PinRefused::Locked { retry_after_s, .. } => Self::TooManyRequests {
                    detail: refused.to_string(),
                    retry_after_s,
                },
                PinRefused::Missing { .. } | PinRefused::Wrong { .. } => {
                    Self::Validation(vec![FieldError {
                        loc: vec!["body".to_owned(), "pin".to_owned()],
                        msg: refused.to_string(),
                        kind: if matches!(refused, PinRefused::Missing { .. }) {
                            "missing"
                        } else {
                            "value_error"
                        },
                    }])
                }
            },
            StoreError::Invalid { field, message } => Self::field(field, message),
            StoreError::Fields(problems) => Self::fields(problems),
            StoreError::Database(msg) => Self::Internal(msg),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, detail) = match &self {
            Self::Validation(fields) => {
                return (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    Json(serde_json::json!({ "detail": fields })),
                )
                    .into_response();
            }
            Self::Unauthorized => (StatusCode::UNAUTHORIZED, "Not authenticated".to_owned()),
            Self::Forbidden(m) => (StatusCode::FORBIDDEN, m.clone()),
            Self::NotFound(what) => (StatusCode::NOT_FOUND, format!("{what} not found")),
            Self::Conflict(m) => (StatusCode::CONFLICT, m.clone()),
            Self::TooLarge(m) => (StatusCode::PAYLOAD_TOO_LARGE, m.clone()),
            Self::Unavailable(m) => {
                return (
                    StatusCode::SERVICE_UNAVAILABLE,
                    [(header::RETRY_AFTER, HeaderValue::from_static("5"))],
                    Json(serde_json::json!({ "detail": m })),
                )
                    .into_response();
            }
            Self::TooManyRequests {
                detail,
                retry_after_s,
            } => {
                return (
                    StatusCode::TOO_MANY_REQUESTS,
                    [(header::RETRY_AFTER, retry_after_s.to_string())],
                    Json(serde_json::json!({ "detail": detail })),
                )
                    .into_response();
            }
            Self::Internal(cause) => {
                tracing::error!(%cause, "request failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Internal server error".to_owned(),
                )
            }
        };
        let mut res = (status, Json(serde_json::json!({ "detail": detail }))).into_response();
        if status == StatusCode::UNAUTHORIZED {
            res.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        res
    }
}

/// Result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;
