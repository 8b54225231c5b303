//! The two ways in: operators with a bearer access token (admin API), other
//! systems with an API key and secret (public API). Each wraps one scope.

use actix_web::body::MessageBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::web::Data;
use actix_web::{FromRequest, HttpMessage, HttpRequest};
use omnichannel_app::Services;
use omnichannel_app::auth::api_keys::KeyAuthError;
use omnichannel_domain::{AdminId, ApiKeyId};

use crate::blocking::blocking;
use crate::problem::ApiError;

pub const API_KEY_HEADER: &str = "X-Api-Key";
pub const API_SECRET_HEADER: &str = "X-Api-Secret";
const BEARER_CHALLENGE: &str = "Bearer realm=\"omnichannel-admin\"";
const KEY_CHALLENGE: &str = "ApiKey realm=\"omnichannel-public\"";

/// The operator an admin request was authenticated as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Operator(pub AdminId);

/// The API key a public request was authenticated with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiClient(pub ApiKeyId);

fn services(req: &ServiceRequest) -> Result<Data<Services>, ApiError> {
    req.app_data::<Data<Services>>()
        .cloned()
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("the services are not configured")))
}

/// Admin API: `Authorization: Bearer <access token>`, validated without a
/// database round trip.
pub async fn require_operator(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let services = services(&req)?;
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| {
            let (scheme, token) = value.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        })
        .ok_or_else(|| {
            ApiError::unauthorized(
                BEARER_CHALLENGE,
                "An access token is required: Authorization: Bearer <token>.",
            )
        })?;
    let admin = services.access_tokens.verify(token).map_err(|error| {
        tracing::debug!(%error, "access token refused");
        ApiError::unauthorized(
            "Bearer realm=\"omnichannel-admin\", error=\"invalid_token\"",
            "The access token is invalid or expired.",
        )
    })?;
    req.extensions_mut().insert(Operator(admin));
    next.call(req).await
}

/// Public API: `X-Api-Key` and `X-Api-Secret`, checked against the stored
/// hash on every request, so a revoked key stops at once.
pub async fn require_api_key(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let services = services(&req)?;
    let header_value = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
    };
    let (Some(key), Some(secret)) = (
        header_value(API_KEY_HEADER),
        header_value(API_SECRET_HEADER),
    ) else {
        return Err(ApiError::unauthorized(
            KEY_CHALLENGE,
            "An API key is required: X-Api-Key and X-Api-Secret.",
        )
        .into());
    };
    let client = blocking(move || {
        services
            .api_keys
            .authenticate(&key, &secret)
            .map_err(|error| match error {
                KeyAuthError::Invalid => {
                    ApiError::unauthorized(KEY_CHALLENGE, "The API key or secret is invalid.")
                }
                KeyAuthError::Unexpected(source) => ApiError::internal(source),
            })
    })
    .await?;
    req.extensions_mut().insert(ApiClient(client));
    next.call(req).await
}

impl FromRequest for Operator {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let operator = req.extensions().get::<Self>().copied().ok_or_else(|| {
            ApiError::unauthorized(BEARER_CHALLENGE, "An access token is required.")
        });
        std::future::ready(operator)
    }
}
