//! `Idempotency-Key` on the routes that create (SPEC §3, §7): a request with
//! a key runs once per caller and key; the same request again within 24 hours
//! gets the first answer, status, body and `Location` unchanged.
//!
//! A route takes its body with [`IdempotentJson`] instead of `JsonBody` and
//! runs its work through [`Idempotency::run`]:
//!
//! ```ignore
//! pub async fn send(
//!     req: HttpRequest,
//!     services: Data<Services>,
//!     IdempotentJson(body, idempotency): IdempotentJson<SendBody>,
//! ) -> Result<HttpResponse, ApiError> {
//!     idempotency
//!         .run(&services.clone(), async move {
//!             let sent = blocking(move || services.things.send(body.into())).await?;
//!             Ok(accepted_in(&req, "things", sent.id, ThingBody::from(sent)))
//!         })
//!         .await
//! }
//! ```
//!
//! "The same request" is the same method, path (with its query) and body,
//! the body compared in canonical form: its JSON written again with the
//! members of every object sorted by name and no white space, so that a
//! client that serialises the same body again (another member order, other
//! spacing) is not refused, while any difference of value is a new request.
//!
//! Every final answer of the work is kept: 2xx, and 4xx too (a refused
//! booking replays its `409`: a new attempt takes a new key). A 5xx, or a
//! panic, releases the key so that a retry runs again. The work runs in a
//! task of its own: a client that hangs up does not cancel it half-way, and
//! its answer is still kept for the retry.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;

use actix_web::body::BoxBody;
use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse};
use futures_util::FutureExt;
use omnichannel_app::Services;
use omnichannel_app::idempotency::{Begun, IdempotencyKeys};
use omnichannel_domain::idempotency::{
    Fingerprint, IdempotencyKey, IdempotencyScope, Reservation, StoredAnswer,
};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::auth::{ApiClient, Operator};
use crate::blocking::blocking;
use crate::extract::{JsonBody, parse_json};
use crate::problem::{ApiError, FieldProblem};

pub const IDEMPOTENCY_KEY_HEADER: &str = "Idempotency-Key";
/// `true` on an answer replayed from an earlier request.
pub const REPLAYED_HEADER: &str = "Idempotent-Replayed";

/// A JSON body, refused as `JsonBody` refuses it, and what makes its request
/// idempotent.
#[derive(Debug)]
pub struct IdempotentJson<T>(pub T, pub Idempotency);

/// The caller's key of a request, if it sent one, and the request's fingerprint.
#[derive(Debug, Clone)]
pub struct Idempotency {
    keyed: Option<Keyed>,
}

#[derive(Debug, Clone)]
struct Keyed {
    scope: IdempotencyScope,
    key: IdempotencyKey,
    fingerprint: Fingerprint,
}

/// A refusal of the `Idempotency-Key` header, naming it.
fn invalid_key(message: &str) -> ApiError {
    ApiError::invalid(vec![FieldProblem {
        field: IDEMPOTENCY_KEY_HEADER.to_owned(),
        message: message.to_owned(),
    }])
}

/// The key the request carries: none, or one of 1 to 255 characters.
fn key_of(req: &HttpRequest) -> Result<Option<IdempotencyKey>, ApiError> {
    let mut values = req.headers().get_all(IDEMPOTENCY_KEY_HEADER);
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(invalid_key("must be given once"));
    }
    let text =
        std::str::from_utf8(value.as_bytes()).map_err(|_| invalid_key("must be UTF-8 text"))?;
    IdempotencyKey::parse(text)
        .map(Some)
        .map_err(|error| invalid_key(&error.0))
}

/// Whose keys the request uses: the operator's or the API key's, as the gate
/// around the route authenticated it.
fn scope_of(req: &HttpRequest) -> Result<IdempotencyScope, ApiError> {
    let extensions = req.extensions();
    if let Some(Operator(admin)) = extensions.get::<Operator>() {
        return Ok(IdempotencyScope::Operator(*admin));
    }
    if let Some(ApiClient(key)) = extensions.get::<ApiClient>() {
        return Ok(IdempotencyScope::ApiKey(*key));
    }
    Err(ApiError::internal(anyhow::anyhow!(
        "an idempotent route is behind neither gate: its caller is unknown"
    )))
}

