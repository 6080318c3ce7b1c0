//! `/customers`: find a customer by phone or name (paged), change their
//! name or email; for counter staff and above (`Staff`, as
//! `/api/v1/customers`).

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum_csrf::CsrfToken;
use paqueteria_core::domain::thousands;
use paqueteria_core::store::{Customer, CustomerChanges};
use serde::Deserialize;

use crate::auth::Staff;
use crate::routes::customers::{CustomerListQuery, find_customers};
use crate::startup::AppState;
use crate::ui::forms::{FieldErrors, error_page, refused_unless};
use crate::ui::pages::{chrome, csrf_refused};
use crate::ui::{Chrome, UiUser};

/// Rows a page shows.
const PAGE_SIZE: u32 = 50;

/// `GET /customers` query.
#[derive(Debug, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    page: Option<u32>,
}

#[derive(Template, WebTemplate)]
#[template(path = "customers.html")]
struct ListPage {
    chrome: Chrome,
    q: String,
    customers: Vec<Customer>,
    total: String,
    previous: Option<String>,
    next: Option<String>,
}

/// The query of page `page` of the search `q`.
fn page_query(q: &str, page: u32) -> String {
    form_urlencoded::Serializer::new(String::new())
        .append_pair("q", q)
        .append_pair("page", &page.to_string())
        .finish()
}

/// `GET /customers`: the search box and a page of customers by name.
pub async fn list(
    State(s): State<AppState>,
    headers: HeaderMap,
    user: UiUser,
    csrf: CsrfToken,
    Query(q): Query<ListQuery>,
) -> Response {
    let chrome = chrome(&headers, Some(&user), &csrf);
    if let Some(refused) = refused_unless::<Staff>(&chrome, &csrf, &user) {
        return refused;
    }
    let page = q.page.unwrap_or(1).max(1);
    let text = q.q.trim().to_owned();
    let found = find_customers(
        &s,
        CustomerListQuery {
            q: Some(text.clone()).filter(|t| !t.is_empty()),
            phone: None,
            page: Some(page),
            page_size: Some(PAGE_SIZE),
        },
    )
    .await;
    let found = match found {
        Ok(f) => f,
        Err(e) => return error_page(chrome, csrf, e),
    };
    let total = chrome.lang.t_with(
        "customers.total",
        "count",
        &thousands(found.total.unsigned_abs()),
    );
    let page = ListPage {
        previous: (page > 1).then(|| page_query(&text, page - 1)),
        next: (i64::from(page) * i64::from(PAGE_SIZE) < found.total)
            .then(|| page_query(&text, page + 1)),
        q: text,
        customers: found.items,
        total,
        chrome,
    };
    (csrf, page).into_response()
}

/// The edit form's fields.
#[derive(Debug, Default, Deserialize)]
pub struct CustomerForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    authenticity_token: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "customer.html")]
struct EditPage {
    chrome: Chrome,
    id: i64,
    phone: String,
    form: CustomerForm,
    errors: FieldErrors,
    saved: bool,
}

/// `GET /customers/{id}` query.
#[derive(Debug, Deserialize)]
pub struct EditQuery {
    #[serde(default)]
    saved: Option<u8>,
}

/// `GET /customers/{id}`: the customer's name and email to change.
pub async fn edit(
    State(s): State<AppState>,
    headers: HeaderMap,
    user: UiUser,
    csrf: CsrfToken,
    Path(id): Path<i64>,
    Query(q): Query<EditQuery>,
) -> Response {
    let chrome = chrome(&headers, Some(&user), &csrf);
    if let Some(refused) = refused_unless::<Staff>(&chrome, &csrf, &user) {
        return refused;
    }
    let c = match s.store.customer(id).await {
        Ok(c) => c,
        Err(e) => return error_page(chrome, csrf, e.into()),
    };
    let page = EditPage {
        chrome,
        id,
        phone: c.phone.as_str().to_owned(),
        form: CustomerForm {
            name: c.name,
            email: c.email.unwrap_or_default(),
            authenticity_token: String::new(),
        },
        errors: FieldErrors::default(),
        saved: q.saved.is_some(),
    };
    (csrf, page).into_response()
}

/// `POST /customers/{id}`: saves the name and email as
/// `PATCH /api/v1/customers/{id}` does (an empty email removes it).
pub async fn save(
    State(s): State<AppState>,
    headers: HeaderMap,
    user: UiUser,
    csrf: CsrfToken,
    Path(id): Path<i64>,
    axum::Form(f): axum::Form<CustomerForm>,
) -> Response {
    let chrome = chrome(&headers, Some(&user), &csrf);
    if let Some(refused) = refused_unless::<Staff>(&chrome, &csrf, &user) {
        return refused;
    }
    if csrf.verify(&f.authenticity_token).is_err() {
        return csrf_refused(chrome.lang);
    }
    let email = f.email.trim();
    let changes = CustomerChanges {
        name: Some(f.name.clone()),
        email: Some((!email.is_empty()).then(|| email.to_owned())),
        document: None,
        address: None,
    };
    let e = match s.store.update_customer(id, &changes).await {
        Ok(_) => return Redirect::to(&format!("/customers/{id}?saved=1")).into_response(),
        Err(e) => e,
    };
    let errors = match FieldErrors::from_api(e.into(), chrome.lang, |_| None) {
        Ok(errors) => errors,
        Err(e) => return error_page(chrome, csrf, e),
    };
    let phone = match s.store.customer(id).await {
        Ok(c) => c.phone.as_str().to_owned(),
        Err(e) => return error_page(chrome, csrf, e.into()),
    };
    let page = EditPage {
        chrome,
        id,
        phone,
        form: f,
        errors,
        saved: false,
    };
    (StatusCode::UNPROCESSABLE_ENTITY, csrf, page).into_response()
}
