//! Domain value types and rules, shared by the job payloads, the store and
//! the app. Parse, don't validate: a value of these types is valid.
//!
//! - [`Phone`]: E.164 phone numbers (the counter's customer lookup key).
//! - [`TrackingCode`]: UPU S10 tracking codes with their check digit.
//! - [`Money`], [`Grams`]: integer amounts and weights.
//! - [`lifecycle`]: parcel statuses and the one role-gated
//!   [`lifecycle::transition`] function.
//! - [`branch_scope`]: which branch's staff see and act on a parcel.
//! - [`report`]: what a report's file is called.

pub mod branch_scope;
pub mod lifecycle;
mod money;
mod phone;
pub mod report;
mod tracking;

pub use lifecycle::{
    InvalidTransition, ParcelEvent, ParcelStatus, Role, Route, Service, Transition, transition,
};
pub use money::{Grams, Money, thousands};
pub use phone::Phone;
pub use tracking::{TrackingCode, TrackingCodeError, check_digit};
