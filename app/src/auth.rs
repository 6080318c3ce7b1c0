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

/// The browser's session cookie.
pub const SESSION_COOKIE: &str = "paq_session";

/// The token of an `Authorization: Bearer <token>` header, if any; the
/// scheme's case does not matter (RFC 9110: `bearer` is `Bearer`).
pub fn bearer_token(headers: &axum::http::HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The session token in a `Cookie` header, if any.
pub fn session_cookie(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == SESSION_COOKIE)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

/// Who may call a route: the roles it admits.
pub trait Policy: Send + Sync + 'static {
    /// The roles admitted.
    const ROLES: &'static [Role];
}

/// Everyone who works here.
#[derive(Debug)]
pub struct Everyone;
impl Policy for Everyone {
    const ROLES: &'static [Role] = &[Role::Admin, Role::Supervisor, Role::Operator, Role::Courier];
}

/// Counter staff and above (not couriers).
#[derive(Debug)]
pub struct Staff;
impl Policy for Staff {
    const ROLES: &'static [Role] = &[Role::Admin, Role::Supervisor, Role::Operator];
}

/// Supervisors and admins.
#[derive(Debug)]
pub struct Managers;
impl Policy for Managers {
    const ROLES: &'static [Role] = &[Role::Admin, Role::Supervisor];
}

/// Admins only.
#[derive(Debug)]
pub struct Admins;
impl Policy for Admins {
    const ROLES: &'static [Role] = &[Role::Admin];
}

/// A signed-in user whose role `P` admits: 401 without a valid token, 403
/// for another role. It is checked before the body is read, so a forbidden
/// caller learns nothing from validation errors.
#[derive(Debug)]
pub struct Authorized<P: Policy>(pub User, std::marker::PhantomData<P>);

impl<P: Policy> Authorized<P> {
    /// The user.
    pub fn user(&self) -> &User {
        &self.0
    }
}

impl<P: Policy> FromRequestParts<AppState> for Authorized<P> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let CurrentUser(user) = CurrentUser::from_request_parts(parts, state).await?;
        if P::ROLES.contains(&user.role) {
            Ok(Self(user, std::marker::PhantomData))
        } else {
            Err(ApiError::Forbidden(format!(
                "a {} may not do this",
                user.role.as_str()
            )))
        }
    }
}

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer_token(&parts.headers)
            .or_else(|| session_cookie(&parts.headers))
            .ok_or(ApiError::Unauthorized)?;
        let user = state
            .store
            .session_user(token)
            .await?
            .ok_or(ApiError::Unauthorized)?;
        Ok(Self(user))
    }
}
