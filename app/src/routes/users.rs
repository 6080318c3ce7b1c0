//! `/api/v1/users`: admins manage staff (create, change, reset a password,
//! list); everyone reads themselves and changes their own password.
//!
//! Every password set here passes the store's policy (at least 10
//! characters, not a common password); every change is in the audit log.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use paqueteria_core::domain::Role;
use paqueteria_core::store::{Acting, NewUser, StoreError, User, UserChanges, UserPage};
use serde::{Deserialize, Deserializer};

use crate::auth::{Admins, Authorized, Everyone};
use crate::client::ClientAddr;
use crate::error::{ApiError, ApiResult, FieldError};
use crate::extract::{ValidJson, ValidPath, ValidQuery};
use crate::startup::AppState;

/// `POST /api/v1/users`.
#[derive(utoipa::ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    /// Email, the sign-in name.
    pub email: String,
    /// Full name.
    pub name: String,
    /// At least 10 characters, not a common password.
    pub password: String,
    /// admin, supervisor, operator or courier.
    pub role: Role,
    /// Their branch.
    #[serde(default)]
    pub branch_id: Option<i64>,
}

/// `PATCH /api/v1/users/me/password`.
#[derive(utoipa::ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangePassword {
    /// The password in use.
    pub current_password: String,
    /// The new one: at least 10 characters, not a common password.
    pub new_password: String,
}

/// `POST /api/v1/users/{id}/password-reset`.
#[derive(utoipa::ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResetPassword {
    /// The user's new password: at least 10 characters, not a common
    /// password. Tell it to them; they should change it.
    pub new_password: String,
}

/// `PATCH /api/v1/users/{id}`: the fields to change; those left out stay.
#[derive(utoipa::ToSchema, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateUser {
    /// A new role. Any role but admin needs a branch.
    #[serde(default)]
    pub role: Option<Role>,
    /// A new branch; `null` for none (admins only).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>, nullable)]
    pub branch_id: Option<Option<i64>>,
    /// `false` ends every session of the user at once and refuses their
    /// sign-ins; `true` lets them sign in again.
    #[serde(default)]
    pub active: Option<bool>,
    /// A new full name.
    #[serde(default)]
    pub name: Option<String>,
}

/// For PATCH bodies: a field sent as `null` is `Some(None)`, a field left
/// out is `None` (with `#[serde(default)]`).
pub(crate) fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// `GET /api/v1/users` query.
#[derive(utoipa::IntoParams, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserListQuery {
    /// Page, from 1.
    pub page: Option<u32>,
    /// Rows per page, 1 to 200 (default 50).
    pub page_size: Option<u32>,
}

/// The page and page size of a list query (`page` from 1, `page_size` 1 to
/// 200, default 50); a 422 naming each out of bounds.
pub(crate) fn paging(page: Option<u32>, page_size: Option<u32>) -> ApiResult<(u32, u32)> {
    let mut errors = Vec::new();
    if page == Some(0) {
        errors.push(FieldError {
            loc: vec!["query".to_owned(), "page".to_owned()],
            msg: "must be 1 or more".to_owned(),
            kind: "value_error",
        });
    }
    if page_size.is_some_and(|n| n == 0 || n > 200) {
        errors.push(FieldError {
            loc: vec!["query".to_owned(), "page_size".to_owned()],
            msg: "must be between 1 and 200".to_owned(),
            kind: "value_error",
        });
    }
    if errors.is_empty() {
        Ok((page.unwrap_or(1), page_size.unwrap_or(50)))
    } else {
        Err(ApiError::Validation(errors))
    }
}

/// The signed-in user, from `addr`, as the audit log records them.
pub(crate) fn acting<'a>(user: &User, addr: &'a Option<String>) -> Acting<'a> {
    Acting {
        user_id: user.id,
        client_addr: addr.as_deref(),
    }
}

/// The signed-in user.
#[utoipa::path(get, path = "/api/v1/users/me", tag = "users", responses((status = 200, description = "The signed-in user", body = paqueteria_core::store::User), (status = 401, description = "Not signed in", body = crate::error::ErrorBody)), security(("oauth2" = [])))]
pub async fn me(user: Authorized<Everyone>) -> Json<User> {
    Json(user.0)
}

/// A page of users, by email (admins).
#[utoipa::path(get, path = "/api/v1/users", tag = "users", params(UserListQuery), responses((status = 200, description = "A page of users", body = paqueteria_core::store::UserPage), (status = 401, description = "Not signed in", body = crate::error::ErrorBody), (status = 403, description = "Role not allowed", body = crate::error::ErrorBody), (status = 422, description = "Invalid input", body = crate::error::ValidationBody)), security(("oauth2" = [])))]
pub async fn list(
    State(s): State<AppState>,
    _user: Authorized<Admins>,
    ValidQuery(q): ValidQuery<UserListQuery>,
) -> ApiResult<Json<UserPage>> {
    let (page, page_size) = paging(q.page, q.page_size)?;
    Ok(Json(s.store.users_page(page, page_size).await?))
}

