//! Every error answer is `application/problem+json` (RFC 9457); this is the one
//! place where application errors become HTTP statuses.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderName};
use actix_web::{HttpResponse, ResponseError};
use chrono::{DateTime, Utc};
use omnichannel_app::communications::{ChangeError, Refusal, SendError};
use omnichannel_app::{CreateError, DeleteError, GetError, ListError, UpdateError};
use omnichannel_domain::{StatusReason, ValidationErrors};
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::dto::StatusReasonName;

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
    /// Members a kind of problem adds (RFC 9457 §3.2), documented by its own
    /// schema (`BookingRefused`).
    #[serde(flatten)]
    #[schema(ignore)]
    pub extensions: Map<String, Value>,
}

/// A `409` answer to a booking the policies refuse at its moment.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BookingRefused {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Why: `user_unavailable` or `rate_limited`, or a reason dispatch would
    /// fail it for (`user_blocked`, `type_blocked`, …).
    #[schema(value_type = StatusReasonName)]
    pub reason: String,
    /// The earliest moment within the horizon when the client is available and
    /// every rule allows one more; `null` when there is none.
    #[schema(required = true)]
    pub next_available_at: Option<DateTime<Utc>>,
}

/// A `409` answer to a change: the booking at the new date is refused
/// (`BookingRefused`), or the communication can no longer be changed (`Problem`).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(untagged)]
pub enum ChangeConflict {
    Refused(BookingRefused),
    Conflict(Problem),
}

