//! The web UI's static files: htmx, Pico CSS, our stylesheet and icon, vendored
//! under `app/assets/ui/` (see its README) and embedded in the binary. Each
//! is served at a URL carrying a hash of its content
//! (`/static/htmx.min.3f2a….js`), so browsers keep it for a year and a new
//! version is a new URL; pages name them through [`url`].

use std::sync::LazyLock;

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sha2::{Digest, Sha256};

/// A year: a file's URL changes with its content.
const FOREVER: &str = "public, max-age=31536000, immutable";

/// The files: name, content type, bytes.
const FILES: [(&str, &str, &[u8]); 5] = [
    (
        "htmx.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/ui/htmx.min.js"),
    ),
    (
        "pico.min.css",
        "text/css; charset=utf-8",
        include_bytes!("../../assets/ui/pico.min.css"),
    ),
    (
        "app.css",
        "text/css; charset=utf-8",
        include_bytes!("../../assets/ui/app.css"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/ui/app.js"),
    ),
    (
        "icon.svg",
        "image/svg+xml",
        include_bytes!("../../assets/ui/icon.svg"),
    ),
];

/// One embedded file and the path it is served at.
struct Asset {
    name: &'static str,
    path: String,
    content_type: &'static str,
    body: &'static [u8],
}

/// Every file with its hashed path, made once.
static ASSETS: LazyLock<Vec<Asset>> = LazyLock::new(|| {
    FILES
        .iter()
        .map(|(name, content_type, body)| {
            let digest = Sha256::digest(body);
            let hash: String = digest[..6].iter().map(|b| format!("{b:02x}")).collect();
            let (stem, ext) = name.rsplit_once('.').unwrap_or((name, ""));
            Asset {
                name,
                path: format!("/static/{stem}.{hash}.{ext}"),
                content_type,
                body,
            }
        })
        .collect()
});

/// The URL of the embedded file `name` (`htmx.min.js`), with its hash; an
/// unknown name gives a URL that answers 404.
pub fn url(name: &str) -> &'static str {
    ASSETS
        .iter()
        .find(|a| a.name == name)
        .map_or("/static/missing", |a| a.path.as_str())
}

/// `GET /static/{file}`.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new().route("/static/{file}", get(serve))
}

async fn serve(Path(file): Path<String>) -> Response {
    let wanted = format!("/static/{file}");
    match ASSETS.iter().find(|a| a.path == wanted) {
        Some(a) => (
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static(a.content_type),
                ),
                (header::CACHE_CONTROL, HeaderValue::from_static(FOREVER)),
            ],
            a.body,
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_file_has_a_url_that_changes_with_its_content() {
        let htmx = url("htmx.min.js");
        assert!(
            htmx.starts_with("/static/htmx.min.") && htmx.ends_with(".js"),
            "{htmx}"
        );
        assert_eq!(htmx.len(), "/static/htmx.min..js".len() + 12);
        assert_ne!(url("pico.min.css"), url("app.css"));
        assert_eq!(url("nothing.js"), "/static/missing");
    }
}
