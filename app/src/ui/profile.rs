//! `/profile`: who is signed in (name, email, role, branch), their own
//! password (changed with the API's rules: the sign-in throttle, the
//! password policy, the other sessions ended) and the language of their
//! pages (stored per user; unset follows the browser).

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum_csrf::CsrfToken;
use serde::Deserialize;

use super::forms::{Choice, FieldErrors, error_page};
use super::pages::{chrome, csrf_refused};
use super::{Chrome, Lang, UiUser};
use crate::client::ClientAddr;
use crate::error::ApiError;
use crate::routes::users::{ChangePassword, change_own_password};
use crate::startup::AppState;

#[derive(Template, WebTemplate)]
#[template(path = "profile.html")]
struct ProfilePage {
    chrome: Chrome,
    name: String,
    email: String,
    role: String,
    branch: String,
    languages: Vec<Choice>,
    notice: Option<String>,
    errors: FieldErrors,
}

/// `GET /profile` query: what was just saved.
#[derive(Debug, Deserialize)]
pub struct ProfileQuery {
    #[serde(default)]
    saved: Option<String>,
}

/// The page for `user`, with `errors` on its forms.
async fn page(
    s: &AppState,
    chrome: Chrome,
    user: &UiUser,
    notice: Option<String>,
    errors: FieldErrors,
) -> Result<ProfilePage, ApiError> {
    let branch = match user.0.branch_id {
        Some(id) => {
            let b = s.store.branch(id).await?;
            format!("{} ({})", b.name, b.code)
        }
        None => chrome.t("profile.no_branch"),
    };
    let chosen = user.1;
    let mut languages = vec![(
        String::new(),
        chrome.t("profile.language_browser"),
        chosen.is_none(),
    )];
    languages.extend(Lang::ALL.into_iter().map(|l| {
        (
            l.code().to_owned(),
            chrome.t(&format!("languages.{}", l.code())),
            chosen == Some(l),
        )
    }));
    Ok(ProfilePage {
        name: user.0.name.clone(),
        email: user.0.email.clone(),
        role: chrome.t(&format!("roles.{}", user.0.role.as_str())),
        branch,
        languages,
        notice,
        errors,
        chrome,
    })
}

/// `GET /profile`: every signed-in user's own page.
pub async fn show(
    State(s): State<AppState>,
    headers: HeaderMap,
    user: UiUser,
    csrf: CsrfToken,
    Query(q): Query<ProfileQuery>,
) -> Response {
    let chrome = chrome(&headers, Some(&user), &csrf);
    let notice = match q.saved.as_deref() {
        Some("password") => Some(chrome.t("profile.password_changed")),
        Some("language") => Some(chrome.t("profile.language_saved")),
        _ => None,
    };
    match page(&s, chrome.clone(), &user, notice, FieldErrors::default()).await {
        Ok(p) => (csrf, p).into_response(),
        Err(e) => error_page(chrome, csrf, e),
    }
}

/// The password form's fields.
#[derive(Debug, Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    new_password: String,
    #[serde(default)]
    new_password_again: String,
    #[serde(default)]
    authenticity_token: String,
}

/// `POST /profile/password`: changes the user's own password as
/// `PATCH /api/v1/users/me/password` does; 422 with the form and the
/// message next to the field for a wrong current password or a new one
/// the policy refuses.
pub async fn change_password(
    State(s): State<AppState>,
    headers: HeaderMap,
    user: UiUser,
    client: ClientAddr,
    csrf: CsrfToken,
    axum::Form(f): axum::Form<PasswordForm>,
) -> Response {
    let chrome = chrome(&headers, Some(&user), &csrf);
    if csrf.verify(&f.authenticity_token).is_err() {
        return csrf_refused(chrome.lang);
    }
    let mut errors = FieldErrors::default();
    if f.new_password != f.new_password_again {
        errors.add(
            chrome.lang,
            "new_password_again",
            "profile.passwords_differ",
        );
    }
    let (status, errors) = if errors.is_empty() {
        let token = crate::auth::session_cookie(&headers);
        let body = ChangePassword {
            current_password: f.current_password,
            new_password: f.new_password,
        };
        match change_own_password(&s, &user.0, client, token, &body).await {
            Ok(()) => return Redirect::to("/profile?saved=password").into_response(),
            Err(ApiError::TooManyRequests { retry_after_s, .. }) => {
                let mut errors = FieldErrors::default();
                let msg =
                    chrome
                        .lang
                        .t_with("sign_in.throttled", "seconds", &retry_after_s.to_string());
                errors.add_text("current_password", msg);
                (StatusCode::TOO_MANY_REQUESTS, errors)
            }
            Err(e) => match FieldErrors::from_api(e, chrome.lang, |_| None) {
                Ok(errors) => (StatusCode::UNPROCESSABLE_ENTITY, errors),
                Err(e) => return error_page(chrome, csrf, e),
            },
        }
    } else {
        (StatusCode::UNPROCESSABLE_ENTITY, errors)
    };
    match page(&s, chrome.clone(), &user, None, errors).await {
        Ok(p) => (status, csrf, p).into_response(),
        Err(e) => error_page(chrome, csrf, e),
    }
}

/// The language form's fields.
#[derive(Debug, Deserialize)]
pub struct LanguageForm {
    /// `es`, `en`, or empty for the browser's language.
    #[serde(default)]
    language: String,
    #[serde(default)]
    authenticity_token: String,
}

/// `POST /profile/language`: keeps the user's language; their pages speak
/// it from the next one on.
pub async fn set_language(
    State(s): State<AppState>,
    headers: HeaderMap,
    user: UiUser,
    csrf: CsrfToken,
    axum::Form(f): axum::Form<LanguageForm>,
) -> Response {
    let chrome = chrome(&headers, Some(&user), &csrf);
    if csrf.verify(&f.authenticity_token).is_err() {
        return csrf_refused(chrome.lang);
    }
    let chosen = match f.language.trim() {
        "" => None,
        code => match Lang::from_code(code) {
            Some(l) => Some(l),
            None => {
                let mut errors = FieldErrors::default();
                errors.add(chrome.lang, "language", "profile.language_unknown");
                return match page(&s, chrome.clone(), &user, None, errors).await {
                    Ok(p) => (StatusCode::UNPROCESSABLE_ENTITY, csrf, p).into_response(),
                    Err(e) => error_page(chrome, csrf, e),
                };
            }
        },
    };
    match s
        .store
        .set_user_language(user.0.id, chosen.map(Lang::code))
        .await
    {
        Ok(()) => Redirect::to("/profile?saved=language").into_response(),
        Err(e) => error_page(chrome, csrf, e.into()),
    }
}
