//! `/api/v1/customers`: the counter finds customers by name or phone and
//! keeps them current (operators, supervisors and admins; couriers do not
//! see the customer list).

use axum::Json;
use axum::extract::State;
use paqueteria_core::domain::Phone;
use paqueteria_core::store::{Customer, CustomerChanges, CustomerFilter, CustomerPage};
use serde::Deserialize;

use crate::auth::{Authorized, Staff};
use crate::error::{ApiError, ApiResult, FieldError};
use crate::extract::{ValidJson, ValidPath, ValidQuery};
use crate::routes::parcels::CustomerIn;
use crate::routes::users::present;
use crate::startup::AppState;

/// The longest search text.
const Q_CHARS: usize = 200;

/// `GET /api/v1/customers` query.
#[derive(utoipa::IntoParams, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomerListQuery {
    /// Words that start words of the name, in any order, accents and case
    /// ignored (`diaz car` finds "Carolina Díaz"), or the end of a phone
    /// (7 digits or more, spaces allowed). At most 200 characters.
    pub q: Option<String>,
    /// Only the customer with this E.164 phone (the counter's lookup).
    pub phone: Option<Phone>,
    /// Page, from 1.
    pub page: Option<u32>,
    /// Rows per page, 1 to 200 (default 50).
    pub page_size: Option<u32>,
}

/// `PATCH /api/v1/customers/{id}`: the fields to change; those left out
/// stay. The phone is the customer's key and does not change.
#[derive(utoipa::ToSchema, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateCustomer {
    /// Full name (1 to 120 characters, at most 12 words).
    #[serde(default)]
    pub name: Option<String>,
    /// Email (at most 254 characters); `null` removes it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, nullable)]
    pub email: Option<Option<String>>,
    /// Identity document (at most 40 characters); `null` removes it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, nullable)]
    pub document: Option<Option<String>>,
    /// Address (at most 300 characters).
    #[serde(default)]
    pub address: Option<String>,
}

/// A page of customers, by name: found by name words or phone.
#[utoipa::path(get, path = "/api/v1/customers", tag = "customers", params(CustomerListQuery), responses((status = 200, description = "A page of customers", body = paqueteria_core::store::CustomerPage), (status = 401, description = "Not signed in", body = crate::error::ErrorBody), (status = 403, description = "Role not allowed", body = crate::error::ErrorBody), (status = 422, description = "Invalid input", body = crate::error::ValidationBody)), security(("oauth2" = [])))]
pub async fn list(
    State(s): State<AppState>,
    _user: Authorized<Staff>,
    ValidQuery(q): ValidQuery<CustomerListQuery>,
) -> ApiResult<Json<CustomerPage>> {
    Ok(Json(find_customers(&s, q).await?))
}

/// The page of customers `q` asks for, with the API's bounds (a 422
/// naming each field out of them). The caller checks the role (staff);
/// the customers page searches through here too.
pub(crate) async fn find_customers(s: &AppState, q: CustomerListQuery) -> ApiResult<CustomerPage> {
    let paging = crate::routes::users::paging(q.page, q.page_size);
    let too_long = q.q.as_ref().is_some_and(|t| t.chars().count() > Q_CHARS);
    let (page, page_size) = match (paging, too_long) {
        (Ok(p), false) => p,
        (paging, too_long) => {
            let mut errors = match paging {
                Err(ApiError::Validation(errors)) => errors,
                Err(other) => return Err(other),
                Ok(_) => Vec::new(),
            };
            if too_long {
                errors.push(FieldError {
                    loc: vec!["query".to_owned(), "q".to_owned()],
                    msg: format!("must be at most {Q_CHARS} characters"),
                    kind: "value_error",
                });
            }
            return Err(ApiError::Validation(errors));
        }
    };
    Ok(s.store
        .customers(&CustomerFilter {
            q: q.q,
            phone: q.phone,
            page,
            page_size,
        })
        .await?)
}

/// Creates a customer, or updates the one with that phone.
#[utoipa::path(post, path = "/api/v1/customers", tag = "customers", request_body = crate::routes::parcels::CustomerIn, responses((status = 200, description = "Created or updated", body = paqueteria_core::store::Customer), (status = 401, description = "Not signed in", body = crate::error::ErrorBody), (status = 403, description = "Role not allowed", body = crate::error::ErrorBody), (status = 422, description = "Invalid input", body = crate::error::ValidationBody)), security(("oauth2" = [])))]
pub async fn upsert(
    State(s): State<AppState>,
    _user: Authorized<Staff>,
    ValidJson(c): ValidJson<CustomerIn>,
) -> ApiResult<Json<Customer>> {
    Ok(Json(s.store.upsert_customer(&c.into()).await?))
}

/// Changes a customer's name, email, document or address, within the
/// bounds of a registration. A new name is what their parcels are found
/// by from then on.
#[utoipa::path(patch, path = "/api/v1/customers/{id}", tag = "customers", params(("id" = i64, Path, description = "Customer id")), request_body = UpdateCustomer, responses((status = 200, description = "The customer after the change", body = paqueteria_core::store::Customer), (status = 401, description = "Not signed in", body = crate::error::ErrorBody), (status = 403, description = "Role not allowed", body = crate::error::ErrorBody), (status = 404, description = "Not found", body = crate::error::ErrorBody), (status = 422, description = "Invalid input", body = crate::error::ValidationBody)), security(("oauth2" = [])))]
pub async fn update(
    State(s): State<AppState>,
    _user: Authorized<Staff>,
    ValidPath(id): ValidPath<i64>,
    ValidJson(body): ValidJson<UpdateCustomer>,
) -> ApiResult<Json<Customer>> {
    let changes = CustomerChanges {
        name: body.name,
        email: body.email,
        document: body.document,
        address: body.address,
    };
    Ok(Json(s.store.update_customer(id, &changes).await?))
}
