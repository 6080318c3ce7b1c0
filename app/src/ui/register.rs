//! Registering a parcel at the counter: the customers looked up by phone
//! as their number is typed, the price quoted before saving, every
//! mistake named next to its field, and the tracking code and pickup PIN
//! shown once, with the printable label.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum_csrf::CsrfToken;
use paqueteria_core::domain::{Grams, Money, Phone, Role, Service};
use paqueteria_core::store::{Branch, NewCustomer, NewParcel, StoreError, TariffFilter};
use serde::Deserialize;

use super::forms::{FieldErrors as Errors, said_in};
use super::pages::chrome;
use super::refusal::{from_api, refused};
use super::{Chrome, Lang, UiUser};
use crate::auth::Staff;
use crate::error::ApiError;
use crate::startup::AppState;

/// The registration form as the browser sends it: every field text, read
/// and judged here so that each mistake is named next to its field.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct RegisterForm {
    authenticity_token: String,
    sender_phone: String,
    sender_name: String,
    sender_email: String,
    sender_document: String,
    sender_address: String,
    recipient_phone: String,
    recipient_name: String,
    recipient_email: String,
    recipient_document: String,
    origin_branch_id: String,
    destination_branch_id: String,
    service: String,
    delivery_address: String,
    package_type: String,
    zone: String,
    weight_grams: String,
    length_mm: String,
    width_mm: String,
    height_mm: String,
    declared_value: String,
    cod_amount: String,
}

/// A choice of a `<select>`: value, label.
type Choice = (String, String);

#[derive(Template, WebTemplate)]
#[template(path = "register.html")]
struct RegisterPage {
    chrome: Chrome,
    form: RegisterForm,
    errors: Errors,
    /// The staff member's own branch (fixed), or none for an admin, who
    /// chooses.
    own_branch: Option<Choice>,
    branches: Vec<Choice>,
    package_types: Vec<String>,
    zones: Vec<String>,
    quote: Quote,
}

#[derive(Template, WebTemplate)]
#[template(path = "register_done.html")]
struct DonePage {
    chrome: Chrome,
    id: i64,
    code: String,
    /// Shown once: `None` once the page was seen (or on another browser).
    pin: Option<String>,
    quoted: String,
    route: String,
}

/// The price line under the form.
#[derive(Clone, Debug, Default)]
struct Quote {
    /// "$ 12.500", when a tariff matches.
    amount: Option<String>,
    /// Why there is no price yet.
    note: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "register_quote.html")]
struct QuotePart {
    chrome: Chrome,
    quote: Quote,
}

/// The answer to a phone lookup: who the number is, and the fields a
/// known customer fills (those still empty; what was typed stays).
#[derive(Template, WebTemplate)]
#[template(path = "register_lookup.html")]
struct LookupPart {
    party: &'static str,
    /// "Cliente conocido: …" or "Cliente nuevo…", or nothing.
    known: Option<String>,
    /// Inputs to fill: id, value, type.
    fills: Vec<(&'static str, String, &'static str)>,
    errors: Errors,
}

/// A phone as the counter types it: E.164, or a Colombian number without
/// its country code (`300 123 4567` → `+573001234567`).
fn counter_phone(raw: &str) -> Result<Phone, String> {
    let t = raw.trim();
    if t.starts_with('+') {
        Phone::parse(t)
    } else {
        Phone::parse(&format!("+57{t}"))
    }
}

/// Pesos as typed (`12.500`, `$ 12 500`) in minor units; empty is zero.
fn pesos(raw: &str) -> Option<Money> {
    if raw.trim().is_empty() {
        return Some(Money::ZERO);
    }
    super::forms::pesos(raw).map(Money)
}

/// A whole number as typed (`1.500`); empty is `None`.
fn number(raw: &str) -> Option<Result<i64, ()>> {
    let digits: String = raw.chars().filter(|c| !matches!(c, '.' | ' ')).collect();
    if digits.is_empty() {
        return None;
    }
    Some(digits.parse::<i64>().map_err(|_| ()))
}

/// The staff member's branch for the form (`None` for an admin).
fn own_branch(user: &UiUser, branches: &[Branch]) -> Option<Choice> {
    if user.0.role == Role::Admin {
        return None;
    }
    let id = user.0.branch_id?;
    let name = branches
        .iter()
        .find(|b| b.id == id)
        .map_or_else(|| id.to_string(), |b| b.name.clone());
    Some((id.to_string(), name))
}

