use actix_web::web::{Data, Path};
use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, put};
use omnichannel_app::{Services, parse_page};
use omnichannel_domain::UserId;
use omnichannel_domain::ports::UserFilter;
use uuid::Uuid;

use crate::blocking::blocking;
use crate::dto::{
    AvailabilityBody, CreateUser, ListOf, PatchUser, PutAvailability, UserBody, UserQuery,
};
use crate::extract::{JsonBody, QueryParams};
use crate::problem::{ApiError, Problem};
use crate::respond::{created, created_in};

/// List clients, newest first.
#[utoipa::path(
    tag = "users",
    params(UserQuery),
    responses(
        (status = 200, body = ListOf<UserBody>),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/users")]
pub async fn list_users(
    services: Data<Services>,
    QueryParams(query): QueryParams<UserQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = parse_page(query.limit, query.offset)?;
    let filter = UserFilter { q: query.q };
    let paged = blocking(move || services.users.list(filter, page)).await?;
    Ok(HttpResponse::Ok().json(ListOf::<UserBody>::new(paged, page)))
}

/// Create a client.
#[utoipa::path(
    tag = "users",
    request_body = CreateUser,
    responses(
        (status = 201, body = UserBody, headers(("Location" = String))),
        (status = 409, body = Problem, description = "The external_id is taken", content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/users")]
pub async fn create_user(
    req: HttpRequest,
    services: Data<Services>,
    JsonBody(body): JsonBody<CreateUser>,
) -> Result<HttpResponse, ApiError> {
    let user = blocking(move || services.users.create(body.into())).await?;
    Ok(created(&req, user.id, UserBody::from(user)))
}

#[utoipa::path(
    tag = "users",
    params(("id" = Uuid, Path)),
    responses(
        (status = 200, body = UserBody),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/users/{id}")]
pub async fn get_user(services: Data<Services>, id: Path<Uuid>) -> Result<HttpResponse, ApiError> {
    let id = UserId::from(id.into_inner());
    let user = blocking(move || services.users.get(id)).await?;
    Ok(HttpResponse::Ok().json(UserBody::from(user)))
}

/// Change some fields of a client; `null` clears a nullable field.
#[utoipa::path(
    tag = "users",
    params(("id" = Uuid, Path)),
    request_body = PatchUser,
    responses(
        (status = 200, body = UserBody),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/users/{id}")]
pub async fn update_user(
    services: Data<Services>,
    id: Path<Uuid>,
    JsonBody(body): JsonBody<PatchUser>,
) -> Result<HttpResponse, ApiError> {
    let id = UserId::from(id.into_inner());
    let user = blocking(move || services.users.update(id, body.into())).await?;
    Ok(HttpResponse::Ok().json(UserBody::from(user)))
}

/// Delete a client who has no communications.
#[utoipa::path(
    tag = "users",
    params(("id" = Uuid, Path)),
    responses(
        (status = 204),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, description = "The client's communications are kept", content_type = "application/problem+json"),
    )
)]
#[delete("/users/{id}")]
pub async fn delete_user(
    services: Data<Services>,
    id: Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = UserId::from(id.into_inner());
    blocking(move || services.users.delete(id)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// When the client may be contacted; a client without one is always available.
#[utoipa::path(
    tag = "users",
    params(("id" = Uuid, Path)),
    responses(
        (status = 200, body = AvailabilityBody),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/users/{id}/availability")]
pub async fn get_availability(
    services: Data<Services>,
    id: Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = UserId::from(id.into_inner());
    let availability = blocking(move || services.availability.get(id)).await?;
    Ok(HttpResponse::Ok().json(AvailabilityBody::from(availability)))
}

/// Set when the client may be contacted.
#[utoipa::path(
    tag = "users",
    params(("id" = Uuid, Path)),
    request_body = PutAvailability,
    responses(
        (status = 200, body = AvailabilityBody),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
#[put("/users/{id}/availability")]
pub async fn put_availability(
    services: Data<Services>,
    id: Path<Uuid>,
    JsonBody(body): JsonBody<PutAvailability>,
) -> Result<HttpResponse, ApiError> {
    let id = UserId::from(id.into_inner());
    let availability = blocking(move || services.availability.put(id, body.into())).await?;
    Ok(HttpResponse::Ok().json(AvailabilityBody::from(availability)))
}

/// Create or replace the client with this external id: every field takes the
/// body's value. `201` when it was created, `200` when it was replaced.
#[utoipa::path(
    tag = "users",
    params(("external_id" = String, Path)),
    request_body = CreateUser,
    responses(
        (status = 200, body = UserBody),
        (status = 201, body = UserBody, headers(("Location" = String))),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
#[put("/users/by-external-id/{external_id}")]
pub async fn upsert_user(
    services: Data<Services>,
    external_id: Path<String>,
    JsonBody(body): JsonBody<CreateUser>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let external_id = external_id.into_inner();
    let (user, created) = blocking(move || {
        services
            .users
            .upsert_by_external_id(&external_id, body.into())
    })
    .await?;
    if created {
        Ok(created_in(&req, "users", user.id, UserBody::from(user)))
    } else {
        Ok(HttpResponse::Ok().json(UserBody::from(user)))
    }
}
