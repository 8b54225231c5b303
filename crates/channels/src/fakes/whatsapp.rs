//! A fake of the WhatsApp Cloud API's messages endpoint: `POST
//! /v21.0/{phone_number_id}/messages`, checked and answered as Meta's Graph
//! API does.
//!
//! Every request is recorded, accepted or not. A request is refused as the
//! Graph API refuses it, with its JSON error (`{"error":{"message","type",
//! "code","error_data","fbtrace_id"}}`):
//! - no `Authorization: Bearer {access_token}`, or another token: `401`,
//!   code 190 (`OAuthException`);
//! - another path or method: `400`, code 100 (`GraphMethodException`);
//! - a body that is not a JSON text message — `Content-Type` other than
//!   `application/json`, `messaging_product` other than `whatsapp`, no `to`
//!   or one that is not a phone number, `type` other than `text`, no
//!   `text.body` or one over 4096 characters: `400`, code 100.
//!
//! A well-formed request gets the next scripted answer
//! ([`FakeWhatsapp::fail_next`], [`FakeWhatsapp::delay_next`]) if any, else
//! `200` with a fresh `wamid.` message id.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::http::StatusCode;
use actix_web::http::header::CONTENT_TYPE;
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD as BASE64, URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use tokio::sync::watch;

use super::twilio::random_seed;

/// The Graph API version in the fake's base URL.
pub const API_VERSION: &str = "v21.0";

/// One request as the fake received it.
#[derive(Debug, Clone, PartialEq)]
pub struct WhatsappRequest {
    pub method: String,
    /// The path and query, as sent.
    pub path: String,
    /// In the order received, names in lower case.
    pub headers: Vec<(String, String)>,
    /// The body as JSON; `Value::Null` when it is not JSON.
    pub body: Value,
    /// The status the fake answered.
    pub status: u16,
    /// The `wamid.…` id of the message sent, when the fake accepted it.
    pub message_id: Option<String>,
}

impl WhatsappRequest {
    /// The first header of that name (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The token of a `Bearer` authorization header.
    pub fn bearer_token(&self) -> Option<&str> {
        self.header("authorization")?.strip_prefix("Bearer ")
    }
}

/// How the fake answers one well-formed request instead of accepting it at once.
#[derive(Debug, Clone)]
enum Scripted {
    Error {
        status: u16,
        code: u32,
        title: String,
    },
    Delay(Duration),
}

struct State {
    phone_number_id: String,
    access_token: String,
    requests: Mutex<Vec<WhatsappRequest>>,
    /// How many requests are recorded, for [`FakeWhatsapp::wait_for`].
    count: watch::Sender<usize>,
    script: Mutex<VecDeque<Scripted>>,
    /// Makes the message ids unique within the fake and across fakes.
    seed: u64,
    next: AtomicU64,
}

/// A running fake WhatsApp Cloud API on a free port of 127.0.0.1, stopped
/// when dropped.
pub struct FakeWhatsapp {
    addr: SocketAddr,
    state: Arc<State>,
    handle: ServerHandle,
}

impl FakeWhatsapp {
    /// Starts a fake of the business number `phone_number_id` whose access
    /// token is `access_token`. Panics if no port can be bound. Must be
    /// called within a Tokio runtime.
    pub async fn start(phone_number_id: &str, access_token: &str) -> Self {
        let state = Arc::new(State {
            phone_number_id: phone_number_id.to_owned(),
            access_token: access_token.to_owned(),
            requests: Mutex::new(Vec::new()),
            count: watch::Sender::new(0),
            script: Mutex::new(VecDeque::new()),
            seed: random_seed(),
            next: AtomicU64::new(1),
        });
        let listener = super::free_port();
        let addr = listener.local_addr().expect("the bound address");
        let handle = super::serve(listener, &state, |routes| {
            routes.default_service(web::to(serve));
        });
        Self {
            addr,
            state,
            handle,
        }
    }

