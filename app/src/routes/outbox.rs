//! `/api/v1/outbox`: the messages "sent" while no SMTP server or SMS
//! gateway is configured (the embedded default), newest first, so staff can
//! see what customers would have received.

use axum::Json;
use axum::extract::State;
use paqueteria_core::store::OutboxMessage;
use serde::Deserialize;

use crate::auth::{Authorized, Managers};
use crate::error::{ApiError, ApiResult, FieldError};
use crate::extract::ValidQuery;
use crate::startup::AppState;

/// A message channel.
#[derive(Clone, Copy, Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    /// Text messages.
    Sms,
    /// Emails.
    Email,
}

/// `?channel=&limit=&offset=` of the outbox listing.
#[derive(utoipa::IntoParams, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboxQuery {
    /// Only this channel.
    #[param(inline)]
    pub channel: Option<Channel>,
    /// At most this many (1 to 200, default 50).
    pub limit: Option<i64>,
    /// Skip this many (default 0).
    pub offset: Option<i64>,
}

/// The outbox, newest first.
#[utoipa::path(get, path = "/api/v1/outbox", tag = "outbox", params(OutboxQuery), responses((status = 200, description = "Messages, newest first", body = Vec<OutboxMessage>), (status = 401, description = "Not signed in", body = crate::error::ErrorBody), (status = 403, description = "Role not allowed", body = crate::error::ErrorBody), (status = 422, description = "Invalid input", body = crate::error::ValidationBody)), security(("oauth2" = [])))]
pub async fn list(
    State(s): State<AppState>,
    _user: Authorized<Managers>,
    ValidQuery(q): ValidQuery<OutboxQuery>,
) -> ApiResult<Json<Vec<OutboxMessage>>> {
    let field = |name: &str, msg: &str| {
        ApiError::Validation(vec![FieldError {
            loc: vec!["query".to_owned(), name.to_owned()],
            msg: msg.to_owned(),
            kind: "value_error",
        }])
    };
    let limit = q.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(field("limit", "must be between 1 and 200"));
    }
    let offset = q.offset.unwrap_or(0);
    if offset < 0 {
        return Err(field("offset", "must not be negative"));
    }
    let channel = q.channel.map(|c| match c {
        Channel::Sms => "sms",
        Channel::Email => "email",
    });
    Ok(Json(s.store.outbox_messages(channel, limit, offset).await?))
}
