//! `/api/v1/users`: admins manage staff; everyone reads themselves.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use paqueteria_core::domain::Role;
use paqueteria_core::store::{NewUser, User};
use serde::Deserialize;

use crate::auth::{Admins, Authorized, Everyone};
use crate::error::ApiResult;
use crate::extract::ValidJson;
use crate::startup::AppState;

/// `POST /api/v1/users`.
#[derive(utoipa::ToSchema, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    /// Email, the sign-in name.
    pub email: String,
    /// Full name.
    pub name: String,
    /// At least 10 characters.
    pub password: String,
    /// admin, supervisor, operator or courier.
    pub role: Role,
    /// Their branch.
    #[serde(default)]
    pub branch_id: Option<i64>,
}

/// The signed-in user.
#[utoipa::path(get, path = "/api/v1/users/me", tag = "users", responses((status = 200, description = "The signed-in user", body = paqueteria_core::store::User), (status = 401, description = "Not signed in", body = crate::error::ErrorBody)), security(("oauth2" = [])))]
pub async fn me(user: Authorized<Everyone>) -> Json<User> {
    Json(user.0)
}

/// Every user.
#[utoipa::path(get, path = "/api/v1/users", tag = "users", responses((status = 200, description = "Every user", body = Vec<paqueteria_core::store::User>), (status = 401, description = "Not signed in", body = crate::error::ErrorBody), (status = 403, description = "Role not allowed", body = crate::error::ErrorBody)), security(("oauth2" = [])))]
pub async fn list(
    State(s): State<AppState>,
    _user: Authorized<Admins>,
) -> ApiResult<Json<Vec<User>>> {
    Ok(Json(s.store.users().await?))
}

/// Creates a user.
#[utoipa::path(post, path = "/api/v1/users", tag = "users", request_body = CreateUser, responses((status = 201, description = "Created", body = paqueteria_core::store::User), (status = 401, description = "Not signed in", body = crate::error::ErrorBody), (status = 403, description = "Role not allowed", body = crate::error::ErrorBody), (status = 409, description = "Conflict", body = crate::error::ErrorBody), (status = 422, description = "Invalid input", body = crate::error::ValidationBody)), security(("oauth2" = [])))]
pub async fn create(
    State(s): State<AppState>,
    _user: Authorized<Admins>,
    ValidJson(u): ValidJson<CreateUser>,
) -> ApiResult<(StatusCode, Json<User>)> {
    let created = s
        .store
        .create_user(&NewUser {
            email: u.email,
            name: u.name,
            password: u.password,
            role: u.role,
            branch_id: u.branch_id,
        })
        .await?;
    Ok((StatusCode::CREATED, Json(created)))
}
