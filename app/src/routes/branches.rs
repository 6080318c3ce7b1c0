//! `/api/v1/branches`: everyone reads, admins create.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use paqueteria_core::domain::Phone;
use paqueteria_core::store::{Branch, NewBranch};
use serde::Deserialize;

use crate::auth::{Admins, Authorized, Everyone};
use crate::error::{ApiError, ApiResult};
use crate::extract::ValidJson;
use crate::startup::AppState;

/// `POST /api/v1/branches`.
#[derive(utoipa::ToSchema, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateBranch {
    /// Short unique code, e.g. `BOG-01`.
    pub code: String,
    /// Display name.
    pub name: String,
    /// City.
    pub city: String,
    /// Street address.
    #[serde(default)]
    pub address: String,
    /// Phone, E.164.
    #[serde(default)]
    pub phone: Option<Phone>,
}

/// Every branch.
#[utoipa::path(get, path = "/api/v1/branches", tag = "branches", responses((status = 200, description = "Every branch", body = Vec<paqueteria_core::store::Branch>), (status = 401, description = "Not signed in", body = crate::error::ErrorBody)), security(("oauth2" = [])))]
pub async fn list(
    State(s): State<AppState>,
    _user: Authorized<Everyone>,
) -> ApiResult<Json<Vec<Branch>>> {
    Ok(Json(s.store.branches().await?))
}

/// Creates a branch.
#[utoipa::path(post, path = "/api/v1/branches", tag = "branches", request_body = CreateBranch, responses((status = 201, description = "Created", body = paqueteria_core::store::Branch), (status = 401, description = "Not signed in", body = crate::error::ErrorBody), (status = 403, description = "Role not allowed", body = crate::error::ErrorBody), (status = 409, description = "Conflict", body = crate::error::ErrorBody), (status = 422, description = "Invalid input", body = crate::error::ValidationBody)), security(("oauth2" = [])))]
pub async fn create(
    State(s): State<AppState>,
    _user: Authorized<Admins>,
    ValidJson(b): ValidJson<CreateBranch>,
) -> ApiResult<(StatusCode, Json<Branch>)> {
    Ok((StatusCode::CREATED, Json(create_branch(&s, b).await?)))
}

/// Creates branch `b` with the API's rules (code, name and city not
/// blank; the code in capitals). The caller checks the role (admins); the
/// branches page creates through here too.
pub(crate) async fn create_branch(s: &AppState, b: CreateBranch) -> ApiResult<Branch> {
    for (field, value) in [("code", &b.code), ("name", &b.name), ("city", &b.city)] {
        if value.trim().is_empty() {
            return Err(ApiError::field(field, "must not be empty"));
        }
    }
    let branch = s
        .store
        .create_branch(&NewBranch {
            code: b.code.trim().to_uppercase(),
            name: b.name.trim().to_owned(),
            city: b.city.trim().to_owned(),
            address: b.address,
            phone: b.phone,
        })
        .await?;
    Ok(branch)
}
