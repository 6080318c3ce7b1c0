//! `/branches`: every branch (every signed-in user, as
//! `GET /api/v1/branches`); admins add one (`POST /api/v1/branches`). The
//! API has no edit or deactivation of a branch yet, so neither has the
//! page.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum_csrf::CsrfToken;
use paqueteria_core::domain::Phone;
use paqueteria_core::store::Branch;
use serde::Deserialize;

use crate::auth::{Admins, Everyone, Policy};
use crate::error::ApiError;
use crate::routes::branches::{CreateBranch, create_branch};
use crate::startup::AppState;
use crate::ui::forms::{FieldErrors, error_page, refused_unless};
use crate::ui::pages::{chrome, csrf_refused};
use crate::ui::{Chrome, UiUser};

/// The new-branch form's fields, as typed.
#[derive(Debug, Default, Deserialize)]
pub struct BranchForm {
    #[serde(default)]
    code: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    city: String,
    #[serde(default)]
    address: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    authenticity_token: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "branches.html")]
struct ListPage {
    chrome: Chrome,
    branches: Vec<Branch>,
    may_create: bool,
    form: BranchForm,
    errors: FieldErrors,
}

async fn page(
    s: &AppState,
    chrome: Chrome,
    user: &UiUser,
    form: BranchForm,
    errors: FieldErrors,
) -> Result<ListPage, ApiError> {
    Ok(ListPage {
        branches: s.store.branches().await?,
        may_create: Admins::ROLES.contains(&user.0.role),
        form,
        errors,
        chrome,
    })
}

/// `GET /branches`.
pub async fn list(
    State(s): State<AppState>,
    headers: HeaderMap,
    user: UiUser,
    csrf: CsrfToken,
) -> Response {
    let chrome = chrome(&headers, Some(&user), &csrf);
    if let Some(refused) = refused_unless::<Everyone>(&chrome, &csrf, &user) {
        return refused;
    }
    match page(
        &s,
        chrome.clone(),
        &user,
        BranchForm::default(),
        FieldErrors::default(),
    )
    .await
    {
        Ok(p) => (csrf, p).into_response(),
        Err(e) => error_page(chrome, csrf, e),
    }
}

/// `POST /branches`: adds a branch as `POST /api/v1/branches` does
/// (admins); 422 with the form and each field's message.
pub async fn create(
    State(s): State<AppState>,
    headers: HeaderMap,
    user: UiUser,
    csrf: CsrfToken,
    axum::Form(f): axum::Form<BranchForm>,
) -> Response {
    let chrome = chrome(&headers, Some(&user), &csrf);
    if let Some(refused) = refused_unless::<Admins>(&chrome, &csrf, &user) {
        return refused;
    }
    if csrf.verify(&f.authenticity_token).is_err() {
        return csrf_refused(chrome.lang);
    }
    let phone = match f.phone.trim() {
        "" => Ok(None),
        p => Phone::parse(p).map(Some),
    };
    let (status, errors) = match phone {
        Err(msg) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            FieldErrors::from_api(ApiError::field("phone", msg), chrome.lang, |_| None)
                .unwrap_or_default(),
        ),
        Ok(phone) => {
            let b = CreateBranch {
                code: f.code.clone(),
                name: f.name.clone(),
                city: f.city.clone(),
                address: f.address.trim().to_owned(),
                phone,
            };
            match create_branch(&s, b).await {
                Ok(_) => return Redirect::to("/branches").into_response(),
                // A taken code: the message next to the code.
                Err(ApiError::Conflict(_)) => {
                    let mut errors = FieldErrors::default();
                    errors.add(chrome.lang, "code", "branches.code_taken");
                    (StatusCode::CONFLICT, errors)
                }
                Err(e) => match FieldErrors::from_api(e, chrome.lang, |_| None) {
                    Ok(errors) => (StatusCode::UNPROCESSABLE_ENTITY, errors),
                    Err(e) => return error_page(chrome, csrf, e),
                },
            }
        }
    };
    match page(&s, chrome.clone(), &user, f, errors).await {
        Ok(p) => (status, csrf, p).into_response(),
        Err(e) => error_page(chrome, csrf, e),
    }
}
