//! Seeing ahead: what dispatch would do with a send, and when a client can
//! next be contacted. Both answer from the same decision dispatch takes, and
//! store nothing.

use actix_web::web::{Data, Path};
use actix_web::{HttpResponse, get, post};
use omnichannel_app::Services;
use omnichannel_domain::{DepartmentId, UserId};
use uuid::Uuid;

use crate::blocking::blocking;
use crate::dto::{NextSlotBody, NextSlotQuery, PreviewBody, SendCommunication};
use crate::extract::{JsonBody, QueryParams};
use crate::problem::{ApiError, Problem};

/// The decision dispatch would take for this send now (for a booking, at its
/// moment), counting it: send on which channel to which address, wait until
/// when and why, or fail why. Nothing is stored.
#[utoipa::path(
    tag = "communications",
    request_body = SendCommunication,
    responses(
        (status = 200, body = PreviewBody),
        (status = 422, body = Problem, description = "A field is invalid, or names no existing entry", content_type = "application/problem+json"),
    )
)]
#[post("/communications/preview")]
pub async fn preview_communication(
    services: Data<Services>,
    JsonBody(body): JsonBody<SendCommunication>,
) -> Result<HttpResponse, ApiError> {
    let preview = blocking(move || services.communications.preview(body.into())).await?;
    Ok(HttpResponse::Ok().json(PreviewBody::from(preview)))
}

/// The earliest moment at or after `after` when the client is available and
/// every rule of the department allows one more, counting sent, in-flight
/// and booked communications; `null` with why beyond the horizon.
#[utoipa::path(
    tag = "users",
    params(("id" = Uuid, Path), NextSlotQuery),
    responses(
        (status = 200, body = NextSlotBody),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, description = "A parameter is invalid, or the department does not exist", content_type = "application/problem+json"),
    )
)]
#[get("/users/{id}/next-slot")]
pub async fn next_slot(
    services: Data<Services>,
    id: Path<Uuid>,
    QueryParams(query): QueryParams<NextSlotQuery>,
) -> Result<HttpResponse, ApiError> {
    let user = UserId::from(id.into_inner());
    let department = DepartmentId::from(query.department_id);
    let slot = blocking(move || {
        services
            .communications
            .next_slot(user, department, query.after)
    })
    .await?;
    Ok(HttpResponse::Ok().json(NextSlotBody::from(slot)))
}
