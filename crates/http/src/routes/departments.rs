//! Departments and their two policies: favourite sources and rules.

use actix_web::web::{Data, Path};
use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, put};
use omnichannel_app::departments::DepartmentPatch;
use omnichannel_app::{Services, parse_page};
use omnichannel_domain::{DepartmentId, RuleId, SourceId, TypeId};
use uuid::Uuid;

use crate::blocking::blocking;
use crate::dto::{
    CreateDepartment, CreateRule, DepartmentBody, FavoriteBody, FavoriteList, ListOf, PageQuery,
    PatchDepartment, PatchRule, RuleBody,
};
use crate::extract::{JsonBody, QueryParams};
use crate::problem::{ApiError, Problem};
use crate::respond::created;

#[utoipa::path(
    tag = "departments",
    params(PageQuery),
    responses(
        (status = 200, body = ListOf<DepartmentBody>),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/departments")]
pub async fn list_departments(
    services: Data<Services>,
    QueryParams(query): QueryParams<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = parse_page(query.limit, query.offset)?;
    let paged = blocking(move || services.departments.list(page)).await?;
    Ok(HttpResponse::Ok().json(ListOf::<DepartmentBody>::new(paged, page)))
}

#[utoipa::path(
    tag = "departments",
    request_body = CreateDepartment,
    responses(
        (status = 201, body = DepartmentBody, headers(("Location" = String))),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/departments")]
pub async fn create_department(
    req: HttpRequest,
    services: Data<Services>,
    JsonBody(body): JsonBody<CreateDepartment>,
) -> Result<HttpResponse, ApiError> {
    let item = blocking(move || services.departments.create(body.name)).await?;
    Ok(created(&req, item.id, DepartmentBody::from(item)))
}

#[utoipa::path(
    tag = "departments",
    params(("id" = Uuid, Path)),
    responses(
        (status = 200, body = DepartmentBody),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/departments/{id}")]
pub async fn get_department(
    services: Data<Services>,
    id: Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = DepartmentId::from(id.into_inner());
    let item = blocking(move || services.departments.get(id)).await?;
    Ok(HttpResponse::Ok().json(DepartmentBody::from(item)))
}

#[utoipa::path(
    tag = "departments",
    params(("id" = Uuid, Path)),
    request_body = PatchDepartment,
    responses(
        (status = 200, body = DepartmentBody),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/departments/{id}")]
pub async fn update_department(
    services: Data<Services>,
    id: Path<Uuid>,
    JsonBody(body): JsonBody<PatchDepartment>,
) -> Result<HttpResponse, ApiError> {
    let id = DepartmentId::from(id.into_inner());
    let patch = DepartmentPatch { name: body.name };
    let item = blocking(move || services.departments.update(id, patch)).await?;
    Ok(HttpResponse::Ok().json(DepartmentBody::from(item)))
}

/// Delete a department with its favourite sources and rules.
#[utoipa::path(
    tag = "departments",
    params(("id" = Uuid, Path)),
    responses(
        (status = 204),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, description = "The department's communications are kept", content_type = "application/problem+json"),
    )
)]
#[delete("/departments/{id}")]
pub async fn delete_department(
    services: Data<Services>,
    id: Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = DepartmentId::from(id.into_inner());
    blocking(move || services.departments.delete(id)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The department's favourite sources, by type and priority.
#[utoipa::path(
    tag = "departments",
    params(("id" = Uuid, Path)),
    responses(
        (status = 200, body = FavoriteList),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/departments/{id}/favorite-sources")]
pub async fn list_favorites(
    services: Data<Services>,
    id: Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = DepartmentId::from(id.into_inner());
    let items = blocking(move || services.favorites.list(id)).await?;
    Ok(HttpResponse::Ok().json(FavoriteList::from_domain(items)))
}

/// Replace the whole list of favourite sources.
#[utoipa::path(
    tag = "departments",
    params(("id" = Uuid, Path)),
    request_body = FavoriteList,
    responses(
        (status = 200, body = FavoriteList),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
#[put("/departments/{id}/favorite-sources")]
pub async fn replace_favorites(
    services: Data<Services>,
    id: Path<Uuid>,
    JsonBody(body): JsonBody<FavoriteList>,
) -> Result<HttpResponse, ApiError> {
    let id = DepartmentId::from(id.into_inner());
    let items = body.items.into_iter().map(Into::into).collect();
    let stored = blocking(move || services.favorites.replace(id, items)).await?;
    Ok(HttpResponse::Ok().json(FavoriteList::from_domain(stored)))
}

/// Add one favourite source.
#[utoipa::path(
    tag = "departments",
    params(("id" = Uuid, Path)),
    request_body = FavoriteBody,
    responses(
        (status = 201, body = FavoriteBody, headers(("Location" = String))),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, description = "The pair is already listed", content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/departments/{id}/favorite-sources")]
pub async fn add_favorite(
    req: HttpRequest,
    services: Data<Services>,
    id: Path<Uuid>,
    JsonBody(body): JsonBody<FavoriteBody>,
) -> Result<HttpResponse, ApiError> {
    let id = DepartmentId::from(id.into_inner());
    let added = blocking(move || services.favorites.add(id, body.into())).await?;
    let location = format!("{}/{}", added.type_id, added.source_id);
    Ok(created(&req, location, FavoriteBody::from(added)))
}

#[utoipa::path(
    tag = "departments",
    params(("id" = Uuid, Path), ("type_id" = Uuid, Path), ("source_id" = Uuid, Path)),
    responses(
        (status = 204),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/departments/{id}/favorite-sources/{type_id}/{source_id}")]
pub async fn remove_favorite(
    services: Data<Services>,
    path: Path<(Uuid, Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (id, type_id, source_id) = path.into_inner();
    let (id, type_id, source_id) = (
        DepartmentId::from(id),
        TypeId::from(type_id),
        SourceId::from(source_id),
    );
    blocking(move || services.favorites.remove(id, type_id, source_id)).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(
    tag = "departments",
    params(("id" = Uuid, Path), PageQuery),
    responses(
        (status = 200, body = ListOf<RuleBody>),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/departments/{id}/rules")]
pub async fn list_rules(
    services: Data<Services>,
    id: Path<Uuid>,
    QueryParams(query): QueryParams<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let id = DepartmentId::from(id.into_inner());
    let page = parse_page(query.limit, query.offset)?;
    let paged = blocking(move || services.rules.list(id, page)).await?;
    Ok(HttpResponse::Ok().json(ListOf::<RuleBody>::new(paged, page)))
}

#[utoipa::path(
    tag = "departments",
    params(("id" = Uuid, Path)),
    request_body = CreateRule,
    responses(
        (status = 201, body = RuleBody, headers(("Location" = String))),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/departments/{id}/rules")]
pub async fn create_rule(
    req: HttpRequest,
    services: Data<Services>,
    id: Path<Uuid>,
    JsonBody(body): JsonBody<CreateRule>,
) -> Result<HttpResponse, ApiError> {
    let id = DepartmentId::from(id.into_inner());
    let rule = blocking(move || services.rules.create(id, body.into())).await?;
    Ok(created(&req, rule.id, RuleBody::from(rule)))
}

#[utoipa::path(
    tag = "departments",
    params(("id" = Uuid, Path), ("rule_id" = Uuid, Path)),
    responses(
        (status = 200, body = RuleBody),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/departments/{id}/rules/{rule_id}")]
pub async fn get_rule(
    services: Data<Services>,
    path: Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (id, rule_id) = path.into_inner();
    let (id, rule_id) = (DepartmentId::from(id), RuleId::from(rule_id));
    let rule = blocking(move || services.rules.get(id, rule_id)).await?;
    Ok(HttpResponse::Ok().json(RuleBody::from(rule)))
}

#[utoipa::path(
    tag = "departments",
    params(("id" = Uuid, Path), ("rule_id" = Uuid, Path)),
    request_body = PatchRule,
    responses(
        (status = 200, body = RuleBody),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/departments/{id}/rules/{rule_id}")]
pub async fn update_rule(
    services: Data<Services>,
    path: Path<(Uuid, Uuid)>,
    JsonBody(body): JsonBody<PatchRule>,
) -> Result<HttpResponse, ApiError> {
    let (id, rule_id) = path.into_inner();
    let (id, rule_id) = (DepartmentId::from(id), RuleId::from(rule_id));
    let rule = blocking(move || services.rules.update(id, rule_id, body.into())).await?;
    Ok(HttpResponse::Ok().json(RuleBody::from(rule)))
}

#[utoipa::path(
    tag = "departments",
    params(("id" = Uuid, Path), ("rule_id" = Uuid, Path)),
    responses(
        (status = 204),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/departments/{id}/rules/{rule_id}")]
pub async fn delete_rule(
    services: Data<Services>,
    path: Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (id, rule_id) = path.into_inner();
    let (id, rule_id) = (DepartmentId::from(id), RuleId::from(rule_id));
    blocking(move || services.rules.delete(id, rule_id)).await?;
    Ok(HttpResponse::NoContent().finish())
}
