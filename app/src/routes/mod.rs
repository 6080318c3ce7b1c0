//! The app's routes, one module per resource.

pub mod health;