/// An error on its way to becoming a problem answer.
#[derive(Debug, thiserror::Error)]
#[error("{status}: {detail}")]
pub struct ApiError {
    status: StatusCode,
    detail: String,
    errors: Vec<FieldProblem>,
    /// Extension members of the body (RFC 9457 §3.2), beside the standard ones.
    extensions: Map<String, Value>,
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
            extensions: Map::new(),
            headers: Vec::new(),
            source: None,
        }
    }

    /// The same answer with one more header.
    pub fn with_header(mut self, name: HeaderName, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// The same answer with one more member in its body; a standard member's
    /// name is not taken.
    pub fn with_member(mut self, name: &str, value: impl Into<Value>) -> Self {
        const STANDARD: [&str; 5] = ["type", "title", "status", "detail", "errors"];
        if !STANDARD.contains(&name) {
            self.extensions.insert(name.to_owned(), value.into());
        }
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
            extensions: self.extensions.clone(),
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
            ListError::Invalid(errors) => errors.into(),
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

/// `409` with why and when the booking would be accepted.
fn refused(refusal: Refusal) -> ApiError {
    let detail = match refusal.reason {
        StatusReason::UserUnavailable => {
            "The booking is refused: the client is unavailable at that moment.".to_owned()
        }
        StatusReason::RateLimited => {
            "The booking is refused: the department's rules allow no more communications to this client at that moment.".to_owned()
        }
        StatusReason::UserBlocked => {
            "The booking is refused: the client is blocked then, with no end within the horizon.".to_owned()
        }
        StatusReason::NoChannel => {
            "The booking is refused: no channel could send it, for want of a usable favourite channel for the type or of the client's address.".to_owned()
        }
        StatusReason::TypeBlocked => {
            "The booking is refused: the communication type is blocked.".to_owned()
        }
        StatusReason::ChannelBlocked => {
            "The booking is refused: the channel asked for is blocked.".to_owned()
        }
        other => format!("The booking is refused: {}.", other.as_str()),
    };
    // Written as every moment of a body is.
    let next = serde_json::to_value(refusal.next_available_at).unwrap_or_default();
    ApiError::conflict(detail)
        .with_member("reason", refusal.reason.as_str())
        .with_member("next_available_at", next)
}

impl From<SendError> for ApiError {
    fn from(error: SendError) -> Self {
        match error {
            SendError::Invalid(errors) => errors.into(),
            SendError::Refused(refusal) => refused(refusal),
            SendError::KeyRevoked => crate::auth::invalid_key(),
            SendError::Unexpected(source) => Self::internal(source),
        }
    }
}

impl From<ChangeError> for ApiError {
    fn from(error: ChangeError) -> Self {
        match error {
            ChangeError::NotFound => Self::not_found(),
            ChangeError::Invalid(errors) => errors.into(),
            ChangeError::Conflict(detail) => Self::conflict(detail),
            ChangeError::Refused(refusal) => refused(refusal),
            ChangeError::Unexpected(source) => Self::internal(source),
        }
    }
}

impl From<omnichannel_app::bulk::BulkError> for ApiError {
    fn from(error: omnichannel_app::bulk::BulkError) -> Self {
        use omnichannel_app::bulk::BulkError;
        match error {
            BulkError::Invalid(errors) => errors.into(),
            BulkError::Unexpected(source) => Self::internal(source),
        }
    }
}

/// A `409` answer to a send: the booking is refused at its moment
/// (`BookingRefused`), or the first request with its `Idempotency-Key` is
/// still in progress (`Problem`).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(untagged)]
pub enum SendConflict {
    Refused(BookingRefused),
    InProgress(Problem),
}

impl From<omnichannel_app::idempotency::BeginError> for ApiError {
    fn from(error: omnichannel_app::idempotency::BeginError) -> Self {
        use omnichannel_app::idempotency::BeginError;
        match error {
            BeginError::InProgress => Self::conflict(
                "The first request with this Idempotency-Key is still in progress; try again once it has answered.",
            ),
            BeginError::OtherRequest => Self {
                errors: vec![FieldProblem {
                    field: "Idempotency-Key".to_owned(),
                    message: "was used with another request".to_owned(),
                }],
                ..Self::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "The Idempotency-Key was already used with another request (another method, path or body); use a new key for a new request.",
                )
            },
            BeginError::Unexpected(source) => Self::internal(source),
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use serde_json::json;

    use super::*;

    fn body(error: ApiError) -> Value {
        serde_json::to_value(error.problem()).unwrap_or_default()
    }

    #[test]
    fn a_refused_booking_says_why_and_when_at_the_top_level() {
        let at = Utc.with_ymd_and_hms(2030, 1, 2, 3, 4, 5).single();
        let error = ApiError::from(SendError::Refused(Refusal {
            reason: StatusReason::RateLimited,
            next_available_at: at,
        }));
        assert_eq!(error.status(), StatusCode::CONFLICT);
        let body = body(error);
        assert_eq!(body["status"], 409);
        assert_eq!(body["reason"], "rate_limited");
        assert_eq!(body["next_available_at"], "2030-01-02T03:04:05Z");
        assert!(body.get("errors").is_none());

        let never = body_of_change(ChangeError::Refused(Refusal {
            reason: StatusReason::UserBlocked,
            next_available_at: None,
        }));
        assert_eq!(never["reason"], "user_blocked");
        assert_eq!(never["next_available_at"], Value::Null);
    }

    fn body_of_change(error: ChangeError) -> Value {
        body(ApiError::from(error))
    }

    #[test]
    fn other_problems_have_no_extension_members() {
        let conflict = body_of_change(ChangeError::Conflict("Sent already.".to_owned()));
        assert_eq!(
            conflict,
            json!({"type": "about:blank", "title": "Conflict", "status": 409, "detail": "Sent already."})
        );
        assert_eq!(body_of_change(ChangeError::NotFound)["status"], 404);
    }

    #[test]
    fn an_extension_member_never_replaces_a_standard_one() {
        let body = body(
            ApiError::conflict("Taken.")
                .with_member("status", 200)
                .with_member("detail", "other")
                .with_member("hint", "block it"),
        );
        assert_eq!(body["status"], 409);
        assert_eq!(body["detail"], "Taken.");
        assert_eq!(body["hint"], "block it");
    }
}
