//! How messages leave: the Liwa SMS gateway, SMTP, and the gateway-wide
//! SMS rate limit. With none configured, messages go to the store's outbox
//! (the embedded default).

pub mod email;
pub mod liwa;
pub mod ratelimit;

/// Why a send failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Certainly not delivered and worth retrying: connection refused,
    /// timeout, 5xx, 429.
    #[error("{0}")]
    Transient(String),
    /// Refused for good (the provider's message says why).
    #[error("{0}")]
    Permanent(String),
}

impl SendError {
    /// The notification outcome this failure counts as.
    pub fn outcome(&self) -> paqueteria_core::telemetry::Sent {
        match self {
            Self::Transient(_) => paqueteria_core::telemetry::Sent::Failed,
            Self::Permanent(_) => paqueteria_core::telemetry::Sent::Rejected,
        }
    }
}
