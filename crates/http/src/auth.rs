//! The two ways in: operators with a bearer access token (admin API), other
//! systems with an API key and secret (public API). Each wraps one scope.

use actix_web::body::MessageBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::{Method, header};
use actix_web::middleware::Next;
use actix_web::web::Data;
use actix_web::{FromRequest, HttpMessage, HttpRequest};
use omnichannel_app::Services;
use omnichannel_app::auth::api_keys::KeyAuthError;
use omnichannel_domain::{AdminId, ApiKeyId};

use crate::blocking::blocking;
use crate::idempotency::IDEMPOTENCY_KEY_HEADER;
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

/// Set beside [`ApiClient`] when the key's secret was checked against the
/// keys the process remembers and its revocation is left to the transaction
/// that stores the send (the single send of the public API, its hot path).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyToConfirm(pub ApiKeyId);

/// The route whose handler confirms the API key itself: `POST` of a single
/// send without an `Idempotency-Key`, which stores it only if the key is
/// still active in its transaction.
const CONFIRMS_ITS_KEY: &str = "/api/public/v1/communications";

/// The answer to an unknown or revoked key, or a wrong secret.
pub(crate) fn invalid_key() -> ApiError {
    ApiError::unauthorized(KEY_CHALLENGE, "The API key or secret is invalid.")
}

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

/// Public API: `X-Api-Key` and `X-Api-Secret`. The secret of a key the
/// process verified before is checked in memory; whether the key is still
/// active is checked in the database on every request — by one query here,
/// or, for a single send, in the transaction that stores it — so a revoked
/// key stops at once.
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
    // With an Idempotency-Key the key's records are written before the
    // send: the key is confirmed here first.
    let confirms_its_key = req.method() == Method::POST
        && req.path() == CONFIRMS_ITS_KEY
        && !req.headers().contains_key(IDEMPOTENCY_KEY_HEADER);
    let recalled = services.api_keys.recall(&key, &secret);
    let client = match recalled {
        Some(id) if confirms_its_key => {
            req.extensions_mut().insert(KeyToConfirm(id));
            id
        }
        Some(id) => blocking(move || services.api_keys.confirm(id).map_err(key_error)).await?,
        None => {
            blocking(move || {
                services
                    .api_keys
                    .authenticate(&key, &secret)
                    .map_err(key_error)
            })
            .await?
        }
    };
    req.extensions_mut().insert(ApiClient(client));
    next.call(req).await
}

fn key_error(error: KeyAuthError) -> ApiError {
    match error {
        KeyAuthError::Invalid => invalid_key(),
        KeyAuthError::Unexpected(source) => ApiError::internal(source),
    }
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
