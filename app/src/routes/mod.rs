//! The app's routes, one module per resource.

pub mod auth;
pub mod branches;
pub mod customers;
pub mod health;
pub mod jobs;
pub mod parcels;
pub mod reports;
pub mod tariffs;
pub mod track;
pub mod users;
