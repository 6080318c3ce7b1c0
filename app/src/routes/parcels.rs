//! `/api/v1/parcels`: register, read with history, correct before
//! reception, change status.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use paqueteria_core::domain::branch_scope::{self as scope, Branches, may_see};
use paqueteria_core::domain::{Grams, Money, ParcelEvent, Phone, Service};
use paqueteria_core::store::{Actor, Handover, NewCustomer, NewParcel, Parcel, ParcelEventRow};
use serde::{Deserialize, Serialize};

use crate::access::RequestId;
use crate::auth::{Authorized, Everyone, Staff};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ValidJson, ValidPath};
use crate::startup::AppState;

/// A sender or recipient in a request.
#[derive(utoipa::ToSchema, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomerIn {
    /// E.164 phone, the lookup key.
    pub phone: Phone,
    /// Full name.
    pub name: String,
    /// Email.
    #[serde(default)]
    pub email: Option<String>,
    /// Identity document.
    #[serde(default)]
    pub document: Option<String>,
    /// Address.
    #[serde(default)]
    pub address: String,
}

impl From<CustomerIn> for NewCustomer {
    fn from(c: CustomerIn) -> Self {
        Self {
            phone: c.phone,
            name: c.name,
            email: c.email,
            document: c.document,
            address: c.address,
        }
    }
}

/// `POST /api/v1/parcels`.
#[derive(utoipa::ToSchema, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateParcel {
    /// Sender.
    pub sender: CustomerIn,
    /// Recipient.
    pub recipient: CustomerIn,
    /// Origin branch.
    pub origin_branch_id: i64,
    /// Destination branch.
    pub destination_branch_id: i64,
    /// `branch_pickup` or `home_delivery`.
    pub service: Service,
    /// Required for home delivery.
    #[serde(default)]
    pub delivery_address: String,
    /// Package type (selects the tariff).
    pub package_type: String,
    /// Zone (selects the tariff).
    pub zone: String,
    /// Weight in grams, above 0.
    pub weight_grams: u32,
    /// Length, width, height in millimetres.
    #[serde(default)]
    pub dimensions_mm: [i64; 3],
    /// Declared value, minor units.
    #[serde(default)]
    pub declared_value: i64,
    /// Cash to collect on delivery, minor units.
    #[serde(default)]
    pub cod_amount: i64,
}

/// A parcel with its history.
#[derive(utoipa::ToSchema, Debug, Serialize)]
pub struct ParcelOut {
    /// The parcel.
    #[serde(flatten)]
    pub parcel: Parcel,
    /// Its history, oldest first.
    pub history: Vec<ParcelEventRow>,
    /// The pickup PIN: only in the answer to the registration.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pickup_pin: Option<String>,
}

/// The store's view of a signed-in user.
pub(crate) fn actor(u: &paqueteria_core::store::User) -> Actor {
    Actor {
        user_id: Some(u.id),
        role: u.role,
        branch_id: u.branch_id,
    }
}

/// Registers a parcel with its quote.
#[utoipa::path(post, path = "/api/v1/parcels", tag = "parcels", request_body = CreateParcel, responses((status = 201, description = "Registered; the pickup PIN is shown only here", body = ParcelOut), (status = 401, description = "Not signed in", body = crate::error::ErrorBody), (status = 403, description = "Role not allowed", body = crate::error::ErrorBody), (status = 409, description = "Conflict", body = crate::error::ErrorBody), (status = 422, description = "Invalid input", body = crate::error::ValidationBody)), security(("oauth2" = [])))]
pub async fn create(
    State(s): State<AppState>,
    user: Authorized<Staff>,
    ValidJson(body): ValidJson<CreateParcel>,
) -> ApiResult<(StatusCode, Json<ParcelOut>)> {
    let new = NewParcel {
        sender: body.sender.into(),
        recipient: body.recipient.into(),
        origin_branch_id: body.origin_branch_id,
        destination_branch_id: body.destination_branch_id,
        service: body.service,
        delivery_address: body.delivery_address,
        package_type: body.package_type,
        zone: body.zone,
        weight: Grams(body.weight_grams),
        dimensions_mm: body.dimensions_mm,
        declared_value: Money(body.declared_value),
        cod_amount: Money(body.cod_amount),
    };
    let r = s.store.register_parcel(&new, &actor(user.user())).await?;
    let history = s.store.history(r.parcel.id).await?;
    Ok((
        StatusCode::CREATED,
        Json(ParcelOut {
            parcel: r.parcel,
            history,
            pickup_pin: Some(r.pickup_pin),
        }),
    ))
}

