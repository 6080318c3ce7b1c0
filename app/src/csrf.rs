//! Cross-site request forgery: a state-changing request (POST, PUT, PATCH,
//! DELETE) authenticated by the browser's session cookie is refused with a
//! 403 before any handler runs, unless the browser says it comes from the
//! app's own pages:
//!
//! - `Origin` is the app's origin: that of `APP_PUBLIC_URL`, or the
//!   request's own `Host` (a page cannot forge the `Host` its browser
//!   sends), scheme and default port normalized; or
//! - `Sec-Fetch-Site: same-origin` (sent by every current browser).
//!
//! A request with neither header is refused: browsers send `Origin` on
//! every cross-origin POST, and a non-browser client sends a bearer token
//! instead. Requests with a bearer token are exempt (a browser never adds
//! one by itself; it wins over the cookie), and so are requests without the
//! cookie (nothing to forge). The session cookie is also `SameSite=Lax`;
//! this guard covers the same-site subdomain and older-browser cases that
//! leaves open.
//!
//! The web UI will carry a CSRF token as well: [`csrf_token_valid`] is where
//! it is checked, and a request with a valid one passes.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// The app's own origin, from `APP_PUBLIC_URL`.
#[derive(Clone, Debug)]
pub struct AppOrigin(Arc<str>);

impl AppOrigin {
    /// The origin of `public_url` (`https://paq.example.com/app` →
    /// `https://paq.example.com`).
    pub fn from_public_url(public_url: &str) -> Self {
        let origin = normalize_origin(public_url).unwrap_or_default();
        Self(origin.into())
    }
}

/// `scheme://host[:port]` of `url`, lowercased, without a default port;
/// `None` when it is not an http(s) URL (`Origin: null`).
fn normalize_origin(url: &str) -> Option<String> {
    let (scheme, rest) = url.trim().split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next()?.to_ascii_lowercase();
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    Some(format!(
        "{scheme}://{}",
        without_default_port(&scheme, &authority)
    ))
}

fn without_default_port<'a>(scheme: &str, authority: &'a str) -> &'a str {
    let default = if scheme == "https" { ":443" } else { ":80" };
    authority.strip_suffix(default).unwrap_or(authority)
}

/// Whether the browser says the request comes from the app's own pages.
pub fn same_origin(headers: &HeaderMap, app: &AppOrigin) -> bool {
    let fetch_site = headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("same-origin"));
    if fetch_site {
        return true;
    }
    let Some(origin) = headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .and_then(normalize_origin)
    else {
        return false;
    };
    if !app.0.is_empty() && origin == *app.0 {
        return true;
    }
    // The request's own host, under the origin's scheme.
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(|h| h.trim().to_ascii_lowercase());
    match (host, origin.split_once("://")) {
        (Some(host), Some((scheme, authority))) => {
            !host.is_empty() && without_default_port(scheme, &host) == authority
        }
        _ => false,
    }
}

/// Whether the request carries a valid CSRF token. The web UI will send
/// one (a header bound to the session); until it exists no token is valid
/// and only [`same_origin`] lets a cookie request through.
pub fn csrf_token_valid(_headers: &HeaderMap) -> bool {
    false
}

/// Whether a request is state-changing and authenticated by the session
/// cookie alone (no bearer token).
fn cookie_authenticated_change(method: &Method, headers: &HeaderMap) -> bool {
    let changes = matches!(
        *method,
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    );
    changes
        && crate::auth::bearer_token(headers).is_none()
        && crate::auth::session_cookie(headers).is_some()
}

/// The guard, as a middleware: 403 JSON for a cookie-authenticated change
/// that is neither same-origin nor carries a valid CSRF token.
pub async fn guard(State(app): State<AppOrigin>, req: Request, next: Next) -> Response {
    let headers = req.headers();
    if cookie_authenticated_change(req.method(), headers)
        && !same_origin(headers, &app)
        && !csrf_token_valid(headers)
    {
        return ApiError::Forbidden(
            "a cookie-authenticated change must come from the app's own pages \
             (same-origin Origin or Sec-Fetch-Site), or use a bearer token"
                .to_owned(),
        )
        .into_response();
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn the_apps_origin_or_the_requests_host_is_same_origin_and_nothing_else() {
        let app = AppOrigin::from_public_url("https://Paq.Example.com:443/app");
        let same = |pairs: &[(&'static str, &str)]| same_origin(&headers(pairs), &app);
        assert!(same(&[("origin", "https://paq.example.com")]));
        assert!(same(&[
            ("origin", "http://10.0.0.5:8000"),
            ("host", "10.0.0.5:8000")
        ]));
        assert!(same(&[
            ("origin", "https://intranet"),
            ("host", "intranet:443")
        ]));
        assert!(same(&[("sec-fetch-site", "same-origin")]));
        assert!(!same(&[]));
        assert!(!same(&[
            ("origin", "https://evil.example"),
            ("host", "paq.example.com")
        ]));
        assert!(!same(&[("origin", "https://paq.example.com.evil.example")]));
        assert!(
            !same(&[("origin", "http://paq.example.com")]),
            "another scheme"
        );
        assert!(!same(&[("origin", "null"), ("host", "null")]));
        assert!(!same(&[("sec-fetch-site", "same-site")]));
        assert!(!same(&[("sec-fetch-site", "cross-site")]));
    }

    #[test]
    fn only_cookie_authenticated_changes_are_guarded() {
        let cookie = headers(&[("cookie", "paq_session=abc")]);
        let both = headers(&[("cookie", "paq_session=abc"), ("authorization", "Bearer t")]);
        assert!(cookie_authenticated_change(&Method::POST, &cookie));
        assert!(cookie_authenticated_change(&Method::DELETE, &cookie));
        assert!(!cookie_authenticated_change(&Method::GET, &cookie));
        assert!(!cookie_authenticated_change(&Method::POST, &both));
        assert!(!cookie_authenticated_change(
            &Method::POST,
            &HeaderMap::new()
        ));
    }
}
