//! The `fcm` provider: push through Firebase Cloud Messaging HTTP v1, with a
//! service account's OAuth token (SPEC.md §4).
//!
//! Each message is `POST {base_url}/v1/projects/{project_id}/messages:send`
//! with `Authorization: Bearer <access token>`; the answer's `name` is the
//! `provider_message_id`. The access token comes from [`token`], shared by
//! all sends. FCM's errors are classified as firebase-admin-node reads them
//! (`src/messaging/messaging-errors-internal.ts`, `getErrorCode`): the
//! `errorCode` of the `google.firebase.fcm.v1.FcmError` detail, else the
//! error's `status`. `UNREGISTERED`, `INVALID_ARGUMENT`, `SENDER_ID_MISMATCH`
//! are permanent; `QUOTA_EXCEEDED`, `UNAVAILABLE`, `INTERNAL`, 408, 429 and
//! 5xx transient; a 401 drops the access token and is transient; any other
//! status is permanent, as are a message without push token. Error texts
//! never hold a token, the key or the JWT.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use omnichannel_domain::ports::{BoxFuture, Delivery, Outgoing, Provider, ProviderError};
use reqwest::header::AUTHORIZATION;
use reqwest::{Response, StatusCode, redirect};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;

use crate::BuildError;
use crate::web::{endpoint, failure, innermost_cause, is_transient, parse_url};

mod token;

use token::{ServiceAccount, TokenSource};

/// The `[channels.<code>]` table of an `fcm` channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FcmSpec {
    /// The service account's JSON key file: `project_id`, `client_email`,
    /// `private_key` (a secret), `token_uri`.
    pub service_account_file: PathBuf,
    /// `https://fcm.googleapis.com` unless pointed elsewhere; no trailing `/`.
    pub base_url: String,
    /// Overrides the file's `token_uri`.
    pub token_uri: Option<String>,
    pub timeout: Duration,
}

/// The `@type` of the detail that carries FCM's own error code.
const FCM_ERROR_TYPE: &str = "type.googleapis.com/google.firebase.fcm.v1.FcmError";
/// Error codes that another try will not cure.
const PERMANENT_CODES: [&str; 3] = ["UNREGISTERED", "INVALID_ARGUMENT", "SENDER_ID_MISMATCH"];
/// Error codes that may pass.
const TRANSIENT_CODES: [&str; 3] = ["QUOTA_EXCEEDED", "UNAVAILABLE", "INTERNAL"];
/// The most of an answer read.
const MAX_ANSWER_BYTES: usize = 64 * 1024;
/// The most of a service's error text kept in an error.
const MAX_SHOWN_CHARS: usize = 300;

/// Sends through one project's FCM with one client, whose connections are
/// kept alive between messages.
pub(crate) struct FcmProvider {
    inner: Arc<Inner>,
}

struct Inner {
    client: reqwest::Client,
    send_url: Url,
    /// `send_url` as logs show it.
    endpoint: String,
    timeout: Duration,
    tokens: TokenSource,
}

impl FcmProvider {
    pub(crate) fn new(spec: &FcmSpec) -> Result<Self, BuildError> {
        if spec.timeout.is_zero() {
            return Err(BuildError::ZeroTimeout);
        }
        let account = ServiceAccount::load(&spec.service_account_file, spec.token_uri.as_deref())?;
        let mut send_url = parse_url(&spec.base_url)?;
        send_url
            .path_segments_mut()
            .map_err(|()| BuildError::InvalidUrl("it cannot have a path".to_owned()))?
            .pop_if_empty()
            .extend(["v1", "projects", &account.project_id, "messages:send"]);
        let client = reqwest::Client::builder()
            .redirect(redirect::Policy::none())
            .timeout(spec.timeout)
            .build()
            .map_err(|error| BuildError::Client(innermost_cause(&error)))?;
        Ok(Self {
            inner: Arc::new(Inner {
                endpoint: endpoint(&send_url),
                send_url,
                timeout: spec.timeout,
                tokens: TokenSource::new(client.clone(), account, spec.timeout),
                client,
            }),
        })
    }
}

impl fmt::Debug for FcmProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FcmProvider")
            .field("endpoint", &self.inner.endpoint)
            .field("timeout", &self.inner.timeout)
            .field("tokens", &self.inner.tokens)
            .finish_non_exhaustive()
    }
}

/// The body of a send.
#[derive(Serialize)]
struct SendRequest<'a> {
    message: Message<'a>,
}

#[derive(Serialize)]
struct Message<'a> {
    token: &'a str,
    notification: Notification<'a>,
    data: Data,
}

#[derive(Serialize)]
struct Notification<'a> {
    title: &'a str,
    body: &'a str,
}

#[derive(Serialize)]
struct Data {
    communication_id: String,
}

/// The answer to a send: `projects/{project_id}/messages/{message_id}`.
#[derive(Deserialize)]
struct Sent {
    name: String,
}

/// Google's error answer: `{"error": {"code", "message", "status", "details"}}`.
#[derive(Deserialize)]
struct GoogleError {
    error: ErrorBody,
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    details: Vec<Value>,
}

