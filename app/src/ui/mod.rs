//! The staff's web UI: pages rendered on the server from askama templates
//! (`app/templates/`, checked at compile time), htmx for partial updates,
//! Pico CSS for the look, every string from the reader's language catalog
//! ([`i18n`]). The pages call the store as the REST routes do, and the role
//! checks are the same.
//!
//! A page needs the browser's session (the cookie of `/login`); without one
//! it redirects to the sign-in page. Every form that changes something
//! carries a CSRF token (a cookie plus a form field, checked on the server;
//! `axum_csrf`), on top of the `Origin` check every cookie request passes
//! ([`crate::csrf`]). Pages are sent with a Content-Security-Policy that
//! allows no inline script.

mod admin;
pub mod assets;
mod chart;
mod console;
mod courier;
pub mod format;
mod forms;
pub mod i18n;
mod label;
mod pages;
mod parcel;
mod parcels;
mod profile;
mod refusal;
mod register;
mod reports;
mod track;

use axum::Router;
use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_csrf::CsrfConfig;
use paqueteria_core::store::User;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::startup::AppState;
pub use i18n::Lang;

/// The pages' Content-Security-Policy: scripts, styles and everything
/// else from the app itself only; no inline script or style; never framed.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
                   img-src 'self' data: blob:; connect-src 'self'; form-action 'self'; \
                   frame-ancestors 'none'; base-uri 'self'; object-src 'none'";

/// The form field (and htmx header) that carries the CSRF token.
pub const CSRF_FIELD: &str = "authenticity_token";

impl FromRef<AppState> for CsrfConfig {
    fn from_ref(state: &AppState) -> Self {
        state.csrf.clone()
    }
}

/// The CSRF settings of the UI's forms: the token cookie is HttpOnly,
/// SameSite=Strict and encrypted with a key made from the app's secret.
pub fn csrf_config(secret: &[u8]) -> CsrfConfig {
    use sha2::{Digest, Sha512};
    // The cookie key: 64 bytes derived from the app's secret, so tokens
    // survive a restart and every process of one deployment agrees.
    let key = Sha512::new()
        .chain_update(b"paqueteria ui csrf cookie key\0")
        .chain_update(secret)
        .finalize();
    let salt: String = Sha512::new()
        .chain_update(b"paqueteria ui csrf salt\0")
        .chain_update(secret)
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    CsrfConfig::default()
        .with_cookie_name("paq_csrf")
        .with_cookie_same_site(axum_csrf::SameSite::Strict)
        .with_http_only(true)
        .with_key(Some(axum_csrf::Key::from(&key)))
        .with_salt(salt)
}

/// The key of the UI's encrypted one-time cookies (the registration's
/// pickup PIN on its way to the page that shows it once): 64 bytes made
/// from the app's secret, so every process of a deployment agrees.
pub fn flash_key(secret: &[u8]) -> cookie::Key {
    use sha2::{Digest, Sha512};
    let key = Sha512::new()
        .chain_update(b"paqueteria ui flash cookie key\0")
        .chain_update(secret)
        .finalize();
    cookie::Key::from(&key)
}

/// The signed-in user of a page, and the language they chose on their
/// profile (`None`: their browser's). Without a valid session the page is
/// answered with a redirect to the sign-in page, which comes back here.
#[derive(Clone, Debug)]
pub struct UiUser(pub User, pub Option<Lang>);

impl UiUser {
    /// The language of this user's pages: their setting, else the
    /// browser's `Accept-Language`, else Spanish.
    pub fn lang(&self, headers: &axum::http::HeaderMap) -> Lang {
        self.1.unwrap_or_else(|| Lang::from_headers(headers))
    }
}

/// Where a page without a session sends the browser.
pub struct ToSignIn(String);

impl IntoResponse for ToSignIn {
    fn into_response(self) -> Response {
        Redirect::to(&self.0).into_response()
    }
}

impl FromRequestParts<AppState> for UiUser {
    type Rejection = ToSignIn;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let back = parts
            .uri
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_owned();
        let to_sign_in = || {
            let next: String = form_urlencoded::byte_serialize(back.as_bytes()).collect();
            ToSignIn(if back == "/" {
                "/login".to_owned()
            } else {
                format!("/login?next={next}")
            })
        };
        let Some(token) = crate::auth::session_cookie(&parts.headers) else {
            return Err(to_sign_in());
        };
        match state.store.session_user(token).await {
            Ok(Some(user)) => {
                // A setting that cannot be read is no setting: the page
                // follows the browser's language.
                let lang = match state.store.user_language(user.id).await {
                    Ok(code) => code.as_deref().and_then(Lang::from_code),
                    Err(e) => {
                        tracing::warn!(error = %e, "reading a user's language");
                        None
                    }
                };
                Ok(Self(user, lang))
            }
            _ => Err(to_sign_in()),
        }
    }
}

