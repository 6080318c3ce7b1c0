//! The OpenAPI 3 document (`/openapi.json`) and the interactive docs
//! (`/docs`, Swagger UI served from the binary, no CDN; `/redoc`, see
//! [`crate::redoc`]), generated from the handlers' annotations, with the
//! error answers every route shares filled in by [`ErrorAnswers`].

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
        routes::parcels::correct,
        routes::parcels::transition,
        routes::parcels::reissue_pin,
        routes::parcels::notifications,
        routes::parcels::payments,
        routes::payments::void,
        routes::track::track,
        routes::branches::list,
        routes::branches::create,
        routes::tariffs::create,
        routes::tariffs::quote,
        routes::tariffs::list,
        routes::tariffs::end,
        routes::customers::list,
        routes::customers::upsert,
        routes::customers::update,
        routes::users::me,
        routes::users::list,
        routes::users::create,
        routes::users::change_password,
        routes::users::reset_password,
        routes::users::update,
        routes::audit::list,
        routes::jobs::get,
        routes::jobs::list,
        routes::jobs::pause,
        routes::jobs::resume,
        routes::jobs::run_now,
        routes::jobs::cancel,
        routes::jobs::bulk,
        routes::jobs::queues,
        routes::jobs::workers,
        routes::jobs::dead,
        routes::jobs::retry,
        routes::jobs::discard,
        routes::job_actions::purge,
        routes::job_actions::duplicate,
        routes::schedule::list,
        routes::schedule::run_now,
        routes::reports::list,
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
    modifiers(&OAuth2Password, &QueryParams, &ErrorAnswers)
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

/// A parameter whose name is not in the route's path is a query parameter.
/// A `#[derive(IntoParams)]` query struct comes out as path parameters
/// unless it says `#[into_params(parameter_in = Query)]`; this puts every
/// such parameter where the route reads it, for every route present and
/// to come, so clients (and schemathesis) send it in the query string.
pub struct QueryParams;

impl Modify for QueryParams {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::RefOr;
        use utoipa::openapi::path::ParameterIn;

        for (template, item) in openapi.paths.paths.iter_mut() {
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for op in operations.into_iter().flatten() {
                for p in op.parameters.iter_mut().flatten() {
                    if let RefOr::T(p) = p
                        && matches!(p.parameter_in, ParameterIn::Path)
                        && !template.contains(&format!("{{{}}}", p.name))
                    {
                        p.parameter_in = ParameterIn::Query;
                    }
                }
            }
        }
    }
}

/// The error answers that come from what every route shares rather than
/// from its handler, listed on each route that can give them (a route's
/// own entry, when it has one, is kept): 422 with every invalid field where
/// it reads path parameters, a query or a body ([`crate::extract`]); 404
/// where its path names a resource; 413 where it reads a body (the body
/// limit); 401 and 403 where it needs a signed-in user ([`crate::auth`];
/// 403 also for a cookie-signed request from another origin). So no route
/// can forget one, and schemathesis checks every status against the list.
/// An answer a route lists without a description gets its status's name.
pub struct ErrorAnswers;

impl Modify for ErrorAnswers {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::path::ParameterIn;
        use utoipa::openapi::{Content, RefOr, Response};
        use utoipa::{PartialSchema, ToSchema};

        use crate::error::{ErrorBody, FieldError, ValidationBody};

        let components = openapi.components.get_or_insert_with(Default::default);
        for (name, schema) in [
            (ErrorBody::name(), ErrorBody::schema()),
            (ValidationBody::name(), ValidationBody::schema()),
            (FieldError::name(), FieldError::schema()),
        ] {
            components
                .schemas
                .entry(name.into_owned())
                .or_insert(schema);
        }
        let answer = |description: &str, body: std::borrow::Cow<'static, str>| {
            let mut r = Response::new(description);
            r.content.insert(
                "application/json".to_owned(),
                RefOr::T(Content::new(Some(utoipa::openapi::Ref::from_schema_name(
                    body,
                )))),
            );
            RefOr::T(r)
        };
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for op in operations.into_iter().flatten() {
                let params = op.parameters.as_deref().unwrap_or_default();
                let in_path = params.iter().any(
                    |p| matches!(p, RefOr::T(p) if matches!(p.parameter_in, ParameterIn::Path)),
                );
                let has_body = op.request_body.is_some();
                let signed_in = op.security.as_ref().is_some_and(|s| !s.is_empty());
                let mut add = |code: &str, description: &str, body| {
                    op.responses
                        .responses
                        .entry(code.to_owned())
                        .or_insert_with(|| answer(description, body));
                };
                if !params.is_empty() || has_body {
                    add(
                        "422",
                        "Invalid input: every invalid field in `detail`",
                        ValidationBody::name(),
                    );
                }
                if in_path {
                    add("404", "Not found", ErrorBody::name());
                }
                if has_body {
                    add("413", "The body is over the size limit", ErrorBody::name());
                }
                if signed_in {
                    add("401", "Not signed in", ErrorBody::name());
                    add("403", "Not allowed", ErrorBody::name());
                }
                // An answer listed without words gets its status's name, so
                // the docs never show a bare number.
                for (code, r) in op.responses.responses.iter_mut() {
                    if let RefOr::T(r) = r
                        && r.description.is_empty()
                    {
                        let reason = code
                            .parse::<u16>()
                            .ok()
                            .and_then(|c| axum::http::StatusCode::from_u16(c).ok())
                            .and_then(|c| c.canonical_reason());
                        r.description = reason.unwrap_or("Answer").to_owned();
                    }
                }
            }
        }
    }
}