impl ErrorBody {
    /// The `errorCode` of the `FcmError` detail.
    fn fcm_error_code(&self) -> Option<&str> {
        self.details
            .iter()
            .find(|detail| detail.get("@type").and_then(Value::as_str) == Some(FCM_ERROR_TYPE))
            .and_then(|detail| detail.get("errorCode"))
            .and_then(Value::as_str)
    }
}

impl Provider for FcmProvider {
    fn send(&self, message: Outgoing) -> BoxFuture<'static, Result<Delivery, ProviderError>> {
        let inner = Arc::clone(&self.inner);
        Box::pin(async move {
            let started = Instant::now();
            let result = inner.send(&message).await;
            let duration_ms = started.elapsed().as_millis();
            let id = message.communication_id;
            let endpoint = &inner.endpoint;
            match &result {
                Ok(_) => tracing::debug!(
                    communication.id = %id, endpoint, duration_ms,
                    "FCM took the push notification"
                ),
                Err(error) => tracing::debug!(
                    communication.id = %id, endpoint, duration_ms, %error,
                    "FCM did not take the push notification"
                ),
            }
            result
        })
    }
}

impl Inner {
    async fn send(&self, message: &Outgoing) -> Result<Delivery, ProviderError> {
        let Some(push_token) = message.to.as_deref().filter(|to| !to.trim().is_empty()) else {
            return Err(ProviderError::Permanent(
                "the client has no push token".to_owned(),
            ));
        };
        let body = SendRequest {
            message: Message {
                token: push_token,
                notification: Notification {
                    title: &message.communication_type_name,
                    body: &message.message,
                },
                data: Data {
                    communication_id: message.communication_id.to_string(),
                },
            },
        };
        let token = self.tokens.token().await?;
        let response = self
            .client
            .post(self.send_url.clone())
            .header(AUTHORIZATION, token.bearer.clone())
            .json(&body)
            .send()
            .await
            .map_err(|error| failure(error.without_url(), self.timeout))?;
        let (status, answer) = read_answer(response, self.timeout).await?;
        if status.is_success() {
            let name = answer
                .and_then(|answer| serde_json::from_slice::<Sent>(&answer).ok())
                .map(|sent| sent.name)
                .filter(|name| !name.is_empty());
            return Ok(Delivery {
                provider_message_id: name,
            });
        }
        if status == StatusCode::UNAUTHORIZED {
            self.tokens.refuse(&token).await;
        }
        let bearer = token.bearer.to_str().unwrap_or_default();
        let access_token = bearer.strip_prefix("Bearer ").unwrap_or(bearer);
        Err(refusal(
            status,
            answer.as_deref(),
            &[access_token, push_token],
        ))
    }
}

/// The error an FCM answer other than 2xx means.
fn refusal(status: StatusCode, answer: Option<&[u8]>, secrets: &[&str]) -> ProviderError {
    let error = answer
        .and_then(|answer| serde_json::from_slice::<GoogleError>(answer).ok())
        .map(|answer| answer.error);
    let code = error
        .as_ref()
        .and_then(|error| error.fcm_error_code().or(error.status.as_deref()))
        .filter(|code| !code.is_empty());
    let mut text = format!("HTTP {}", status.as_u16());
    if let Some(error) = &error {
        match (error.fcm_error_code(), error.status.as_deref()) {
            (Some(code), Some(status)) if code != status => {
                text = format!(
                    "{text} {} ({})",
                    shown(code, secrets),
                    shown(status, secrets)
                );
            }
            (Some(code), _) | (None, Some(code)) => {
                text = format!("{text} {}", shown(code, secrets));
            }
            (None, None) => {}
        }
        if let Some(message) = error.message.as_deref().filter(|m| !m.is_empty()) {
            text = format!("{text}: {}", shown(message, secrets));
        }
    }
    let transient = if status == StatusCode::UNAUTHORIZED {
        true
    } else if code.is_some_and(|code| PERMANENT_CODES.contains(&code)) {
        false
    } else if code.is_some_and(|code| TRANSIENT_CODES.contains(&code)) {
        true
    } else {
        is_transient(status)
    };
    if transient {
        ProviderError::Transient(text)
    } else {
        ProviderError::Permanent(text)
    }
}

/// The answer's status and body; no body when it is longer than
/// [`MAX_ANSWER_BYTES`].
async fn read_answer(
    mut response: Response,
    timeout: Duration,
) -> Result<(StatusCode, Option<Vec<u8>>), ProviderError> {
    let status = response.status();
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|error| failure(error.without_url(), timeout))?
    {
        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Ok((status, None));
        }
        body.extend_from_slice(&chunk);
    }
    Ok((status, Some(body)))
}

/// A service's text as an error may hold it: `***` for any of the
/// `secrets`, at most [`MAX_SHOWN_CHARS`] characters.
fn shown(text: &str, secrets: &[&str]) -> String {
    let mut text = text.to_owned();
    for secret in secrets.iter().filter(|secret| !secret.is_empty()) {
        text = text.replace(secret, "***");
    }
    match text.char_indices().nth(MAX_SHOWN_CHARS) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text,
    }
}

#[cfg(test)]
mod tests;
