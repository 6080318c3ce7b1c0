//! `/api/v1/tariffs`: the price list, and the quote the counter gives.
//!
//! A tariff line is never edited: a new price is a new line, and the old
//! one is ended (`POST /api/v1/tariffs/{id}/end`). Parcels keep the fees
//! they were quoted.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use paqueteria_core::domain::{Grams, Money};
use paqueteria_core::store::{NewTariff, Tariff, TariffFilter, TariffPage};
use serde::Deserialize;

use crate::auth::{Admins, Authorized, Everyone, Managers};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ValidJson, ValidPath, ValidQuery};
use crate::startup::AppState;

/// `GET /api/v1/tariffs` query.
#[derive(utoipa::IntoParams, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TariffListQuery {
    /// Only this package type.
    pub package_type: Option<String>,
    /// Only this zone.
    pub zone: Option<String>,
    /// `true`: only the lines valid now; `false`: only those that are not
    /// (ended, or not started yet).
    pub current: Option<bool>,
    /// Page, from 1.
    pub page: Option<u32>,
    /// Rows per page, 1 to 200 (default 50).
    pub page_size: Option<u32>,
}

/// `POST /api/v1/tariffs/{id}/end`.
#[derive(utoipa::ToSchema, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndTariff {
    /// When the line stops being valid (Unix ms); now when left out. Not
    /// in the past, and after the line's `valid_from_ms`.
    #[serde(default)]
    pub valid_to_ms: Option<i64>,
}

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

/// The price list: current and past lines, filtered, by package type,
/// zone and weight band (every signed-in user may read prices).
#[utoipa::path(get, path = "/api/v1/tariffs", tag = "tariffs", params(TariffListQuery), responses((status = 200, description = "A page of tariff lines", body = paqueteria_core::store::TariffPage), (status = 401, description = "Not signed in", body = crate::error::ErrorBody), (status = 422, description = "Invalid input", body = crate::error::ValidationBody)), security(("oauth2" = [])))]
pub async fn list(
    State(s): State<AppState>,
    _user: Authorized<Everyone>,
    ValidQuery(q): ValidQuery<TariffListQuery>,
) -> ApiResult<Json<TariffPage>> {
    let (page, page_size) = crate::routes::users::paging(q.page, q.page_size)?;
    Ok(Json(
        s.store
            .tariffs(&TariffFilter {
                package_type: q.package_type,
                zone: q.zone,
                current: q.current,
                page,
                page_size,
            })
            .await?,
    ))
}

/// Ends a tariff line's validity (admins): at `valid_to_ms`, or now. The
/// line is not otherwise changed; parcels quoted on it keep their fees, and
/// from then on no quote finds it.
#[utoipa::path(post, path = "/api/v1/tariffs/{id}/end", tag = "tariffs", params(("id" = i64, Path, description = "Tariff id")), request_body(content = Option<EndTariff>, description = "Optional: when it ends"), responses((status = 200, description = "The line, ended", body = paqueteria_core::store::Tariff), (status = 401, description = "Not signed in", body = crate::error::ErrorBody), (status = 403, description = "Role not allowed", body = crate::error::ErrorBody), (status = 404, description = "Not found", body = crate::error::ErrorBody), (status = 409, description = "Already ended", body = crate::error::ErrorBody), (status = 422, description = "`valid_to_ms` before the line starts, or in the past", body = crate::error::ValidationBody)), security(("oauth2" = [])))]
pub async fn end(
    State(s): State<AppState>,
    _user: Authorized<Admins>,
    ValidPath(id): ValidPath<i64>,
    request: axum::extract::Request,
) -> ApiResult<Json<Tariff>> {
    use axum::extract::FromRequest as _;
    // The body is optional: none (or blanks) ends the line now.
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, 64 * 1024)
        .await
        .map_err(|e| ApiError::field("body", e.to_string()))?;
    let body = if bytes.iter().all(u8::is_ascii_whitespace) {
        EndTariff::default()
    } else {
        let request = axum::extract::Request::from_parts(parts, axum::body::Body::from(bytes));
        ValidJson::<EndTariff>::from_request(request, &s).await?.0
    };
    Ok(Json(s.store.end_tariff(id, body.valid_to_ms).await?))
}
