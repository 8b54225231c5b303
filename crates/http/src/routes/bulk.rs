//! Mass communications: a bulk send or booking, and a batch's progress.

use actix_web::web::{self, Data, Path};
use actix_web::{HttpRequest, HttpResponse, Resource, get};
use omnichannel_app::Services;
use omnichannel_domain::BatchId;
use uuid::Uuid;

use crate::blocking::blocking;
use crate::dto::{BatchBody, BulkAccepted, SendBulk};
use crate::extract::BodyLimit;
use crate::idempotency::IdempotentJson;
use crate::problem::{ApiError, Problem};
use crate::respond::accepted_in;

/// The largest body of a bulk: 10 000 ids and a long message fit well.
pub const BULK_BODY_LIMIT: BodyLimit = BodyLimit(16 * 1024 * 1024);

/// `POST /communications/bulk`, the one route that takes bodies up to
/// [`BULK_BODY_LIMIT`]; every other keeps the default.
pub fn send_bulk_route() -> Resource {
    web::resource("/communications/bulk")
        .app_data(BULK_BODY_LIMIT)
        .route(web::post().to(send_bulk))
}

/// Send to, or book, up to 10 000 clients at once: one communication each,
/// all sharing a new `batch_id`. A send stores every known client's
/// communication `not_sent` and queues it; a booking (a date more than a
/// second ahead) reserves each client's slot as a single booking does, and
/// refuses a client the policies refuse then, with why and the client's next
/// free moment. Unknown clients are refused (`unknown_user`), the others
/// accepted. `Location` is the batch's progress. The body may be up to 16 MiB.
///
/// With an `Idempotency-Key`, the same request within 24 hours is answered
/// the first answer again, and creates nothing, as for a single send.
#[utoipa::path(
    post,
    path = "/communications/bulk",
    tag = "communications",
    request_body = SendBulk,
    params(
        ("Idempotency-Key" = Option<String>, Header, min_length = 1, max_length = 255,
            description = "1 to 255 characters of the caller's choice, its own (an operator's or an API key's): the same request with the same key within 24 hours gets the first answer again and creates nothing"),
    ),
    responses(
        (status = 202, body = BulkAccepted, headers(
            ("Location" = String, description = "The batch's progress, GET /batches/{id}"),
            ("Idempotent-Replayed" = String, description = "`true` on a replay of the first answer to the key"),
        )),
        (status = 409, body = Problem, description = "The first request with this Idempotency-Key is still in progress", content_type = "application/problem+json"),
        (status = 413, body = Problem, description = "The body is larger than 16 MiB", content_type = "application/problem+json"),
        (status = 422, body = Problem, description = "A field is invalid or names no existing entry; neither or both of user_ids and all_users; more than 10 000 clients; or the Idempotency-Key is invalid or was used with another request", content_type = "application/problem+json"),
    )
)]
pub async fn send_bulk(
    req: HttpRequest,
    services: Data<Services>,
    IdempotentJson(body, idempotency): IdempotentJson<SendBulk>,
) -> Result<HttpResponse, ApiError> {
    idempotency
        .run(&services.clone(), async move {
            let receipt = blocking(move || services.bulk.send(body.into())).await?;
            Ok(accepted_in(
                &req,
                "batches",
                receipt.batch_id,
                BulkAccepted::from(receipt),
            ))
        })
        .await
}

/// How far a batch has gone: how many of its communications have each status.
#[utoipa::path(
    tag = "communications",
    params(("id" = Uuid, Path)),
    responses(
        (status = 200, body = BatchBody),
        (status = 404, body = Problem, description = "No communication has this batch id", content_type = "application/problem+json"),
    )
)]
#[get("/batches/{id}")]
pub async fn get_batch(services: Data<Services>, id: Path<Uuid>) -> Result<HttpResponse, ApiError> {
    let id = BatchId::from(id.into_inner());
    let progress = blocking(move || services.bulk.progress(id)).await?;
    Ok(HttpResponse::Ok().json(BatchBody::from(progress)))
}
