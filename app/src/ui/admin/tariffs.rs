//! `/tariffs`: the price list, current or ended lines (every signed-in
//! user reads prices, as `GET /api/v1/tariffs`); supervisors and admins
//! add a line (`Managers`), admins end one (`Admins`). A line is never
//! edited: a new price is a new line and the old one is ended.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum_csrf::CsrfToken;
use paqueteria_core::domain::{Grams, Money, thousands};
use paqueteria_core::store::{NewTariff, TariffFilter};
use serde::Deserialize;

use crate::auth::{Admins, Everyone, Managers, Policy};
use crate::error::ApiError;
use crate::startup::AppState;
use crate::ui::format::{datetime, utc};
use crate::ui::forms::{Choice, FieldErrors, day_start, error_page, pesos, refused_unless};
use crate::ui::pages::{chrome, csrf_refused};
use crate::ui::{Chrome, Lang, UiUser};

/// Lines a page shows.
const PAGE_SIZE: u32 = 100;

/// `GET /tariffs` query: `current` is `yes` (default), `no` or `all`.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    current: String,
    #[serde(default)]
    page: Option<u32>,
}

/// A line as the list shows it.
struct Line {
    id: i64,
    package_type: String,
    zone: String,
    band: String,
    base_price: String,
    per_kg_price: String,
    grace: String,
    storage_fee: String,
    cod_fee: String,
    from: String,
    from_utc: String,
    to: String,
    to_utc: String,
    /// Open or ending later: an admin may end it now.
    endable: bool,
}

/// The new-line form's fields, as typed.
#[derive(Debug, Default, Deserialize)]
pub struct TariffForm {
    #[serde(default)]
    package_type: String,
    #[serde(default)]
    zone: String,
    #[serde(default)]
    min_grams: String,
    #[serde(default)]
    max_grams: String,
    #[serde(default)]
    base_price: String,
    #[serde(default)]
    per_kg_price: String,
    #[serde(default)]
    storage_grace_hours: String,
    #[serde(default)]
    storage_fee_per_day: String,
    #[serde(default)]
    cod_fee: String,
    #[serde(default)]
    valid_from: String,
    #[serde(default)]
    authenticity_token: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "tariffs.html")]
struct ListPage {
    chrome: Chrome,
    filters: Vec<Choice>,
    lines: Vec<Line>,
    total: String,
    previous: Option<String>,
    next: Option<String>,
    may_create: bool,
    may_end: bool,
    form: TariffForm,
    errors: FieldErrors,
}

/// The page: the lines `q` asks for, and the new-line form (with
/// `errors`) for those who may add one.
async fn page(
    s: &AppState,
    chrome: Chrome,
    user: &UiUser,
    q: &ListQuery,
    form: TariffForm,
    errors: FieldErrors,
) -> Result<ListPage, ApiError> {
    let lang = chrome.lang;
    let current = match q.current.as_str() {
        "no" => Some(false),
        "all" => None,
        _ => Some(true),
    };
    let page = q.page.unwrap_or(1).max(1);
    let found = s
        .store
        .tariffs(&TariffFilter {
            package_type: None,
            zone: None,
            current,
            page,
            page_size: PAGE_SIZE,
        })
        .await?;
    let tz = s.settings.time_zone;
    let now = s.store.clock().now_ms();
    let lines = found
        .items
        .iter()
        .map(|t| Line {
            id: t.id,
            package_type: t.package_type.clone(),
            zone: t.zone.clone(),
            band: format!(
                "{} – {} g",
                thousands(u64::from(t.min_grams.0)),
                thousands(u64::from(t.max_grams.0))
            ),
            base_price: t.base_price.to_string(),
            per_kg_price: t.per_kg_price.to_string(),
            grace: lang.t_with("tariffs.hours", "hours", &t.storage_grace_hours.to_string()),
            storage_fee: t.storage_fee_per_day.to_string(),
            cod_fee: t.cod_fee.to_string(),
            from: datetime(t.valid_from_ms, tz, lang),
            from_utc: utc(t.valid_from_ms),
            to: t
                .valid_to_ms
                .map_or_else(|| lang.t("tariffs.open"), |ms| datetime(ms, tz, lang)),
            to_utc: t.valid_to_ms.map(utc).unwrap_or_default(),
            endable: t.valid_to_ms.is_none_or(|ms| ms > now),
        })
        .collect();
    let which = match current {
        Some(true) => "yes",
        Some(false) => "no",
        None => "all",
    };
    let filters = ["yes", "no", "all"]
        .iter()
        .map(|v| {
            (
                (*v).to_owned(),
                lang.t(&format!("tariffs.current_{v}")),
                *v == which,
            )
        })
        .collect();
    let query = |p: u32| format!("current={which}&page={p}");
    Ok(ListPage {
        filters,
        lines,
        total: lang.t_with(
            "tariffs.total",
            "count",
            &thousands(found.total.unsigned_abs()),
        ),
        previous: (page > 1).then(|| query(page - 1)),
        next: (i64::from(page) * i64::from(PAGE_SIZE) < found.total).then(|| query(page + 1)),
        may_create: Managers::ROLES.contains(&user.0.role),
        may_end: Admins::ROLES.contains(&user.0.role),
        form,
        errors,
        chrome,
    })
}

