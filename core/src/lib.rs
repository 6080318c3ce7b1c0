//! The shared library of Paquetería.
//!
//! Every binary (the `worker` today, the `app` and the `scheduler` later) links
//! this crate and keeps only wiring in its `main.rs`.
//!
//! # Layout
//! - [`settings`]: typed settings read once from the environment.
//! - [`jobs`]: the job catalog: every job's payload type, name, queue and policy.
//! - [`broker`]: the [`broker::Broker`] trait, the promises it keeps, and its two
//!   engines: [`broker::redis`] (production) and [`broker::sqlite`] (embedded).
//! - [`client`]: the typed enqueue client the app and the scheduler use.
//! - [`clock`]: wall-clock milliseconds, replaceable in tests.
//! - [`store`]: the parcel store (SQLite or PostgreSQL).
//! - [`storage`]: files on local disk or S3.

pub mod broker;
pub mod client;
pub mod clock;
pub mod domain;
pub mod jobs;
pub mod settings;
pub mod storage;
pub mod store;
pub mod telemetry;

pub use broker::{Broker, BrokerError, JobId};
pub use client::JobClient;