/// `value` written with the members of every object in name order.
fn sorted(value: &Value) -> Value {
    match value {
        Value::Object(members) => {
            let mut names: Vec<&String> = members.keys().collect();
            names.sort_unstable();
            let mut object = Map::with_capacity(members.len());
            for name in names {
                if let Some(member) = members.get(name) {
                    object.insert(name.clone(), sorted(member));
                }
            }
            Value::Object(object)
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

/// The canonical form of a JSON body: without white space, every object's
/// members sorted by name.
pub fn canonical_json(value: &Value) -> Vec<u8> {
    serde_json::to_vec(&sorted(value)).unwrap_or_default()
}

impl Idempotency {
    /// The idempotency of `req`, whose body in canonical form (for a JSON
    /// body, [`canonical_json`]) is `canonical_body`. An invalid key is `422`
    /// naming `Idempotency-Key`.
    pub fn of(req: &HttpRequest, canonical_body: &[u8]) -> Result<Self, ApiError> {
        let Some(key) = key_of(req)? else {
            return Ok(Self { keyed: None });
        };
        let target = match req.query_string() {
            "" => req.path().to_owned(),
            query => format!("{}?{query}", req.path()),
        };
        Ok(Self {
            keyed: Some(Keyed {
                scope: scope_of(req)?,
                key,
                fingerprint: IdempotencyKeys::fingerprint(
                    req.method().as_str(),
                    &target,
                    canonical_body,
                ),
            }),
        })
    }

    /// Answers with what `work` answers, once per key: without a key, `work`
    /// runs as it would anyway; with one, a replay of the first answer, `409`
    /// while the first request runs, `422` when the key was used with another
    /// request, or the answer of `work`, kept if final.
    pub async fn run(
        self,
        services: &Services,
        work: impl Future<Output = Result<HttpResponse, ApiError>> + 'static,
    ) -> Result<HttpResponse, ApiError> {
        let Some(Keyed {
            scope,
            key,
            fingerprint,
        }) = self.keyed
        else {
            return work.await;
        };
        let keys = services.idempotency.clone();
        let begun = blocking(move || keys.begin(scope, key, fingerprint)).await?;
        let reservation = match begun {
            Begun::Replay(answer) => return Ok(replay(&answer)),
            Begun::Run(reservation) => reservation,
        };
        let keys = services.idempotency.clone();
        actix_web::rt::spawn(run_reserved(keys, reservation, work))
            .await
            .map_err(|e| ApiError::internal(anyhow::anyhow!("the idempotent task failed: {e}")))?
    }
}

/// Runs `work` for the request that holds `reservation`, then keeps its
/// final answer or releases the key.
async fn run_reserved(
    keys: std::sync::Arc<IdempotencyKeys>,
    reservation: Reservation,
    work: impl Future<Output = Result<HttpResponse, ApiError>>,
) -> Result<HttpResponse, ApiError> {
    let outcome = AssertUnwindSafe(work)
        .catch_unwind()
        .await
        .unwrap_or_else(|_| {
            Err(ApiError::internal(anyhow::anyhow!(
                "the request panicked while holding an idempotency key"
            )))
        });
    let (answer, outcome) = match outcome {
        Ok(response) if StoredAnswer::is_final(response.status().as_u16()) => {
            let (answer, response) = kept(response).await?;
            (Some(answer), Ok(response))
        }
        Err(error) if StoredAnswer::is_final(error.status().as_u16()) => {
            let (answer, _) = kept(error.error_answer()).await?;
            (Some(answer), Err(error))
        }
        other => (None, other),
    };
    let recorded = blocking(move || {
        Ok::<_, ApiError>(match answer {
            Some(answer) => keys.complete(&reservation, &answer),
            None => keys.release(&reservation),
        })
    })
    .await;
    // The caller still gets its answer; a retry finds the key in progress
    // until it is stale.
    match recorded {
        Ok(Ok(())) => {}
        Ok(Err(error)) => tracing::error!(
            error = format!("{error:#}"),
            "recording the answer of an idempotent request failed"
        ),
        Err(error) => {
            tracing::error!(%error, "recording the answer of an idempotent request failed")
        }
    }
    outcome
}

/// The answer to keep and the response, rebuilt around its read body.
async fn kept(response: HttpResponse) -> Result<(StoredAnswer, HttpResponse), ApiError> {
    let header = |name| {
        response
            .headers()
            .get(name)
            .and_then(|value: &HeaderValue| value.to_str().ok())
            .map(str::to_owned)
    };
    let content_type = header(header::CONTENT_TYPE);
    let location = header(header::LOCATION);
    let status = response.status().as_u16();
    let (head, body) = response.into_parts();
    let bytes = actix_web::body::to_bytes(body)
        .await
        .map_err(|e| ApiError::internal(anyhow::anyhow!("the answer could not be read: {e}")))?;
    let body = String::from_utf8(bytes.to_vec())
        .map_err(|e| ApiError::internal(anyhow::anyhow!("the answer is not UTF-8 text: {e}")))?;
    let answer = StoredAnswer {
        status,
        content_type,
        location,
        body,
    };
    Ok((answer, head.set_body(BoxBody::new(bytes))))
}

/// The first answer, again.
fn replay(answer: &StoredAnswer) -> HttpResponse {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = HttpResponse::build(status);
    if let Some(content_type) = &answer.content_type {
        response.insert_header((header::CONTENT_TYPE, content_type.as_str()));
    }
    if let Some(location) = &answer.location {
        response.insert_header((header::LOCATION, location.as_str()));
    }
    response
        .insert_header((REPLAYED_HEADER, "true"))
        .body(answer.body.clone())
}

impl<T: DeserializeOwned + 'static> FromRequest for IdempotentJson<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let json = JsonBody::<Value>::from_request(req, payload);
        let req = req.clone();
        Box::pin(async move {
            let JsonBody(value) = json.await?;
            let canonical = canonical_json(&value);
            let idempotency = Idempotency::of(&req, &canonical)?;
            let body = parse_json::<T>(&canonical)?;
            Ok(Self(body, idempotency))
        })
    }
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;
    use omnichannel_domain::AdminId;
    use serde_json::json;

    use super::*;

    #[test]
    fn the_canonical_form_ignores_member_order_and_spacing_only() {
        let a: Value =
            serde_json::from_str(r#"{"b": 1, "a": {"d": [1, {"f": 2, "e": 3}], "c": null}}"#)
                .unwrap();
        let b: Value =
            serde_json::from_str(r#"{"a":{"c":null,"d":[1,{"e":3,"f":2}]},"b":1}"#).unwrap();
        assert_eq!(canonical_json(&a), canonical_json(&b));
        assert_eq!(
            canonical_json(&a),
            br#"{"a":{"c":null,"d":[1,{"e":3,"f":2}]},"b":1}"#.to_vec()
        );
        assert_ne!(
            canonical_json(&json!([1, 2])),
            canonical_json(&json!([2, 1]))
        );
        assert_ne!(
            canonical_json(&json!({"a": 1})),
            canonical_json(&json!({"a": 1.0}))
        );
    }

    fn operator_request(key: Option<&str>) -> HttpRequest {
        let mut request = TestRequest::post().uri("/api/admin/v1/communications");
        if let Some(key) = key {
            request = request.insert_header((IDEMPOTENCY_KEY_HEADER, key));
        }
        let request = request.to_http_request();
        request
            .extensions_mut()
            .insert(Operator(AdminId::generate()));
        request
    }

    fn fields(error: ApiError) -> (u16, Vec<String>) {
        let problem = error.problem();
        (
            problem.status,
            problem.errors.into_iter().map(|e| e.field).collect(),
        )
    }

    #[test]
    fn keys_of_1_to_255_characters_are_taken_and_others_named() {
        assert!(
            Idempotency::of(&operator_request(None), b"{}")
                .unwrap()
                .keyed
                .is_none()
        );
        let keyed = Idempotency::of(&operator_request(Some(&"k".repeat(255))), b"{}").unwrap();
        assert!(keyed.keyed.is_some());
        for bad in ["", &"k".repeat(256)] {
            let error = Idempotency::of(&operator_request(Some(bad)), b"{}").unwrap_err();
            assert_eq!(fields(error), (422, vec!["Idempotency-Key".to_owned()]));
        }
    }

    #[test]
    fn a_key_without_a_known_caller_is_a_server_error() {
        let request = TestRequest::post()
            .insert_header((IDEMPOTENCY_KEY_HEADER, "k"))
            .to_http_request();
        let error = Idempotency::of(&request, b"{}").unwrap_err();
        assert_eq!(error.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn the_method_path_and_query_are_part_of_the_request() {
        let fingerprint = |request: TestRequest| {
            let request = request
                .insert_header((IDEMPOTENCY_KEY_HEADER, "k"))
                .to_http_request();
            request
                .extensions_mut()
                .insert(Operator(AdminId::generate()));
            Idempotency::of(&request, b"{}")
                .unwrap()
                .keyed
                .unwrap()
                .fingerprint
        };
        let send = fingerprint(TestRequest::post().uri("/a"));
        assert_eq!(send, fingerprint(TestRequest::post().uri("/a")));
        assert_ne!(send, fingerprint(TestRequest::put().uri("/a")));
        assert_ne!(send, fingerprint(TestRequest::post().uri("/b")));
        assert_ne!(send, fingerprint(TestRequest::post().uri("/a?x=1")));
    }

    #[actix_web::test]
    async fn a_kept_answer_is_the_one_answered_and_replays_unchanged() {
        let response = HttpResponse::Accepted()
            .insert_header((header::LOCATION, "/api/admin/v1/communications/1"))
            .json(json!({"id": "1"}));
        let (answer, response) = kept(response).await.unwrap();
        assert_eq!(answer.status, 202);
        assert_eq!(
            answer.location.as_deref(),
            Some("/api/admin/v1/communications/1")
        );
        assert_eq!(answer.content_type.as_deref(), Some("application/json"));
        let body = actix_web::body::to_bytes(response.into_body())
            .await
            .unwrap();
        assert_eq!(body, answer.body.as_bytes());
        let replayed = replay(&answer);
        assert_eq!(replayed.status(), StatusCode::ACCEPTED);
        assert_eq!(
            replayed.headers().get(header::LOCATION).unwrap(),
            "/api/admin/v1/communications/1"
        );
        assert_eq!(replayed.headers().get(REPLAYED_HEADER).unwrap(), "true");
        let body = actix_web::body::to_bytes(replayed.into_body())
            .await
            .unwrap();
        assert_eq!(body, answer.body.as_bytes());
    }
}
