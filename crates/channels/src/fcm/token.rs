//! The service account and its OAuth 2.0 access token, obtained as Google's
//! client libraries do (RFC 7523; googleapis/node-gtoken `#requestToken`): a
//! JWT signed RS256 with the account's `private_key`, with `iss` = the
//! account's `client_email`, `scope`, `aud` = `token_uri`, `iat` and
//! `exp` = `iat` + 3600, `POST`ed form-encoded to `token_uri` as
//! `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=<jwt>`;
//! the answer is `{"access_token": "…", "expires_in": 3599, "token_type":
//! "Bearer"}`, or `{"error": "invalid_grant", "error_description": "…"}`.
//! As google-auth-library-nodejs `JWTAccess` does, the JWT's header names the
//! key with `kid` = `private_key_id`.

use std::fmt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use omnichannel_domain::ports::ProviderError;
use reqwest::header::HeaderValue;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tokio::sync::Mutex;
use url::Url;

use super::{read_answer, shown};
use crate::BuildError;
use crate::web::{failure, is_transient, parse_url};

/// What the access token is asked for.
pub(super) const SCOPE: &str = "https://www.googleapis.com/auth/firebase.messaging";
pub(super) const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// The JWT's lifetime, the longest Google accepts.
const ASSERTION_LIFETIME_SECS: i64 = 3600;
/// A token is not used in its last minute (SPEC.md §4).
const EXPIRY_MARGIN: Duration = Duration::from_secs(60);

/// What the provider uses of a service account's JSON key file.
pub(super) struct ServiceAccount {
    pub(super) project_id: String,
    pub(super) client_email: String,
    private_key_id: String,
    /// A secret.
    key: EncodingKey,
    /// The file's `token_uri` unless the configuration overrides it.
    pub(super) token_uri: Url,
}

/// The claims of the JWT exchanged for an access token.
#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    scope: &'a str,
    aud: &'a str,
    iat: i64,
    exp: i64,
}

impl ServiceAccount {
    /// Reads and checks `file`; `token_uri`, when given, replaces the file's.
    /// Errors name the file and the field, never a field's value.
    pub(super) fn load(file: &Path, token_uri: Option<&str>) -> Result<Self, BuildError> {
        let refuse = |problem: String| BuildError::ServiceAccount {
            file: file.display().to_string(),
            problem,
        };
        let text = std::fs::read_to_string(file)
            .map_err(|error| refuse(format!("cannot be read: {error}")))?;
        // serde_json's own text could quote a value: only its position is shown.
        let json: Value = serde_json::from_str(&text).map_err(|error| {
            refuse(format!(
                "is not valid JSON ({:?} error at line {}, column {})",
                error.classify(),
                error.line(),
                error.column()
            ))
        })?;
        let Value::Object(fields) = json else {
            return Err(refuse("does not hold a JSON object".to_owned()));
        };
        let field = |name: &str| required(&fields, name).map_err(&refuse);

        let kind = field("type")?;
        if kind != "service_account" {
            return Err(refuse(format!(
                "has a \"type\" of {kind:?}, not \"service_account\""
            )));
        }
        let project_id = field("project_id")?.to_owned();
        let private_key_id = field("private_key_id")?.to_owned();
        let client_email = field("client_email")?.to_owned();
        let key = EncodingKey::from_rsa_pem(field("private_key")?.as_bytes()).map_err(|_| {
            refuse("has a \"private_key\" that is not an RSA private key in PEM form".to_owned())
        })?;
        let token_uri = match token_uri {
            Some(configured) => parse_url(configured)?,
            None => parse_url(field("token_uri")?).map_err(|error| {
                refuse(format!("has a \"token_uri\" that is not usable: {error}"))
            })?,
        };
        let account = Self {
            project_id,
            client_email,
            private_key_id,
            key,
            token_uri,
        };
        // The PEM is only decoded above: signing once proves the key is one.
        account
            .assertion()
            .map_err(|_| refuse("has a \"private_key\" that cannot sign with RS256".to_owned()))?;
        Ok(account)
    }

    /// A JWT for the token endpoint, valid for an hour from now.
    fn assertion(&self) -> Result<String, jsonwebtoken::errors::Error> {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.private_key_id.clone());
        let iat = chrono::Utc::now().timestamp();
        let claims = Claims {
            iss: &self.client_email,
            scope: SCOPE,
            aud: self.token_uri.as_str(),
            iat,
            exp: iat + ASSERTION_LIFETIME_SECS,
        };
        jsonwebtoken::encode(&header, &claims, &self.key)
    }
}

/// The value of a required, non-empty string field, else what is wrong.
fn required<'a>(fields: &'a Map<String, Value>, name: &str) -> Result<&'a str, String> {
    match fields.get(name) {
        None | Some(Value::Null) => Err(format!("has no {name:?}")),
        Some(Value::String(value)) if value.trim().is_empty() => {
            Err(format!("has an empty {name:?}"))
        }
        Some(Value::String(value)) => Ok(value),
        Some(_) => Err(format!("has a {name:?} that is not a string")),
    }
}

impl fmt::Debug for ServiceAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceAccount")
            .field("project_id", &self.project_id)
            .field("client_email", &self.client_email)
            .field("private_key_id", &self.private_key_id)
            .field("token_uri", &crate::web::endpoint(&self.token_uri))
            .finish_non_exhaustive()
    }
}

/// An access token and when it expires.
#[derive(Clone)]
pub(super) struct AccessToken {
    /// `Bearer <token>`, marked sensitive.
    pub(super) bearer: HeaderValue,
    expires_at: Instant,
}

impl AccessToken {
    /// Usable for longer than the margin.
    fn is_fresh(&self, now: Instant) -> bool {
        now + EXPIRY_MARGIN < self.expires_at
    }
}

