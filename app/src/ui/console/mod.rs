//! The jobs console, for the people who run the system: admins act,
//! supervisors read. Everything it shows is read from the broker and the
//! store, so it survives restarts. Every action is a POST with the CSRF
//! token, refused on the server for a read-only role, and written to the
//! audit log.

pub mod audit;
mod cron_words;
pub mod job;
pub mod jobs;
pub mod messages;
pub mod overview;
pub mod schedule;
mod throughput;

use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum_csrf::CsrfToken;

use super::{Chrome, UiUser};
use crate::auth::{Admins, Managers};

/// Whether `user` may open the console (admins and supervisors).
pub(super) fn may_read(user: &UiUser) -> bool {
    user.may::<Managers>()
}

/// Whether `user` may act in the console (admins).
pub(super) fn may_act(user: &UiUser) -> bool {
    user.may::<Admins>()
}

/// The check every console action makes before it acts: the form's CSRF
/// token (`token`), then the role (admins). The page's layout, or the
/// refusal to answer with.
pub(super) fn admin_form(
    headers: &HeaderMap,
    user: &UiUser,
    csrf: &CsrfToken,
    token: &str,
) -> Result<Chrome, Box<Response>> {
    let chrome = super::pages::chrome(headers, Some(user), csrf);
    if csrf.verify(token).is_err() {
        return Err(Box::new(super::pages::csrf_refused(chrome.lang)));
    }
    if !may_act(user) {
        let msg = chrome.t("errors.forbidden");
        return Err(Box::new(super::refusal::refused(
            chrome,
            StatusCode::FORBIDDEN,
            msg,
        )));
    }
    Ok(chrome)
}
