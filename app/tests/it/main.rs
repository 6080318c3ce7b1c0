//! The app's integration tests: the REST API as a client uses it, the
//! embedded all-in-one run, health, metrics, attachments, reports and the
//! outbox.
//!
//! One test binary for the whole crate: the crate and its dependencies are
//! linked once, not once per test file. Shared helpers are in `common`.

mod accounts;
mod api;
mod attachments;
mod audit;
mod browser;
mod common;
mod console_actions;
mod contract;
mod corrections;
mod csrf;
mod customers;
mod embedded;
mod health;
mod jobs_console;
mod limits;
mod metrics;
mod outbox;
mod relay;
mod report_access;
mod reports;
mod request_ids;
mod seed;
mod signin;
mod stack;
mod tariffs;
mod ui;
mod ui_admin;
mod ui_console;
mod ui_counter;
mod users;
mod workflow;
