//! A fake of Google's OAuth 2.0 token endpoint and of Firebase Cloud
//! Messaging's HTTP v1 send endpoint, in one server on 127.0.0.1.
//!
//! It checks requests as Google does and answers in Google's formats:
//! - `POST /token`: the form's `grant_type` must be
//!   `urn:ietf:params:oauth:grant-type:jwt-bearer` and its `assertion` a JWT
//!   signed RS256 with the service account's key, `kid` = `private_key_id`,
//!   `iss` = `client_email`, `aud` = [`FakeFcm::token_uri`], the
//!   `firebase.messaging` scope, `iat` now and `exp` at most an hour later.
//!   It answers `{"access_token": "ya29.…", "expires_in": 3599, "token_type":
//!   "Bearer"}`, else `400 {"error": "invalid_grant", "error_description": …}`.
//! - `POST /v1/projects/{project_id}/messages:send`: the bearer must be a
//!   live token it issued (else `401 UNAUTHENTICATED`), the project its own
//!   (else `403 PERMISSION_DENIED`), the body `{"message": {"token",
//!   "notification": {"title", "body"}, "data": {<strings>}}}` (else `400
//!   INVALID_ARGUMENT`). It answers `{"name": "projects/{project_id}/messages/0:…"}`.
//!
//! A test scripts failures with [`FakeFcm::fail_next`] and
//! [`FakeFcm::fail_next_exchange`], short-lived tokens with
//! [`FakeFcm::token_lifetime`] and revoked ones with [`FakeFcm::revoke_tokens`].

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use actix_web::dev::ServerHandle;
use actix_web::http::StatusCode;
use actix_web::http::header::{AUTHORIZATION, CONTENT_TYPE};
use actix_web::{HttpRequest, HttpResponse, web};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value, json};
use tempfile::TempDir;

/// TEST-ONLY key pair, generated for these fakes with `openssl genpkey
/// -algorithm RSA -pkeyopt rsa_keygen_bits:2048` (PKCS#8, as Google's
/// `private_key`) and `openssl pkey -pubout`. It protects nothing.
pub const TEST_PRIVATE_KEY_PEM: &str = include_str!("fcm-test-key.pem");
/// The public half of [`TEST_PRIVATE_KEY_PEM`].
pub const TEST_PUBLIC_KEY_PEM: &str = include_str!("fcm-test-key.pub.pem");
/// The `private_key_id` of the fake's service account: the JWT's `kid`.
pub const PRIVATE_KEY_ID: &str = "3f1c0de2a9b84c7d96e5f4a3b2c1d0e9f8a7b6c5";
/// The scope the access token must be asked for.
pub const SCOPE: &str = "https://www.googleapis.com/auth/firebase.messaging";
/// The grant type of the token request.
pub const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// The `expires_in` of the tokens issued unless [`FakeFcm::token_lifetime`]
/// says otherwise; Google's own.
pub const DEFAULT_TOKEN_LIFETIME_SECS: u64 = 3599;

/// Google's answer to a send with a missing, unknown or revoked token.
const UNAUTHENTICATED_MESSAGE: &str = "Request had invalid authentication credentials. \
    Expected OAuth 2 access token, login cookie or other valid authentication credential. \
    See https://developers.google.com/identity/sign-in/web/devconsole-project.";
/// Google's answer to a JWT whose `iat`/`exp` are out of bounds.
const BAD_TIMEFRAME: &str = "Invalid JWT: Token must be a short-lived token (60 minutes) \
    and in a reasonable timeframe. Check your iat and exp values in the JWT claim.";

/// One token request the fake received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRequest {
    /// The `Content-Type` header.
    pub content_type: Option<String>,
    pub grant_type: Option<String>,
    /// The JWT, as sent.
    pub assertion: Option<String>,
    /// The status the fake answered.
    pub status: u16,
    /// The access token issued, on a `200`.
    pub access_token: Option<String>,
}

/// One message the send endpoint accepted.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedMessage {
    /// The `{project_id}` of the path.
    pub project_id: String,
    /// The `Authorization` header, `Bearer <access token>`.
    pub authorization: String,
    /// The `Content-Type` header.
    pub content_type: Option<String>,
    /// The whole JSON body.
    pub body: Value,
    /// The `name` answered.
    pub name: String,
}