/// The access tokens of one service account: one at a time, shared by all
/// the sends, refreshed by one exchange however many sends need it at once.
pub(super) struct TokenSource {
    client: reqwest::Client,
    account: ServiceAccount,
    timeout: Duration,
    /// Exchanges finished so far; only changed while `last` is locked.
    finished: AtomicU64,
    /// The outcome of the last exchange; `None` once its token was refused.
    /// Held across an exchange, so that concurrent sends wait for its outcome.
    last: Mutex<Option<Result<AccessToken, ProviderError>>>,
}

/// The token endpoint's answer to a granted exchange.
#[derive(Deserialize)]
struct Granted {
    access_token: String,
    /// Seconds; a token without it is used only by the sends waiting for it.
    #[serde(default)]
    expires_in: u64,
}

/// The token endpoint's answer to a refused exchange (RFC 6749 §5.2).
#[derive(Deserialize)]
struct Refused {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

impl TokenSource {
    pub(super) fn new(client: reqwest::Client, account: ServiceAccount, timeout: Duration) -> Self {
        Self {
            client,
            account,
            timeout,
            finished: AtomicU64::new(0),
            last: Mutex::new(None),
        }
    }

    /// The cached token while it is fresh, else a new one. Calls made while
    /// an exchange is under way share its outcome, success or failure.
    pub(super) async fn token(&self) -> Result<AccessToken, ProviderError> {
        let seen = self.finished.load(Ordering::Acquire);
        let mut last = self.last.lock().await;
        let now = Instant::now();
        let waited_for_an_exchange = self.finished.load(Ordering::Acquire) != seen;
        match &*last {
            Some(Ok(token)) if token.is_fresh(now) => return Ok(token.clone()),
            Some(Ok(token)) if waited_for_an_exchange && now < token.expires_at => {
                return Ok(token.clone());
            }
            Some(Err(error)) if waited_for_an_exchange => return Err(error.clone()),
            _ => {}
        }
        let result = self.exchange().await;
        *last = Some(result.clone());
        self.finished.fetch_add(1, Ordering::Release);
        result
    }

    /// Forgets `token`, which FCM refused, unless it was already replaced.
    pub(super) async fn refuse(&self, token: &AccessToken) {
        let mut last = self.last.lock().await;
        if matches!(&*last, Some(Ok(cached)) if cached.bearer == token.bearer) {
            *last = None;
        }
    }

    /// One exchange of a new JWT for an access token.
    async fn exchange(&self) -> Result<AccessToken, ProviderError> {
        let started = Instant::now();
        let assertion = self.account.assertion().map_err(|error| {
            ProviderError::Permanent(format!(
                "the service account's key cannot sign the token request: {:?}",
                error.kind()
            ))
        })?;
        let result = self.request(&assertion, started).await;
        let duration_ms = started.elapsed().as_millis();
        let token_uri = crate::web::endpoint(&self.account.token_uri);
        match &result {
            Ok(token) => tracing::debug!(
                token_uri,
                duration_ms,
                expires_in_s = token
                    .expires_at
                    .saturating_duration_since(started)
                    .as_secs(),
                "obtained an FCM access token"
            ),
            Err(error) => tracing::debug!(
                token_uri, duration_ms, %error,
                "the token endpoint gave no FCM access token"
            ),
        }
        result
    }

    async fn request(
        &self,
        assertion: &str,
        started: Instant,
    ) -> Result<AccessToken, ProviderError> {
        let form = [("grant_type", GRANT_TYPE), ("assertion", assertion)];
        let response = self
            .client
            .post(self.account.token_uri.clone())
            .form(&form)
            .send()
            .await
            .map_err(|error| at_token_endpoint(failure(error.without_url(), self.timeout)))?;
        let (status, body) = read_answer(response, self.timeout)
            .await
            .map_err(at_token_endpoint)?;
        let secrets = [assertion];
        if !status.is_success() {
            let refused = body.and_then(|body| serde_json::from_slice::<Refused>(&body).ok());
            let text = match refused {
                Some(Refused {
                    error,
                    error_description: Some(description),
                }) => format!("HTTP {} {error}: {description}", status.as_u16()),
                Some(Refused { error, .. }) => format!("HTTP {} {error}", status.as_u16()),
                None => format!("HTTP {}", status.as_u16()),
            };
            let text = format!("token endpoint: {}", shown(&text, &secrets));
            return Err(if is_transient(status) {
                ProviderError::Transient(text)
            } else {
                ProviderError::Permanent(text)
            });
        }
        let granted = body
            .and_then(|body| serde_json::from_slice::<Granted>(&body).ok())
            .filter(|granted| !granted.access_token.is_empty())
            .ok_or_else(|| {
                ProviderError::Transient(format!(
                    "token endpoint: HTTP {} without an access token",
                    status.as_u16()
                ))
            })?;
        let mut bearer = HeaderValue::try_from(format!("Bearer {}", granted.access_token))
            .map_err(|_| {
                ProviderError::Transient(
                    "token endpoint: the access token is not a valid header value".to_owned(),
                )
            })?;
        bearer.set_sensitive(true);
        // Counted from before the request, as gtoken does: never later than
        // the token endpoint's own clock.
        Ok(AccessToken {
            bearer,
            expires_at: started + Duration::from_secs(granted.expires_in),
        })
    }
}

impl fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenSource")
            .field("account", &self.account)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// The same error, said to come from the token endpoint.
fn at_token_endpoint(error: ProviderError) -> ProviderError {
    match error {
        ProviderError::Transient(text) => {
            ProviderError::Transient(format!("token endpoint: {text}"))
        }
        ProviderError::Permanent(text) => {
            ProviderError::Permanent(format!("token endpoint: {text}"))
        }
    }
}