/// The form's page, with `form`'s values and `errors`.
async fn page(
    s: &AppState,
    chrome: Chrome,
    user: &UiUser,
    form: RegisterForm,
    errors: Errors,
) -> Result<RegisterPage, ApiError> {
    let branches = s.store.branches().await?;
    let tariffs = s
        .store
        .tariffs(&TariffFilter {
            package_type: None,
            zone: None,
            current: Some(true),
            page: 1,
            page_size: 500,
        })
        .await?;
    let mut package_types: Vec<String> = tariffs
        .items
        .iter()
        .map(|t| t.package_type.clone())
        .collect();
    package_types.sort();
    package_types.dedup();
    let mut zones: Vec<String> = tariffs.items.iter().map(|t| t.zone.clone()).collect();
    zones.sort();
    zones.dedup();
    let quote = quote_of(s, chrome.lang, &form).await;
    Ok(RegisterPage {
        own_branch: own_branch(user, &branches),
        branches: branches
            .iter()
            .filter(|b| b.active)
            .map(|b| (b.id.to_string(), b.name.clone()))
            .collect(),
        package_types,
        zones,
        quote,
        chrome,
        form,
        errors,
    })
}

/// `GET /parcels/new`: the empty form, for those who may register.
pub async fn new(
    State(s): State<AppState>,
    headers: HeaderMap,
    user: UiUser,
    csrf: CsrfToken,
) -> Response {
    let chrome = chrome(&headers, Some(&user), &csrf);
    if !user.may::<Staff>() {
        let msg = chrome.t("errors.forbidden");
        return refused(chrome, StatusCode::FORBIDDEN, msg);
    }
    let form = RegisterForm {
        service: "branch_pickup".to_owned(),
        ..RegisterForm::default()
    };
    match page(&s, chrome.clone(), &user, form, Errors::default()).await {
        Ok(p) => (csrf, p).into_response(),
        Err(e) => from_api(chrome, e),
    }
}

/// `GET /parcels/new/customer?party=sender&sender_phone=…`: who the
/// phone belongs to; a known customer's details fill the party's empty
/// fields (htmx out-of-band swaps).
pub async fn lookup(
    State(s): State<AppState>,
    headers: HeaderMap,
    user: UiUser,
    csrf: CsrfToken,
    Query(form): Query<RegisterForm>,
    Query(which): Query<Party>,
) -> Response {
    let chrome = chrome(&headers, Some(&user), &csrf);
    if !user.may::<Staff>() {
        let msg = chrome.t("errors.forbidden");
        return refused(chrome, StatusCode::FORBIDDEN, msg);
    }
    let lang = chrome.lang;
    let sender = which.party != "recipient";
    let (party, raw) = if sender {
        ("sender", &form.sender_phone)
    } else {
        ("recipient", &form.recipient_phone)
    };
    let mut known = None;
    let mut fills = Vec::new();
    match counter_phone(raw) {
        Err(_) if raw.trim().is_empty() => {}
        Err(_) => known = Some(lang.t("register.bad_phone")),
        Ok(phone) => match s.store.customer_by_phone(&phone).await {
            Ok(Some(c)) => {
                known = Some(lang.t_with("register.known", "name", &c.name));
                let typed = if sender {
                    [
                        ("sender_name", &form.sender_name, c.name, "text"),
                        (
                            "sender_email",
                            &form.sender_email,
                            c.email.unwrap_or_default(),
                            "email",
                        ),
                        (
                            "sender_document",
                            &form.sender_document,
                            c.document.unwrap_or_default(),
                            "text",
                        ),
                        ("sender_address", &form.sender_address, c.address, "text"),
                    ]
                } else {
                    [
                        ("recipient_name", &form.recipient_name, c.name, "text"),
                        (
                            "recipient_email",
                            &form.recipient_email,
                            c.email.unwrap_or_default(),
                            "email",
                        ),
                        (
                            "recipient_document",
                            &form.recipient_document,
                            c.document.unwrap_or_default(),
                            "text",
                        ),
                        (
                            "delivery_address",
                            &form.delivery_address,
                            c.address,
                            "text",
                        ),
                    ]
                };
                fills = typed
                    .into_iter()
                    .filter(|(_, now, known, _)| now.trim().is_empty() && !known.is_empty())
                    .map(|(id, _, value, kind)| (id, value, kind))
                    .collect();
            }
            Ok(None) => known = Some(lang.t("register.new_customer")),
            Err(e) => return from_api(chrome, e.into()),
        },
    }
    LookupPart {
        party,
        known,
        fills,
        errors: Errors::default(),
    }
    .into_response()
}