/// `GET /api/v1/parcels` query: filters, search and page.
#[derive(utoipa::IntoParams, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Only this status (`RECEIVED`…).
    pub status: Option<paqueteria_core::domain::ParcelStatus>,
    /// Only parcels from or to this branch. Default: the caller's branch;
    /// staff other than admins may list only their own branch.
    pub branch_id: Option<i64>,
    /// Search: the start of a tracking code, the end of a phone (7 digits
    /// or more), or words that start the sender's or recipient's names, in
    /// any order, accents and case ignored (`diaz car` finds "Carolina
    /// Díaz"). Counted up to 1,000 matches (see `total_exact`).
    pub q: Option<String>,
    /// Page, from 1.
    pub page: Option<u32>,
    /// Rows per page, 1 to 200 (default 50).
    pub page_size: Option<u32>,
}

/// A page of parcels.
#[utoipa::path(get, path = "/api/v1/parcels", tag = "parcels", params(ListQuery), responses((status = 200, description = "A page of parcels", body = paqueteria_core::store::ParcelPage), (status = 401, description = "Not signed in", body = crate::error::ErrorBody), (status = 403, description = "Another branch's list", body = crate::error::ErrorBody), (status = 422, description = "Invalid input", body = crate::error::ValidationBody)), security(("oauth2" = [])))]
pub async fn list(
    State(s): State<AppState>,
    user: Authorized<Everyone>,
    crate::extract::ValidQuery(q): crate::extract::ValidQuery<ListQuery>,
) -> ApiResult<PageJson> {
    let branch_id = list_branch(user.user(), q.branch_id)?;
    if q.page_size.is_some_and(|n| n == 0 || n > 200) {
        return Err(ApiError::Validation(vec![crate::error::FieldError {
            loc: vec!["query".to_owned(), "page_size".to_owned()],
            msg: "must be between 1 and 200".to_owned(),
            kind: "value_error",
        }]));
    }
    let page = s
        .store
        .list_parcels(&paqueteria_core::store::ParcelFilter {
            status: q.status,
            branch_id,
            q: q.q,
            page: q.page.unwrap_or(1),
            page_size: q.page_size.unwrap_or(50),
        })
        .await?;
    Ok(PageJson(page))
}

/// The branch a list shows: what was asked for, or by default the user's
/// own branch; staff of a branch may list only their own (403), admins
/// any or all.
pub(crate) fn list_branch(
    user: &paqueteria_core::store::User,
    asked: Option<i64>,
) -> ApiResult<Option<i64>> {
    if user.role == paqueteria_core::domain::Role::Admin {
        return Ok(asked);
    }
    let own = user.branch_id.ok_or_else(|| {
        ApiError::Forbidden("your account has no branch: ask an admin to set one".to_owned())
    })?;
    match asked {
        Some(b) if b != own => Err(ApiError::Forbidden(format!(
            "you work at branch {own}: other branches' parcels are not listed for you"
        ))),
        _ => Ok(Some(own)),
    }
}

/// A page of parcels as its response: the JSON of
/// `ParcelPage::to_json`, which hands on the items the store kept.
pub struct PageJson(paqueteria_core::store::ParcelPage);

impl axum::response::IntoResponse for PageJson {
    fn into_response(self) -> axum::response::Response {
        (
            [(
                axum::http::header::CONTENT_TYPE,
                axum::http::HeaderValue::from_static("application/json"),
            )],
            self.0.to_json(),
        )
            .into_response()
    }
}

/// The parcel `id`, if `user` may see it: admins every parcel, everyone
/// else those from or to their branch (403 otherwise).
pub async fn visible_parcel(
    s: &AppState,
    user: &paqueteria_core::store::User,
    id: i64,
) -> ApiResult<Parcel> {
    let parcel = s.store.parcel(id).await?;
    let branches = Branches {
        origin: parcel.origin_branch_id,
        destination: parcel.destination_branch_id,
    };
    if may_see(staff(user), branches) {
        Ok(parcel)
    } else {
        Err(ApiError::Forbidden(format!(
            "parcel {} belongs to other branches",
            parcel.tracking_code
        )))
    }
}

