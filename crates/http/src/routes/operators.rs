//! Operators (admin accounts) and API keys.

use actix_web::web::{Data, Path};
use actix_web::{HttpRequest, HttpResponse, delete, get, post};
use omnichannel_app::{Services, parse_page};
use omnichannel_domain::{AdminId, ApiKeyId};
use uuid::Uuid;

use crate::blocking::blocking;
use crate::dto::{
    ApiKeyBody, CreateApiKey, CreateOperator, CreatedApiKeyBody, ListOf, OperatorBody, PageQuery,
};
use crate::extract::{JsonBody, QueryParams};
use crate::problem::{ApiError, Problem};
use crate::respond::created;

#[utoipa::path(
    tag = "operators",
    params(PageQuery),
    responses(
        (status = 200, body = ListOf<OperatorBody>),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/admins")]
pub async fn list_operators(
    services: Data<Services>,
    QueryParams(query): QueryParams<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = parse_page(query.limit, query.offset)?;
    let paged = blocking(move || services.operators.list(page)).await?;
    Ok(HttpResponse::Ok().json(ListOf::<OperatorBody>::new(paged, page)))
}

/// Create an operator; the password has at least 12 characters.
#[utoipa::path(
    tag = "operators",
    request_body = CreateOperator,
    responses(
        (status = 201, body = OperatorBody, headers(("Location" = String))),
        (status = 409, body = Problem, description = "The username is taken", content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/admins")]
pub async fn create_operator(
    req: HttpRequest,
    services: Data<Services>,
    JsonBody(body): JsonBody<CreateOperator>,
) -> Result<HttpResponse, ApiError> {
    let admin = blocking(move || services.operators.create(&body.username, body.password)).await?;
    Ok(created(&req, admin.id, OperatorBody::from(admin)))
}

/// Delete an operator; the last one cannot be deleted.
#[utoipa::path(
    tag = "operators",
    params(("id" = Uuid, Path)),
    responses(
        (status = 204),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, description = "It is the last operator", content_type = "application/problem+json"),
    )
)]
#[delete("/admins/{id}")]
pub async fn delete_operator(
    services: Data<Services>,
    id: Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = AdminId::from(id.into_inner());
    blocking(move || services.operators.delete(id)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Create an API key for the public API. The secret is in this answer only.
#[utoipa::path(
    tag = "operators",
    request_body = CreateApiKey,
    responses(
        (status = 201, body = CreatedApiKeyBody, headers(("Location" = String))),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api-keys")]
pub async fn create_api_key(
    req: HttpRequest,
    services: Data<Services>,
    JsonBody(body): JsonBody<CreateApiKey>,
) -> Result<HttpResponse, ApiError> {
    let created_key = blocking(move || services.api_keys.create(body.name)).await?;
    let id = created_key.key.id;
    Ok(created(&req, id, CreatedApiKeyBody::from(created_key)))
}

/// The API keys that are not revoked, without their secrets.
#[utoipa::path(
    tag = "operators",
    params(PageQuery),
    responses(
        (status = 200, body = ListOf<ApiKeyBody>),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/api-keys")]
pub async fn list_api_keys(
    services: Data<Services>,
    QueryParams(query): QueryParams<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = parse_page(query.limit, query.offset)?;
    let paged = blocking(move || services.api_keys.list(page)).await?;
    Ok(HttpResponse::Ok().json(ListOf::<ApiKeyBody>::new(paged, page)))
}

/// Revoke an API key; its next request is refused.
#[utoipa::path(
    tag = "operators",
    params(("id" = Uuid, Path)),
    responses(
        (status = 204),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/api-keys/{id}")]
pub async fn revoke_api_key(
    services: Data<Services>,
    id: Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = ApiKeyId::from(id.into_inner());
    blocking(move || services.api_keys.revoke(id)).await?;
    Ok(HttpResponse::NoContent().finish())
}