/// Which party the lookup is for.
#[derive(Debug, Default, Deserialize)]
pub struct Party {
    #[serde(default)]
    party: String,
}

/// The price of what the form says, or why there is none yet.
async fn quote_of(s: &AppState, lang: Lang, f: &RegisterForm) -> Quote {
    let weight = number(&f.weight_grams).and_then(Result::ok).unwrap_or(0);
    let cod = pesos(&f.cod_amount).unwrap_or(Money::ZERO);
    if f.package_type.is_empty() || f.zone.is_empty() || weight <= 0 {
        return Quote {
            amount: None,
            note: lang.t("register.quote_needs"),
        };
    }
    let grams = Grams(u32::try_from(weight).unwrap_or(u32::MAX));
    match s.store.find_tariff(&f.package_type, &f.zone, grams).await {
        Ok(Some(t)) => Quote {
            amount: Some(t.quote(grams, cod.max(Money::ZERO)).to_string()),
            note: String::new(),
        },
        Ok(None) => Quote {
            amount: None,
            note: lang.t("register.no_tariff"),
        },
        Err(_) => Quote {
            amount: None,
            note: lang.t("errors.unavailable"),
        },
    }
}

/// `GET /parcels/new/quote?…`: the price line for the form as it stands.
pub async fn quote(
    State(s): State<AppState>,
    headers: HeaderMap,
    user: UiUser,
    csrf: CsrfToken,
    Query(form): Query<RegisterForm>,
) -> Response {
    let chrome = chrome(&headers, Some(&user), &csrf);
    let quote = quote_of(&s, chrome.lang, &form).await;
    QuotePart { chrome, quote }.into_response()
}

/// Reads the form into a registration, or names every mistake.
fn read(form: &RegisterForm, user: &UiUser, lang: Lang) -> Result<NewParcel, Errors> {
    let mut errors = Errors::default();
    let mut phone = |field: &'static str, raw: &str| match counter_phone(raw) {
        Ok(p) => Some(p),
        Err(_) => {
            errors.add_text(
                field,
                lang.t(if raw.trim().is_empty() {
                    "register.required"
                } else {
                    "register.bad_phone"
                }),
            );
            None
        }
    };
    let sender_phone = phone("sender_phone", &form.sender_phone);
    let recipient_phone = phone("recipient_phone", &form.recipient_phone);
    for (field, value) in [
        ("sender_name", &form.sender_name),
        ("recipient_name", &form.recipient_name),
        ("package_type", &form.package_type),
        ("zone", &form.zone),
    ] {
        if value.trim().is_empty() {
            errors.add_text(field, lang.t("register.required"));
        }
    }
    let service = match form.service.as_str() {
        "home_delivery" => Service::HomeDelivery,
        _ => Service::BranchPickup,
    };
    if service == Service::HomeDelivery && form.delivery_address.trim().is_empty() {
        errors.add_text("delivery_address", lang.t("register.address_needed"));
    }
    let origin = if user.0.role == Role::Admin {
        form.origin_branch_id.parse::<i64>().ok()
    } else {
        user.0.branch_id
    };
    if origin.is_none() {
        errors.add_text("origin_branch_id", lang.t("register.required"));
    }
    let destination = form.destination_branch_id.parse::<i64>().ok();
    if destination.is_none() {
        errors.add_text("destination_branch_id", lang.t("register.required"));
    }
    let weight = match number(&form.weight_grams) {
        Some(Ok(w)) if w > 0 && w <= i64::from(u32::MAX) => u32::try_from(w).ok(),
        None => {
            errors.add_text("weight_grams", lang.t("register.required"));
            None
        }
        _ => {
            errors.add_text("weight_grams", lang.t("register.bad_weight"));
            None
        }
    };
    let mut dims = [0i64; 3];
    for (i, (field, raw)) in [
        ("length_mm", &form.length_mm),
        ("width_mm", &form.width_mm),
        ("height_mm", &form.height_mm),
    ]
    .into_iter()
    .enumerate()
    {
        match number(raw) {
            None => {}
            Some(Ok(v)) if v >= 0 => dims[i] = v,
            Some(_) => {
                errors.add_text(field, lang.t("register.bad_number"));
            }
        }
    }
    let mut money = |field: &'static str, raw: &str| match pesos(raw) {
        Some(m) if m >= Money::ZERO => m,
        _ => {
            errors.add_text(field, lang.t("register.bad_money"));
            Money::ZERO
        }
    };
    let declared = money("declared_value", &form.declared_value);
    let cod = money("cod_amount", &form.cod_amount);
    let optional = |s: &str| Some(s.trim().to_owned()).filter(|t| !t.is_empty());
    match (sender_phone, recipient_phone, origin, destination, weight) {
        (Some(sp), Some(rp), Some(origin), Some(destination), Some(weight))
            if errors.is_empty() =>
        {
            Ok(NewParcel {
                sender: NewCustomer {
                    phone: sp,
                    name: form.sender_name.trim().to_owned(),
                    email: optional(&form.sender_email),
                    document: optional(&form.sender_document),
                    address: form.sender_address.trim().to_owned(),
                },
                recipient: NewCustomer {
                    phone: rp,
                    name: form.recipient_name.trim().to_owned(),
                    email: optional(&form.recipient_email),
                    document: optional(&form.recipient_document),
                    address: form.delivery_address.trim().to_owned(),
                },
                origin_branch_id: origin,
                destination_branch_id: destination,
                service,
                delivery_address: if service == Service::HomeDelivery {
                    form.delivery_address.trim().to_owned()
                } else {
                    String::new()
                },
                package_type: form.package_type.clone(),
                zone: form.zone.clone(),
                weight: Grams(weight),
                dimensions_mm: dims,
                declared_value: declared,
                cod_amount: cod,
            })
        }
        _ => Err(errors),
    }
}

