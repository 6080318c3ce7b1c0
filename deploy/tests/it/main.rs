//! The deployment files' tests (one test binary: see the crate's docs).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod compose;
mod dockerfile;
mod grafana;
mod metrics;
mod prometheus;
mod smoke;
mod support;
mod workflows;