impl ReceivedMessage {
    /// `message.token`: the device's registration token.
    pub fn push_token(&self) -> &str {
        self.body["message"]["token"].as_str().unwrap_or_default()
    }
}

/// A failure scripted for the send endpoint.
#[derive(Debug, Clone)]
struct SendFailure {
    status: u16,
    error_code: String,
}

/// A failure scripted for the token endpoint.
#[derive(Debug, Clone)]
struct ExchangeFailure {
    status: u16,
    error: String,
    description: String,
}

#[derive(Default)]
struct State {
    token_requests: Vec<TokenRequest>,
    /// Live tokens and when they expire.
    tokens: HashMap<String, Instant>,
    token_lifetime: Option<u64>,
    issued: u64,
    send_attempts: usize,
    messages: Vec<ReceivedMessage>,
    send_failures: VecDeque<SendFailure>,
    exchange_failures: VecDeque<ExchangeFailure>,
    exchange_delay: Duration,
}

/// What the handlers share.
struct Shared {
    project_id: String,
    client_email: String,
    token_uri: String,
    public_key: DecodingKey,
    state: Mutex<State>,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap()
    }
}

/// The fake, serving until dropped.
pub struct FakeFcm {
    shared: Arc<Shared>,
    base_url: String,
    service_account: Value,
    service_account_file: PathBuf,
    handle: ServerHandle,
    _dir: TempDir,
}

impl FakeFcm {
    /// Starts the fake for `project_id` on a free port of 127.0.0.1 and
    /// writes its service account file. Must be called within a Tokio
    /// runtime, on which the server runs.
    pub fn start(project_id: &str) -> Self {
        let listener = super::free_port();
        let base_url = format!("http://{}", listener.local_addr().unwrap());
        let token_uri = format!("{base_url}/token");
        let client_email = format!("omnichannel-push@{project_id}.iam.gserviceaccount.com");
        let shared = Arc::new(Shared {
            project_id: project_id.to_owned(),
            client_email: client_email.clone(),
            token_uri: token_uri.clone(),
            public_key: DecodingKey::from_rsa_pem(TEST_PUBLIC_KEY_PEM.as_bytes()).unwrap(),
            state: Mutex::new(State::default()),
        });
        let handle = super::serve(listener, &shared, |routes| {
            routes.route("/token", web::post().to(token)).route(
                "/v1/projects/{project_id}/messages:send",
                web::post().to(send),
            );
        });

        // The fields of a key file from the Google Cloud console.
        let service_account = json!({
            "type": "service_account",
            "project_id": project_id,
            "private_key_id": PRIVATE_KEY_ID,
            "private_key": TEST_PRIVATE_KEY_PEM,
            "client_email": client_email,
            "client_id": "104242424242424242424",
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": token_uri,
            "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
            "client_x509_cert_url": format!(
                "https://www.googleapis.com/robot/v1/metadata/x509/{client_email}"
            ),
            "universe_domain": "googleapis.com",
        });
        let dir = TempDir::new().unwrap();
        let service_account_file = dir.path().join("service-account.json");
        std::fs::write(
            &service_account_file,
            serde_json::to_vec_pretty(&service_account).unwrap(),
        )
        .unwrap();
        Self {
            shared,
            base_url,
            service_account,
            service_account_file,
            handle,
            _dir: dir,
        }
    }

    /// The service account's JSON key file, whose `token_uri` is the fake's.
    pub fn service_account_file(&self) -> &Path {
        &self.service_account_file
    }

    /// The content of [`Self::service_account_file`], to write variants of it.
    pub fn service_account(&self) -> Value {
        self.service_account.clone()
    }

    /// The FCM base URL: `http://127.0.0.1:<port>`, without a trailing `/`.
    pub fn base_url(&self) -> String {
        self.base_url.clone()
    }

    /// The token endpoint: `{base_url}/token`.
    pub fn token_uri(&self) -> String {
        self.shared.token_uri.clone()
    }

    pub fn project_id(&self) -> &str {
        &self.shared.project_id
    }

    /// The service account's `client_email`: the JWT's `iss`.
    pub fn client_email(&self) -> &str {
        &self.shared.client_email
    }

    /// How many token requests arrived, granted or not.
    pub fn exchanges(&self) -> usize {
        self.shared.state().token_requests.len()
    }

    /// The token requests received, oldest first.
    pub fn token_requests(&self) -> Vec<TokenRequest> {
        self.shared.state().token_requests.clone()
    }

