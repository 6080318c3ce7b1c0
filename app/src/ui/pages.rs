//! The pages: sign-in, sign-out and the home dashboard; what every page's
//! layout needs ([`chrome`]).

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum_csrf::CsrfToken;
use paqueteria_core::calendar::local_day;
use paqueteria_core::domain::ParcelStatus;
use paqueteria_core::store::DashboardFigures;
use serde::Deserialize;

use super::{Chrome, Lang, UiUser};
use crate::client::ClientAddr;
use crate::error::ApiError;
use crate::routes::auth::{TokenForm, cleared_session_cookie, over_https, session_cookie};
use crate::startup::AppState;

/// The layout's data for `user` (or nobody), with the CSRF token of
/// `csrf`, in the reader's language: the user's setting (profile page),
/// else the browser's `Accept-Language`, else Spanish.
pub(super) fn chrome(headers: &HeaderMap, user: Option<&UiUser>, csrf: &CsrfToken) -> Chrome {
    let lang = user.map_or_else(|| Lang::from_headers(headers), |u| u.lang(headers));
    Chrome {
        lang,
        user: user.map(|u| {
            (
                u.0.name.clone(),
                lang.t(&format!("roles.{}", u.0.role.as_str())),
            )
        }),
        csrf: csrf.authenticity_token().unwrap_or_default(),
        role: user.map(|u| u.0.role),
    }
}

/// A page that refuses a form without a valid CSRF token: 403, nothing
/// changed.
pub(super) fn csrf_refused(lang: Lang) -> Response {
    let chrome = Chrome {
        lang,
        user: None,
        csrf: String::new(),
        role: None,
    };
    super::refusal::refused(chrome, StatusCode::FORBIDDEN, lang.t("errors.csrf"))
}

#[derive(Template, WebTemplate)]
#[template(path = "sign_in.html")]
struct SignInPage {
    chrome: Chrome,
    email: String,
    next: String,
    error: Option<String>,
    notice: Option<String>,
}

/// `GET /login` query.
#[derive(Debug, Deserialize)]
pub struct SignInQuery {
    /// Where to go once signed in.
    next: Option<String>,
    /// Set after a sign-out.
    out: Option<u8>,
}

/// Where a sign-in may send the browser: a path of this app, never
/// another site (`//evil.example`, `https://…`).
fn local_path(next: Option<&str>) -> String {
    match next {
        // A browser drops tabs and line breaks from a URL (`/\t/evil.example`
        // is `//evil.example` to it): none is taken.
        Some(p)
            if p.starts_with('/')
                && !p.starts_with("//")
                && !p.contains('\\')
                && !p.chars().any(|c| c.is_control() || c.is_whitespace()) =>
        {
            p.to_owned()
        }
        _ => "/".to_owned(),
    }
}

/// The sign-in form.
pub async fn sign_in_page(
    headers: HeaderMap,
    csrf: CsrfToken,
    Query(q): Query<SignInQuery>,
) -> Response {
    let chrome = chrome(&headers, None, &csrf);
    let notice = q.out.map(|_| chrome.t("sign_in.signed_out"));
    let page = SignInPage {
        chrome,
        email: String::new(),
        next: local_path(q.next.as_deref()),
        error: None,
        notice,
    };
    (csrf, page).into_response()
}

/// The sign-in form's fields.
#[derive(Debug, Deserialize)]
pub struct SignInForm {
    email: String,
    password: String,
    #[serde(default)]
    next: Option<String>,
    #[serde(default)]
    authenticity_token: String,
}

/// Signs in with the API's rules (the same throttle and audit log); on
/// success sets the session cookie and goes to `next`.
pub async fn sign_in(
    State(s): State<AppState>,
    headers: HeaderMap,
    client: ClientAddr,
    csrf: CsrfToken,
    axum::Form(f): axum::Form<SignInForm>,
) -> Response {
    let lang = Lang::from_headers(&headers);
    if csrf.verify(&f.authenticity_token).is_err() {
        return csrf_refused(lang);
    }
    let next = local_path(f.next.as_deref());
    let form = TokenForm {
        username: f.email.clone(),
        password: f.password,
    };
    let (status, error) = match crate::routes::auth::sign_in(&s, client, &form, "web UI").await {
        Ok(token) => {
            return (
                [(
                    header::SET_COOKIE,
                    session_cookie(&token, over_https(&headers)),
                )],
                Redirect::to(&next),
            )
                .into_response();
        }
        Err(ApiError::TooManyRequests { retry_after_s, .. }) => (
            StatusCode::TOO_MANY_REQUESTS,
            lang.t_with("sign_in.throttled", "seconds", &retry_after_s.to_string()),
        ),
        Err(ApiError::Unauthorized | ApiError::Validation(_)) => {
            (StatusCode::UNAUTHORIZED, lang.t("sign_in.wrong"))
        }
        Err(other) => return other.into_response(),
    };
    let page = SignInPage {
        chrome: chrome(&headers, None, &csrf),
        email: f.email.chars().take(254).collect(),
        next,
        error: Some(error),
        notice: None,
    };
    (status, csrf, page).into_response()
}

/// The sign-out form's field.
#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    authenticity_token: String,
}

