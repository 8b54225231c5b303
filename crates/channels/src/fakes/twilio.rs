//! A fake of Twilio's Messages API: `POST
//! /2010-04-01/Accounts/{account_sid}/Messages.json`, checked and answered
//! as Twilio does.
//!
//! Every request is recorded, accepted or not. A request is refused as
//! Twilio refuses it, with Twilio's JSON error
//! (`{"code","message","more_info","status"}`):
//! - credentials other than `account_sid:auth_token` in HTTP basic auth:
//!   `401`, code 20003;
//! - another path: `404`, code 20404; another method: `405`, code 20004;
//! - no `To`: `400`, code 21604 (the fields are read from an
//!   `application/x-www-form-urlencoded` body only, as Twilio does); a `To`
//!   that is not a phone number: 21211; neither `From` nor
//!   `MessagingServiceSid`: 21603; no `Body`: 21602; a `Body` over 1600
//!   characters: 21617.
//!
//! A well-formed request gets the next scripted answer ([`FakeTwilio::fail_next`],
//! [`FakeTwilio::delay_next`]) if any, else `201` with a message resource
//! whose `sid` is `SM` and 32 hex digits.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_TYPE, WWW_AUTHENTICATE};
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Value, json};
use tokio::sync::watch;

/// One request as the fake received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TwilioRequest {
    pub method: String,
    /// The path and query, as sent.
    pub path: String,
    /// In the order received, names in lower case.
    pub headers: Vec<(String, String)>,
    /// The decoded fields of a form-encoded body, in the order sent; empty
    /// for any other body.
    pub form: Vec<(String, String)>,
    /// The status the fake answered.
    pub status: u16,
    /// The `sid` of the message created, when the fake accepted it.
    pub sid: Option<String>,
}

