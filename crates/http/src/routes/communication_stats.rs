//! The communications' statistics: what the operators' dashboard shows.

use actix_web::web::Data;
use actix_web::{HttpResponse, get};
use omnichannel_app::Services;

use crate::blocking::blocking;
use crate::dto::{CommunicationStatsBody, CommunicationStatsQuery};
use crate::extract::QueryParams;
use crate::problem::{ApiError, Problem};

/// The communications created at or after `from` and before `to`, counted by
/// current status, in all and per UTC hour, with the dispatch queue as it is
/// now. `from` defaults to 24 hours before `to`, `to` to now; `from` must be
/// before `to` and at most 31 days before it.
#[utoipa::path(
    tag = "communications",
    params(CommunicationStatsQuery),
    responses(
        (status = 200, body = CommunicationStatsBody),
        (status = 422, body = Problem, description = "`from` or `to` is not an RFC 3339 date, or the range is empty or longer than 31 days (`errors` names `from`)", content_type = "application/problem+json"),
    )
)]
#[get("/communications/stats")]
pub async fn communication_stats(
    services: Data<Services>,
    QueryParams(query): QueryParams<CommunicationStatsQuery>,
) -> Result<HttpResponse, ApiError> {
    let stats = blocking(move || services.stats.communications(query.into())).await?;
    Ok(HttpResponse::Ok().json(CommunicationStatsBody::from(stats)))
}