/// Creates a user (admins); audited as `user_created`.
#[utoipa::path(post, path = "/api/v1/users", tag = "users", request_body = CreateUser, responses((status = 201, description = "Created", body = paqueteria_core::store::User), (status = 401, description = "Not signed in", body = crate::error::ErrorBody), (status = 403, description = "Role not allowed", body = crate::error::ErrorBody), (status = 409, description = "Conflict", body = crate::error::ErrorBody), (status = 422, description = "Invalid input: a password too short or too common, a branch that does not exist…", body = crate::error::ValidationBody)), security(("oauth2" = [])))]
pub async fn create(
    State(s): State<AppState>,
    user: Authorized<Admins>,
    client: ClientAddr,
    ValidJson(u): ValidJson<CreateUser>,
) -> ApiResult<(StatusCode, Json<User>)> {
    let addr = client.to_audit();
    let created = s
        .store
        .create_user_by(
            &NewUser {
                email: u.email,
                name: u.name,
                password: u.password,
                role: u.role,
                branch_id: u.branch_id,
            },
            &acting(user.user(), &addr),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// Changes the signed-in user's password. Every other session of theirs
/// ends; the one of this request goes on. A wrong current password counts
/// as a failed sign-in of the account (the same throttle: a stolen session
/// cannot guess the password here faster than at the sign-in).
#[utoipa::path(patch, path = "/api/v1/users/me/password", tag = "users", request_body = ChangePassword, responses((status = 204, description = "Changed; the user's other sessions ended"), (status = 401, description = "Not signed in", body = crate::error::ErrorBody), (status = 409, description = "The password changed meanwhile", body = crate::error::ErrorBody), (status = 422, description = "`current_password` wrong, or `new_password` too short or too common", body = crate::error::ValidationBody), (status = 429, description = "Too many wrong passwords; try again later", body = crate::error::ErrorBody)), security(("oauth2" = [])))]
pub async fn change_password(
    State(s): State<AppState>,
    user: Authorized<Everyone>,
    client: ClientAddr,
    headers: HeaderMap,
    ValidJson(body): ValidJson<ChangePassword>,
) -> ApiResult<StatusCode> {
    let token =
        crate::auth::bearer_token(&headers).or_else(|| crate::auth::session_cookie(&headers));
    change_own_password(&s, user.user(), client, token, &body).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Changes `user`'s own password with the API's rules: the sign-in
/// throttle counts a wrong current password, and every session but
/// `token`'s ends. The profile page changes it through here too.
pub(crate) async fn change_own_password(
    s: &AppState,
    user: &User,
    client: ClientAddr,
    token: Option<&str>,
    body: &ChangePassword,
) -> ApiResult<()> {
    let addr = client.to_audit();
    let attempt =
        s.login_limiter
            .begin(&user.email, client.0)
            .map_err(|t| ApiError::TooManyRequests {
                detail: "too many wrong passwords; try again later".to_owned(),
                retry_after_s: t.retry_after_s,
            })?;
    let changed = s
        .store
        .change_password(
            &acting(user, &addr),
            &body.current_password,
            &body.new_password,
            token,
        )
        .await;
    let wrong_current = matches!(&changed, Err(StoreError::Fields(problems))
        if problems.iter().any(|(field, _)| field == "current_password"));
    if !wrong_current {
        s.login_limiter.succeeded(attempt);
    }
    changed?;
    Ok(())
}

/// Sets a new password for a user (admins); every session of that user
/// ends. Audited as `password_reset` (without the password).
#[utoipa::path(post, path = "/api/v1/users/{id}/password-reset", tag = "users", params(("id" = i64, Path, description = "User id")), request_body = ResetPassword, responses((status = 204, description = "Reset; the user's sessions ended"), (status = 401, description = "Not signed in", body = crate::error::ErrorBody), (status = 403, description = "Role not allowed", body = crate::error::ErrorBody), (status = 404, description = "Not found", body = crate::error::ErrorBody), (status = 422, description = "`new_password` too short or too common", body = crate::error::ValidationBody)), security(("oauth2" = [])))]
pub async fn reset_password(
    State(s): State<AppState>,
    user: Authorized<Admins>,
    client: ClientAddr,
    ValidPath(id): ValidPath<i64>,
    ValidJson(body): ValidJson<ResetPassword>,
) -> ApiResult<StatusCode> {
    let addr = client.to_audit();
    s.store
        .reset_password(&acting(user.user(), &addr), id, &body.new_password)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Changes a user's role, branch, active flag or name (admins). A
/// deactivated user's sessions end at once; the last active admin cannot
/// be demoted or deactivated. Audited as `user_changed`, naming each field
/// changed.
#[utoipa::path(patch, path = "/api/v1/users/{id}", tag = "users", params(("id" = i64, Path, description = "User id")), request_body = UpdateUser, responses((status = 200, description = "The user after the change", body = paqueteria_core::store::User), (status = 401, description = "Not signed in", body = crate::error::ErrorBody), (status = 403, description = "Role not allowed", body = crate::error::ErrorBody), (status = 404, description = "Not found", body = crate::error::ErrorBody), (status = 409, description = "The last active admin", body = crate::error::ErrorBody), (status = 422, description = "Invalid input: a role without a branch, a branch that does not exist…", body = crate::error::ValidationBody)), security(("oauth2" = [])))]
pub async fn update(
    State(s): State<AppState>,
    user: Authorized<Admins>,
    client: ClientAddr,
    ValidPath(id): ValidPath<i64>,
    ValidJson(body): ValidJson<UpdateUser>,
) -> ApiResult<Json<User>> {
    let addr = client.to_audit();
    let changes = UserChanges {
        role: body.role,
        branch_id: body.branch_id,
        active: body.active,
        name: body.name,
    };
    Ok(Json(
        s.store
            .update_user(&acting(user.user(), &addr), id, &changes)
            .await?,
    ))
}
