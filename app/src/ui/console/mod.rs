//! The jobs console, for the people who run the system: admins act,
//! supervisors read. Everything it shows is read from the broker and the
//! store, so it survives restarts. Every action is a POST with the CSRF
//! token, refused on the server for a read-only role, and written to the
//! audit log.

pub mod job;
pub mod jobs;
pub mod messages;
pub mod overview;

use super::UiUser;
use crate::auth::{Admins, Managers};

/// Whether `user` may open the console (admins and supervisors).
pub(super) fn may_read(user: &UiUser) -> bool {
    user.may::<Managers>()
}

/// Whether `user` may act in the console (admins).
pub(super) fn may_act(user: &UiUser) -> bool {
    user.may::<Admins>()
}
