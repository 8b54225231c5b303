//! The actix-web adapter: routes, extractors, problem answers and the OpenAPI document.

use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::ServiceResponse;
use actix_web::http::header;
use actix_web::middleware::{ErrorHandlerResponse, ErrorHandlers, from_fn};
use actix_web::web::{self, Data, ServiceConfig};
use omnichannel_app::Services;

pub mod admin;
pub mod auth;
mod blocking;
pub mod console;
pub mod docs;
pub mod dto;
pub mod extract;
pub mod health;
pub mod idempotency;
pub mod metrics;
pub mod openapi;
pub mod problem;
pub mod public;
pub mod receipts;
mod respond;
pub mod routes;
mod unrouted;

pub use extract::BodyLimit;
pub use problem::ApiError;

/// Mounts every route; the server adds the outer middleware.
pub fn configure(services: Data<Services>) -> impl FnOnce(&mut ServiceConfig) {
    move |cfg| {
        cfg.app_data(services)
            .app_data(BodyLimit::DEFAULT)
            .app_data(web::PathConfig::default().error_handler(|_, _| ApiError::not_found().into()))
            .service(health::live)
            .service(health::ready)
            .service(health::openapi)
            .service(
                web::scope("/api/admin/v1")
                    .configure(admin::open_routes)
                    .service(
                        web::scope("")
                            .wrap(from_fn(auth::require_operator))
                            .configure(admin::protected_routes),
                    ),
            )
            .service(
                web::scope("/api/public/v1")
                    .wrap(from_fn(auth::require_api_key))
                    .configure(public::routes),
            )
            .service(receipts::twilio)
            .configure(docs::routes)
            .configure(console::routes)
            .default_service(web::to(unrouted::unrouted));
    }
}

/// Turns an error answer made outside our handlers (a method the route does not
/// have, a body actix refused) into a problem answer.
pub fn problem_fallback<B: MessageBody + 'static>() -> ErrorHandlers<B> {
    ErrorHandlers::new().default_handler(|response: ServiceResponse<B>| {
        let is_problem = response
            .headers()
            .get(header::CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes().starts_with(problem::CONTENT_TYPE.as_bytes()));
        if is_problem {
            return Ok(ErrorHandlerResponse::Response(
                response.map_into_left_body(),
            ));
        }
        let status = response.status();
        let detail = match status.as_u16() {
            404 => "The resource does not exist.",
            405 => "The resource does not support this method.",
            _ => "The request could not be served.",
        };
        let (request, _) = response.into_parts();
        let answer = ApiError::new(status, detail).error_answer();
        let response: ServiceResponse<EitherBody<B, BoxBody>> =
            ServiceResponse::new(request, answer).map_into_right_body();
        Ok(ErrorHandlerResponse::Response(response))
    })
}
