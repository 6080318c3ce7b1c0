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
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ByPhone {
    /// E.164 phone.
    pub phone: Phone,
}

/// The customer with a phone.
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
pub async fn upsert(
    State(s): State<AppState>,
    _user: Authorized<Staff>,
    ValidJson(c): ValidJson<CustomerIn>,
) -> ApiResult<Json<Customer>> {
    Ok(Json(s.store.upsert_customer(&c.into()).await?))
}
