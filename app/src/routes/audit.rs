//! `/api/v1/audit`: the audit log, newest first (admins): sign-ins, users
//! created and changed, password changes and resets, payment voids, PIN
//! reissues.

use axum::Json;
use axum::extract::State;
use paqueteria_core::store::{AuditAction, AuditFilter, AuditRow};
use serde::{Deserialize, Serialize};

use crate::auth::{Admins, Authorized};
use crate::error::{ApiError, ApiResult, FieldError};
use crate::extract::ValidQuery;
use crate::startup::AppState;

/// `GET /api/v1/audit` query.
#[derive(utoipa::IntoParams, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Only this action.
    #[param(value_type = Option<AuditAction>)]
    pub action: Option<AuditAction>,
    /// Only what this user did.
    pub actor_id: Option<i64>,
    /// Only rows older than this id: the `next_before_id` of the page
    /// before.
    pub before_id: Option<i64>,
    /// Rows, 1 to 200 (default 50).
    pub limit: Option<u32>,
}

/// A page of the audit log.
#[derive(utoipa::ToSchema, Debug, Serialize)]
pub struct AuditPage {
    /// The rows, newest first.
    pub items: Vec<AuditRow>,
    /// The `before_id` of the next (older) page; `null` on the last page.
    pub next_before_id: Option<i64>,
}

/// The audit log, newest first, filtered and paged by id.
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", params(AuditQuery), responses((status = 200, description = "A page of the audit log", body = AuditPage), (status = 401, description = "Not signed in", body = crate::error::ErrorBody), (status = 403, description = "Role not allowed", body = crate::error::ErrorBody), (status = 422, description = "Invalid input", body = crate::error::ValidationBody)), security(("oauth2" = [])))]
pub async fn list(
    State(s): State<AppState>,
    _user: Authorized<Admins>,
    ValidQuery(q): ValidQuery<AuditQuery>,
) -> ApiResult<Json<AuditPage>> {
    let limit = q.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(ApiError::Validation(vec![FieldError {
            loc: vec!["query".to_owned(), "limit".to_owned()],
            msg: "must be between 1 and 200".to_owned(),
            kind: "value_error",
        }]));
    }
    let items = s
        .store
        .audit_log(&AuditFilter {
            action: q.action,
            actor_id: q.actor_id,
            before_id: q.before_id,
            limit,
        })
        .await?;
    let full = items.len() == usize::try_from(limit).unwrap_or(usize::MAX);
    let next_before_id = if full {
        items.last().map(|r| r.id)
    } else {
        None
    };
    Ok(Json(AuditPage {
        items,
        next_before_id,
    }))
}