    /// How many requests reached the send endpoint, accepted or not.
    pub fn send_attempts(&self) -> usize {
        self.shared.state().send_attempts
    }

    /// The messages accepted, oldest first.
    pub fn messages(&self) -> Vec<ReceivedMessage> {
        self.shared.state().messages.clone()
    }

    /// The accepted messages once there are at least `count` of them.
    ///
    /// # Panics
    /// When `timeout` passes first.
    pub async fn wait_for(&self, count: usize, timeout: Duration) -> Vec<ReceivedMessage> {
        let deadline = Instant::now() + timeout;
        loop {
            let messages = self.messages();
            if messages.len() >= count {
                return messages;
            }
            assert!(
                Instant::now() < deadline,
                "{} message(s) after {timeout:?}, expected {count}",
                messages.len()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Answers the next authenticated send with `status` and Google's error
    /// JSON carrying the FCM `error_code` (`UNREGISTERED`, `QUOTA_EXCEEDED`,
    /// …); an empty `error_code` sends no `FcmError` detail. Calls queue up.
    pub fn fail_next(&self, status: u16, error_code: &str) {
        self.shared.state().send_failures.push_back(SendFailure {
            status,
            error_code: error_code.to_owned(),
        });
    }

    /// Answers the next token request with `status` and `{"error": error,
    /// "error_description": description}`. Calls queue up.
    pub fn fail_next_exchange(&self, status: u16, error: &str, description: &str) {
        self.shared
            .state()
            .exchange_failures
            .push_back(ExchangeFailure {
                status,
                error: error.to_owned(),
                description: description.to_owned(),
            });
    }

    /// The `expires_in` of the tokens issued from now on; the fake refuses
    /// them once that many seconds have passed.
    pub fn token_lifetime(&self, secs: u64) {
        self.shared.state().token_lifetime = Some(secs);
    }

    /// Makes the token endpoint wait `delay` before answering each request
    /// from now on: sends that need a token meanwhile pile up.
    pub fn delay_exchanges(&self, delay: Duration) {
        self.shared.state().exchange_delay = delay;
    }

    /// Revokes every token issued so far: the next send that uses one gets
    /// `401 UNAUTHENTICATED`.
    pub fn revoke_tokens(&self) {
        self.shared.state().tokens.clear();
    }

    /// The access tokens issued so far, revoked or not.
    pub fn issued_tokens(&self) -> Vec<String> {
        self.token_requests()
            .into_iter()
            .filter_map(|request| request.access_token)
            .collect()
    }
}

impl Drop for FakeFcm {
    fn drop(&mut self) {
        // Sends the stop command at once; there is nothing to wait for.
        drop(self.handle.stop(false));
    }
}

/// `POST /token`.
async fn token(request: HttpRequest, body: web::Bytes, shared: web::Data<Shared>) -> HttpResponse {
    let content_type = header(&request, CONTENT_TYPE.as_str());
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let grant_type = form.get("grant_type").cloned();
    let assertion = form.get("assertion").cloned();
    let delay = shared.state().exchange_delay;
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }

    let mut state = shared.state();
    let scripted = state.exchange_failures.pop_front();
    let outcome = match scripted {
        Some(failure) => Err((failure.status, failure.error, failure.description)),
        None => check_token_request(&shared, content_type.as_deref(), &form),
    };
    let (status, answer, access_token) = match outcome {
        Ok(()) => {
            state.issued += 1;
            let lifetime = state.token_lifetime.unwrap_or(DEFAULT_TOKEN_LIFETIME_SECS);
            let access_token = format!("ya29.fake-{}-{:x}", state.issued, unique());
            state.tokens.insert(
                access_token.clone(),
                Instant::now() + Duration::from_secs(lifetime),
            );
            let answer = json!({
                "access_token": access_token,
                "expires_in": lifetime,
                "token_type": "Bearer",
            });
            (200, answer, Some(access_token))
        }
        Err((status, error, description)) => (
            status,
            json!({"error": error, "error_description": description}),
            None,
        ),
    };
    state.token_requests.push(TokenRequest {
        content_type,
        grant_type,
        assertion,
        status,
        access_token,
    });
    respond(status, &answer)
}

/// `Err((status, error, error_description))` as Google answers a bad request.
fn check_token_request(
    shared: &Shared,
    content_type: Option<&str>,
    form: &HashMap<String, String>,
) -> Result<(), (u16, String, String)> {
    let refuse =
        |error: &str, description: &str| Err((400, error.to_owned(), description.to_owned()));
    if content_type != Some("application/x-www-form-urlencoded") {
        return refuse(
            "invalid_request",
            "Content-Type must be application/x-www-form-urlencoded",
        );
    }
    match form.get("grant_type").map(String::as_str) {
        Some(GRANT_TYPE) => {}
        Some(other) => {
            return refuse(
                "unsupported_grant_type",
                &format!("Invalid grant_type: {other}"),
            );
        }
        None => return refuse("invalid_request", "Missing required parameter: grant_type"),
    }
    let Some(assertion) = form.get("assertion") else {
        return refuse("invalid_request", "Missing required parameter: assertion");
    };
    let Ok(header) = jsonwebtoken::decode_header(assertion) else {
        return refuse("invalid_grant", "Invalid JWT: malformed.");
    };
    if header.alg != Algorithm::RS256 || header.kid.as_deref() != Some(PRIVATE_KEY_ID) {
        return refuse("invalid_grant", "Invalid JWT Signature.");
    }
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_required_spec_claims(&["exp", "iat", "iss", "aud"]);
    validation.set_audience(&[&shared.token_uri]);
    validation.set_issuer(&[&shared.client_email]);
    let claims = match jsonwebtoken::decode::<Map<String, Value>>(
        assertion,
        &shared.public_key,
        &validation,
    ) {
        Ok(data) => data.claims,
        Err(error) => {
            let description = match error.kind() {
                ErrorKind::InvalidSignature | ErrorKind::InvalidAlgorithm => {
                    "Invalid JWT Signature.".to_owned()
                }
                ErrorKind::ExpiredSignature => BAD_TIMEFRAME.to_owned(),
                ErrorKind::InvalidIssuer => "Invalid grant: account not found".to_owned(),
                ErrorKind::InvalidAudience => format!(
                    "Invalid JWT: Failed audience check. The expected audience is {}.",
                    shared.token_uri
                ),
                other => format!("Invalid JWT: {other:?}"),
            };
            return refuse("invalid_grant", &description);
        }
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let iat = claims.get("iat").and_then(Value::as_u64).unwrap_or(0);
    let exp = claims.get("exp").and_then(Value::as_u64).unwrap_or(0);
    if iat > now + 60 || iat + 300 < now || exp <= iat || exp - iat > 3600 {
        return refuse("invalid_grant", BAD_TIMEFRAME);
    }
    match claims.get("scope").and_then(Value::as_str) {
        None | Some("") => refuse("invalid_scope", "Empty or missing scope not allowed."),
        Some(scope) if scope.split(' ').any(|s| s == SCOPE) => Ok(()),
        Some(_) => refuse(
            "invalid_scope",
            "Invalid OAuth scope or ID token audience provided.",
        ),
    }
}

/// `POST /v1/projects/{project_id}/messages:send`.
async fn send(
    request: HttpRequest,
    project_id: web::Path<String>,
    body: web::Bytes,
    shared: web::Data<Shared>,
) -> HttpResponse {
    let project_id = project_id.into_inner();
    let mut state = shared.state();
    state.send_attempts += 1;

    let authorization = header(&request, AUTHORIZATION.as_str()).unwrap_or_default();
    let live = authorization
        .strip_prefix("Bearer ")
        .and_then(|token| state.tokens.get(token))
        .is_some_and(|expires_at| Instant::now() < *expires_at);
    if !live {
        return google_error(401, UNAUTHENTICATED_MESSAGE, "");
    }
    if project_id != shared.project_id {
        let message = format!(
            "Permission 'cloudmessaging.messages.create' denied on resource \
             '//cloudresourcemanager.googleapis.com/projects/{project_id}' (or it may not exist)."
        );
        return google_error(403, &message, "");
    }
    let content_type = header(&request, CONTENT_TYPE.as_str());
    if content_type.as_deref() != Some("application/json") {
        return google_error(
            400,
            "Invalid JSON payload received: not application/json.",
            "",
        );
    }
    let body: Value = match serde_json::from_slice(&body) {
        Ok(body) => body,
        Err(error) => {
            return google_error(400, &format!("Invalid JSON payload received. {error}"), "");
        }
    };
    if let Err(problem) = check_message(&body) {
        return google_error(400, &problem, "INVALID_ARGUMENT");
    }
    if let Some(failure) = state.send_failures.pop_front() {
        let message = failure_message(failure.status, &failure.error_code);
        return google_error(failure.status, message, &failure.error_code);
    }
    let name = format!(
        "projects/{project_id}/messages/0:{}%31bd1c9631bd1c96",
        1_500_415_314_455_276 + state.messages.len()
    );
    state.messages.push(ReceivedMessage {
        project_id,
        authorization,
        content_type,
        body,
        name: name.clone(),
    });
    respond(200, &json!({ "name": name }))
}

/// Google's message for a scripted failure: by FCM error code, else by status.
fn failure_message(status: u16, error_code: &str) -> &'static str {
    match (error_code, status) {
        ("UNREGISTERED", _) | ("", 404) => "Requested entity was not found.",
        ("INVALID_ARGUMENT", _) => "The registration token is not a valid FCM registration token",
        ("SENDER_ID_MISMATCH", _) => "SenderId mismatch",
        ("QUOTA_EXCEEDED", _) | ("", 429) => "Quota exceeded for quota metric 'Send requests'.",
        ("UNAVAILABLE", _) | ("", 503) => "The service is currently unavailable.",
        ("INTERNAL", _) | ("", 500) => "Internal error encountered.",
        _ => "The request failed.",
    }
}

/// What is wrong with a send's body, as far as this fake knows FCM.
fn check_message(body: &Value) -> Result<(), String> {
    let body = object(body, "")?;
    only(body, "", &["message"])?;
    let message = object(
        body.get("message")
            .ok_or("Invalid JSON payload received. Missing \"message\".")?,
        "message",
    )?;
    only(message, "message", &["token", "notification", "data"])?;
    match message.get("token") {
        Some(Value::String(token)) if !token.is_empty() => {}
        Some(_) => return Err("Invalid value at 'message.token' (TYPE_STRING)".to_owned()),
        None => return Err("Recipient of the message is not set.".to_owned()),
    }
    if let Some(notification) = message.get("notification") {
        let notification = object(notification, "message.notification")?;
        only(
            notification,
            "message.notification",
            &["title", "body", "image"],
        )?;
        strings(notification, "message.notification")?;
    }
    if let Some(data) = message.get("data") {
        strings(object(data, "message.data")?, "message.data")?;
    }
    Ok(())
}

fn object<'a>(value: &'a Value, at: &str) -> Result<&'a Map<String, Value>, String> {
    value
        .as_object()
        .ok_or_else(|| format!("Invalid value at '{at}' (TYPE_MESSAGE)"))
}

