//! The public API, under `/api/public/v1`, for other systems: the same use cases
//! as the admin API, behind an API key.

use actix_web::middleware::from_fn;
use actix_web::{Scope, web};
use utoipa::OpenApi;

use crate::admin::{departments, dictionaries, users};
use crate::auth::require_api_key;

pub fn scope() -> Scope<
    impl actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Response = actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    web::scope("/api/public/v1")
        .wrap(from_fn(require_api_key))
        .service(users::upsert_user)
        .service(users::create_user)
        .service(users::get_user)
        .service(users::update_user)
        .service(users::get_availability)
        .service(users::put_availability)
        .service(dictionaries::list_types)
        .service(dictionaries::list_sources)
        .service(departments::list_departments)
}

#[derive(OpenApi)]
#[openapi(paths(
    users::upsert_user,
    users::create_user,
    users::get_user,
    users::update_user,
    users::get_availability,
    users::put_availability,
    dictionaries::list_types,
    dictionaries::list_sources,
    departments::list_departments,
))]
pub struct PublicApi;
