//! Liveness, readiness and the OpenAPI document: open to everyone.

use actix_web::web::Data;
use actix_web::{HttpResponse, get};
use omnichannel_app::Services;
use serde::Serialize;
use utoipa::{OpenApi, ToSchema};

use crate::blocking::blocking;
use crate::openapi::ApiDoc;
use crate::problem::{ApiError, Problem};

#[derive(Debug, Serialize, ToSchema)]
pub struct HealthBody {
    /// `ok`.
    pub status: &'static str,
}

/// The process is up.
#[utoipa::path(tag = "health", responses((status = 200, body = HealthBody)))]
#[get("/health/live")]
pub async fn live() -> HttpResponse {
    HttpResponse::Ok().json(HealthBody { status: "ok" })
}

/// The process can serve: its database answers.
#[utoipa::path(
    tag = "health",
    responses(
        (status = 200, body = HealthBody),
        (status = 503, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/health/ready")]
pub async fn ready(services: Data<Services>) -> Result<HttpResponse, ApiError> {
    let health = services.health.clone();
    let result = blocking(move || health.ping().map_err(|e| ApiError::internal(e.into()))).await;
    match result {
        Ok(()) => Ok(HttpResponse::Ok().json(HealthBody { status: "ok" })),
        Err(error) => {
            tracing::warn!(%error, "the database does not answer");
            Err(ApiError::new(
                actix_web::http::StatusCode::SERVICE_UNAVAILABLE,
                "The database does not answer.",
            ))
        }
    }
}

#[get("/api/openapi.json")]
pub async fn openapi() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}
