//! The parcel store: one API, two engines.
//!
//! - SQLite, the embedded default: `DATABASE_URL` unset → a file under
//!   `DATA_DIR`;
//! - PostgreSQL: `DATABASE_URL=postgres://…`.
//!
//! Queries are written once, with `$n` parameters both engines accept, on
//! sqlx's `Any` driver; only the migrations differ per engine
//! (`core/migrations/{sqlite,postgres}`), and they run at start-up.
//!
//! A status change is one transaction: the parcel row (checked and bumped
//! against the version the caller saw), its history line, its payments and
//! its outbox notifications commit together or not at all. [`outbox`] then
//! enqueues committed notifications as jobs.
//!
//! # Layout
//! - `connection`: opening either engine, the migrations and the start-up
//!   fill-ins, transactions, `ping`, `analyze`.
//! - `rows`: the column lists, and rows decoded into the model's types.
//! - `model`: the types the store takes and hands out (re-exported here).
//! - `branches`, `customers`, `tariffs`, `users`: one aggregate each;
//!   `accounts`: password changes and resets, an admin's changes to a
//!   user, the paged user list; [`passwords`]: the password policy.
//! - `parcels`: `register`; `status` (status changes, history, payments,
//!   outbox rows); `list` (the list, and the statement pieces it shares
//!   with the search); `search` (the search's arms, with each engine's
//!   name arm in `sqlite` and `postgres`).
//! - [`search`]: names folded into search words (the statements that
//!   search are in `parcels::search`).
//! - `reads`, `pg_reads`: the connections the list and search read on.
//! - `messages`, `notifications`, [`outbox`]: a notification's text, its
//!   sending at most once, and its relay to the job queue.
//! - `audit`: the audit log (sign-ins, role and password changes, voids,
//!   PIN reissues).
//! - `attachments`, `reports`, `maintenance`: files, report jobs,
//!   clean-ups and the dashboard's figures.

mod accounts;
mod attachments;
mod audit;
mod branches;
mod connection;
mod customers;
pub mod limits;
mod maintenance;
mod messages;
mod model;
mod notifications;
pub mod outbox;
mod parcels;
pub mod passwords;
mod pg_reads;
mod reads;
mod reports;
mod rows;
pub mod search;
mod tariffs;
mod users;

use sqlx::AnyPool;

pub use attachments::{MAX_ATTACHMENTS_PER_PARCEL, NewAttachment};
pub use audit::{AuditAction, AuditEntry, AuditFilter, AuditRow};
pub use maintenance::{BranchStatusCount, CHART_DAYS, DashboardFigures, DayFigures, ExpiredReport};
pub use messages::Message;
pub use model::*;
pub use notifications::{Claim, OutboxBacklog};
pub use parcels::{
    COURIER_LIST_MAX, Handover, PIN_LOCK, PIN_TEMPLATE, PIN_TRIES, ParcelCorrection, PinRefused,
    PinReissued, PinSettings, mask_phone, mask_pin,
};
pub use reports::ReportRow;
pub use users::{NewUser, User, hash_password, random_bytes};

pub use accounts::{Acting, UserChanges, UserPage};
pub use customers::{CustomerChanges, CustomerFilter, CustomerPage, REINDEX_BATCH};
pub use tariffs::{TariffFilter, TariffPage};

use paqueteria_jobs::Clock;

use crate::domain::InvalidTransition;

/// Which database engine a store runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    /// One SQLite file.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

/// Why a store call failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No such row.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The row changed since the caller read it (optimistic lock), or a
    /// unique key is taken.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The status change is not allowed.
    #[error(transparent)]
    Transition(#[from] InvalidTransition),
    /// The actor may not do this here (another branch's parcel).
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// The pickup PIN (or document) given at a delivery was refused.
    #[error(transparent)]
    Pin(#[from] parcels::PinRefused),
    /// A value breaks a rule; `field` names it.
    #[error("{field}: {message}")]
    Invalid {
        /// The offending field.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// Several values break their rules: each field's path (`sender.name`)
    /// and what is wrong, all of them at once.
    #[error("invalid fields: {}", .0.iter().map(|(f, m)| format!("{f}: {m}")).collect::<Vec<_>>().join("; "))]
    Fields(Vec<limits::Problem>),
    /// The database failed.
    #[error("database error: {0}")]
    Database(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::RowNotFound => Self::NotFound("row"),
            // The database's own words name tables and constraints: they
            // stay in the logs, not in answers.
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                tracing::debug!(error = %db, "unique key taken");
                Self::Conflict("a record with the same unique key already exists".to_owned())
            }
            _ => Self::Database(e.to_string()),
        }
    }
}

/// Result of a store call.
pub type StoreResult<T> = Result<T, StoreError>;

/// The parcel store. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    engine: Engine,
    clock: Clock,
    /// Live sessions recently looked up (see `Store::session_user`).
    sessions: users::SessionCache,
    /// SQLite: the list's reads, run on the calling thread.
    reads: Option<std::sync::Arc<reads::SqliteReads>>,
    /// PostgreSQL: the list's reads, on the driver's own rows and
    /// connections of their own (see [`pg_reads`]).
    pg_reads: Option<pg_reads::PgReads>,
    /// The pickup PINs' secret and rules (see `Store::with_pins`).
    pins: Option<std::sync::Arc<parcels::PinSettings>>,
    /// The request this store works for (see `Store::for_request`).
    request_id: Option<std::sync::Arc<str>>,
}

impl Store {
    /// The store's clock (tests move it).
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// The engine in use.
    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// This store, working for the HTTP request `request_id`: the
    /// notifications it writes to the outbox (a status change's messages, a
    /// reissued PIN) record it, and the relay sets it on their send jobs,
    /// so an SMS is found from the request that caused it. Cheap: the
    /// pools and caches are shared. `None` records none.
    pub fn for_request(&self, request_id: Option<&str>) -> Self {
        Self {
            request_id: request_id.map(std::sync::Arc::from),
            ..self.clone()
        }
    }

    /// The request this store works for, if any.
    pub(crate) fn request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }

    fn now(&self) -> i64 {
        self.clock.now_ms()
    }
}
