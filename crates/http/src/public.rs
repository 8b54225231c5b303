//! The public API, under `/api/public/v1`, for other systems: the same use cases
//! as the admin API, behind an API key.

use actix_web::web::ServiceConfig;
use utoipa::OpenApi;

use crate::routes::bulk;
use crate::routes::{communications, departments, dictionaries, foresight, users};

/// The public routes; the API key check wraps them.
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(users::upsert_user)
        .service(users::create_user)
        .service(users::get_user)
        .service(users::update_user)
        .service(foresight::next_slot)
        .service(users::get_availability)
        .service(users::put_availability)
        .service(dictionaries::list_types)
        .service(dictionaries::list_sources)
        .service(departments::list_departments)
        .service(foresight::preview_communication)
        .service(communications::send_communication)
        .service(communications::list_communications)
        .service(communications::get_communication)
        .service(communications::cancel_communication)
        .service(communications::update_communication_status)
        .service(bulk::send_bulk_route())
        .service(bulk::get_batch);
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
    foresight::preview_communication,
    foresight::next_slot,
    communications::send_communication,
    communications::list_communications,
    communications::get_communication,
    communications::cancel_communication,
    communications::update_communication_status,
    bulk::send_bulk,
    bulk::get_batch,
))]
pub struct PublicApi;