impl TwilioRequest {
    /// The first header of that name (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first form field of that name (exact case, as Twilio reads them).
    pub fn field(&self, name: &str) -> Option<&str> {
        self.form
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The user and password of a `Basic` authorization header.
    pub fn basic_auth(&self) -> Option<(String, String)> {
        let encoded = self.header("authorization")?.strip_prefix("Basic ")?;
        let decoded = String::from_utf8(BASE64.decode(encoded.trim()).ok()?).ok()?;
        let (user, password) = decoded.split_once(':')?;
        Some((user.to_owned(), password.to_owned()))
    }
}

/// How the fake answers one well-formed request instead of accepting it at once.
#[derive(Debug, Clone)]
enum Scripted {
    Error {
        status: u16,
        code: u32,
        message: String,
    },
    Delay(Duration),
}

struct State {
    account_sid: String,
    auth_token: String,
    requests: Mutex<Vec<TwilioRequest>>,
    /// How many requests are recorded, for [`FakeTwilio::wait_for`].
    count: watch::Sender<usize>,
    script: Mutex<VecDeque<Scripted>>,
    /// Makes the sids unique within the fake and across fakes.
    seed: u64,
    next: AtomicU64,
}

/// A running fake Twilio on a free port of 127.0.0.1, stopped when dropped.
pub struct FakeTwilio {
    addr: SocketAddr,
    state: Arc<State>,
    handle: ServerHandle,
}

impl FakeTwilio {
    /// Starts a fake of the account `account_sid` whose auth token is
    /// `auth_token`. Panics if no port can be bound. Must be called within
    /// a Tokio runtime.
    pub async fn start(account_sid: &str, auth_token: &str) -> Self {
        let state = Arc::new(State {
            account_sid: account_sid.to_owned(),
            auth_token: auth_token.to_owned(),
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

    /// What to configure as the provider's `base_url`: `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<TwilioRequest> {
        self.state.requests.lock().unwrap().clone()
    }

    /// The requests once at least `count` arrived. Panics after `timeout`.
    pub async fn wait_for(&self, count: usize, timeout: Duration) -> Vec<TwilioRequest> {
        let mut received = self.state.count.subscribe();
        let arrived = tokio::time::timeout(timeout, received.wait_for(|n| *n >= count)).await;
        if arrived.is_err() {
            panic!(
                "the fake Twilio got {} of {count} requests in {timeout:?}",
                self.requests().len()
            );
        }
        self.requests()
    }

    /// Answers the next well-formed request not yet scripted with Twilio's
    /// error `code` and `message` and HTTP `status`, e.g. `(400, 21211,
    /// "The 'To' number +1555 is not a valid phone number.")`, `(429, 20429,
    /// "Too Many Requests")` or `(503, 20503, "Service Unavailable")`.
    pub fn fail_next(&self, status: u16, code: u32, message: &str) {
        self.state
            .script
            .lock()
            .unwrap()
            .push_back(Scripted::Error {
                status,
                code,
                message: message.to_owned(),
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

impl Drop for FakeTwilio {
    fn drop(&mut self) {
        // Sends the stop command at once; awaiting it would only wait for
        // the workers to finish.
        drop(self.handle.stop(false));
    }
}

/// Checks, records and answers one request.
async fn serve(request: HttpRequest, body: web::Bytes, state: web::Data<State>) -> HttpResponse {
    let form = if is_form(&request) {
        url::form_urlencoded::parse(&body).into_owned().collect()
    } else {
        Vec::new()
    };
    let mut recorded = TwilioRequest {
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
        form,
        status: 0,
        sid: None,
    };
    let (answer, delay) = match check(&recorded, &state) {
        Err(refusal) => (refusal, None),
        Ok(()) => match state.script.lock().unwrap().pop_front() {
            Some(Scripted::Error {
                status,
                code,
                message,
            }) => (error(status, code, &message), None),
            Some(Scripted::Delay(delay)) => (created(&recorded, &state), Some(delay)),
            None => (created(&recorded, &state), None),
        },
    };
    recorded.status = answer.0;
    recorded.sid = answer.1["sid"].as_str().map(str::to_owned);
    state.requests.lock().unwrap().push(recorded);
    state.count.send_modify(|count| *count += 1);
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
    let mut response = HttpResponse::build(StatusCode::from_u16(answer.0).unwrap());
    if answer.0 == 401 {
        response.insert_header((WWW_AUTHENTICATE, r#"Basic realm="Twilio API""#));
    }
    response.json(answer.1)
}

fn is_form(request: &HttpRequest) -> bool {
    request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|mime| {
            mime.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

/// A status and its JSON body.
type Answer = (u16, Value);

/// `Ok` for a request Twilio would take, else Twilio's refusal.
fn check(request: &TwilioRequest, state: &State) -> Result<(), Answer> {
    if request.basic_auth() != Some((state.account_sid.clone(), state.auth_token.clone())) {
        return Err(error(401, 20003, "Authenticate"));
    }
    let path = format!("/2010-04-01/Accounts/{}/Messages.json", state.account_sid);
    if request.path != path {
        let message = format!("The requested resource {} was not found", request.path);
        return Err(error(404, 20404, &message));
    }
    if request.method != "POST" {
        return Err(error(405, 20004, "Method not allowed"));
    }
    let Some(to) = request.field("To") else {
        return Err(error(400, 21604, "A 'To' phone number is required."));
    };
    if !is_phone_number(to) {
        let message = format!("The 'To' number {to} is not a valid phone number.");
        return Err(error(400, 21211, &message));
    }
    if request.field("From").is_none() && request.field("MessagingServiceSid").is_none() {
        return Err(error(400, 21603, "A 'From' phone number is required."));
    }
    match request.field("Body") {
        None | Some("") => Err(error(400, 21602, "Message body is required.")),
        Some(body) if body.chars().count() > 1600 => Err(error(
            400,
            21617,
            "The concatenated message body exceeds the 1600 character limit.",
        )),
        Some(_) => Ok(()),
    }
}

/// E.164: `+`, then 8 to 15 digits, the first not 0.
fn is_phone_number(to: &str) -> bool {
    to.strip_prefix('+').is_some_and(|digits| {
        (8..=15).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !digits.starts_with('0')
    })
}

/// Twilio's error answer.
fn error(status: u16, code: u32, message: &str) -> Answer {
    (
        status,
        json!({
            "code": code,
            "message": message,
            "more_info": format!("https://www.twilio.com/docs/errors/{code}"),
            "status": status,
        }),
    )
}

/// `201` and the message resource Twilio answers for a message it queued.
fn created(request: &TwilioRequest, state: &State) -> Answer {
    let n = state.next.fetch_add(1, Ordering::Relaxed);
    let sid = format!("SM{:016x}{:016x}", state.seed, n);
    let account = &state.account_sid;
    let now = chrono::Utc::now().to_rfc2822();
    let body = request.field("Body").unwrap_or_default();
    let service = request.field("MessagingServiceSid");
    let uri = format!("/2010-04-01/Accounts/{account}/Messages/{sid}");
    (
        201,
        json!({
            "account_sid": account,
            "api_version": "2010-04-01",
            "body": body,
            "date_created": now,
            "date_sent": null,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": null,
            "error_message": null,
            "from": request.field("From"),
            "messaging_service_sid": service,
            "num_media": "0",
            "num_segments": "1",
            "price": null,
            "price_unit": "USD",
            "sid": sid,
            // With a messaging service, Twilio first accepts the message,
            // then queues it once it has picked a sender.
            "status": if service.is_some() { "accepted" } else { "queued" },
            "subresource_uris": { "media": format!("{uri}/Media.json") },
            "to": request.field("To"),
            "uri": format!("{uri}.json"),
        }),
    )
}

/// A number that differs between fakes and between runs.
pub(crate) fn random_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_nanos()),
    );
    hasher.finish()
}
