//! `POST /api/v1/auth/token`: FastAPI's OAuth2 password flow. Form fields
//! `username` (the email) and `password` → `{"access_token", "token_type":
//! "bearer", "expires_in"}`. Attempts are limited per client address and
//! per account (see [`crate::throttle`]: 429 with `Retry-After`); a
//! username past 254 characters is refused first. Every sign-in and every
//! failed one is written to the audit log with the client's address and
//! the email given (never the password); attempts the throttle refuses
//! are not, so a flood cannot fill the log.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;

use paqueteria_core::store::{AuditAction, AuditEntry};

use crate::client::ClientAddr;
use crate::error::{ApiError, ApiResult};
use crate::extract::ValidForm;
use crate::startup::AppState;
use crate::telemetry::SignIn;

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
#[utoipa::path(post, path = "/api/v1/auth/token", tag = "auth", request_body(content = TokenForm, content_type = "application/x-www-form-urlencoded"), responses((status = 200, description = "A bearer token"), (status = 401, description = "Wrong email or password", body = crate::error::ErrorBody), (status = 422, description = "A username past its bound", body = crate::error::ValidationBody), (status = 429, description = "Too many failed sign-ins from this address, or for this user from an address it does not know; try again after Retry-After seconds", body = crate::error::ErrorBody, headers(("Retry-After" = u64, description = "Seconds to wait")))))]
pub async fn token(
    State(s): State<AppState>,
    client: ClientAddr,
    ValidForm(f): ValidForm<TokenForm>,
) -> ApiResult<Json<serde_json::Value>> {
    let token = sign_in(&s, client, &f, "bearer token").await?;
    Ok(Json(serde_json::json!({
        "access_token": token,
        "token_type": "bearer",
        "expires_in": TOKEN_TTL_MS / 1000,
    })))
}

/// Checks the form's credentials under the throttle, audits the outcome
/// and opens a session; returns its token. `how` (bearer token, browser
/// session, web UI) goes in the audit row.
pub(crate) async fn sign_in(
    s: &AppState,
    client: ClientAddr,
    f: &TokenForm,
    how: &str,
) -> ApiResult<String> {
    if f.username.chars().count() > crate::throttle::USERNAME_MAX_CHARS {
        return Err(ApiError::field(
            "username",
            format!(
                "must be at most {} characters",
                crate::throttle::USERNAME_MAX_CHARS
            ),
        ));
    }
    let attempt = s
        .login_limiter
        .begin(&f.username, client.0)
        .inspect_err(|_| s.metrics.sign_in(SignIn::Throttled))
        .map_err(|t| ApiError::TooManyRequests {
            detail: if t.by_address {
                "too many failed sign-ins from this address; try again later".to_owned()
            } else {
                "too many failed sign-ins for this user; try again later".to_owned()
            },
            retry_after_s: t.retry_after_s,
        })?;
    let addr = client.to_audit();
    let email = f.username.trim();
    let Some(user) = s.store.authenticate(&f.username, &f.password).await? else {
        s.metrics.sign_in(SignIn::Failed);
        s.store
            .audit(&AuditEntry {
                actor_id: None,
                action: AuditAction::SignInFailed,
                subject: Some(email),
                detail: "wrong email or password, or an inactive account",
                client_addr: addr.as_deref(),
            })
            .await?;
        return Err(ApiError::Unauthorized);
    };
    s.login_limiter.succeeded(attempt);
    s.metrics.sign_in(SignIn::Succeeded);
    s.store
        .audit(&AuditEntry {
            actor_id: Some(user.id),
            action: AuditAction::SignIn,
            subject: Some(email),
            detail: how,
            client_addr: addr.as_deref(),
        })
        .await?;
    Ok(s.store.create_session(user.id, TOKEN_TTL_MS).await?)
}

/// Whether the request came over HTTPS (directly or through a proxy that
/// says so), so the cookie gets `Secure`.
pub(crate) fn over_https(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

/// `POST /api/v1/auth/session`: the browser's sign-in. The same form as
/// the token endpoint; the answer sets an HttpOnly, SameSite=Lax session
/// cookie (Secure behind HTTPS) instead of returning the token.
#[utoipa::path(post, path = "/api/v1/auth/session", tag = "auth", request_body(content = TokenForm, content_type = "application/x-www-form-urlencoded"), responses((status = 204, description = "Signed in; the session cookie is set"), (status = 401, description = "Wrong email or password", body = crate::error::ErrorBody), (status = 422, description = "A username past its bound", body = crate::error::ValidationBody), (status = 429, description = "Too many failed sign-ins from this address, or for this user from an address it does not know; try again after Retry-After seconds", body = crate::error::ErrorBody, headers(("Retry-After" = u64, description = "Seconds to wait")))))]
pub async fn session(
    State(s): State<AppState>,
    client: ClientAddr,
    headers: axum::http::HeaderMap,
    ValidForm(f): ValidForm<TokenForm>,
) -> ApiResult<impl axum::response::IntoResponse> {
    let token = sign_in(&s, client, &f, "browser session").await?;
    Ok((
        axum::http::StatusCode::NO_CONTENT,
        [(
            axum::http::header::SET_COOKIE,
            session_cookie(&token, over_https(&headers)),
        )],
    ))
}

/// The `Set-Cookie` value of a browser session: HttpOnly, SameSite=Lax,
/// as long as the session, Secure behind HTTPS.
pub(crate) fn session_cookie(token: &str, secure: bool) -> String {
    cookie::Cookie::build((crate::auth::SESSION_COOKIE, token.to_owned()))
        .path("/")
        .http_only(true)
        .same_site(cookie::SameSite::Lax)
        .max_age(cookie::time::Duration::seconds(TOKEN_TTL_MS / 1000))
        .secure(secure)
        .build()
        .to_string()
}

/// The `Set-Cookie` value that ends the browser session's cookie.
pub(crate) fn cleared_session_cookie() -> String {
    cookie::Cookie::build((crate::auth::SESSION_COOKIE, ""))
        .path("/")
        .http_only(true)
        .same_site(cookie::SameSite::Lax)
        .max_age(cookie::time::Duration::ZERO)
        .build()
        .to_string()
}

/// `POST /api/v1/auth/logout`: ends the session of the bearer token or the
/// cookie, and clears the cookie.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", responses((status = 204, description = "Signed out")))]
pub async fn logout(
    State(s): State<AppState>,
    headers: axum::http::HeaderMap,
) -> ApiResult<impl axum::response::IntoResponse> {
    let bearer = crate::auth::bearer_token(&headers);
    if let Some(t) = bearer.or_else(|| crate::auth::session_cookie(&headers)) {
        s.store.delete_session(t.trim()).await?;
    }
    Ok((
        axum::http::StatusCode::NO_CONTENT,
        [(axum::http::header::SET_COOKIE, cleared_session_cookie())],
    ))
}
