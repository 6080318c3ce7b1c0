//! `/users` (admins only, as `/api/v1/users`): the staff by email, a new
//! user with role and branch, a user's role, branch, name and active flag
//! changed, a password reset. Every change is audited by the store, as
//! through the API.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum_csrf::CsrfToken;
use paqueteria_core::domain::{Role, thousands};
use paqueteria_core::store::{Branch, NewUser, User, UserChanges};
use serde::Deserialize;

use super::branch_choices;
use crate::auth::Admins;
use crate::client::ClientAddr;
use crate::error::ApiError;
use crate::routes::users::acting;
use crate::startup::AppState;
use crate::ui::forms::{Choice, FieldErrors, error_page, refused_unless};
use crate::ui::pages::{chrome, csrf_refused};
use crate::ui::{Chrome, Lang, UiUser};

/// Users a page lists.
const PAGE_SIZE: u32 = 50;

/// A user as the list shows them.
struct Row {
    id: i64,
    email: String,
    name: String,
    role: String,
    branch: String,
    active: bool,
}

/// The new-user form's fields, as typed (never the password).
#[derive(Default, Deserialize)]
pub struct UserForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    branch_id: String,
    #[serde(default)]
    authenticity_token: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "users.html")]
struct ListPage {
    chrome: Chrome,
    rows: Vec<Row>,
    total: String,
    previous: Option<u32>,
    next: Option<u32>,
    form: UserForm,
    roles: Vec<Choice>,
    branches: Vec<Choice>,
    errors: FieldErrors,
}

/// `GET /users` query.
#[derive(Debug, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    page: Option<u32>,
}

/// The roles as a `<select>`'s choices, `selected` chosen.
fn role_choices(lang: Lang, selected: &str) -> Vec<Choice> {
    Role::ALL
        .iter()
        .map(|r| {
            (
                r.as_str().to_owned(),
                lang.t(&format!("roles.{}", r.as_str())),
                r.as_str() == selected,
            )
        })
        .collect()
}

/// Branch `id`'s name, or the catalog's "none".
fn branch_label(branches: &[Branch], id: Option<i64>, lang: Lang) -> String {
    id.and_then(|id| branches.iter().find(|b| b.id == id))
        .map_or_else(|| lang.t("profile.no_branch"), |b| b.name.clone())
}

async fn list_page(
    s: &AppState,
    chrome: Chrome,
    page: u32,
    mut form: UserForm,
    errors: FieldErrors,
) -> Result<ListPage, ApiError> {
    let lang = chrome.lang;
    let found = s.store.users_page(page, PAGE_SIZE).await?;
    let branches = s.store.branches().await?;
    let rows = found
        .items
        .iter()
        .map(|u| Row {
            id: u.id,
            email: u.email.clone(),
            name: u.name.clone(),
            role: lang.t(&format!("roles.{}", u.role.as_str())),
            branch: branch_label(&branches, u.branch_id, lang),
            active: u.active,
        })
        .collect();
    // A password is never sent back to the browser.
    form.password.clear();
    Ok(ListPage {
        rows,
        total: lang.t_with(
            "users.total",
            "count",
            &thousands(found.total.unsigned_abs()),
        ),
        previous: (page > 1).then(|| page - 1),
        next: (i64::from(page) * i64::from(PAGE_SIZE) < found.total).then(|| page + 1),
        roles: role_choices(lang, &form.role),
        branches: branch_choices(&branches, &form.branch_id),
        form,
        errors,
        chrome,
    })
}

/// `GET /users`.
pub async fn list(
    State(s): State<AppState>,
    headers: HeaderMap,
    user: UiUser,
    csrf: CsrfToken,
    Query(q): Query<ListQuery>,
) -> Response {
    let chrome = chrome(&headers, Some(&user), &csrf);
    if let Some(refused) = refused_unless::<Admins>(&chrome, &csrf, &user) {
        return refused;
    }
    let form = UserForm {
        role: Role::Operator.as_str().to_owned(),
        ..UserForm::default()
    };
    let page = q.page.unwrap_or(1).max(1);
    match list_page(&s, chrome.clone(), page, form, FieldErrors::default()).await {
        Ok(p) => (csrf, p).into_response(),
        Err(e) => error_page(chrome, csrf, e),
    }
}

