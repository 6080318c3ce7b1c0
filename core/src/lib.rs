//! The parcel business of Paquetería, on the `paqueteria-jobs` engine.
//!
//! Every binary (`app`, `worker`, `scheduler`) links this crate and keeps
//! only wiring in its `main.rs`.
//!
//! # Layout
//! - [`settings`]: typed settings read once from the environment.
//! - [`domain`]: tracking codes, phones, money, the parcel lifecycle.
//! - [`store`]: the parcel store (SQLite or PostgreSQL).
//! - [`files`]: file storage: local disk or S3 (not to be confused with
//!   the [`store`], the database).
//! - [`jobs`]: Paquetería's job catalog: every job's payload type, name,
//!   queue and policy.
//! - [`calendar`]: the business's local day.
//! - [`telemetry`]: logging set-up shared by the binaries.
//! - [`health`]: the binaries' `healthcheck` subcommand.

pub mod calendar;
pub mod domain;
pub mod files;
pub mod health;
pub mod jobs;
pub mod settings;
pub mod store;
pub mod telemetry;