    /// What to configure as the provider's `base_url`:
    /// `http://127.0.0.1:<port>/v21.0`.
    pub fn base_url(&self) -> String {
        format!("http://{}/{API_VERSION}", self.addr)
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<WhatsappRequest> {
        self.state.requests.lock().unwrap().clone()
    }

    /// The requests once at least `count` arrived. Panics after `timeout`.
    pub async fn wait_for(&self, count: usize, timeout: Duration) -> Vec<WhatsappRequest> {
        let mut received = self.state.count.subscribe();
        let arrived = tokio::time::timeout(timeout, received.wait_for(|n| *n >= count)).await;
        if arrived.is_err() {
            panic!(
                "the fake WhatsApp got {} of {count} requests in {timeout:?}",
                self.requests().len()
            );
        }
        self.requests()
    }

    /// Answers the next well-formed request not yet scripted with the Graph
    /// API error `code` and HTTP `status`; `title` is the code's title, which
    /// Meta puts in the message as `(#code) title`: e.g. `(400, 131047,
    /// "Re-engagement message")`, `(400, 130429, "Rate limit hit")` or
    /// `(500, 131000, "Something went wrong")`.
    pub fn fail_next(&self, status: u16, code: u32, title: &str) {
        self.state
            .script
            .lock()
            .unwrap()
            .push_back(Scripted::Error {
                status,
                code,
                title: title.to_owned(),
            });
    }

    /// Accepts the next well-formed request not yet scripted only after
    /// `delay`: longer than the provider's timeout, it times out.
    pub fn delay_next(&self, delay: Duration) {
        self.state
            .script
            .lock()
            .unwrap()
            .push_back(Scripted::Delay(delay));
    }
}

impl Drop for FakeWhatsapp {
    fn drop(&mut self) {
        // Sends the stop command at once; awaiting it would only wait for
        // the workers to finish.
        drop(self.handle.stop(false));
    }
}

/// Checks, records and answers one request.
async fn serve(request: HttpRequest, body: web::Bytes, state: web::Data<State>) -> HttpResponse {
    let is_json = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"));
    let mut recorded = WhatsappRequest {
        method: request.method().to_string(),
        path: request
            .uri()
            .path_and_query()
            .map_or_else(|| request.path().to_owned(), ToString::to_string),
        headers: request
            .headers()
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_owned(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        status: 0,
        message_id: None,
    };
    let (answer, delay) = match check(&recorded, is_json, &state) {
        Err(refusal) => (refusal, None),
        Ok(()) => match state.script.lock().unwrap().pop_front() {
            Some(Scripted::Error {
                status,
                code,
                title,
            }) => (error(status, code, &title, &state), None),
            Some(Scripted::Delay(delay)) => (sent(&recorded, &state), Some(delay)),
            None => (sent(&recorded, &state), None),
        },
    };
    recorded.status = answer.0;
    recorded.message_id = answer.1["messages"][0]["id"].as_str().map(str::to_owned);
    state.requests.lock().unwrap().push(recorded);
    state.count.send_modify(|count| *count += 1);
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
    HttpResponse::build(StatusCode::from_u16(answer.0).unwrap()).json(answer.1)
}

/// A status and its JSON body.
type Answer = (u16, Value);

/// `Ok` for a request the Cloud API would take, else its refusal.
fn check(request: &WhatsappRequest, is_json: bool, state: &State) -> Result<(), Answer> {
    if request.bearer_token() != Some(state.access_token.as_str()) {
        return Err(graph_error(
            401,
            190,
            "OAuthException",
            "Invalid OAuth access token - Cannot parse access token",
            None,
            state,
        ));
    }
    let path = format!("/{API_VERSION}/{}/messages", state.phone_number_id);
    if request.path != path || request.method != "POST" {
        let message = format!(
            "Unsupported {} request. Object with ID '{}' does not exist, cannot be loaded \
             due to missing permissions, or does not support this operation.",
            request.method.to_ascii_lowercase(),
            request.path.trim_start_matches('/'),
        );
        return Err(graph_error(
            400,
            100,
            "GraphMethodException",
            &message,
            None,
            state,
        ));
    }
    let invalid = |details: &str| {
        Err(graph_error(
            400,
            100,
            "OAuthException",
            "(#100) Invalid parameter",
            Some(details),
            state,
        ))
    };
    let body = &request.body;
    if !is_json || !body.is_object() {
        return invalid("The request body must be a JSON object.");
    }
    if body["messaging_product"] != "whatsapp" {
        return invalid("The parameter messaging_product is required and must be whatsapp.");
    }
    if !body["to"].as_str().is_some_and(is_phone_number) {
        return invalid("The parameter to is required and must be a phone number.");
    }
    if body["type"] != "text" {
        return invalid("The parameter type must be text.");
    }
    match body["text"]["body"].as_str() {
        None | Some("") => invalid("The parameter text['body'] is required."),
        Some(text) if text.chars().count() > 4096 => {
            invalid("Param text['body'] must be at most 4096 characters long.")
        }
        Some(_) => Ok(()),
    }
}

/// The digits of a phone number, with or without `+`, as the Cloud API takes it.
fn is_phone_number(to: &str) -> bool {
    let digits = to.strip_prefix('+').unwrap_or(to);
    (8..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())
}

/// What Meta says of the codes tests script most, in `error_data.details`.
const DETAILS: [(u32, &str); 7] = [
    (
        131047,
        "Message failed to send because more than 24 hours have passed since the customer \
         last replied to this number.",
    ),
    (130429, "Cloud API message throughput has been reached."),
    (
        131056,
        "Message failed to send because there were too many messages sent from this phone \
         number to the same phone number in a short period of time.",
    ),
    (
        131048,
        "Message failed to send because there are restrictions on how many messages can be \
         sent from this phone number.",
    ),
    (
        80007,
        "The WhatsApp Business Account has reached its rate limit.",
    ),
    (4, "The app has reached its API call rate limit."),
    (131000, "Message failed to send due to an unknown error."),
];

/// A scripted Graph API error.
fn error(status: u16, code: u32, title: &str, state: &State) -> Answer {
    let details = DETAILS
        .iter()
        .find(|(known, _)| *known == code)
        .map_or(title, |(_, details)| details);
    let message = format!("(#{code}) {title}");
    graph_error(
        status,
        code,
        "OAuthException",
        &message,
        Some(details),
        state,
    )
}

/// The Graph API's error answer.
fn graph_error(
    status: u16,
    code: u32,
    kind: &str,
    message: &str,
    details: Option<&str>,
    state: &State,
) -> Answer {
    let mut error = json!({
        "message": message,
        "type": kind,
        "code": code,
        "fbtrace_id": fbtrace_id(state),
    });
    if let Some(details) = details {
        error["error_data"] = json!({ "messaging_product": "whatsapp", "details": details });
    }
    (status, json!({ "error": error }))
}

/// `200` and what the Cloud API answers for a message it took.
fn sent(request: &WhatsappRequest, state: &State) -> Answer {
    let to = request.body["to"].as_str().unwrap_or_default();
    let n = state.next.fetch_add(1, Ordering::Relaxed);
    let id = BASE64.encode(format!(
        "{}{:016X}{n:08X}",
        to.trim_start_matches('+'),
        state.seed
    ));
    (
        200,
        json!({
            "messaging_product": "whatsapp",
            "contacts": [{ "input": to, "wa_id": to.trim_start_matches('+') }],
            "messages": [{ "id": format!("wamid.{id}") }],
        }),
    )
}

/// An id in the style of Meta's `fbtrace_id`.
fn fbtrace_id(state: &State) -> String {
    let n = state.next.fetch_add(1, Ordering::Relaxed);
    URL_SAFE_NO_PAD.encode(format!("{:08x}{n:04x}", state.seed))
}
