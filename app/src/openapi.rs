//! The OpenAPI 3 document (`/openapi.json`) and the interactive docs
//! (`/docs`, Swagger UI served from the binary, no CDN), generated from the
//! handlers' annotations.

use utoipa::openapi::security::{Flow, OAuth2, Password, Scopes, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::routes;

/// The API document.
#[derive(OpenApi)]
#[openapi(
    info(title = "Paquetería API", description = "Parcel reception, tracking and delivery."),
    paths(
        routes::health::live,
        routes::health::ready,
        routes::auth::token,
        routes::auth::session,
        routes::auth::logout,
        routes::parcels::list,
        routes::parcels::create,
        routes::parcels::get,
        routes::parcels::transition,
        routes::track::track,
        routes::branches::list,
        routes::branches::create,
        routes::tariffs::create,
        routes::tariffs::quote,
        routes::customers::by_phone,
        routes::customers::upsert,
        routes::users::me,
        routes::users::list,
        routes::users::create,
        routes::jobs::get,
        routes::jobs::queues,
        routes::jobs::dead,
        routes::jobs::retry,
        routes::jobs::discard,
        routes::reports::request,
        routes::reports::get,
        routes::reports::download,
        routes::attachments::upload,
        routes::attachments::list,
        routes::attachments::download,
        routes::attachments::thumbnail,
        routes::outbox::list,
        routes::dashboard::get,
    ),
    modifiers(&OAuth2Password)
)]
pub struct ApiDoc;

/// The OAuth2 password flow of `POST /api/v1/auth/token`, so the docs'
/// "Authorize" button signs in like FastAPI's.
struct OAuth2Password;

impl Modify for OAuth2Password {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "oauth2",
            SecurityScheme::OAuth2(OAuth2::new([Flow::Password(Password::new(
                "/api/v1/auth/token",
                Scopes::new(),
            ))])),
        );
    }
}
