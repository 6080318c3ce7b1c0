//! The admin screens, for the roles the REST API lets use them (a role it
//! refuses gets a 403 page, not only a hidden link):
//! - `customers`: find customers by phone or name, change a name or email
//!   (counter staff and above, as `/api/v1/customers`);
//! - `tariffs`: the price list, current and ended lines; supervisors and
//!   admins add a line, admins end one (as `/api/v1/tariffs`);
//! - `branches`: every branch; admins add one (as `/api/v1/branches`,
//!   which has no edit or deactivation yet);
//! - `users`: admins list, create and change users and reset a password
//!   (as `/api/v1/users`).
//!
//! Each form carries the CSRF token and answers 422 with the form again
//! and the API's message next to each invalid field.

mod branches;
mod customers;
mod tariffs;
mod users;

use axum::Router;
use axum::routing::{get, post};

use crate::startup::AppState;

/// The admin screens' routes.
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/customers", get(customers::list))
        .route(
            "/customers/{id}",
            get(customers::edit).post(customers::save),
        )
        .route("/tariffs", get(tariffs::list).post(tariffs::create))
        .route("/tariffs/{id}/end", post(tariffs::end))
        .route("/branches", get(branches::list).post(branches::create))
        .route("/users", get(users::list).post(users::create))
        .route("/users/{id}", get(users::edit).post(users::save))
        .route("/users/{id}/password", post(users::reset_password))
}

/// The branches as a `<select>`'s choices, `selected` chosen.
fn branch_choices(
    branches: &[paqueteria_core::store::Branch],
    selected: &str,
) -> Vec<super::forms::Choice> {
    branches
        .iter()
        .map(|b| {
            let id = b.id.to_string();
            let chosen = id == selected;
            (id, format!("{} ({})", b.name, b.code), chosen)
        })
        .collect()
}
