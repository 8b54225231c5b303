//! Every error answer is `application/problem+json` (RFC 9457); this is the one
//! place where application errors become HTTP statuses.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderName};
use actix_web::{HttpResponse, ResponseError};
use omnichannel_app::{CreateError, DeleteError, GetError, ListError, UpdateError};
use omnichannel_domain::ValidationErrors;
use serde::Serialize;
use utoipa::ToSchema;

pub const CONTENT_TYPE: &str = "application/problem+json";

#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq)]
pub struct FieldProblem {
    /// The JSON name of the field, dotted for nested values (`items.0.priority`).
    pub field: String,
    pub message: String,
}

/// An error answer.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// The invalid fields, on `422` only.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldProblem>,
}

/// An error on its way to becoming a problem answer.
#[derive(Debug, thiserror::Error)]
#[error("{status}: {detail}")]
pub struct ApiError {
    status: StatusCode,
    detail: String,
    errors: Vec<FieldProblem>,
    /// Headers the answer carries besides the body (`Retry-After`, `WWW-Authenticate`).
    headers: Vec<(HeaderName, String)>,
    /// The cause of a `5xx`, logged once here and never answered.
    source: Option<anyhow::Error>,
}

impl ApiError {
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        Self {
            status,
            detail: detail.into(),
            errors: Vec::new(),
            headers: Vec::new(),
            source: None,
        }
    }

    /// The same answer with one more header.
    pub fn with_header(mut self, name: HeaderName, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// `401`, with the challenge of the scheme the route wants.
    pub fn unauthorized(challenge: &str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, detail).with_header(header::WWW_AUTHENTICATE, challenge)
    }

    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "The resource does not exist.")
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, detail)
    }

    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, detail)
    }

    pub fn invalid(errors: Vec<FieldProblem>) -> Self {
        Self {
            errors,
            ..Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "The request has invalid fields.",
            )
        }
    }

    pub fn internal(source: anyhow::Error) -> Self {
        Self {
            source: Some(source),
            ..Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "The server could not complete the request.",
            )
        }
    }

    /// The problem answer, without logging.
    pub fn error_answer(&self) -> HttpResponse {
        let body = serde_json::to_string(&self.problem()).unwrap_or_default();
        let mut answer = HttpResponse::build(self.status);
        answer.content_type(CONTENT_TYPE);
        for (name, value) in &self.headers {
            answer.insert_header((name.clone(), value.clone()));
        }
        answer.body(body)
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn problem(&self) -> Problem {
        Problem {
            kind: "about:blank".to_owned(),
            title: self.status.canonical_reason().unwrap_or("Error").to_owned(),
            status: self.status.as_u16(),
            detail: self.detail.clone(),
            errors: self.errors.clone(),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        if let Some(source) = &self.source {
            tracing::error!(error = format!("{source:#}"), "request failed");
        }
        self.error_answer()
    }
}

impl From<ValidationErrors> for ApiError {
    fn from(errors: ValidationErrors) -> Self {
        Self::invalid(
            errors
                .errors()
                .iter()
                .map(|e| FieldProblem {
                    field: e.field.clone(),
                    message: e.message.clone(),
                })
                .collect(),
        )
    }
}

fn taken(field: &str) -> ApiError {
    ApiError::conflict(format!("Another resource already has this {field}."))
}

impl From<CreateError> for ApiError {
    fn from(error: CreateError) -> Self {
        match error {
            CreateError::NotFound => Self::not_found(),
            CreateError::Invalid(errors) => errors.into(),
            CreateError::Conflict(field) => taken(field),
            CreateError::Unexpected(source) => Self::internal(source),
        }
    }
}

impl From<GetError> for ApiError {
    fn from(error: GetError) -> Self {
        match error {
            GetError::NotFound => Self::not_found(),
            GetError::Unexpected(source) => Self::internal(source),
        }
    }
}

impl From<ListError> for ApiError {
    fn from(error: ListError) -> Self {
        match error {
            ListError::NotFound => Self::not_found(),
            ListError::Unexpected(source) => Self::internal(source),
        }
    }
}

impl From<UpdateError> for ApiError {
    fn from(error: UpdateError) -> Self {
        match error {
            UpdateError::NotFound => Self::not_found(),
            UpdateError::Invalid(errors) => errors.into(),
            UpdateError::Conflict(field) => taken(field),
            UpdateError::Unexpected(source) => Self::internal(source),
        }
    }
}

impl From<DeleteError> for ApiError {
    fn from(error: DeleteError) -> Self {
        match error {
            DeleteError::NotFound => Self::not_found(),
            DeleteError::Referenced => Self::conflict(
                "The resource is still referenced and cannot be deleted; block it instead.",
            ),
            DeleteError::Refused(reason) => Self::conflict(format!("Refused: {reason}.")),
            DeleteError::Unexpected(source) => Self::internal(source),
        }
    }
}