/// `GET /tariffs`.
pub async fn list(
    State(s): State<AppState>,
    headers: HeaderMap,
    user: UiUser,
    csrf: CsrfToken,
    Query(q): Query<ListQuery>,
) -> Response {
    let chrome = chrome(&headers, Some(&user), &csrf);
    if let Some(refused) = refused_unless::<Everyone>(&chrome, &csrf, &user) {
        return refused;
    }
    let form = TariffForm {
        storage_grace_hours: "72".to_owned(),
        ..TariffForm::default()
    };
    match page(&s, chrome.clone(), &user, &q, form, FieldErrors::default()).await {
        Ok(p) => (csrf, p).into_response(),
        Err(e) => error_page(chrome, csrf, e),
    }
}

/// The line `f` asks for, or the fields it got wrong.
fn to_new(
    f: &TariffForm,
    now_ms: i64,
    tz: chrono_tz::Tz,
    lang: Lang,
) -> Result<NewTariff, FieldErrors> {
    let mut errors = FieldErrors::default();
    let mut grams = |field: &str, text: &str| {
        let digits: String = text.chars().filter(|c| !matches!(c, '.' | ' ')).collect();
        digits.parse::<u32>().map(Grams).unwrap_or_else(|_| {
            errors.add(lang, field, "forms.bad_number");
            Grams(0)
        })
    };
    let min_grams = grams("min_grams", &f.min_grams);
    let max_grams = grams("max_grams", &f.max_grams);
    let mut money = |field: &str, text: &str| {
        pesos(text).map(Money).unwrap_or_else(|| {
            errors.add(lang, field, "forms.bad_amount");
            Money(0)
        })
    };
    let base_price = money("base_price", &f.base_price);
    let per_kg_price = money("per_kg_price", &f.per_kg_price);
    let storage_fee_per_day = money("storage_fee_per_day", &f.storage_fee_per_day);
    let cod_fee = money("cod_fee", &f.cod_fee);
    let storage_grace_hours = f
        .storage_grace_hours
        .trim()
        .parse::<i64>()
        .unwrap_or_else(|_| {
            errors.add(lang, "storage_grace_hours", "forms.bad_number");
            0
        });
    let valid_from_ms = if f.valid_from.trim().is_empty() {
        now_ms
    } else {
        day_start(&f.valid_from, tz, 0).unwrap_or_else(|| {
            errors.add(lang, "valid_from", "forms.bad_date");
            now_ms
        })
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(NewTariff {
        package_type: f.package_type.trim().to_owned(),
        zone: f.zone.trim().to_owned(),
        min_grams,
        max_grams,
        base_price,
        per_kg_price,
        storage_grace_hours,
        storage_fee_per_day,
        cod_fee,
        valid_from_ms,
        valid_to_ms: None,
    })
}

/// `POST /tariffs`: adds a line as `POST /api/v1/tariffs` does
/// (supervisors and admins); 422 with the form and each field's message.
pub async fn create(
    State(s): State<AppState>,
    headers: HeaderMap,
    user: UiUser,
    csrf: CsrfToken,
    axum::Form(f): axum::Form<TariffForm>,
) -> Response {
    let chrome = chrome(&headers, Some(&user), &csrf);
    if let Some(refused) = refused_unless::<Managers>(&chrome, &csrf, &user) {
        return refused;
    }
    if csrf.verify(&f.authenticity_token).is_err() {
        return csrf_refused(chrome.lang);
    }
    let now = s.store.clock().now_ms();
    let errors = match to_new(&f, now, s.settings.time_zone, chrome.lang) {
        Ok(t) => match s.store.create_tariff(&t).await {
            Ok(_) => return Redirect::to("/tariffs").into_response(),
            Err(e) => match FieldErrors::from_api(e.into(), chrome.lang, |field| {
                (field == "valid_from_ms").then_some("valid_from")
            }) {
                Ok(errors) => errors,
                Err(e) => return error_page(chrome, csrf, e),
            },
        },
        Err(errors) => errors,
    };
    let q = ListQuery::default();
    match page(&s, chrome.clone(), &user, &q, f, errors).await {
        Ok(p) => (StatusCode::UNPROCESSABLE_ENTITY, csrf, p).into_response(),
        Err(e) => error_page(chrome, csrf, e),
    }
}

/// The end form's field.
#[derive(Debug, Deserialize)]
pub struct EndForm {
    #[serde(default)]
    authenticity_token: String,
}

/// `POST /tariffs/{id}/end`: ends the line now, as
/// `POST /api/v1/tariffs/{id}/end` does (admins).
pub async fn end(
    State(s): State<AppState>,
    headers: HeaderMap,
    user: UiUser,
    csrf: CsrfToken,
    Path(id): Path<i64>,
    axum::Form(f): axum::Form<EndForm>,
) -> Response {
    let chrome = chrome(&headers, Some(&user), &csrf);
    if let Some(refused) = refused_unless::<Admins>(&chrome, &csrf, &user) {
        return refused;
    }
    if csrf.verify(&f.authenticity_token).is_err() {
        return csrf_refused(chrome.lang);
    }
    match s.store.end_tariff(id, None).await {
        Ok(_) => Redirect::to("/tariffs?current=all").into_response(),
        Err(e) => error_page(chrome, csrf, e.into()),
    }
}