fn staff(u: &paqueteria_core::store::User) -> scope::Staff {
    scope::Staff {
        role: u.role,
        branch_id: u.branch_id,
    }
}

/// One parcel with its history.
#[utoipa::path(get, path = "/api/v1/parcels/{id}", tag = "parcels", params(("id" = i64, Path, description = "Parcel id")), responses((status = 200, description = "The parcel with its history", body = ParcelOut), (status = 401, description = "Not signed in", body = crate::error::ErrorBody), (status = 403, description = "A parcel of other branches", body = crate::error::ErrorBody), (status = 404, description = "Not found", body = crate::error::ErrorBody), (status = 422, description = "Invalid input", body = crate::error::ValidationBody)), security(("oauth2" = [])))]
pub async fn get(
    State(s): State<AppState>,
    user: Authorized<Everyone>,
    ValidPath(id): ValidPath<i64>,
) -> ApiResult<Json<ParcelOut>> {
    let parcel = visible_parcel(&s, user.user(), id).await?;
    let history = s.store.history(id).await?;
    Ok(Json(ParcelOut {
        parcel,
        history,
        pickup_pin: None,
    }))
}

/// `PATCH /api/v1/parcels/{id}`: corrections to a parcel not yet
/// received. Only the fields sent change; `version` is the one the client
/// saw.
#[derive(utoipa::ToSchema, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CorrectParcel {
    /// The parcel version the client saw (optimistic lock).
    pub version: i64,
    /// Another recipient, found or created by phone as at registration
    /// (the same phone with another name renames the customer).
    #[serde(default)]
    pub recipient: Option<CustomerIn>,
    /// Another destination branch (active).
    #[serde(default)]
    pub destination_branch_id: Option<i64>,
    /// `branch_pickup` or `home_delivery` (which needs a delivery address).
    #[serde(default)]
    pub service: Option<Service>,
    /// The delivery address. Turning a parcel into a branch pickup without
    /// sending one clears it.
    #[serde(default)]
    pub delivery_address: Option<String>,
    /// Package type (selects the tariff).
    #[serde(default)]
    pub package_type: Option<String>,
    /// Zone (selects the tariff).
    #[serde(default)]
    pub zone: Option<String>,
    /// Weight in grams, above 0.
    #[serde(default)]
    pub weight_grams: Option<u32>,
    /// Length, width, height in millimetres.
    #[serde(default)]
    pub dimensions_mm: Option<[i64; 3]>,
    /// Declared value, minor units.
    #[serde(default)]
    pub declared_value: Option<i64>,
    /// Cash to collect on delivery, minor units.
    #[serde(default)]
    pub cod_amount: Option<i64>,
}

/// Corrects a parcel before it is received (what was typed wrong at the
/// counter: the recipient, destination, service, address, package, weight,
/// sizes, declared value or cash on delivery). A new package type, zone, weight or cash on delivery quotes
/// the price again from the tariff valid now, and the shipping payment
/// follows it: the old one is voided, saying why, and one for the new
/// price is taken. The history gets a `correct` line naming every field
/// changed, old and new. Its origin's operators, supervisors of its
/// branches and admins may correct it.
#[utoipa::path(patch, path = "/api/v1/parcels/{id}", tag = "parcels", params(("id" = i64, Path, description = "Parcel id")), request_body = CorrectParcel, responses((status = 200, description = "The parcel as corrected, with its history", body = ParcelOut), (status = 401, description = "Not signed in", body = crate::error::ErrorBody), (status = 403, description = "Role not allowed, or a parcel (or new destination) outside your branches", body = crate::error::ErrorBody), (status = 404, description = "Not found", body = crate::error::ErrorBody), (status = 409, description = "Received already, or changed since `version`", body = crate::error::ErrorBody), (status = 422, description = "Invalid input, an inactive destination, or no tariff for the package", body = crate::error::ValidationBody)), security(("oauth2" = [])))]
pub async fn correct(
    State(s): State<AppState>,
    user: Authorized<Staff>,
    ValidPath(id): ValidPath<i64>,
    ValidJson(body): ValidJson<CorrectParcel>,
) -> ApiResult<Json<ParcelOut>> {
    let correction = paqueteria_core::store::ParcelCorrection {
        recipient: body.recipient.map(Into::into),
        destination_branch_id: body.destination_branch_id,
        service: body.service,
        delivery_address: body.delivery_address,
        package_type: body.package_type,
        zone: body.zone,
        weight: body.weight_grams.map(Grams),
        dimensions_mm: body.dimensions_mm,
        declared_value: body.declared_value.map(Money),
        cod_amount: body.cod_amount.map(Money),
    };
    let parcel = s
        .store
        .correct_parcel(id, body.version, &correction, &actor(user.user()))
        .await?;
    let history = s.store.history(id).await?;
    Ok(Json(ParcelOut {
        parcel,
        history,
        pickup_pin: None,
    }))
}