/// What every page's layout shows: the reader's language, who is signed
/// in, the CSRF token of its forms.
#[derive(Clone, Debug)]
pub struct Chrome {
    /// The page's language.
    pub lang: Lang,
    /// The signed-in user's name and role, on pages behind the sign-in.
    pub user: Option<(String, String)>,
    /// The CSRF token for the page's forms.
    pub csrf: String,
    /// The signed-in user's role (which links the layout offers).
    pub role: Option<paqueteria_core::domain::Role>,
}

impl Chrome {
    /// The string `key` in the page's language.
    pub fn t(&self, key: &str) -> String {
        self.lang.t(key)
    }

    /// Whether the signed-in user may register parcels.
    pub fn may_register(&self) -> bool {
        self.role
            .is_some_and(|r| <crate::auth::Staff as crate::auth::Policy>::ROLES.contains(&r))
    }

    /// Whether the signed-in user may open the jobs console.
    pub fn may_console(&self) -> bool {
        self.role
            .is_some_and(|r| <crate::auth::Managers as crate::auth::Policy>::ROLES.contains(&r))
    }

    /// Whether the signed-in user is a courier.
    pub fn is_courier(&self) -> bool {
        self.role == Some(paqueteria_core::domain::Role::Courier)
    }

    /// Whether the signed-in user's role may open the page `page` of the
    /// menu: the roles of the API routes behind it (the page itself
    /// refuses the others; this only hides the link).
    pub fn may(&self, page: &str) -> bool {
        use crate::auth::{Admins, Everyone, Managers, Policy, Staff};
        let roles = match page {
            "customers" => Staff::ROLES,
            "reports" => Managers::ROLES,
            "users" | "audit" => Admins::ROLES,
            "tariffs" | "branches" | "profile" => Everyone::ROLES,
            _ => &[],
        };
        self.role.is_some_and(|r| roles.contains(&r))
    }

    /// The URL of the embedded file `name`.
    pub fn asset(&self, name: &str) -> &'static str {
        assets::url(name)
    }
}

/// The pages.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(pages::home))
        .route("/home/figures", get(pages::home_figures))
        .route("/login", get(pages::sign_in_page).post(pages::sign_in))
        .route("/logout", post(pages::sign_out))
        .route("/parcels", get(parcels::list))
        .route("/parcels/new", get(register::new).post(register::create))
        .route("/parcels/new/customer", get(register::lookup))
        .route("/parcels/new/quote", get(register::quote))
        .route("/parcels/{id}/registered", get(register::registered))
        .route("/parcels/{id}", get(parcel::show))
        .route("/parcels/{id}/events", post(parcel::act))
        .route("/parcels/{id}/label.pdf", get(label::pdf))
        .route(
            "/parcels/{id}/attachments",
            get(parcel::attachments).post(parcel::upload).layer(
                axum::extract::DefaultBodyLimit::max(
                    usize::try_from(state.settings.transports.upload_max_bytes)
                        .unwrap_or(usize::MAX)
                        .saturating_add(64 * 1024),
                ),
            ),
        )
        .route("/courier", get(courier::day))
        .route("/console", get(console::overview::page))
        .route("/console/overview", get(console::overview::part))
        .route("/console/audit", get(console::audit::list))
        .route("/console/jobs", get(console::jobs::list))
        .route("/console/jobs/bulk", post(console::jobs::bulk))
        .route("/console/jobs/export.json", get(console::jobs::export_json))
        .route("/console/jobs/export.csv", get(console::jobs::export_csv))
        .route("/console/jobs/{id}", get(console::job::show))
        .route("/console/jobs/{id}/{action}", post(console::jobs::act))
        .route(
            "/console/queues/{queue}/{action}",
            post(console::jobs::queue),
        )
        .route("/console/schedule", get(console::schedule::page))
        .route(
            "/console/schedule/{entry}/run-now",
            post(console::schedule::run_now),
        )
        .route("/console/purge", post(console::overview::purge))
        .route("/console/messages", get(console::messages::list))
        .route(
            "/console/messages/{id}/resend",
            post(console::messages::resend),
        )
        .route("/profile", get(profile::show))
        .route("/profile/password", post(profile::change_password))
        .route("/profile/language", post(profile::set_language))
        .route("/reports", get(reports::list).post(reports::request))
        .route("/reports/{id}/progress", get(reports::progress))
        .route("/reports/{id}/download", get(reports::download))
        .merge(admin::routes())
        .route("/track", get(track::form))
        .route("/track/{code}", get(track::show))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        .with_state(state)
        .merge(assets::router())
}
