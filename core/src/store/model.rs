//! The rows of the store, as typed values.

use serde::{Deserialize, Serialize};

use crate::domain::{Grams, Money, ParcelStatus, Phone, Role, Service, TrackingCode};

/// A branch (a counter where parcels are received and picked up).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Branch {
    /// Id.
    pub id: i64,
    /// Short unique code, e.g. `BOG-01`.
    pub code: String,
    /// Display name.
    pub name: String,
    /// City.
    pub city: String,
    /// Street address.
    pub address: String,
    /// Phone, E.164.
    pub phone: Option<String>,
    /// Whether it takes parcels.
    pub active: bool,
}

/// A branch to create.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewBranch {
    /// Short unique code.
    pub code: String,
    /// Display name.
    pub name: String,
    /// City.
    pub city: String,
    /// Street address.
    pub address: String,
    /// Phone.
    pub phone: Option<Phone>,
}

/// A customer: a sender or a recipient. The phone is the counter's lookup key.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Customer {
    /// Id.
    pub id: i64,
    /// Phone, E.164, unique.
    pub phone: Phone,
    /// Full name.
    pub name: String,
    /// Email, when they gave one.
    pub email: Option<String>,
    /// Identity document number.
    pub document: Option<String>,
    /// Address.
    pub address: String,
}

/// A customer to create or update (matched by phone).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewCustomer {
    /// Phone, the key.
    pub phone: Phone,
    /// Full name.
    pub name: String,
    /// Email.
    pub email: Option<String>,
    /// Identity document number.
    pub document: Option<String>,
    /// Address.
    pub address: String,
}

/// A price list line: what a package of a type, to a zone, in a weight band
/// costs, and what storage after the grace period costs.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tariff {
    /// Id.
    pub id: i64,
    /// `envelope`, `box`…
    pub package_type: String,
    /// `local`, `regional`, `national`…
    pub zone: String,
    /// Lightest weight of the band.
    pub min_grams: Grams,
    /// Heaviest weight of the band.
    pub max_grams: Grams,
    /// Fixed part.
    pub base_price: Money,
    /// Price per started kilogram.
    pub per_kg_price: Money,
    /// Free storage at the destination, hours.
    pub storage_grace_hours: i64,
    /// Storage fee per started day after the grace.
    pub storage_fee_per_day: Money,
    /// Fee for collecting cash on delivery.
    pub cod_fee: Money,
    /// Valid from (Unix ms).
    pub valid_from_ms: i64,
    /// Valid until (Unix ms), open-ended when `None`.
    pub valid_to_ms: Option<i64>,
}

impl Tariff {
    /// The shipping price of a parcel of `weight` collecting `cod` on delivery.
    pub fn quote(&self, weight: Grams, cod: Money) -> Money {
        let cod_fee = if cod > Money::ZERO {
            self.cod_fee
        } else {
            Money::ZERO
        };
        self.base_price + self.per_kg_price.times(i64::from(weight.billable_kg())) + cod_fee
    }
}

/// A tariff line to create.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewTariff {
    /// Package type.
    pub package_type: String,
    /// Zone.
    pub zone: String,
    /// Band start.
    pub min_grams: Grams,
    /// Band end.
    pub max_grams: Grams,
    /// Fixed part.
    pub base_price: Money,
    /// Per started kilogram.
    pub per_kg_price: Money,
    /// Free storage hours.
    pub storage_grace_hours: i64,
    /// Storage fee per day after the grace.
    pub storage_fee_per_day: Money,
    /// Cash-on-delivery fee.
    pub cod_fee: Money,
    /// Valid from (Unix ms).
    pub valid_from_ms: i64,
    /// Valid until (Unix ms).
    pub valid_to_ms: Option<i64>,
}

/// A parcel.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Parcel {
    /// Id.
    pub id: i64,
    /// Tracking code.
    pub tracking_code: TrackingCode,
    /// Sender.
    pub sender_id: i64,
    /// Recipient.
    pub recipient_id: i64,
    /// Where it was handed in.
    pub origin_branch_id: i64,
    /// Where it goes.
    pub destination_branch_id: i64,
    /// Pickup or delivery.
    pub service: Service,
    /// Delivery address (home delivery).
    pub delivery_address: String,
    /// Package type.
    pub package_type: String,
    /// Weight.
    pub weight: Grams,
    /// Length, width, height in millimetres.
    pub dimensions_mm: [i64; 3],
    /// Declared value.
    pub declared_value: Money,
    /// Cash to collect on delivery.
    pub cod_amount: Money,
    /// The tariff line it was quoted with.
    pub tariff_id: Option<i64>,
    /// Shipping price charged (the fee snapshot).
    pub quoted_amount: Money,
    /// Free storage hours (snapshot).
    pub storage_grace_hours: i64,
    /// Storage fee per day (snapshot).
    pub storage_fee_per_day: Money,
    /// COD fee (snapshot).
    pub cod_fee: Money,
    /// Condition noted at reception.
    pub condition: String,
    /// Shelf at the destination branch.
    pub shelf: Option<String>,
    /// Status.
    pub status: ParcelStatus,
    /// Failed delivery attempts.
    pub failed_attempts: i64,
    /// Optimistic-lock version: every change must name the version it saw.
    pub version: i64,
    /// When it reached its destination branch (Unix ms).
    pub arrived_at_ms: Option<i64>,
    /// When it was delivered (Unix ms).
    pub delivered_at_ms: Option<i64>,
    /// Registered at (Unix ms).
    pub created_at_ms: i64,
}

