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