/// A role and a branch as a form gives them, or the fields wrong.
fn role_and_branch(
    role: &str,
    branch: &str,
    lang: Lang,
    errors: &mut FieldErrors,
) -> (Role, Option<i64>) {
    let role = Role::ALL
        .into_iter()
        .find(|r| r.as_str() == role)
        .unwrap_or_else(|| {
            errors.add(lang, "role", "forms.bad_choice");
            Role::Operator
        });
    let branch = match branch.trim() {
        "" => None,
        b => b.parse::<i64>().map(Some).unwrap_or_else(|_| {
            errors.add(lang, "branch_id", "forms.bad_choice");
            None
        }),
    };
    (role, branch)
}

/// `POST /users`: creates a user as `POST /api/v1/users` does; 422 (or
/// 409 for a taken email) with the form and each field's message.
pub async fn create(
    State(s): State<AppState>,
    headers: HeaderMap,
    user: UiUser,
    client: ClientAddr,
    csrf: CsrfToken,
    axum::Form(f): axum::Form<UserForm>,
) -> Response {
    let chrome = chrome(&headers, Some(&user), &csrf);
    if let Some(refused) = refused_unless::<Admins>(&chrome, &csrf, &user) {
        return refused;
    }
    if csrf.verify(&f.authenticity_token).is_err() {
        return csrf_refused(chrome.lang);
    }
    let lang = chrome.lang;
    let mut errors = FieldErrors::default();
    let (role, branch_id) = role_and_branch(&f.role, &f.branch_id, lang, &mut errors);
    let mut status = StatusCode::UNPROCESSABLE_ENTITY;
    if errors.is_empty() {
        let addr = client.to_audit();
        let new = NewUser {
            email: f.email.clone(),
            name: f.name.clone(),
            password: f.password.clone(),
            role,
            branch_id,
        };
        match s.store.create_user_by(&new, &acting(&user.0, &addr)).await {
            Ok(_) => return Redirect::to("/users").into_response(),
            Err(e) => match ApiError::from(e) {
                ApiError::Conflict(_) => {
                    status = StatusCode::CONFLICT;
                    errors.add(lang, "email", "users.email_taken");
                }
                e => match FieldErrors::from_api(e, lang, |_| None) {
                    Ok(found) => errors = found,
                    Err(e) => return error_page(chrome, csrf, e),
                },
            },
        }
    }
    match list_page(&s, chrome.clone(), 1, f, errors).await {
        Ok(p) => (status, csrf, p).into_response(),
        Err(e) => error_page(chrome, csrf, e),
    }
}

/// The change form's fields.
#[derive(Debug, Default, Deserialize)]
pub struct ChangeForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    branch_id: String,
    /// A checkbox: present when ticked.
    #[serde(default)]
    active: Option<String>,
    #[serde(default)]
    authenticity_token: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "user.html")]
struct EditPage {
    chrome: Chrome,
    id: i64,
    email: String,
    form: ChangeForm,
    roles: Vec<Choice>,
    branches: Vec<Choice>,
    errors: FieldErrors,
    notice: Option<String>,
}

async fn edit_page(
    s: &AppState,
    chrome: Chrome,
    u: &User,
    form: ChangeForm,
    errors: FieldErrors,
    notice: Option<String>,
) -> Result<EditPage, ApiError> {
    let branches = s.store.branches().await?;
    Ok(EditPage {
        id: u.id,
        email: u.email.clone(),
        roles: role_choices(chrome.lang, &form.role),
        branches: branch_choices(&branches, &form.branch_id),
        form,
        errors,
        notice,
        chrome,
    })
}

/// The form of `u` as it is.
fn form_of(u: &User) -> ChangeForm {
    ChangeForm {
        name: u.name.clone(),
        role: u.role.as_str().to_owned(),
        branch_id: u.branch_id.map(|b| b.to_string()).unwrap_or_default(),
        active: u.active.then(|| "on".to_owned()),
        authenticity_token: String::new(),
    }
}

/// `GET /users/{id}` query: what was just saved.
#[derive(Debug, Deserialize)]
pub struct EditQuery {
    #[serde(default)]
    saved: Option<String>,
}

