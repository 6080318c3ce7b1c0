//! Request extractors that answer bad input with a FastAPI-style 422 naming
//! the field, instead of axum's plain-text rejections.

use axum::extract::{FromRequest, Request};
use axum::http::header;
use serde::de::DeserializeOwned;

use crate::error::{ApiError, FieldError};

/// A JSON body decoded into `T`; a bad body is a 422 whose `loc` is the path
/// of the offending field (`["body", "sender", "phone"]`).
#[derive(Debug, Clone, Copy, Default)]
pub struct ValidJson<T>(pub T);

impl<S, T> FromRequest<S> for ValidJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        if !json {
            return Err(ApiError::Validation(vec![FieldError {
                loc: vec!["body".to_owned()],
                msg: "expected a JSON body (Content-Type: application/json)".to_owned(),
                kind: "value_error",
            }]));
        }
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| ApiError::field("body", e.to_string()))?;
        let de = &mut serde_json::Deserializer::from_slice(&bytes);
        serde_path_to_error::deserialize(de)
            .map(ValidJson)
            .map_err(|e| {
                let mut loc = location("body", e.path());
                let inner = e.into_inner();
                let kind = if inner.to_string().starts_with("missing field") {
                    "missing"
                } else {
                    "value_error"
                };
                if kind == "missing"
                    && let Some(name) = inner.to_string().split('`').nth(1)
                {
                    loc.push(name.to_owned());
                }
                ApiError::Validation(vec![FieldError {
                    loc,
                    msg: strip_position(&inner.to_string()),
                    kind,
                }])
            })
    }
}

/// FastAPI's `loc`: where the input came from, then the path serde failed at.
fn location(source: &str, path: &serde_path_to_error::Path) -> Vec<String> {
    std::iter::once(source.to_owned())
        .chain(
            path.to_string()
                .split('.')
                .filter(|s| !s.is_empty() && *s != "?")
                .map(str::to_owned),
        )
        .collect()
}

/// serde_json ends messages with " at line 1 column 42": noise for a client.
fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_owned(),
        None => msg.to_owned(),
    }
}

/// Query parameters decoded into `T`; a bad one is a 422 whose `loc` is
/// `["query", name]`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ValidQuery<T>(pub T);

impl<S, T> axum::extract::FromRequestParts<S> for ValidQuery<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        let raw = parts.uri.query().unwrap_or("");
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(raw.as_bytes()));
        serde_path_to_error::deserialize(de)
            .map(ValidQuery)
            .map_err(|e| {
                let loc = location("query", e.path());
                ApiError::Validation(vec![FieldError {
                    loc,
                    msg: strip_position(&e.into_inner().to_string()),
                    kind: "value_error",
                }])
            })
    }
}
