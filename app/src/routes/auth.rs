//! `POST /api/v1/auth/token`: FastAPI's OAuth2 password flow. Form fields
//! `username` (the email) and `password` → `{"access_token", "token_type":
//! "bearer", "expires_in"}`. Failed attempts are limited per username.

use axum::Form;
use axum::Json;
use axum::extract::State;
use serde::Deserialize;

use crate::error::{ApiError, ApiResult};
use crate::startup::AppState;

/// How long a token lives.
pub const TOKEN_TTL_MS: i64 = 12 * 3600 * 1000;

/// The OAuth2 password-flow form.
#[derive(utoipa::ToSchema, Debug, Deserialize)]
pub struct TokenForm {
    /// The user's email.
    pub username: String,
    /// The password.
    pub password: String,
}

/// Signs a user in.
#[utoipa::path(post, path = "/api/v1/auth/token", tag = "auth", request_body(content = TokenForm, content_type = "application/x-www-form-urlencoded"), responses((status = 200, description = "A bearer token"), (status = 401, description = "Wrong email or password", body = crate::error::ErrorBody), (status = 429, description = "Too many attempts", body = crate::error::ErrorBody)))]
pub async fn token(
    State(s): State<AppState>,
    Form(f): Form<TokenForm>,
) -> ApiResult<Json<serde_json::Value>> {
    let key = f.username.trim().to_lowercase();
    if s.login_limiter.check_key(&key).is_err() {
        return Err(ApiError::TooManyRequests(
            "too many sign-in attempts for this user; wait a minute".to_owned(),
        ));
    }
    let user = s
        .store
        .authenticate(&f.username, &f.password)
        .await?
        .ok_or(ApiError::Unauthorized)?;
    let token = s.store.create_session(user.id, TOKEN_TTL_MS).await?;
    Ok(Json(serde_json::json!({
        "access_token": token,
        "token_type": "bearer",
        "expires_in": TOKEN_TTL_MS / 1000,
    })))
}

/// Whether the request came over HTTPS (directly or through a proxy that
/// says so), so the cookie gets `Secure`.
fn over_https(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

/// `POST /api/v1/auth/session`: the browser's sign-in. The same form as
/// the token endpoint; the answer sets an HttpOnly, SameSite=Lax session
/// cookie (Secure behind HTTPS) instead of returning the token.
#[utoipa::path(post, path = "/api/v1/auth/session", tag = "auth", request_body(content = TokenForm, content_type = "application/x-www-form-urlencoded"), responses((status = 204, description = "Signed in; the session cookie is set"), (status = 401, description = "Wrong email or password", body = crate::error::ErrorBody), (status = 429, description = "Too many attempts", body = crate::error::ErrorBody)))]
pub async fn session(
    State(s): State<AppState>,
    headers: axum::http::HeaderMap,
    form: Form<TokenForm>,
) -> ApiResult<impl axum::response::IntoResponse> {
    let Json(body) = token(State(s), form).await?;
    let value = body["access_token"].as_str().unwrap_or_default();
    let secure = if over_https(&headers) { "; Secure" } else { "" };
    let cookie = format!(
        "{}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
        crate::auth::SESSION_COOKIE,
        TOKEN_TTL_MS / 1000
    );
    Ok((
        axum::http::StatusCode::NO_CONTENT,
        [(axum::http::header::SET_COOKIE, cookie)],
    ))
}

/// `POST /api/v1/auth/logout`: ends the session of the bearer token or the
/// cookie, and clears the cookie.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", responses((status = 204, description = "Signed out")))]
pub async fn logout(
    State(s): State<AppState>,
    headers: axum::http::HeaderMap,
) -> ApiResult<impl axum::response::IntoResponse> {
    let bearer = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if let Some(t) = bearer.or_else(|| crate::auth::session_cookie(&headers)) {
        s.store.delete_session(t.trim()).await?;
    }
    let clear = format!(
        "{}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0",
        crate::auth::SESSION_COOKIE
    );
    Ok((
        axum::http::StatusCode::NO_CONTENT,
        [(axum::http::header::SET_COOKIE, clear)],
    ))
}