/// `POST /api/v1/parcels/{id}/transition`: `{"event": "receive", "version": 1}`,
/// with `"reason"` for cancel, return and fail_attempt, and `"pin"` (or
/// where the business accepts it for a home delivery, `"document"`) for
/// deliver.
#[derive(utoipa::ToSchema, Debug, Deserialize)]
pub struct TransitionIn {
    /// The event, and its reason where it needs one.
    #[serde(flatten)]
    pub event: ParcelEvent,
    /// The parcel version the client saw (optimistic lock).
    pub version: i64,
    /// Deliver: the pickup PIN the recipient gives.
    #[serde(default)]
    pub pin: Option<String>,
    /// Deliver, home delivery with `HOME_DELIVERY_PROOF=pin_or_document`:
    /// the recipient's identity document instead of the PIN.
    #[serde(default)]
    pub document: Option<String>,
}

/// Changes a parcel's status.
#[utoipa::path(post, path = "/api/v1/parcels/{id}/transition", tag = "parcels", params(("id" = i64, Path, description = "Parcel id")), request_body = TransitionIn, responses((status = 200, description = "The parcel after the change", body = ParcelOut), (status = 401, description = "Not signed in", body = crate::error::ErrorBody), (status = 403, description = "Role not allowed, or a parcel of another branch", body = crate::error::ErrorBody), (status = 404, description = "Not found", body = crate::error::ErrorBody), (status = 409, description = "Conflict", body = crate::error::ErrorBody), (status = 422, description = "Invalid input, or a missing or wrong pickup PIN (`pin`)", body = crate::error::ValidationBody), (status = 429, description = "Too many wrong PINs for this parcel: tries refused for 15 minutes (Retry-After)", body = crate::error::ErrorBody)), security(("oauth2" = [])))]
pub async fn transition(
    State(s): State<AppState>,
    user: Authorized<Everyone>,
    request: RequestId,
    ValidPath(id): ValidPath<i64>,
    ValidJson(body): ValidJson<TransitionIn>,
) -> ApiResult<Json<ParcelOut>> {
    // The messages it writes carry the request's id to their send jobs.
    let parcel = s
        .store
        .for_request(request.as_deref())
        .apply_event(
            id,
            body.version,
            &body.event,
            &actor(user.user()),
            &Handover {
                pin: body.pin,
                document: body.document,
            },
        )
        .await
        .map_err(|e| match e {
            paqueteria_core::store::StoreError::Transition(
                t @ paqueteria_core::domain::InvalidTransition::Forbidden { .. },
            ) => ApiError::Forbidden(t.to_string()),
            paqueteria_core::store::StoreError::Transition(
                t @ paqueteria_core::domain::InvalidTransition::ReasonRequired { .. },
            ) => ApiError::field("reason", t.to_string()),
            other => other.into(),
        })?;
    s.outbox_kick.notify_one();
    let history = s.store.history(id).await?;
    Ok(Json(ParcelOut {
        parcel,
        history,
        pickup_pin: None,
    }))
}

/// Where a new pickup PIN went.
#[derive(utoipa::ToSchema, Debug, Serialize)]
pub struct PinReissuedOut {
    /// The parcel.
    pub parcel_id: i64,
    /// The recipient's phone, masked: the PIN went there by SMS.
    pub sent_to: String,
    /// The SMS's notification id.
    pub notification_id: i64,
}