/// Ends the session and goes back to the sign-in page.
pub async fn sign_out(
    State(s): State<AppState>,
    headers: HeaderMap,
    csrf: CsrfToken,
    axum::Form(f): axum::Form<CsrfForm>,
) -> Response {
    if csrf.verify(&f.authenticity_token).is_err() {
        return csrf_refused(Lang::from_headers(&headers));
    }
    if let Some(token) = crate::auth::session_cookie(&headers)
        && let Err(e) = s.store.delete_session(token).await
    {
        return ApiError::from(e).into_response();
    }
    (
        [(header::SET_COOKIE, cleared_session_cookie())],
        Redirect::to("/login?out=1"),
    )
        .into_response()
}

/// The dashboard's figures as a page shows them.
struct Figures {
    received_today: i64,
    delivered_today: i64,
    revenue_today: String,
    waiting_past_grace: i64,
    failed_notifications: i64,
    /// Each status's name in the reader's language and its count, in the
    /// lifecycle's order.
    by_status: Vec<(String, i64)>,
    /// Each destination branch with its parcels per status (named).
    by_branch: Vec<(String, String, i64)>,
    /// Receptions and deliveries of the last 14 days.
    chart: super::chart::Chart,
}

impl Figures {
    fn of(f: &DashboardFigures, lang: Lang, tz: chrono_tz::Tz) -> Self {
        Self {
            chart: super::chart::Chart::of(&f.last_days, tz, lang),
            by_branch: f
                .by_branch
                .iter()
                .map(|b| {
                    (
                        b.branch_name.clone(),
                        lang.t(&format!("status.{}", b.status)),
                        b.count,
                    )
                })
                .collect(),
            received_today: f.received_today,
            delivered_today: f.delivered_today,
            revenue_today: f.revenue_today.to_string(),
            waiting_past_grace: f.waiting_past_grace,
            failed_notifications: f.failed_notifications,
            by_status: ParcelStatus::ALL
                .iter()
                .map(|st| {
                    (
                        lang.t(&format!("status.{}", st.as_str())),
                        f.by_status.get(st.as_str()).copied().unwrap_or(0),
                    )
                })
                .collect(),
        }
    }
}

/// The figures kept by the maintenance job, or computed now before its
/// first run.
async fn figures(s: &AppState) -> Result<DashboardFigures, ApiError> {
    if let Some(f) = s.store.dashboard().await? {
        return Ok(f);
    }
    let (_, day_start) = local_day(s.store.clock().now_ms(), s.settings.time_zone);
    let f = s.store.compute_dashboard(day_start).await?;
    s.store.save_dashboard(&f).await?;
    Ok(f)
}

#[derive(Template, WebTemplate)]
#[template(path = "home.html")]
struct HomePage {
    chrome: Chrome,
    /// `None` for couriers, who do not see the business's figures (as
    /// `GET /api/v1/dashboard` refuses them).
    figures: Option<Figures>,
}

#[derive(Template, WebTemplate)]
#[template(path = "home_figures.html")]
struct HomeFigures {
    chrome: Chrome,
    figures: Figures,
}

/// The home page: the day's figures, refreshed every 30 s.
pub async fn home(
    State(s): State<AppState>,
    headers: HeaderMap,
    user: UiUser,
    csrf: CsrfToken,
) -> Response {
    let chrome = chrome(&headers, Some(&user), &csrf);
    if !sees_figures(&user) {
        let page = HomePage {
            chrome,
            figures: None,
        };
        return (csrf, page).into_response();
    }
    match figures(&s).await {
        Ok(f) => {
            let figures = Some(Figures::of(&f, chrome.lang, s.settings.time_zone));
            (csrf, HomePage { chrome, figures }).into_response()
        }
        Err(e) => super::refusal::from_api(chrome, e),
    }
}

/// Whether `user` sees the business's figures: the roles of
/// `GET /api/v1/dashboard`.
fn sees_figures(user: &UiUser) -> bool {
    <crate::auth::Staff as crate::auth::Policy>::ROLES.contains(&user.0.role)
}

/// The figures alone, for the home page's refresh.
pub async fn home_figures(
    State(s): State<AppState>,
    headers: HeaderMap,
    user: UiUser,
    csrf: CsrfToken,
) -> Response {
    if !sees_figures(&user) {
        return ApiError::Forbidden(user.lang(&headers).t("errors.forbidden")).into_response();
    }
    let chrome = chrome(&headers, Some(&user), &csrf);
    match figures(&s).await {
        Ok(f) => {
            let figures = Figures::of(&f, chrome.lang, s.settings.time_zone);
            HomeFigures { chrome, figures }.into_response()
        }
        Err(e) => super::refusal::from_api(chrome, e),
    }
}

#[cfg(test)]
mod tests {
    use super::local_path;

    #[test]
    fn a_sign_in_goes_on_only_to_a_path_of_this_app() {
        assert_eq!(local_path(Some("/parcels?q=PQ1")), "/parcels?q=PQ1");
        for off_site in [
            "//evil.example",
            "https://evil.example",
            "/\t/evil.example",
            "/\\evil.example",
            "/\n/evil.example",
            "/ /evil.example",
            "evil.example",
        ] {
            assert_eq!(local_path(Some(off_site)), "/", "{off_site:?}");
        }
        assert_eq!(local_path(None), "/");
    }
}
