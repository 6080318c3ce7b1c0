//! `/api/v1/payments`: voiding a payment taken by mistake.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;

use crate::auth::{Authorized, Managers};
use crate::error::ApiResult;
use crate::extract::{ValidJson, ValidPath};
use crate::startup::AppState;

/// `POST /api/v1/payments/{id}/void`: why the payment is taken back.
#[derive(utoipa::ToSchema, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VoidIn {
    /// Why (required, at most 500 characters); kept on the payment, in
    /// the parcel's history and in the audit log.
    #[schema(min_length = 1, max_length = 500)]
    pub reason: String,
}

/// Voids a payment (supervisors of the parcel's branches, admins): the
/// payment stays, marked voided with who and why, and leaves the day's
/// takings.
#[utoipa::path(post, path = "/api/v1/payments/{id}/void", tag = "parcels", params(("id" = i64, Path, description = "Payment id")), request_body = VoidIn, responses((status = 200, description = "The voided payment", body = paqueteria_core::store::Payment), (status = 401, description = "Not signed in", body = crate::error::ErrorBody), (status = 403, description = "Not a supervisor of the parcel's branches", body = crate::error::ErrorBody), (status = 404, description = "Not found", body = crate::error::ErrorBody), (status = 409, description = "Voided already", body = crate::error::ErrorBody), (status = 422, description = "Invalid input (`reason`)", body = crate::error::ValidationBody)), security(("oauth2" = [])))]
pub async fn void(
    State(s): State<AppState>,
    user: Authorized<Managers>,
    client: crate::client::ClientAddr,
    ValidPath(id): ValidPath<i64>,
    ValidJson(body): ValidJson<VoidIn>,
) -> ApiResult<Json<paqueteria_core::store::Payment>> {
    let client = client.to_audit();
    let payment = s
        .store
        .void_payment(
            id,
            &body.reason,
            &crate::routes::parcels::actor(user.user()),
            client.as_deref(),
        )
        .await?;
    Ok(Json(payment))
}
