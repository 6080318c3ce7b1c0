//! Parcels: registration ([`register`]), corrections before reception
//! ([`correct`]), status changes and what they
//! write ([`status`]), the pickup PIN at the hand-over ([`pin`]), the list ([`list`]) and its search ([`search`]).

mod correct;
mod courier;
mod list;
mod payments;
mod pin;
mod register;
mod search;
mod status;

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::settings::HomeDeliveryProof;

pub use correct::ParcelCorrection;
pub use courier::COURIER_LIST_MAX;
pub(super) use list::Bind;
pub use pin::{PIN_TEMPLATE, PinReissued, mask_phone, mask_pin};
pub(super) use status::storage_fee;

use super::rows::{PARCEL_COLUMNS, parcel_from};
use super::{Parcel, Store, StoreResult};
use crate::domain::TrackingCode;

impl Store {
    /// One parcel.
    pub async fn parcel(&self, id: i64) -> StoreResult<Parcel> {
        let row = self
            .row_by_id(
                &format!("SELECT {PARCEL_COLUMNS} FROM parcels WHERE id = $1"),
                id,
                "parcel",
            )
            .await?;
        parcel_from(&row)
    }

    /// The parcel with this tracking code.
    pub async fn parcel_by_code(&self, code: &TrackingCode) -> StoreResult<Option<Parcel>> {
        let row = sqlx::query(&format!(
            "SELECT {PARCEL_COLUMNS} FROM parcels WHERE tracking_code = $1"
        ))
        .bind(code.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(parcel_from).transpose()
    }
}

/// How a store issues and checks pickup PINs: the server secret they are
/// hashed with, and what proves a home delivery.
#[derive(Clone)]
pub struct PinSettings {
    key: secrecy::SecretSlice<u8>,
    /// What a courier takes at the door.
    pub home_delivery: HomeDeliveryProof,
}

impl PinSettings {
    /// PINs hashed with `key` (the app's `APP_SECRET_KEY`).
    pub fn new(key: &secrecy::SecretString, home_delivery: HomeDeliveryProof) -> Self {
        use secrecy::ExposeSecret;
        Self {
            key: key.expose_secret().as_bytes().to_vec().into(),
            home_delivery,
        }
    }

    fn mac(&self) -> Hmac<Sha256> {
        use secrecy::ExposeSecret;
        // HMAC takes a key of any length.
        #[allow(clippy::expect_used)]
        Hmac::<Sha256>::new_from_slice(self.key.expose_secret()).expect("HMAC takes any key length")
    }

    /// What a parcel's row keeps of its pickup PIN: `h1$` and the
    /// HMAC-SHA256, in hex, of its tracking code and the PIN under the
    /// server secret, so a copy of the database alone does not give the
    /// PINs away.
    fn hash(&self, code: &str, pin: &str) -> String {
        let mut mac = self.mac();
        mac.update(format!("{code}:{pin}").as_bytes());
        let digest = mac.finalize().into_bytes();
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        format!("{PIN_HASH_PREFIX}{hex}")
    }

    /// Whether `pin` is the PIN `stored` keeps, compared in constant time.
    /// Hashes written before the server secret (a bare SHA-256 of code and
    /// PIN) still verify, so parcels in flight at an upgrade can be handed
    /// over.
    fn verify(&self, code: &str, pin: &str, stored: &str) -> bool {
        let given = match stored.strip_prefix(PIN_HASH_PREFIX) {
            Some(_) => self.hash(code, pin),
            None => Sha256::digest(format!("{code}:{pin}").as_bytes())
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect(),
        };
        given.as_bytes().ct_eq(stored.as_bytes()).into()
    }
}

impl std::fmt::Debug for PinSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PinSettings")
            .field("home_delivery", &self.home_delivery)
            .finish_non_exhaustive()
    }
}

const PIN_HASH_PREFIX: &str = "h1$";

/// A new six-digit pickup PIN from the operating system's secure random
/// source, every value equally likely.
fn new_pin() -> String {
    loop {
        let mut bytes = [0u8; 4];
        super::random_bytes(&mut bytes);
        let n = u32::from_le_bytes(bytes);
        // 4,294,000,000 is the largest multiple of a million below 2^32.
        if n < 4_294_000_000 {
            return format!("{:06}", n % 1_000_000);
        }
    }
}