/// Issues a new pickup PIN (supervisors of the parcel's branches, admins):
/// it goes to the recipient by SMS, the old one stops working, and the
/// wrong-PIN lock is lifted. The PIN is never in the answer.
#[utoipa::path(post, path = "/api/v1/parcels/{id}/pin", tag = "parcels", params(("id" = i64, Path, description = "Parcel id")), responses((status = 200, description = "Sent to the recipient", body = PinReissuedOut), (status = 401, description = "Not signed in", body = crate::error::ErrorBody), (status = 403, description = "Not a supervisor of the parcel's branches", body = crate::error::ErrorBody), (status = 404, description = "Not found", body = crate::error::ErrorBody), (status = 409, description = "Already delivered, cancelled or returned", body = crate::error::ErrorBody), (status = 422, description = "Invalid input", body = crate::error::ValidationBody)), security(("oauth2" = [])))]
pub async fn reissue_pin(
    State(s): State<AppState>,
    user: Authorized<crate::auth::Managers>,
    client: crate::client::ClientAddr,
    request: RequestId,
    ValidPath(id): ValidPath<i64>,
) -> ApiResult<Json<PinReissuedOut>> {
    let client = client.to_audit();
    let r = s
        .store
        .for_request(request.as_deref())
        .reissue_pin(id, &actor(user.user()), client.as_deref())
        .await?;
    s.outbox_kick.notify_one();
    Ok(Json(PinReissuedOut {
        parcel_id: r.parcel_id,
        sent_to: r.sent_to,
        notification_id: r.notification_id,
    }))
}

/// A parcel's messages (SMS and email), oldest first; a reissued PIN's
/// digits are masked for everyone but admins.
#[utoipa::path(get, path = "/api/v1/parcels/{id}/notifications", tag = "parcels", params(("id" = i64, Path, description = "Parcel id")), responses((status = 200, description = "The parcel's messages", body = [paqueteria_core::store::Notification]), (status = 401, description = "Not signed in", body = crate::error::ErrorBody), (status = 403, description = "A parcel of other branches", body = crate::error::ErrorBody), (status = 404, description = "Not found", body = crate::error::ErrorBody), (status = 422, description = "Invalid input", body = crate::error::ValidationBody)), security(("oauth2" = [])))]
pub async fn notifications(
    State(s): State<AppState>,
    user: Authorized<Everyone>,
    ValidPath(id): ValidPath<i64>,
) -> ApiResult<Json<Vec<paqueteria_core::store::Notification>>> {
    visible_parcel(&s, user.user(), id).await?;
    let list = s.store.notifications(id).await?;
    Ok(Json(as_seen_by(user.user(), list)))
}

/// A parcel's messages as `user` may read them: a reissued PIN's digits
/// masked for everyone but admins.
pub(crate) fn as_seen_by(
    user: &paqueteria_core::store::User,
    mut list: Vec<paqueteria_core::store::Notification>,
) -> Vec<paqueteria_core::store::Notification> {
    if user.role != paqueteria_core::domain::Role::Admin {
        for n in list
            .iter_mut()
            .filter(|n| n.template == paqueteria_core::store::PIN_TEMPLATE)
        {
            n.body = paqueteria_core::store::mask_pin(&n.body);
        }
    }
    list
}

/// A parcel's payments, voided ones included (with who voided them and
/// why).
#[utoipa::path(get, path = "/api/v1/parcels/{id}/payments", tag = "parcels", params(("id" = i64, Path, description = "Parcel id")), responses((status = 200, description = "The parcel's payments", body = [paqueteria_core::store::Payment]), (status = 401, description = "Not signed in", body = crate::error::ErrorBody), (status = 403, description = "A courier, or a parcel of other branches", body = crate::error::ErrorBody), (status = 404, description = "Not found", body = crate::error::ErrorBody), (status = 422, description = "Invalid input", body = crate::error::ValidationBody)), security(("oauth2" = [])))]
pub async fn payments(
    State(s): State<AppState>,
    user: Authorized<Staff>,
    ValidPath(id): ValidPath<i64>,
) -> ApiResult<Json<Vec<paqueteria_core::store::Payment>>> {
    visible_parcel(&s, user.user(), id).await?;
    Ok(Json(s.store.payments(id).await?))
}
