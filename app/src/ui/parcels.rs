//! The parcel list with its search and filters (results as you type,
//! through htmx).

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum_csrf::CsrfToken;
use paqueteria_core::domain::{ParcelStatus, Role, thousands};
use paqueteria_core::store::ParcelFilter;
use serde::Deserialize;

use super::format::{datetime, utc};
use super::pages::chrome;
use super::{Chrome, UiUser};
use crate::error::ApiError;
use crate::startup::AppState;

/// Rows a page shows.
const PAGE_SIZE: u32 = 50;

/// `GET /parcels` query: the list's search box and filters, as the API
/// takes them. Empty fields (a form sends them) mean no filter.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    branch_id: String,
    #[serde(default)]
    page: Option<u32>,
}

/// One row of the list.
struct Row {
    id: i64,
    code: String,
    status: String,
    route: String,
    service: String,
    registered: String,
    registered_utc: String,
}

/// A choice of a filter's `<select>`: value, label, selected.
type Choice = (String, String, bool);

#[derive(Template, WebTemplate)]
#[template(path = "parcels.html")]
struct ListPage {
    chrome: Chrome,
    q: String,
    statuses: Vec<Choice>,
    branches: Vec<Choice>,
    results: Results,
}

/// The results part of the list, also answered alone to htmx.
struct Results {
    rows: Vec<Row>,
    /// "50 envíos" or "Más de 1.000 envíos".
    total: String,
    /// "Página 2".
    page_label: String,
    /// The query of the previous and next pages, when there are.
    previous: Option<String>,
    next: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "parcels_results.html")]
struct ResultsPart {
    chrome: Chrome,
    results: Results,
}

/// The page's query with another page number.
fn query_for(q: &ListQuery, page: u32) -> String {
    form_urlencoded::Serializer::new(String::new())
        .append_pair("q", &q.q)
        .append_pair("status", &q.status)
        .append_pair("branch_id", &q.branch_id)
        .append_pair("page", &page.to_string())
        .finish()
}

/// `GET /parcels`: the whole page, or with `HX-Request` (the search box
/// as one types) its results alone.
pub async fn list(
    State(s): State<AppState>,
    headers: HeaderMap,
    user: UiUser,
    csrf: CsrfToken,
    axum_htmx::HxRequest(partial): axum_htmx::HxRequest,
    Query(q): Query<ListQuery>,
) -> Response {
    let chrome = chrome(&headers, Some(&user), &csrf);
    let lang = chrome.lang;
    let status = ParcelStatus::ALL
        .into_iter()
        .find(|st| st.as_str() == q.status);
    let asked_branch = q.branch_id.parse::<i64>().ok();
    // The API's rule: staff list their own branch, admins any or all.
    let branch_id = match crate::routes::parcels::list_branch(&user.0, asked_branch) {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let page = q.page.unwrap_or(1).max(1);
    let found = s
        .store
        .list_parcels(&ParcelFilter {
            status,
            branch_id,
            q: Some(q.q.trim().to_owned()).filter(|t| !t.is_empty()),
            page,
            page_size: PAGE_SIZE,
        })
        .await;
    let (found, branches) = match (found, s.store.branches().await) {
        (Ok(f), Ok(b)) => (f, b),
        (Err(e), _) | (_, Err(e)) => return ApiError::from(e).into_response(),
    };
    let name_of = |id: i64| branch_name(&branches, id);
    let tz = s.settings.time_zone;
    let rows = found
        .items
        .iter()
        .filter_map(|item| item.parcel().ok())
        .map(|p| Row {
            id: p.id,
            code: p.tracking_code.as_str().to_owned(),
            status: lang.t(&format!("status.{}", p.status.as_str())),
            route: format!(
                "{} → {}",
                name_of(p.origin_branch_id),
                name_of(p.destination_branch_id)
            ),
            service: lang.t(&format!("services.{}", service_key(p.service))),
            registered: datetime(p.created_at_ms, tz, lang),
            registered_utc: utc(p.created_at_ms),
        })
        .collect();
    let count = thousands(found.total.unsigned_abs());
    let results = Results {
        rows,
        total: if found.total_exact && found.total == 1 {
            lang.t("parcels.total_one")
        } else if found.total_exact {
            lang.t_with("parcels.total", "count", &count)
        } else {
            lang.t_with("parcels.total_more", "count", &count)
        },
        page_label: lang.t_with("parcels.page", "page", &page.to_string()),
        previous: (page > 1).then(|| query_for(&q, page - 1)),
        next: (i64::from(page) * i64::from(PAGE_SIZE) < found.total)
            .then(|| query_for(&q, page + 1)),
    };
    if partial {
        return ResultsPart { chrome, results }.into_response();
    }
    let statuses = ParcelStatus::ALL
        .iter()
        .map(|st| {
            (
                st.as_str().to_owned(),
                lang.t(&format!("status.{}", st.as_str())),
                Some(*st) == status,
            )
        })
        .collect();
    // Only admins choose a branch; everyone else sees their own.
    let branches = if user.0.role == Role::Admin {
        branches
            .iter()
            .map(|b| (b.id.to_string(), b.name.clone(), Some(b.id) == branch_id))
            .collect()
    } else {
        Vec::new()
    };
    let page = ListPage {
        chrome,
        q: q.q,
        statuses,
        branches,
        results,
    };
    (csrf, page).into_response()
}

/// Branch `id`'s name (its number if it is gone).
fn branch_name(branches: &[paqueteria_core::store::Branch], id: i64) -> String {
    branches
        .iter()
        .find(|b| b.id == id)
        .map_or_else(|| id.to_string(), |b| b.name.clone())
}

/// The catalog key of a service (`services.…`).
pub(super) fn service_key(s: paqueteria_core::domain::Service) -> &'static str {
    match s {
        paqueteria_core::domain::Service::BranchPickup => "branch_pickup",
        paqueteria_core::domain::Service::HomeDelivery => "home_delivery",
    }
}
