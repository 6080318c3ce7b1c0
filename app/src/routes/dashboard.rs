//! `/api/v1/dashboard`: the figures `maintenance.refresh_dashboard` keeps
//! in the store (every five minutes on the default schedule). Before the
//! first refresh the app computes them once itself.

use axum::Json;
use axum::extract::State;
use paqueteria_core::calendar::local_day;
use paqueteria_core::store::DashboardFigures;

use crate::auth::{Authorized, Staff};
use crate::error::ApiResult;
use crate::startup::AppState;

/// Counts by status and branch, today's receptions, deliveries and
/// revenue, parcels waiting past their grace period, failed messages.
#[utoipa::path(get, path = "/api/v1/dashboard", tag = "dashboard", responses((status = 200, description = "The figures and when they were computed", body = DashboardFigures), (status = 401, description = "Not signed in", body = crate::error::ErrorBody), (status = 403, description = "Role not allowed", body = crate::error::ErrorBody)), security(("oauth2" = [])))]
pub async fn get(
    State(s): State<AppState>,
    _user: Authorized<Staff>,
) -> ApiResult<Json<DashboardFigures>> {
    if let Some(figures) = s.store.dashboard().await? {
        return Ok(Json(figures));
    }
    let (_, day_start) = local_day(s.store.clock().now_ms(), s.settings.time_zone);
    let figures = s.store.compute_dashboard(day_start).await?;
    s.store.save_dashboard(&figures).await?;
    Ok(Json(figures))
}
