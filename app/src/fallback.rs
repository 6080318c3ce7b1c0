//! No error leaves the app as plain text or an empty body. An unknown
//! route answers FastAPI's `{"detail": "Not Found"}`; any other error that
//! a layer or axum itself answered without JSON (a wrong method's empty
//! 405, which keeps its `Allow` header; a body over the size limit; a
//! rejection of an extractor not wrapped in [`crate::extract`]) is rewritten
//! as `{"detail": "<its text>"}`, and a 422 as the list of `{loc, msg, type}`
//! that FastAPI's clients read.

use axum::Json;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// How much of a plain-text error body is kept as its `detail`.
const MAX_TEXT: usize = 4096;

/// The answer to a path no route serves.
pub async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(serde_json::json!({ "detail": "Not Found" })),
    )
        .into_response()
}

/// Rewrites an error answer that is not JSON as FastAPI's JSON body.
pub async fn json_errors(req: Request, next: Next) -> Response {
    let res = next.run(req).await;
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error()) || is_json(&res) {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    let text = axum::body::to_bytes(body, MAX_TEXT)
        .await
        .ok()
        .and_then(|b| String::from_utf8(b.to_vec()).ok())
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| status.canonical_reason().unwrap_or("Error").to_owned());
    if status.is_server_error() {
        tracing::error!(%status, detail = %text, "an error answered without JSON");
    }
    let detail = if status == StatusCode::UNPROCESSABLE_ENTITY {
        serde_json::json!([{ "loc": ["body"], "msg": text, "type": "value_error" }])
    } else if status.is_server_error() {
        // As for every 500: the cause is logged, never sent.
        serde_json::json!(status.canonical_reason().unwrap_or("Internal server error"))
    } else {
        serde_json::json!(text)
    };
    let body = serde_json::json!({ "detail": detail }).to_string();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Response::from_parts(parts, Body::from(body))
}

/// Whether an answer already says it is JSON.
fn is_json(res: &Response) -> bool {
    res.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            let mime = v.split(';').next().unwrap_or_default().trim();
            mime.eq_ignore_ascii_case("application/json") || mime.ends_with("+json")
        })
}