/// A parcel to register.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewParcel {
    /// Sender (created or updated by phone).
    pub sender: NewCustomer,
    /// Recipient (created or updated by phone).
    pub recipient: NewCustomer,
    /// Origin branch.
    pub origin_branch_id: i64,
    /// Destination branch.
    pub destination_branch_id: i64,
    /// Pickup or delivery.
    pub service: Service,
    /// Delivery address (home delivery).
    pub delivery_address: String,
    /// Package type (selects the tariff).
    pub package_type: String,
    /// Zone (selects the tariff).
    pub zone: String,
    /// Weight.
    pub weight: Grams,
    /// Length, width, height in millimetres.
    pub dimensions_mm: [i64; 3],
    /// Declared value.
    pub declared_value: Money,
    /// Cash to collect on delivery.
    pub cod_amount: Money,
}

/// A registered parcel and its pickup PIN, shown once (only a hash is kept).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Registered {
    /// The parcel.
    pub parcel: Parcel,
    /// The 6-digit pickup PIN, for the receipt.
    pub pickup_pin: String,
}

/// Who is acting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Actor {
    /// The user, when a person acts (`None` for the system).
    pub user_id: Option<i64>,
    /// Their role.
    pub role: Role,
    /// Their branch.
    pub branch_id: Option<i64>,
}

/// One line of a parcel's history.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParcelEventRow {
    /// Id.
    pub id: i64,
    /// Event name (`receive`, `deliver`…; `register` for the first line).
    pub event: String,
    /// Status before.
    pub from_status: Option<ParcelStatus>,
    /// Status after.
    pub to_status: ParcelStatus,
    /// Who.
    pub actor_id: Option<i64>,
    /// Their name.
    pub actor_name: Option<String>,
    /// Where it happened: the actor's branch (for an admin, the branch
    /// where the step happens).
    pub branch_id: Option<i64>,
    /// That branch's name.
    pub branch_name: Option<String>,
    /// Why, for cancel, return and failed attempts; what went wrong for a
    /// refused PIN.
    pub reason: Option<String>,
    /// When (Unix ms).
    pub created_at_ms: i64,
}

/// A payment; voided ones stay, with who voided them and why.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payment {
    /// Id.
    pub id: i64,
    /// Parcel.
    pub parcel_id: i64,
    /// `shipping`, `storage` or `cod`.
    pub kind: String,
    /// Amount.
    pub amount: Money,
    /// Voided at (Unix ms).
    pub voided_at_ms: Option<i64>,
    /// Who voided it (a user id).
    pub voided_by: Option<i64>,
    /// Why it was voided.
    pub void_reason: Option<String>,
}

/// An outbound message row.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    /// Id: the send job's idempotency key.
    pub id: i64,
    /// Parcel it is about.
    pub parcel_id: Option<i64>,
    /// `sms` or `email`.
    pub channel: String,
    /// Phone (E.164) or email address.
    pub recipient: String,
    /// Template name.
    pub template: String,
    /// SMS text, or the email's subject line.
    pub body: String,
    /// `pending`, `enqueued`, `sent` or `failed`.
    pub state: String,
    /// The send job's id once enqueued.
    pub job_id: Option<String>,
    /// The gateway's id of the sent message (SMS) or the SMTP server's
    /// queue answer (email).
    pub provider_message_id: Option<String>,
    /// Why it failed.
    pub error: Option<String>,
    /// `liwa`, `smtp` or `outbox`, once it left.
    pub transport: Option<String>,
    /// Values the email template fills in (JSON object).
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub context: serde_json::Value,
    /// Times it was sent again from the console after it failed.
    pub resends: i64,
    /// The id of the HTTP request that wrote it (`X-Request-Id`), when a
    /// request did; its send job carries it too.
    pub request_id: Option<String>,
}

/// A message kept in the outbox because no SMTP server or SMS gateway is
/// configured (the embedded default).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxMessage {
    /// Id.
    pub id: i64,
    /// The notification it delivers.
    pub notification_id: i64,
    /// `sms` or `email`.
    pub channel: String,
    /// Phone or email address.
    pub recipient: String,
    /// Email subject.
    pub subject: Option<String>,
    /// SMS text or the email's text part.
    pub text_body: String,
    /// The email's HTML part.
    pub html_body: Option<String>,
    /// When it was "sent" (Unix ms).
    pub created_at_ms: i64,
}