/// The form field of a store rule's field path (`sender.name` →
/// `sender_name`), when the form has one.
fn form_field(path: &str) -> &'static str {
    const FIELDS: [&str; 20] = [
        "sender_phone",
        "sender_name",
        "sender_email",
        "sender_document",
        "sender_address",
        "recipient_phone",
        "recipient_name",
        "recipient_email",
        "recipient_document",
        "origin_branch_id",
        "destination_branch_id",
        "service",
        "delivery_address",
        "package_type",
        "zone",
        "weight_grams",
        "declared_value",
        "cod_amount",
        "length_mm",
        "width_mm",
    ];
    let wanted = path.replace('.', "_");
    let wanted = match wanted.as_str() {
        "weight" => "weight_grams",
        "dimensions_mm" => "length_mm",
        "recipient_address" => "delivery_address",
        other => other,
    };
    FIELDS
        .into_iter()
        .find(|f| *f == wanted)
        .unwrap_or("package_type")
}

/// `POST /parcels/new`: registers the parcel and shows its code and PIN
/// (once); a form with mistakes comes back (422) with each one named.
pub async fn create(
    State(s): State<AppState>,
    headers: HeaderMap,
    user: UiUser,
    csrf: CsrfToken,
    axum::Form(form): axum::Form<RegisterForm>,
) -> Response {
    let chrome = chrome(&headers, Some(&user), &csrf);
    let lang = chrome.lang;
    if csrf.verify(&form.authenticity_token).is_err() {
        let msg = lang.t("errors.csrf");
        return refused(chrome, StatusCode::FORBIDDEN, msg);
    }
    if !user.may::<Staff>() {
        let msg = lang.t("errors.forbidden");
        return refused(chrome, StatusCode::FORBIDDEN, msg);
    }
    let errors = match read(&form, &user, lang) {
        Ok(new) => {
            let actor = crate::routes::parcels::actor(&user.0);
            match s.store.register_parcel(&new, &actor).await {
                Ok(r) => {
                    s.outbox_kick.notify_one();
                    // Post, redirect, get: the code and PIN travel in an
                    // encrypted one-time cookie to the page that shows them,
                    // so a reload or Back never registers the parcel again.
                    let id = r.parcel.id;
                    let mut jar = cookie::CookieJar::new();
                    jar.private_mut(&s.flash_key).add(
                        cookie::Cookie::build((PIN_COOKIE, format!("{id}:{}", r.pickup_pin)))
                            .path(format!("/parcels/{id}/registered"))
                            .http_only(true)
                            .same_site(cookie::SameSite::Strict)
                            .max_age(cookie::time::Duration::minutes(10))
                            .secure(crate::routes::auth::over_https(&headers)),
                    );
                    let set: Vec<_> = jar
                        .delta()
                        .map(|c| (axum::http::header::SET_COOKIE, c.encoded().to_string()))
                        .collect();
                    return (
                        axum::response::AppendHeaders(set),
                        axum::response::Redirect::to(&format!("/parcels/{id}/registered")),
                    )
                        .into_response();
                }
                Err(StoreError::Fields(problems)) => {
                    let mut errors = Errors::default();
                    for (path, msg) in problems {
                        errors.add_text(form_field(&path), said_in(lang, &msg));
                    }
                    errors
                }
                Err(StoreError::Invalid { field, message }) => {
                    let mut errors = Errors::default();
                    errors.add_text(form_field(field), said_in(lang, &message));
                    errors
                }
                Err(StoreError::Forbidden(_)) => {
                    let mut errors = Errors::default();
                    errors.add_text("destination_branch_id", lang.t("register.not_your_branch"));
                    errors
                }
                Err(e) => return from_api(chrome, e.into()),
            }
        }
        Err(errors) => errors,
    };
    match page(&s, chrome.clone(), &user, form, errors).await {
        Ok(p) => (StatusCode::UNPROCESSABLE_ENTITY, csrf, p).into_response(),
        Err(e) => from_api(chrome, e),
    }
}