fn only(object: &Map<String, Value>, at: &str, known: &[&str]) -> Result<(), String> {
    match object.keys().find(|key| !known.contains(&key.as_str())) {
        Some(key) => Err(format!(
            "Invalid JSON payload received. Unknown name \"{key}\" at '{at}': Cannot find field."
        )),
        None => Ok(()),
    }
}

fn strings(object: &Map<String, Value>, at: &str) -> Result<(), String> {
    match object.iter().find(|(_, value)| !value.is_string()) {
        Some((key, _)) => Err(format!("Invalid value at '{at}.{key}' (TYPE_STRING)")),
        None => Ok(()),
    }
}

/// Google's error JSON, with an `FcmError` detail when `error_code` is set.
fn google_error(status: u16, message: &str, error_code: &str) -> HttpResponse {
    let canonical = match status {
        400 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        429 => "RESOURCE_EXHAUSTED",
        500 => "INTERNAL",
        503 => "UNAVAILABLE",
        _ => "UNKNOWN",
    };
    let mut error = json!({"code": status, "message": message, "status": canonical});
    if !error_code.is_empty() {
        error["details"] = json!([{
            "@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
            "errorCode": error_code,
        }]);
    }
    respond(status, &json!({ "error": error }))
}

fn respond(status: u16, body: &Value) -> HttpResponse {
    HttpResponse::build(StatusCode::from_u16(status).unwrap())
        .content_type("application/json; charset=UTF-8")
        .body(body.to_string())
}

fn header(request: &HttpRequest, name: &str) -> Option<String> {
    request
        .headers()
        .get(name)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
}

/// Different at each call, so that two fakes never issue the same token.
fn unique() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}
