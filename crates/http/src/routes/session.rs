//! Login, refresh, logout and the operator's own account.

use actix_web::http::header;
use actix_web::web::Data;
use actix_web::{HttpResponse, get, post};
use omnichannel_app::auth::operators::PasswordChangeError;
use omnichannel_app::auth::sessions::{LoginError, RefreshError, TokenPair};
use omnichannel_app::{GetError, Services};

use crate::auth::Operator;
use crate::blocking::blocking;
use crate::dto::{ChangePassword, Login, OperatorBody, RefreshBody, TokenPairBody};
use crate::extract::JsonBody;
use crate::problem::{ApiError, Problem};

impl From<LoginError> for ApiError {
    fn from(error: LoginError) -> Self {
        match error {
            LoginError::InvalidCredentials => ApiError::unauthorized(
                "Bearer realm=\"omnichannel-admin\"",
                "The username or password is wrong.",
            ),
            LoginError::Throttled { retry_after } => {
                let seconds = retry_after.num_seconds().max(1);
                ApiError::new(
                    actix_web::http::StatusCode::TOO_MANY_REQUESTS,
                    "Too many failed logins for this username; try again later.",
                )
                .with_header(header::RETRY_AFTER, seconds.to_string())
            }
            LoginError::Unexpected(source) => ApiError::internal(source),
        }
    }
}

impl From<RefreshError> for ApiError {
    fn from(error: RefreshError) -> Self {
        match error {
            RefreshError::Invalid => ApiError::unauthorized(
                "Bearer realm=\"omnichannel-admin\"",
                "The refresh token is invalid, expired or revoked.",
            ),
            RefreshError::Unexpected(source) => ApiError::internal(source),
        }
    }
}

impl From<PasswordChangeError> for ApiError {
    fn from(error: PasswordChangeError) -> Self {
        match error {
            PasswordChangeError::WrongPassword => ApiError::new(
                actix_web::http::StatusCode::FORBIDDEN,
                "The current password is wrong.",
            ),
            PasswordChangeError::Invalid(errors) => errors.into(),
            PasswordChangeError::NotFound => ApiError::unauthorized(
                "Bearer realm=\"omnichannel-admin\"",
                "The operator no longer exists.",
            ),
            PasswordChangeError::Unexpected(source) => ApiError::internal(source),
        }
    }
}

fn tokens(pair: TokenPair) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(TokenPairBody::from(pair))
}

/// Log in: a new access token and refresh token.
#[utoipa::path(
    tag = "auth",
    request_body = Login,
    responses(
        (status = 200, body = TokenPairBody),
        (status = 401, body = Problem, description = "Wrong username or password", content_type = "application/problem+json"),
        (status = 429, body = Problem, description = "Too many failures for this username", headers(("Retry-After" = u64)), content_type = "application/problem+json"),
    )
)]
#[post("/auth/login")]
pub async fn login(
    services: Data<Services>,
    JsonBody(body): JsonBody<Login>,
) -> Result<HttpResponse, ApiError> {
    let pair = blocking(move || services.sessions.login(&body.username, &body.password)).await?;
    Ok(tokens(pair))
}

/// Exchange a refresh token for a new pair; the old refresh token dies. A dead
/// refresh token presented again ends its whole login.
#[utoipa::path(
    tag = "auth",
    request_body = RefreshBody,
    responses(
        (status = 200, body = TokenPairBody),
        (status = 401, body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/auth/refresh")]
pub async fn refresh(
    services: Data<Services>,
    JsonBody(body): JsonBody<RefreshBody>,
) -> Result<HttpResponse, ApiError> {
    let pair = blocking(move || services.sessions.refresh(&body.refresh_token)).await?;
    Ok(tokens(pair))
}

/// End the login the refresh token belongs to.
#[utoipa::path(tag = "auth", request_body = RefreshBody, responses((status = 204)))]
#[post("/auth/logout")]
pub async fn logout(
    services: Data<Services>,
    JsonBody(body): JsonBody<RefreshBody>,
) -> Result<HttpResponse, ApiError> {
    blocking(move || {
        services
            .sessions
            .logout(&body.refresh_token)
            .map_err(ApiError::internal)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The operator the access token speaks for.
#[utoipa::path(
    tag = "auth",
    responses(
        (status = 200, body = OperatorBody),
        (status = 401, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/auth/me")]
pub async fn me(services: Data<Services>, operator: Operator) -> Result<HttpResponse, ApiError> {
    let admin = blocking(move || {
        services
            .sessions
            .me(operator.0)
            .map_err(|error| match error {
                GetError::NotFound => ApiError::unauthorized(
                    "Bearer realm=\"omnichannel-admin\"",
                    "The operator no longer exists.",
                ),
                other => other.into(),
            })
    })
    .await?;
    Ok(HttpResponse::Ok().json(OperatorBody::from(admin)))
}

/// Change one's own password; every login of the operator ends.
#[utoipa::path(
    tag = "auth",
    request_body = ChangePassword,
    responses(
        (status = 204),
        (status = 403, body = Problem, description = "The current password is wrong", content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/auth/password")]
pub async fn change_password(
    services: Data<Services>,
    operator: Operator,
    JsonBody(body): JsonBody<ChangePassword>,
) -> Result<HttpResponse, ApiError> {
    blocking(move || {
        services
            .operators
            .change_password(operator.0, &body.current_password, body.new_password)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
