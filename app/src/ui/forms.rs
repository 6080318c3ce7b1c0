//! What the pages of the admin, reports and profile screens share: the
//! role check that answers a page (403) to a role the API refuses, the
//! page for an API error, each invalid field's message next to it, and the
//! reading of the forms' dates, amounts and choices.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum_csrf::CsrfToken;
use chrono::TimeZone;

use super::{Chrome, Lang, UiUser};
use crate::auth::Policy;
use crate::error::ApiError;

/// A page saying what went wrong, with `status` (and the form token's
/// cookie).
pub(super) fn problem_page(
    chrome: Chrome,
    csrf: CsrfToken,
    status: StatusCode,
    message: String,
) -> Response {
    (csrf, super::refusal::refused(chrome, status, message)).into_response()
}

/// The 403 page, unless `user`'s role is one of `P`'s (the API route's
/// policy).
pub(super) fn refused_unless<P: Policy>(
    chrome: &Chrome,
    csrf: &CsrfToken,
    user: &UiUser,
) -> Option<Response> {
    (!P::ROLES.contains(&user.0.role)).then(|| {
        problem_page(
            chrome.clone(),
            csrf.clone(),
            StatusCode::FORBIDDEN,
            chrome.t("errors.forbidden"),
        )
    })
}

/// The page for an API error that is not about a field: 403, 404, 409,
/// 429 and 503 as pages in the reader's language (`refusal::from_api`).
pub(super) fn error_page(chrome: Chrome, csrf: CsrfToken, e: ApiError) -> Response {
    (csrf, super::refusal::from_api(chrome, e)).into_response()
}

/// The invalid fields of a form, each with its message, shown next to
/// the field.
#[derive(Debug, Default)]
pub(super) struct FieldErrors(Vec<(String, String)>);

impl FieldErrors {
    /// The message for `field`, if it is invalid.
    pub(super) fn of(&self, field: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(f, _)| f == field)
            .map(|(_, m)| m.as_str())
    }

    /// Whether no field is invalid.
    pub(super) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Marks `field` invalid with the catalog's message `key`.
    pub(super) fn add(&mut self, lang: Lang, field: &str, key: &str) {
        if self.of(field).is_none() {
            self.0.push((field.to_owned(), lang.t(key)));
        }
    }

    /// Marks `field` invalid with `message`.
    pub(super) fn add_text(&mut self, field: &str, message: String) {
        if self.of(field).is_none() {
            self.0.push((field.to_owned(), message));
        }
    }

    /// The API's field errors of `e` (a 422), each under the form field
    /// named by `rename` (API field → form field; the same name when it
    /// returns `None`); any other error is handed back.
    pub(super) fn from_api(
        e: ApiError,
        lang: Lang,
        rename: impl Fn(&str) -> Option<&'static str>,
    ) -> Result<Self, ApiError> {
        let ApiError::Validation(fields) = e else {
            return Err(e);
        };
        let mut out = Self::default();
        for f in fields {
            let api_field = f.loc.last().map_or("", String::as_str);
            let field = rename(api_field).unwrap_or(api_field).to_owned();
            if out.of(&field).is_none() {
                out.0.push((field, said_in(lang, &f.msg)));
            }
        }
        Ok(out)
    }
}

/// The API's message `msg` about a field (English, for API clients) as
/// the reader's catalog says it; a message the catalog does not know is
/// shown as the API gave it, after "check this field".
pub(super) fn said_in(lang: Lang, msg: &str) -> String {
    // The bound the message names: "must have 1 to 120 characters" → 120.
    let number = msg
        .strip_prefix("must have 1 to ")
        .unwrap_or(msg)
        .split(|c: char| !c.is_ascii_digit())
        .find(|w| !w.is_empty())
        .unwrap_or("");
    let key = match msg {
        "must not be empty" => "forms.msg_empty",
        "is not an email address" => "forms.msg_email",
        "is not your current password" => "forms.msg_wrong_password",
        "must not be before from_ms" => "forms.msg_to_before_from",
        "must be pdf or xlsx" => "forms.bad_choice",
        m if m.contains("most common passwords") => "forms.msg_common_password",
        m if m.starts_with("must have at least ") => "forms.msg_min_chars",
        m if m.starts_with("must have at most ") || m.starts_with("must be at most ") => {
            "forms.msg_max_chars"
        }
        m if m.starts_with("must have 1 to ") => "forms.msg_max_chars",
        m if m.starts_with("is required for a ") => "forms.msg_branch_required",
        m if m.starts_with("no active branch") => "forms.msg_no_branch",
        m if m.starts_with("phone ") => "forms.msg_phone",
        _ => return format!("{}: {msg}", lang.t("forms.invalid")),
    };
    lang.t_with(key, "n", number)
}

/// The start (00:00 in `tz`) of the day `date` (`YYYY-MM-DD`, as an
/// `<input type="date">` sends it), as Unix ms; `days` later for `days`
/// above 0.
pub(super) fn day_start(date: &str, tz: chrono_tz::Tz, days: i64) -> Option<i64> {
    let day = chrono::NaiveDate::parse_from_str(date.trim(), "%Y-%m-%d").ok()?;
    let day = day.checked_add_days(chrono::Days::new(u64::try_from(days).ok()?))?;
    let t = tz
        .from_local_datetime(&day.and_hms_opt(0, 0, 0)?)
        .earliest()?;
    Some(t.timestamp_millis())
}

/// An amount typed in pesos (`12.500`, `$ 12500`, `12500`) in minor
/// units; `None` for anything else (cents are not typed in this UI).
pub(super) fn pesos(text: &str) -> Option<i64> {
    let digits: String = text
        .trim()
        .trim_start_matches('$')
        .chars()
        .filter(|c| !matches!(c, '.' | ' ' | '\u{a0}'))
        .collect();
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<i64>().ok()?.checked_mul(100)
}

/// A choice of a `<select>`: value, label, selected.
pub(super) type Choice = (String, String, bool);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_and_days_are_read_as_a_colombian_types_them() {
        assert_eq!(pesos("12.500"), Some(1_250_000));
        assert_eq!(pesos("$ 12500"), Some(1_250_000));
        assert_eq!(pesos("0"), Some(0));
        assert_eq!(pesos("12,5"), None);
        assert_eq!(pesos(""), None);
        assert_eq!(pesos("-3"), None);
        let bogota = chrono_tz::America::Bogota;
        // 2026-12-02 00:00 in Bogotá is 05:00 UTC.
        assert_eq!(day_start("2026-12-02", bogota, 0), Some(1_796_187_600_000));
        assert_eq!(
            day_start("2026-12-02", bogota, 1),
            Some(1_796_187_600_000 + 86_400_000)
        );
        assert_eq!(day_start("2-12-2026", bogota, 0), None);
    }

    #[test]
    fn the_apis_field_messages_are_said_in_the_readers_language() {
        assert_eq!(
            said_in(Lang::Es, "must have at least 10 characters, got 5"),
            "Debe tener al menos 10 caracteres."
        );
        assert_eq!(
            said_in(Lang::En, "must have 1 to 120 characters"),
            "Must have at most 120 characters."
        );
        assert_eq!(
            said_in(Lang::Es, "phone \"12\" must have 8 to 15 digits"),
            "Escriba un teléfono válido, con indicativo (+57…)."
        );
        assert_eq!(
            said_in(Lang::Es, "something new"),
            "Revise este campo: something new"
        );
    }
}
