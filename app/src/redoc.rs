//! `/redoc`: the API document (`/openapi.json`) read with ReDoc, beside
//! Swagger UI at `/docs`. The ReDoc bundle (MIT, vendored unchanged under
//! `app/assets/redoc/` with its licence files) is part of the binary and
//! served from our own URL, so the page works offline and loads nothing
//! from a CDN. The URL carries ReDoc's version, so browsers may keep the
//! script for a year: a new version is a new URL.

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;

/// The vendored ReDoc version (`app/assets/redoc/README.md`).
pub const VERSION: &str = "2.5.4";

/// Where the script is served.
pub const SCRIPT_PATH: &str = "/redoc/2.5.4/redoc.standalone.js";

/// Where the licences of what the bundle contains are served: the URL its
/// first line (`For license information please see
/// redoc.standalone.js.LICENSE.txt`) points at, relative to the script.
pub const LICENSE_PATH: &str = "/redoc/2.5.4/redoc.standalone.js.LICENSE.txt";

const SCRIPT: &[u8] = include_bytes!("../assets/redoc/redoc.standalone.js");
const LICENSE: &str = include_str!("../assets/redoc/redoc.standalone.js.LICENSE.txt");

/// A year: the script's URL changes with its version.
const FOREVER: &str = "public, max-age=31536000, immutable";

/// The page, the script and its licences.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/redoc", get(page))
        .route(SCRIPT_PATH, get(script))
        .route(LICENSE_PATH, get(license))
}

/// The page: ReDoc pointed at `/openapi.json`, no fonts or scripts from
/// elsewhere (ReDoc falls back to the system's fonts).
async fn page() -> Response {
    let html = format!(
        r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Paquetería API · ReDoc</title>
<style>body {{ margin: 0; padding: 0; }}</style>
</head>
<body>
<redoc spec-url="/openapi.json"></redoc>
<script src="{SCRIPT_PATH}"></script>
</body>
</html>
"#
    );
    (
        [(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"))],
        Html(html),
    )
        .into_response()
}

async fn script() -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/javascript; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static(FOREVER)),
        ],
        SCRIPT,
    )
        .into_response()
}

async fn license() -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static(FOREVER)),
        ],
        LICENSE,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_urls_and_the_bundle_carry_the_same_version() {
        assert!(SCRIPT_PATH.contains(&format!("/{VERSION}/")));
        assert!(LICENSE_PATH.contains(&format!("/{VERSION}/")));
        let needle = format!("\"{VERSION}\"");
        assert!(
            SCRIPT.windows(needle.len()).any(|w| w == needle.as_bytes()),
            "the vendored bundle is not ReDoc {VERSION}"
        );
    }

    #[test]
    fn the_bundle_keeps_its_licence_header() {
        assert!(SCRIPT.starts_with(b"/*! For license information please see"));
        assert!(LICENSE.contains("MIT") || LICENSE.contains("@license"));
    }
}
