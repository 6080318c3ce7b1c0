//! The worker's integration tests: the job handlers against real servers
//! (Redis, PostgreSQL, SMTP, S3) and the `worker` command line.
//!
//! One test binary for the whole crate: the crate and its dependencies are
//! linked once, not once per test file. Shared helpers are in `common`.

mod cli;
mod common;
mod files;
mod http;
mod maintenance;
mod notify;
mod redelivery;
mod reports;
mod tls;
