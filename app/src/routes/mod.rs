//! The app's routes, one module per resource.

pub mod auth;
pub mod health;
pub mod parcels;
pub mod track;
