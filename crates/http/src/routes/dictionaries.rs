//! The two dictionaries: communication types and communication sources.

use actix_web::web::{Data, Path};
use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post};
use omnichannel_app::{Services, parse_page};
use omnichannel_domain::{SourceId, TypeId};
use uuid::Uuid;

use crate::blocking::blocking;
use crate::dto::{
    CreateSource, CreateType, ListOf, PageQuery, PatchSource, PatchType, SourceBody, TypeBody,
};
use crate::extract::{JsonBody, QueryParams};
use crate::problem::{ApiError, Problem};
use crate::respond::created;

#[utoipa::path(
    tag = "dictionaries",
    params(PageQuery),
    responses(
        (status = 200, body = ListOf<TypeBody>),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/communication-types")]
pub async fn list_types(
    services: Data<Services>,
    QueryParams(query): QueryParams<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = parse_page(query.limit, query.offset)?;
    let paged = blocking(move || services.types.list(page)).await?;
    Ok(HttpResponse::Ok().json(ListOf::<TypeBody>::new(paged, page)))
}

#[utoipa::path(
    tag = "dictionaries",
    request_body = CreateType,
    responses(
        (status = 201, body = TypeBody, headers(("Location" = String))),
        (status = 409, body = Problem, description = "The code is taken", content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/communication-types")]
pub async fn create_type(
    req: HttpRequest,
    services: Data<Services>,
    JsonBody(body): JsonBody<CreateType>,
) -> Result<HttpResponse, ApiError> {
    let item = blocking(move || services.types.create(body.into())).await?;
    Ok(created(&req, item.id, TypeBody::from(item)))
}

#[utoipa::path(
    tag = "dictionaries",
    params(("id" = Uuid, Path)),
    responses(
        (status = 200, body = TypeBody),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/communication-types/{id}")]
pub async fn get_type(services: Data<Services>, id: Path<Uuid>) -> Result<HttpResponse, ApiError> {
    let id = TypeId::from(id.into_inner());
    let item = blocking(move || services.types.get(id)).await?;
    Ok(HttpResponse::Ok().json(TypeBody::from(item)))
}

#[utoipa::path(
    tag = "dictionaries",
    params(("id" = Uuid, Path)),
    request_body = PatchType,
    responses(
        (status = 200, body = TypeBody),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/communication-types/{id}")]
pub async fn update_type(
    services: Data<Services>,
    id: Path<Uuid>,
    JsonBody(body): JsonBody<PatchType>,
) -> Result<HttpResponse, ApiError> {
    let id = TypeId::from(id.into_inner());
    let item = blocking(move || services.types.update(id, body.into())).await?;
    Ok(HttpResponse::Ok().json(TypeBody::from(item)))
}

/// Delete a type nothing refers to; one in use answers `409`: block it instead.
#[utoipa::path(
    tag = "dictionaries",
    params(("id" = Uuid, Path)),
    responses(
        (status = 204),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/communication-types/{id}")]
pub async fn delete_type(
    services: Data<Services>,
    id: Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = TypeId::from(id.into_inner());
    blocking(move || services.types.delete(id)).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(
    tag = "dictionaries",
    params(PageQuery),
    responses(
        (status = 200, body = ListOf<SourceBody>),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/communication-sources")]
pub async fn list_sources(
    services: Data<Services>,
    QueryParams(query): QueryParams<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = parse_page(query.limit, query.offset)?;
    let paged = blocking(move || services.sources.list(page)).await?;
    Ok(HttpResponse::Ok().json(ListOf::<SourceBody>::new(paged, page)))
}

#[utoipa::path(
    tag = "dictionaries",
    request_body = CreateSource,
    responses(
        (status = 201, body = SourceBody, headers(("Location" = String))),
        (status = 409, body = Problem, description = "The code is taken", content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/communication-sources")]
pub async fn create_source(
    req: HttpRequest,
    services: Data<Services>,
    JsonBody(body): JsonBody<CreateSource>,
) -> Result<HttpResponse, ApiError> {
    let item = blocking(move || services.sources.create(body.into())).await?;
    Ok(created(&req, item.id, SourceBody::from(item)))
}

#[utoipa::path(
    tag = "dictionaries",
    params(("id" = Uuid, Path)),
    responses(
        (status = 200, body = SourceBody),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/communication-sources/{id}")]
pub async fn get_source(
    services: Data<Services>,
    id: Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = SourceId::from(id.into_inner());
    let item = blocking(move || services.sources.get(id)).await?;
    Ok(HttpResponse::Ok().json(SourceBody::from(item)))
}

#[utoipa::path(
    tag = "dictionaries",
    params(("id" = Uuid, Path)),
    request_body = PatchSource,
    responses(
        (status = 200, body = SourceBody),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/communication-sources/{id}")]
pub async fn update_source(
    services: Data<Services>,
    id: Path<Uuid>,
    JsonBody(body): JsonBody<PatchSource>,
) -> Result<HttpResponse, ApiError> {
    let id = SourceId::from(id.into_inner());
    let item = blocking(move || services.sources.update(id, body.into())).await?;
    Ok(HttpResponse::Ok().json(SourceBody::from(item)))
}

/// Delete a source nothing refers to; one in use answers `409`: block it instead.
#[utoipa::path(
    tag = "dictionaries",
    params(("id" = Uuid, Path)),
    responses(
        (status = 204),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/communication-sources/{id}")]
pub async fn delete_source(
    services: Data<Services>,
    id: Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = SourceId::from(id.into_inner());
    blocking(move || services.sources.delete(id)).await?;
    Ok(HttpResponse::NoContent().finish())
}