impl Store {
    /// This store, issuing and checking pickup PINs with `pins`. A store
    /// without them refuses to register parcels, deliver or reissue PINs.
    pub fn with_pins(mut self, pins: PinSettings) -> Self {
        self.pins = Some(std::sync::Arc::new(pins));
        self
    }

    fn pins(&self) -> StoreResult<&PinSettings> {
        self.pins.as_deref().ok_or_else(|| {
            super::StoreError::Database(
                "this store has no PIN settings (APP_SECRET_KEY): it cannot issue or check pickup PINs"
                    .to_owned(),
            )
        })
    }
}

/// What the recipient shows at a delivery: the pickup PIN, or (where the
/// business accepts it for home deliveries) their identity document.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Handover {
    /// The pickup PIN.
    pub pin: Option<String>,
    /// The recipient's identity document.
    pub document: Option<String>,
}

impl Handover {
    /// Nothing shown: for every event but a delivery.
    pub const NONE: Handover = Handover {
        pin: None,
        document: None,
    };

    /// The PIN `pin`.
    pub fn pin(pin: impl Into<String>) -> Self {
        Self {
            pin: Some(pin.into()),
            document: None,
        }
    }
}

/// Wrong PINs for one parcel before further tries are refused.
pub const PIN_TRIES: i64 = 5;

/// How long further tries are refused after [`PIN_TRIES`] wrong PINs.
pub const PIN_LOCK: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// Why a delivery's proof was refused. Nothing about the parcel changes;
/// a wrong PIN is counted and written in the parcel's history.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PinRefused {
    /// No PIN (nor an accepted document) was given.
    #[error(
        "the pickup PIN is required to hand this parcel over{}",
        if *.document_accepted { " (or the recipient's identity document)" } else { "" }
    )]
    Missing {
        /// Whether the recipient's document would do instead.
        document_accepted: bool,
    },
    /// The PIN (or document) does not match.
    #[error("{}", wrong_pin(*.tries_left))]
    Wrong {
        /// Tries left before the lock; 0 means this try locked them.
        tries_left: i64,
    },
    /// Too many wrong PINs: tries are refused until `until_ms`.
    #[error("too many wrong PINs for this parcel: try again in {} minutes", .retry_after_s.div_ceil(60))]
    Locked {
        /// When tries are accepted again (Unix ms).
        until_ms: i64,
        /// Seconds until then.
        retry_after_s: u64,
    },
}

fn wrong_pin(tries_left: i64) -> String {
    match tries_left {
        0 => "wrong PIN: further tries for this parcel are refused for 15 minutes".to_owned(),
        1 => "wrong PIN: 1 more try before tries are refused for 15 minutes".to_owned(),
        n => format!("wrong PIN: {n} more tries before tries are refused for 15 minutes"),
    }
}

/// Parcel `id`, read in `tx` ([`StoreError::NotFound`] if there is none).
async fn parcel_in(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    id: i64,
) -> crate::store::StoreResult<crate::store::Parcel> {
    let row = sqlx::query(&format!(
        "SELECT {} FROM parcels WHERE id = $1",
        crate::store::rows::PARCEL_COLUMNS
    ))
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(crate::store::StoreError::NotFound("parcel"))?;
    crate::store::rows::parcel_from(&row)
}

/// [`StoreError::Forbidden`](crate::store::StoreError::Forbidden) unless
/// `actor` may see `parcel` (admins every parcel, everyone else those from
/// or to their branch).
fn check_may_see(
    actor: &crate::store::Actor,
    parcel: &crate::store::Parcel,
) -> crate::store::StoreResult<()> {
    use crate::domain::branch_scope::{Branches, Staff, may_see};
    let branches = Branches {
        origin: parcel.origin_branch_id,
        destination: parcel.destination_branch_id,
    };
    let staff = Staff {
        role: actor.role,
        branch_id: actor.branch_id,
    };
    if may_see(staff, branches) {
        Ok(())
    } else {
        Err(crate::store::StoreError::Forbidden(format!(
            "parcel {} belongs to other branches",
            parcel.tracking_code
        )))
    }
}
