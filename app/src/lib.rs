//! The Paquetería web app.
//!
//! # Layout
//! - [`startup`]: settings → store, broker, and (on the embedded engine) the
//!   in-process worker and outbox relay; the server's `build` /
//!   `local_addr` / `run_until_stopped` face.
//! - [`routes`]: the REST API, one module per resource.
//! - [`ui`]: the staff's web UI (server-rendered pages).
//! - [`telemetry`]: HTTP metrics by route template.
//! - [`access`]: request ids (`X-Request-Id`, handed on to the jobs a
//!   request enqueues) and the access log.

pub mod access;
pub mod auth;
pub mod cli;
pub mod client;
pub mod csrf;
pub mod download;
pub mod error;
pub mod extract;
pub mod fallback;
pub mod headers;
pub mod openapi;
pub mod redoc;
pub mod relay;
pub mod routes;
pub mod seed;
pub mod startup;
pub mod telemetry;
pub mod throttle;
pub mod ui;

// The web UI's string catalogs (`locales/*.yml`), compiled in; Spanish is
// the fallback for a key a language lacks.
rust_i18n::i18n!("locales", fallback = "es");