/// `GET /users/{id}`: a user's role, branch, name and active flag to
/// change, and their password to reset.
pub async fn edit(
    State(s): State<AppState>,
    headers: HeaderMap,
    user: UiUser,
    csrf: CsrfToken,
    Path(id): Path<i64>,
    Query(q): Query<EditQuery>,
) -> Response {
    let chrome = chrome(&headers, Some(&user), &csrf);
    if let Some(refused) = refused_unless::<Admins>(&chrome, &csrf, &user) {
        return refused;
    }
    let u = match s.store.user(id).await {
        Ok(u) => u,
        Err(e) => return error_page(chrome, csrf, e.into()),
    };
    let notice = match q.saved.as_deref() {
        Some("user") => Some(chrome.t("users.saved")),
        Some("password") => Some(chrome.t("users.password_reset_done")),
        _ => None,
    };
    match edit_page(
        &s,
        chrome.clone(),
        &u,
        form_of(&u),
        FieldErrors::default(),
        notice,
    )
    .await
    {
        Ok(p) => (csrf, p).into_response(),
        Err(e) => error_page(chrome, csrf, e),
    }
}

/// `POST /users/{id}`: changes the user as `PATCH /api/v1/users/{id}`
/// does (the last active admin stays one: 409).
pub async fn save(
    State(s): State<AppState>,
    headers: HeaderMap,
    user: UiUser,
    client: ClientAddr,
    csrf: CsrfToken,
    Path(id): Path<i64>,
    axum::Form(f): axum::Form<ChangeForm>,
) -> Response {
    let chrome = chrome(&headers, Some(&user), &csrf);
    if let Some(refused) = refused_unless::<Admins>(&chrome, &csrf, &user) {
        return refused;
    }
    if csrf.verify(&f.authenticity_token).is_err() {
        return csrf_refused(chrome.lang);
    }
    let u = match s.store.user(id).await {
        Ok(u) => u,
        Err(e) => return error_page(chrome, csrf, e.into()),
    };
    let lang = chrome.lang;
    let mut errors = FieldErrors::default();
    let (role, branch_id) = role_and_branch(&f.role, &f.branch_id, lang, &mut errors);
    if errors.is_empty() {
        let addr = client.to_audit();
        let changes = UserChanges {
            role: Some(role),
            branch_id: Some(branch_id),
            active: Some(f.active.is_some()),
            name: Some(f.name.clone()),
        };
        match s
            .store
            .update_user(&acting(&user.0, &addr), id, &changes)
            .await
        {
            Ok(_) => return Redirect::to(&format!("/users/{id}?saved=user")).into_response(),
            Err(e) => match FieldErrors::from_api(e.into(), lang, |_| None) {
                Ok(found) => errors = found,
                Err(e) => return error_page(chrome, csrf, e),
            },
        }
    }
    match edit_page(&s, chrome.clone(), &u, f, errors, None).await {
        Ok(p) => (StatusCode::UNPROCESSABLE_ENTITY, csrf, p).into_response(),
        Err(e) => error_page(chrome, csrf, e),
    }
}

/// The reset form's fields.
#[derive(Deserialize)]
pub struct ResetForm {
    #[serde(default)]
    new_password: String,
    #[serde(default)]
    authenticity_token: String,
}

/// `POST /users/{id}/password`: sets a new password for the user as
/// `POST /api/v1/users/{id}/password-reset` does; their sessions end.
pub async fn reset_password(
    State(s): State<AppState>,
    headers: HeaderMap,
    user: UiUser,
    client: ClientAddr,
    csrf: CsrfToken,
    Path(id): Path<i64>,
    axum::Form(f): axum::Form<ResetForm>,
) -> Response {
    let chrome = chrome(&headers, Some(&user), &csrf);
    if let Some(refused) = refused_unless::<Admins>(&chrome, &csrf, &user) {
        return refused;
    }
    if csrf.verify(&f.authenticity_token).is_err() {
        return csrf_refused(chrome.lang);
    }
    let u = match s.store.user(id).await {
        Ok(u) => u,
        Err(e) => return error_page(chrome, csrf, e.into()),
    };
    let addr = client.to_audit();
    let errors = match s
        .store
        .reset_password(&acting(&user.0, &addr), id, &f.new_password)
        .await
    {
        Ok(()) => return Redirect::to(&format!("/users/{id}?saved=password")).into_response(),
        Err(e) => match FieldErrors::from_api(e.into(), chrome.lang, |_| None) {
            Ok(errors) => errors,
            Err(e) => return error_page(chrome, csrf, e),
        },
    };
    match edit_page(&s, chrome.clone(), &u, form_of(&u), errors, None).await {
        Ok(p) => (StatusCode::UNPROCESSABLE_ENTITY, csrf, p).into_response(),
        Err(e) => error_page(chrome, csrf, e),
    }
}
