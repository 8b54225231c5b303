//! The admin API, under `/api/admin/v1`.

use actix_web::web::ServiceConfig;
use utoipa::OpenApi;

use crate::routes::bulk;
use crate::routes::{
    communication_stats, communications, departments, dictionaries, foresight, operators, session,
    users,
};

/// The admin routes open to anyone: login, refresh and logout.
pub fn open_routes(cfg: &mut ServiceConfig) {
    cfg.service(session::login)
        .service(session::refresh)
        .service(session::logout);
}

/// The admin routes behind an operator's access token.
pub fn protected_routes(cfg: &mut ServiceConfig) {
    cfg.service(session::me)
        .service(session::change_password)
        .service(operators::list_operators)
        .service(operators::create_operator)
        .service(operators::delete_operator)
        .service(operators::create_api_key)
        .service(operators::list_api_keys)
        .service(operators::revoke_api_key)
        .service(users::list_users)
        .service(users::create_user)
        .service(users::get_user)
        .service(users::update_user)
        .service(users::delete_user)
        .service(foresight::next_slot)
        .service(users::get_availability)
        .service(users::put_availability)
        .service(dictionaries::list_types)
        .service(dictionaries::create_type)
        .service(dictionaries::get_type)
        .service(dictionaries::update_type)
        .service(dictionaries::delete_type)
        .service(dictionaries::list_sources)
        .service(dictionaries::create_source)
        .service(dictionaries::get_source)
        .service(dictionaries::update_source)
        .service(dictionaries::delete_source)
        .service(departments::list_departments)
        .service(departments::create_department)
        .service(departments::get_department)
        .service(departments::update_department)
        .service(departments::delete_department)
        .service(departments::list_favorites)
        .service(departments::replace_favorites)
        .service(departments::add_favorite)
        .service(departments::remove_favorite)
        .service(departments::list_rules)
        .service(departments::create_rule)
        .service(departments::get_rule)
        .service(departments::update_rule)
        .service(departments::delete_rule)
        .service(foresight::preview_communication)
        .service(communications::send_communication)
        .service(communications::list_communications)
        // Before `/communications/{id}`, which would take `stats` for an id.
        .service(communication_stats::communication_stats)
        .service(communications::get_communication)
        .service(communications::update_communication)
        .service(communications::cancel_communication)
        .service(communications::update_communication_status)
        .service(bulk::send_bulk_route())
        .service(bulk::get_batch);
}

#[derive(OpenApi)]
#[openapi(paths(
    session::login,
    session::refresh,
    session::logout,
    session::me,
    session::change_password,
    operators::list_operators,
    operators::create_operator,
    operators::delete_operator,
    operators::create_api_key,
    operators::list_api_keys,
    operators::revoke_api_key,
    users::list_users,
    users::create_user,
    users::get_user,
    users::update_user,
    users::delete_user,
    users::get_availability,
    users::put_availability,
    dictionaries::list_types,
    dictionaries::create_type,
    dictionaries::get_type,
    dictionaries::update_type,
    dictionaries::delete_type,
    dictionaries::list_sources,
    dictionaries::create_source,
    dictionaries::get_source,
    dictionaries::update_source,
    dictionaries::delete_source,
    departments::list_departments,
    departments::create_department,
    departments::get_department,
    departments::update_department,
    departments::delete_department,
    departments::list_favorites,
    departments::replace_favorites,
    departments::add_favorite,
    departments::remove_favorite,
    departments::list_rules,
    departments::create_rule,
    departments::get_rule,
    departments::update_rule,
    departments::delete_rule,
    foresight::preview_communication,
    foresight::next_slot,
    communications::send_communication,
    communications::list_communications,
    communication_stats::communication_stats,
    communications::get_communication,
    communications::update_communication,
    communications::cancel_communication,
    communications::update_communication_status,
    bulk::send_bulk,
    bulk::get_batch,
))]
pub struct AdminApi;
