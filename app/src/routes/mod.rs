//! The app's routes, one module per resource.

pub mod attachments;
pub mod audit;
pub mod auth;
pub mod branches;
pub mod customers;
pub mod dashboard;
pub mod health;
pub mod job_actions;
pub mod jobs;
pub mod outbox;
pub mod parcels;
pub mod payments;
pub mod reports;
pub mod schedule;
pub mod tariffs;
pub mod track;
pub mod users;
