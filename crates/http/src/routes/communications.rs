//! Communications: send or book, follow, reschedule, cancel, and delivery receipts.

use actix_web::web::{Data, Path};
use actix_web::{HttpMessage, HttpRequest, HttpResponse, get, patch, post};
use omnichannel_app::communications::SendError;
use omnichannel_app::{Services, parse_page};
use omnichannel_domain::CommunicationId;
use uuid::Uuid;

use crate::auth::KeyToConfirm;
use crate::blocking::blocking;
use crate::dto::{
    CommunicationBody, CommunicationDetail, CommunicationFilterQuery, ListOf, PatchCommunication,
    SendCommunication, StatusUpdate,
};
use crate::extract::{JsonBody, QueryParams};
use crate::idempotency::IdempotentJson;
use crate::problem::{ApiError, ChangeConflict, Problem, SendConflict};
use crate::respond::accepted_in;

/// Send now, or book a moment: nothing is sent in the request. A send is
/// stored `not_sent` and queued; a booking is stored `booked` only if the
/// client is available then and every rule of the department still holds
/// with it counted.
///
/// With an `Idempotency-Key`, the same request (method, path and body, the
/// body compared with its members in any order) within 24 hours is answered
/// the first answer again, `2xx` or `4xx`, status, body and `Location`
/// unchanged, and creates nothing; a server error is not kept.
#[utoipa::path(
    tag = "communications",
    request_body = SendCommunication,
    params(
        ("Idempotency-Key" = Option<String>, Header, min_length = 1, max_length = 255,
            description = "1 to 255 characters of the caller's choice, its own (an operator's or an API key's): the same request with the same key within 24 hours gets the first answer again and creates nothing"),
    ),
    responses(
        (status = 202, body = CommunicationBody, headers(
            ("Location" = String),
            ("Idempotent-Replayed" = String, description = "`true` on a replay of the first answer to the key"),
        )),
        (status = 409, body = SendConflict, description = "The booking is refused at that moment (`BookingRefused`), or the first request with this Idempotency-Key is still in progress (`Problem`)", content_type = "application/problem+json"),
        (status = 422, body = Problem, description = "A field is invalid, or names no existing entry; or the Idempotency-Key is invalid, or was used with another request (`errors` names `Idempotency-Key`)", content_type = "application/problem+json"),
    )
)]
#[post("/communications")]
pub async fn send_communication(
    req: HttpRequest,
    services: Data<Services>,
    IdempotentJson(body, idempotency): IdempotentJson<SendCommunication>,
) -> Result<HttpResponse, ApiError> {
    let key = req.extensions().get::<KeyToConfirm>().map(|k| k.0);
    idempotency
        .run(&services.clone(), async move {
            let communication = blocking(move || {
                services
                    .communications
                    .send(body.into(), key)
                    .inspect_err(|error| {
                        if let (SendError::KeyRevoked, Some(key)) = (error, key) {
                            services.api_keys.forget(key);
                        }
                    })
            })
            .await?;
            Ok(accepted_in(
                &req,
                "communications",
                communication.id,
                CommunicationBody::from(communication),
            ))
        })
        .await
}

/// List communications, newest first; `from` and `to` apply to `communication_date`.
#[utoipa::path(
    tag = "communications",
    params(CommunicationFilterQuery),
    responses(
        (status = 200, body = ListOf<CommunicationBody>),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/communications")]
pub async fn list_communications(
    services: Data<Services>,
    QueryParams(query): QueryParams<CommunicationFilterQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = parse_page(query.limit, query.offset)?;
    let filters = query.filters();
    let paged = blocking(move || services.communications.list(filters, page)).await?;
    Ok(HttpResponse::Ok().json(ListOf::<CommunicationBody>::new(paged, page)))
}

/// A communication with its history.
#[utoipa::path(
    tag = "communications",
    params(("id" = Uuid, Path)),
    responses(
        (status = 200, body = CommunicationDetail),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/communications/{id}")]
pub async fn get_communication(
    services: Data<Services>,
    id: Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = CommunicationId::from(id.into_inner());
    let (communication, events) = blocking(move || services.communications.get(id)).await?;
    Ok(HttpResponse::Ok().json(CommunicationDetail::new(communication, events)))
}

/// Reschedule or edit a communication that is still `booked` or `not_sent`.
#[utoipa::path(
    tag = "communications",
    params(("id" = Uuid, Path)),
    request_body = PatchCommunication,
    responses(
        (status = 200, body = CommunicationBody),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = ChangeConflict, description = "The booking at the new date is refused, or the communication can no longer be changed", content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/communications/{id}")]
pub async fn update_communication(
    services: Data<Services>,
    id: Path<Uuid>,
    JsonBody(body): JsonBody<PatchCommunication>,
) -> Result<HttpResponse, ApiError> {
    let id = CommunicationId::from(id.into_inner());
    let communication = blocking(move || services.communications.update(id, body.into())).await?;
    Ok(HttpResponse::Ok().json(CommunicationBody::from(communication)))
}

/// Cancel a communication that is still `booked` or `not_sent`; cancelling a
/// cancelled one changes nothing. Any body is ignored.
#[utoipa::path(
    tag = "communications",
    params(("id" = Uuid, Path)),
    responses(
        (status = 200, body = CommunicationBody),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, description = "It is sent, failed or being sent", content_type = "application/problem+json"),
    )
)]
#[post("/communications/{id}/cancel")]
pub async fn cancel_communication(
    services: Data<Services>,
    id: Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = CommunicationId::from(id.into_inner());
    let communication = blocking(move || services.communications.cancel(id)).await?;
    Ok(HttpResponse::Ok().json(CommunicationBody::from(communication)))
}

/// A delivery receipt: sent → delivered, read or failed; delivered → read or
/// failed. The current status again changes nothing.
#[utoipa::path(
    tag = "communications",
    params(("id" = Uuid, Path)),
    request_body = StatusUpdate,
    responses(
        (status = 200, body = CommunicationBody),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, description = "The life-cycle has no such move", content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/communications/{id}/status")]
pub async fn update_communication_status(
    services: Data<Services>,
    id: Path<Uuid>,
    JsonBody(body): JsonBody<StatusUpdate>,
) -> Result<HttpResponse, ApiError> {
    let id = CommunicationId::from(id.into_inner());
    let communication = blocking(move || {
        services
            .communications
            .update_status(id, &body.status, body.detail)
    })
    .await?;
    Ok(HttpResponse::Ok().json(CommunicationBody::from(communication)))
}
