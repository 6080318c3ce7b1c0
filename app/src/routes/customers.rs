//! `/api/v1/customers`: the counter looks customers up by phone and keeps
//! them current.

use axum::Json;
use axum::extract::State;
use paqueteria_core::domain::Phone;
use paqueteria_core::store::Customer;
use serde::Deserialize;

use crate::auth::{Authorized, Staff};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ValidJson, ValidQuery};
use crate::routes::parcels::CustomerIn;
use crate::startup::AppState;

/// `GET /api/v1/customers?phone=…`.
#[derive(utoipa::IntoParams, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ByPhone {
    /// E.164 phone.
    pub phone: Phone,
}

/// The customer with a phone.
#[utoipa::path(get, path = "/api/v1/customers", tag = "customers", params(ByPhone), responses((status = 200, description = "The customer", body = paqueteria_core::store::Customer), (status = 401, description = "Not signed in", body = crate::error::ErrorBody), (status = 403, description = "Role not allowed", body = crate::error::ErrorBody), (status = 404, description = "Not found", body = crate::error::ErrorBody), (status = 422, description = "Invalid input", body = crate::error::ValidationBody)), security(("oauth2" = [])))]
pub async fn by_phone(
    State(s): State<AppState>,
    _user: Authorized<Staff>,
    ValidQuery(q): ValidQuery<ByPhone>,
) -> ApiResult<Json<Customer>> {
    s.store
        .customer_by_phone(&q.phone)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound("customer".to_owned()))
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
