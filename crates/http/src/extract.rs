//! Extractors whose every refusal is a problem answer: a JSON body (`415`, `413`,
//! `400`, `422` naming the field), query parameters (`422`) and ids in paths (`404`).

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::{StatusCode, header};
use actix_web::web::BytesMut;
use actix_web::{FromRequest, HttpRequest};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use serde_json::error::Category;

use crate::problem::{ApiError, FieldProblem};

/// The largest body a route accepts; routes that take more set their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyLimit(pub usize);

impl BodyLimit {
    pub const DEFAULT: Self = Self(1024 * 1024);
}

impl Default for BodyLimit {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// A JSON request body, deserialised with the path of any invalid field.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

fn is_json(req: &HttpRequest) -> bool {
    let Some(value) = req.headers().get(header::CONTENT_TYPE) else {
        return false;
    };
    let Ok(value) = value.to_str() else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("The body is larger than {limit} bytes."),
    )
}

impl<T: DeserializeOwned + 'static> FromRequest for JsonBody<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limit = req.app_data::<BodyLimit>().copied().unwrap_or_default().0;
        let json = is_json(req);
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        let mut payload = payload.take();
        Box::pin(async move {
            if !json {
                return Err(ApiError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "The body must be JSON, sent with Content-Type: application/json.",
                ));
            }
            if declared.is_some_and(|length| length > limit) {
                return Err(too_large(limit));
            }
            let mut body = BytesMut::new();
            while let Some(chunk) = payload.next().await {
                let chunk = chunk.map_err(|e| {
                    ApiError::bad_request(format!("The body could not be read: {e}"))
                })?;
                if body.len() + chunk.len() > limit {
                    return Err(too_large(limit));
                }
                body.extend_from_slice(&chunk);
            }
            parse_json(&body).map(JsonBody)
        })
    }
}

/// Deserialises `body`, a JSON object: bad syntax is `400`, a value that does
/// not fit is `422`.
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = dotted(error.path());
        let inner = error.into_inner();
        match inner.classify() {
            Category::Data => ApiError::invalid(vec![describe(&path, &inner)]),
            Category::Syntax | Category::Eof | Category::Io => {
                ApiError::bad_request(format!("The body is not valid JSON: {inner}."))
            }
        }
    })?;
    deserializer
        .end()
        .map_err(|e| ApiError::bad_request(format!("The body is not valid JSON: {e}.")))?;
    // Every body of this API is an object; serde would also take a struct
    // from an array of its fields in order.
    if body.trim_ascii_start().first() != Some(&b'{') {
        return Err(ApiError::invalid(vec![FieldProblem {
            field: "body".to_owned(),
            message: "must be a JSON object".to_owned(),
        }]));
    }
    Ok(value)
}

/// `items.0.priority` for `items[0].priority`.
fn dotted(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    path.iter()
        .filter_map(|segment| match segment {
            Segment::Seq { index } => Some(index.to_string()),
            Segment::Map { key } => Some(key.clone()),
            Segment::Enum { variant } => Some(variant.clone()),
            Segment::Unknown => None,
        })
        .collect::<Vec<_>>()
        .join(".")
}

fn join(parent: &str, name: &str) -> String {
    if parent.is_empty() {
        name.to_owned()
    } else {
        format!("{parent}.{name}")
    }
}

/// The field a serde message is about and a message without source positions.
fn describe(path: &str, error: &impl std::fmt::Display) -> FieldProblem {
    let text = error.to_string();
    let message = text
        .rsplit_once(" at line ")
        .map_or(text.as_str(), |(message, _)| message)
        .to_owned();
    let quoted = message.split('`').nth(1).map(str::to_owned);
    if let (true, Some(name)) = (message.starts_with("missing field"), &quoted) {
        return FieldProblem {
            field: join(path, name),
            message: "is required".to_owned(),
        };
    }
    if let (true, Some(name)) = (message.starts_with("unknown field"), &quoted) {
        // The path already ends with the unknown field.
        let field = if path.rsplit('.').next() == Some(name.as_str()) {
            path.to_owned()
        } else {
            join(path, name)
        };
        return FieldProblem {
            field,
            message: "is not a known field".to_owned(),
        };
    }
    FieldProblem {
        field: if path.is_empty() {
            "body".to_owned()
        } else {
            path.to_owned()
        },
        message,
    }
}

/// Query parameters; a value of the wrong type is `422` naming the parameter.
#[derive(Debug)]
pub struct QueryParams<T>(pub T);

impl<T: DeserializeOwned> FromRequest for QueryParams<T> {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let pairs = form_urlencoded::parse(req.query_string().as_bytes());
        let deserializer = serde_urlencoded::Deserializer::new(pairs);
        let result = serde_path_to_error::deserialize(deserializer)
            .map(QueryParams)
            .map_err(|error| {
                let path = dotted(error.path());
                ApiError::invalid(vec![describe(&path, error.inner())])
            });
        std::future::ready(result)
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Item {
        priority: i64,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        name: String,
        items: Vec<Item>,
    }

    fn field_of(body: &str) -> (u16, Vec<String>) {
        match parse_json::<Body>(body.as_bytes()) {
            Ok(_) => (200, vec![]),
            Err(error) => {
                let problem = error.problem();
                (
                    problem.status,
                    problem.errors.into_iter().map(|e| e.field).collect(),
                )
            }
        }
    }

    #[test]
    fn syntax_errors_are_400_and_misfits_are_422_with_the_dotted_field() {
        assert_eq!(field_of(r#"{"name": "a", "items": []}"#), (200, vec![]));
        assert_eq!(field_of(r#"{"name": "a", "items": [}"#).0, 400);
        assert_eq!(field_of("").0, 400);
        assert_eq!(field_of(r#"{"name": "a", "items": []} x"#).0, 400);
        assert_eq!(
            field_of(r#"{"name": "a", "items": [{"priority": 1}, {"priority": "x"}]}"#),
            (422, vec!["items.1.priority".to_owned()])
        );
        assert_eq!(field_of(r#"{"items": []}"#), (422, vec!["name".to_owned()]));
        assert_eq!(
            field_of(r#"{"name": "a", "items": [{"priority": 1, "extra": 2}]}"#),
            (422, vec!["items.0.extra".to_owned()])
        );
        assert_eq!(field_of("[]"), (422, vec!["body".to_owned()]));
        // A struct taken from an array of its fields is refused too.
        assert_eq!(field_of(r#"["a", []]"#), (422, vec!["body".to_owned()]));
        assert_eq!(field_of(r#" ["a", [] "#).0, 400);
    }
}
