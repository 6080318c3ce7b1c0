//! Who is calling: bearer tokens from `POST /api/v1/auth/token` (FastAPI's
//! OAuth2 password flow), checked against the store's sessions; and the role
//! checks every route makes.

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use paqueteria_core::domain::Role;
use paqueteria_core::store::User;

use crate::error::ApiError;
use crate::startup::AppState;

/// The signed-in user of a request; 401 when there is none.
#[derive(Clone, Debug)]
pub struct CurrentUser(pub User);

impl CurrentUser {
    /// 403 unless the user has one of `roles`.
    pub fn require(&self, roles: &[Role]) -> Result<&User, ApiError> {
        if roles.contains(&self.0.role) {
            Ok(&self.0)
        } else {
            Err(ApiError::Forbidden(format!(
                "a {} may not do this",
                self.0.role.as_str()
            )))
        }
    }
}

/// Counter staff and above.
pub const STAFF: &[Role] = &[Role::Admin, Role::Supervisor, Role::Operator];
/// Everyone who works here.
pub const EVERYONE: &[Role] = &[Role::Admin, Role::Supervisor, Role::Operator, Role::Courier];
/// Admins only.
pub const ADMIN: &[Role] = &[Role::Admin];

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(ApiError::Unauthorized)?;
        let user = state
            .store
            .session_user(token)
            .await?
            .ok_or(ApiError::Unauthorized)?;
        Ok(Self(user))
    }
}