/// The one-time cookie that takes a new parcel's PIN to its page.
const PIN_COOKIE: &str = "paq_new_pin";

/// `GET /parcels/{id}/registered`: the new parcel's code and, the first
/// time only, its pickup PIN (from the one-time cookie, then cleared), with
/// the label. Seen again, the page says the PIN was already shown.
pub async fn registered(
    State(s): State<AppState>,
    headers: HeaderMap,
    user: UiUser,
    csrf: CsrfToken,
    axum::extract::Path(id): axum::extract::Path<i64>,
) -> Response {
    let chrome = chrome(&headers, Some(&user), &csrf);
    let parcel = match crate::routes::parcels::visible_parcel(&s, &user.0, id).await {
        Ok(p) => p,
        Err(e) => return from_api(chrome, e),
    };
    let mut jar = cookie::CookieJar::new();
    for c in headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(cookie::Cookie::split_parse_encoded)
        .flatten()
    {
        jar.add_original(c.into_owned());
    }
    let pin = jar.private(&s.flash_key).get(PIN_COOKIE).and_then(|c| {
        let (for_id, pin) = c.value().split_once(':')?;
        (for_id == id.to_string()).then(|| pin.to_owned())
    });
    let clear = cookie::Cookie::build((PIN_COOKIE, ""))
        .path(format!("/parcels/{id}/registered"))
        .max_age(cookie::time::Duration::ZERO)
        .build()
        .to_string();
    let names = s.store.branches().await.unwrap_or_default();
    let name_of = |id: i64| {
        names
            .iter()
            .find(|b| b.id == id)
            .map_or_else(|| id.to_string(), |b| b.name.clone())
    };
    let page = DonePage {
        id,
        code: parcel.tracking_code.as_str().to_owned(),
        pin,
        quoted: parcel.quoted_amount.to_string(),
        route: format!(
            "{} → {}",
            name_of(parcel.origin_branch_id),
            name_of(parcel.destination_branch_id)
        ),
        chrome,
    };
    ([(axum::http::header::SET_COOKIE, clear)], csrf, page).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counter_phones_and_pesos_read_as_staff_type_them() {
        assert_eq!(
            counter_phone("300 123 4567").map(|p| p.as_str().to_owned()),
            Ok("+573001234567".to_owned())
        );
        assert_eq!(
            counter_phone("+1 (415) 555-0100").map(|p| p.as_str().to_owned()),
            Ok("+14155550100".to_owned())
        );
        assert!(counter_phone("12").is_err());
        assert_eq!(pesos("12.500"), Some(Money(1_250_000)));
        assert_eq!(pesos("$ 12 500"), Some(Money(1_250_000)));
        assert_eq!(pesos(""), Some(Money::ZERO));
        assert_eq!(pesos("12,5"), None);
        assert_eq!(form_field("sender.name"), "sender_name");
        assert_eq!(form_field("weight"), "weight_grams");
    }
}
