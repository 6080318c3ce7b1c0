//! Security headers on every answer, whatever route (or none) answered:
//! no MIME sniffing, no framing, no referrer leaving the site, and HSTS
//! when the request came over HTTPS (directly or through a proxy that
//! says so with `X-Forwarded-Proto`).

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use tower_http::set_header::SetResponseHeaderLayer;

/// `Strict-Transport-Security` for answers to HTTPS requests: a year,
/// subdomains included.
const HSTS: &str = "max-age=31536000; includeSubDomains";

/// `router` with the security headers on every answer.
pub fn secure(router: Router) -> Router {
    router
        .layer(axum::middleware::from_fn(hsts))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("strict-origin-when-cross-origin"),
        ))
}

async fn hsts(req: Request, next: Next) -> Response {
    let https = req.uri().scheme_str() == Some("https")
        || req
            .headers()
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("https"));
    let mut res = next.run(req).await;
    if https {
        res.headers_mut().insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(HSTS),
        );
    }
    res
}
