//! `/api/v1/tariffs`: the price list, and the quote the counter gives.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use paqueteria_core::domain::{Grams, Money};
use paqueteria_core::store::{NewTariff, Tariff};
use serde::Deserialize;

use crate::auth::{Authorized, Everyone, Managers};
use crate::error::{ApiError, ApiResult};
use crate::extract::ValidJson;
use crate::startup::AppState;

/// `POST /api/v1/tariffs/quote`.
#[derive(utoipa::ToSchema, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuoteIn {
    /// Package type.
    pub package_type: String,
    /// Zone.
    pub zone: String,
    /// Weight in grams.
    pub weight_grams: u32,
    /// Cash to collect on delivery, minor units.
    #[serde(default)]
    pub cod_amount: i64,
}

/// What a parcel would cost.
#[utoipa::path(post, path = "/api/v1/tariffs/quote", tag = "tariffs", request_body = QuoteIn, responses((status = 200, description = "The price"), (status = 401, description = "Not signed in", body = crate::error::ErrorBody), (status = 422, description = "Invalid input", body = crate::error::ValidationBody)), security(("oauth2" = [])))]
pub async fn quote(
    State(s): State<AppState>,
    _user: Authorized<Everyone>,
    ValidJson(q): ValidJson<QuoteIn>,
) -> ApiResult<Json<serde_json::Value>> {
    if q.weight_grams == 0 {
        return Err(ApiError::field("weight_grams", "must be above 0"));
    }
    let tariff = s
        .store
        .find_tariff(&q.package_type, &q.zone, Grams(q.weight_grams))
        .await?
        .ok_or_else(|| {
            ApiError::field(
                "package_type",
                "no tariff for this package type, zone and weight",
            )
        })?;
    let amount = tariff.quote(Grams(q.weight_grams), Money(q.cod_amount.max(0)));
    Ok(Json(serde_json::json!({
        "tariff_id": tariff.id,
        "amount": amount,
        "amount_text": amount.to_string(),
        "storage_grace_hours": tariff.storage_grace_hours,
        "storage_fee_per_day": tariff.storage_fee_per_day,
    })))
}

/// Creates a tariff line (admins and supervisors).
#[utoipa::path(post, path = "/api/v1/tariffs", tag = "tariffs", request_body = paqueteria_core::store::NewTariff, responses((status = 201, description = "Created", body = paqueteria_core::store::Tariff), (status = 401, description = "Not signed in", body = crate::error::ErrorBody), (status = 403, description = "Role not allowed", body = crate::error::ErrorBody), (status = 422, description = "Invalid input", body = crate::error::ValidationBody)), security(("oauth2" = [])))]
pub async fn create(
    State(s): State<AppState>,
    _user: Authorized<Managers>,
    ValidJson(t): ValidJson<NewTariff>,
) -> ApiResult<(StatusCode, Json<Tariff>)> {
    Ok((StatusCode::CREATED, Json(s.store.create_tariff(&t).await?)))
}
