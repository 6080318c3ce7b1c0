//! Request ids and the access log.
//!
//! Every request gets an id: the caller's `X-Request-Id` when it is a sane
//! token (1 to [`REQUEST_ID_MAX`] characters of `A-Z a-z 0-9 . _ -`, given
//! once), else a fresh UUID v7, so a proxy's id is kept and nothing a
//! client makes up can forge log lines. The answer carries the id back in
//! `X-Request-Id`, whatever route (or none) answered.
//!
//! Handlers read it with the [`RequestId`] extractor and pass it on: to the
//! jobs they enqueue ([`RequestId::attach`]) and to the store
//! (`Store::for_request`), whose outbox rows hand it to their send jobs.
//! The worker puts it in the span of every attempt of those jobs, so a
//! job's log lines are found from the request that caused it, and back.
//!
//! Each request is served inside a `request` span with its `request_id`,
//! so every log line of its handler carries it, and ends with one line of
//! target `access`: `method`, `route` (the route template, as the HTTP
//! metrics label it; never the raw path, which holds ids, nor its query
//! string, which may hold secrets), `status`, `duration_ms` and
//! `request_id`. No header is logged: not the cookies, not
//! `Authorization`.

use std::convert::Infallible;
use std::time::Instant;

use axum::Router;
use axum::extract::{FromRequestParts, MatchedPath, Request};
use axum::http::request::Parts;
use axum::http::{Extensions, HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use paqueteria_jobs::NewJob;
use tower_http::request_id::{MakeRequestId, PropagateRequestIdLayer, SetRequestIdLayer};
use tracing::Instrument;

/// The header the id comes in and goes out in.
pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The longest incoming request id kept.
pub const REQUEST_ID_MAX: usize = 64;

/// `router` with request ids and the access log on every route and on
/// the fallback.
pub fn observe(router: Router) -> Router {
    // The last layer added runs first: an unsafe incoming id is dropped,
    // then a fresh one made where none is left, then the answer gets it,
    // and the access log, innermost, sees the id and the matched route.
    router
        .layer(axum::middleware::from_fn(access_log))
        .layer(PropagateRequestIdLayer::new(X_REQUEST_ID))
        .layer(SetRequestIdLayer::new(X_REQUEST_ID, MakeRequestUuid))
        .layer(axum::middleware::from_fn(drop_unsafe_request_id))
}

/// Whether an incoming request id is kept: 1 to [`REQUEST_ID_MAX`] bytes
/// of ASCII letters, digits, `.`, `_` and `-`.
pub fn is_sane(raw: &[u8]) -> bool {
    !raw.is_empty()
        && raw.len() <= REQUEST_ID_MAX
        && raw
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Fresh request ids: UUID v7, time-ordered like the job ids.
#[derive(Clone, Copy, Debug, Default)]
pub struct MakeRequestUuid;

impl MakeRequestId for MakeRequestUuid {
    fn make_request_id<B>(
        &mut self,
        _request: &axum::http::Request<B>,
    ) -> Option<tower_http::request_id::RequestId> {
        HeaderValue::from_str(&uuid::Uuid::now_v7().to_string())
            .ok()
            .map(tower_http::request_id::RequestId::new)
    }
}

/// Removes an incoming `X-Request-Id` that is not one sane token, so the
/// request-id layer makes a fresh one in its place.
async fn drop_unsafe_request_id(mut req: Request, next: Next) -> Response {
    let keep = {
        let mut given = req.headers().get_all(&X_REQUEST_ID).iter();
        matches!((given.next(), given.next()), (Some(v), None) if is_sane(v.as_bytes()))
    };
    if !keep {
        req.headers_mut().remove(&X_REQUEST_ID);
    }
    next.run(req).await
}

/// Serves the request in its `request` span, then writes its access-log
/// line.
async fn access_log(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    let route = req.extensions().get::<MatchedPath>().cloned();
    let route = route.as_ref().map_or("unmatched", MatchedPath::as_str);
    let id = RequestId::from_extensions(req.extensions());
    let request_id = id.as_deref().unwrap_or_default();
    let span = tracing::info_span!("request", request_id, method = %method, route);
    let res = next.run(req).instrument(span).await;
    let duration_ms = started.elapsed().as_micros() as f64 / 1000.0;
    tracing::info!(
        target: "access",
        method = %method,
        route,
        status = res.status().as_u16(),
        duration_ms,
        request_id,
        "request served"
    );
    res
}

/// The id of the request being served, as the request-id layer left it:
/// the caller's sane `X-Request-Id`, or a fresh one. Never refuses a
/// request; `None` only where the layer did not run (a handler called by
/// a test without [`observe`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestId(Option<String>);

impl RequestId {
    /// The id the request-id layer put in `extensions`.
    fn from_extensions(extensions: &Extensions) -> Self {
        Self(
            extensions
                .get::<tower_http::request_id::RequestId>()
                .and_then(|id| id.header_value().to_str().ok())
                .map(str::to_owned),
        )
    }

    /// The id, if any.
    pub fn as_deref(&self) -> Option<&str> {
        self.0.as_deref()
    }

    /// `job`, carrying this request's id.
    pub fn attach(&self, job: NewJob) -> NewJob {
        job.with_request_id(self.0.clone())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for RequestId {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Infallible> {
        Ok(Self::from_extensions(&parts.extensions))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests;