/// Filters of the parcel list.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParcelFilter {
    /// Only this status.
    pub status: Option<ParcelStatus>,
    /// Only parcels from or to this branch.
    pub branch_id: Option<i64>,
    /// Search: a tracking code (or its start), a phone (or its last 7
    /// digits or more), or words (with no digit) of the sender's and recipient's names,
    /// each the start of a name word, in any order, accents and case
    /// ignored ("diaz car" finds "Carolina Díaz").
    pub q: Option<String>,
    /// Page, from 1.
    pub page: u32,
    /// Rows per page (1 to 200).
    pub page_size: u32,
}

/// A parcel as the list gives it: its id and its JSON (the [`Parcel`] as
/// serde writes it), which the store keeps beside the parcel's row and
/// hands on as it is (migrations `0010_list_items` on PostgreSQL,
/// `0008_list_items` on SQLite).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListedParcel {
    /// The parcel's id.
    pub id: i64,
    json: String,
}

impl ListedParcel {
    /// The item of `parcel`.
    pub fn new(parcel: &Parcel) -> serde_json::Result<Self> {
        Ok(Self {
            id: parcel.id,
            json: serde_json::to_string(parcel)?,
        })
    }

    /// The item of parcel `id` as the store kept it.
    pub(crate) fn stored(id: i64, json: String) -> Self {
        Self { id, json }
    }

    /// Its JSON.
    pub fn json(&self) -> &str {
        &self.json
    }

    /// The parcel it shows.
    pub fn parcel(&self) -> serde_json::Result<Parcel> {
        serde_json::from_str(&self.json)
    }
}

/// Written as the JSON it holds, once checked to be JSON.
impl Serialize for ListedParcel {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let raw: &serde_json::value::RawValue =
            serde_json::from_str(&self.json).map_err(serde::ser::Error::custom)?;
        raw.serialize(s)
    }
}

/// One page of parcels.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ParcelPage {
    /// The rows, newest first.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Parcel>))]
    pub items: Vec<ListedParcel>,
    /// Rows matching the filters in all; when `total_exact` is false, at
    /// least this many.
    pub total: i64,
    /// Whether `total` is the exact count. A search counts its matches up
    /// to 1,000 (a common surname matches more): past that, `total` is a
    /// lower bound, as a search box shows "1,000+".
    pub total_exact: bool,
    /// This page.
    pub page: u32,
    /// Rows per page.
    pub page_size: u32,
}

impl ParcelPage {
    /// The page as JSON: what serde writes for it (the same fields, in the
    /// same order), with each item's JSON copied as the store kept it
    /// rather than checked again (serde checks each item, which cost as
    /// much as writing the page).
    pub fn to_json(&self) -> String {
        use std::fmt::Write;
        let items: usize = self.items.iter().map(|i| i.json.len() + 1).sum();
        let mut out = String::with_capacity(items + 96);
        out.push_str("{\"items\":[");
        for (i, item) in self.items.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&item.json);
        }
        // writing to a String does not fail
        let _ = write!(
            out,
            "],\"total\":{},\"total_exact\":{},\"page\":{},\"page_size\":{}}}",
            self.total, self.total_exact, self.page, self.page_size
        );
        out
    }
}

/// A requested report and how far it got.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// Id (the report job's idempotency key).
    pub id: i64,
    /// `pdf` or `xlsx`.
    pub kind: String,
    /// The filters, as JSON.
    pub filters: serde_json::Value,
    /// Who asked for it.
    pub requested_by: Option<i64>,
    /// `pending`, `running`, `done` or `failed`.
    pub state: String,
    /// Percent done.
    pub progress: i64,
    /// Where the file is stored, once done.
    pub file_key: Option<String>,
    /// Why it failed.
    pub error: Option<String>,
    /// The job that builds it.
    pub job_id: Option<String>,
    /// Requested at (Unix ms).
    pub created_at_ms: i64,
    /// Done or failed at (Unix ms).
    pub finished_at_ms: Option<i64>,
}

/// A file attached to a parcel (a photo of the package, a signed receipt).
///
/// `pending` while the upload waits under `upload_key`; `stored` once
/// `file.store` moved it to `storage_key`; `processed` once a photo has its
/// thumbnail at `thumb_key`; `failed` with the reason in `error`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    /// Id (the `file.store` and `file.thumbnail` jobs' idempotency key).
    pub id: i64,
    /// The parcel.
    pub parcel_id: i64,
    /// `photo` or `document`.
    pub kind: String,
    /// The file name as uploaded, cleaned.
    pub filename: String,
    /// Its media type.
    pub content_type: String,
    /// Its size in bytes.
    pub size_bytes: i64,
    /// `pending`, `stored`, `processed` or `failed`.
    pub state: String,
    /// Why it failed.
    pub error: Option<String>,
    /// Who uploaded it.
    pub uploaded_by: Option<i64>,
    /// Uploaded at (Unix ms).
    pub created_at_ms: i64,
    /// Stored or thumbnailed at (Unix ms).
    pub processed_at_ms: Option<i64>,
    /// Where the file is stored (empty until stored).
    #[serde(skip)]
    pub storage_key: String,
    /// Where the upload waits until stored.
    #[serde(skip)]
    pub upload_key: Option<String>,
    /// Where the thumbnail is, for a processed photo.
    #[serde(skip)]
    pub thumb_key: Option<String>,
}
