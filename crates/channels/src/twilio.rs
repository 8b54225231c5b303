//! The `twilio` provider: SMS through Twilio's Messages API (SPEC.md §4).
//!
//! Each message is `POST`ed form-encoded (`To`, `From` or
//! `MessagingServiceSid`, `Body`, and `StatusCallback` when receipts are
//! wanted) to `{base_url}/2010-04-01/Accounts/{account_sid}/Messages.json`
//! with HTTP basic auth `account_sid:auth_token`, as Twilio's own SDKs do
//! (twilio-python, `twilio/rest/api/v2010/account/message/__init__.py`).
//! The `sid` of the `201` answer is the `provider_message_id`.
//!
//! 408, 429, 5xx, timeouts and connection failures are transient; any other
//! status is permanent: a refused number (21211), bad credentials (20003),
//! a too long body (21617) will not get better by trying again. Error texts
//! name the status and Twilio's `code` and `message`, never the auth token.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use omnichannel_domain::ports::{BoxFuture, Delivery, Outgoing, Provider, ProviderError};
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use reqwest::{Response, redirect};
use serde::Deserialize;
use url::Url;

use crate::BuildError;
use crate::web::{
    api_url, check_secret, endpoint, failure, innermost_cause, is_transient, logged, mask,
    parse_url, read_answer,
};

/// Who the messages are sent as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TwilioSender {
    /// `From`: a phone number or an alphanumeric sender id.
    From(String),
    /// `MessagingServiceSid`: Twilio picks the number from the service.
    MessagingService(String),
}

/// The `[channels.<code>]` table of a `twilio` channel.
#[derive(Clone, PartialEq, Eq)]
pub struct TwilioSpec {
    pub account_sid: String,
    /// A secret.
    pub auth_token: String,
    pub sender: TwilioSender,
    /// `https://api.twilio.com` unless pointed elsewhere; no trailing `/`.
    pub base_url: String,
    /// Sent as `StatusCallback`: `{public_url}/api/receipts/twilio`.
    pub status_callback: Option<String>,
    pub timeout: Duration,
}

impl fmt::Debug for TwilioSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TwilioSpec")
            .field("account_sid", &self.account_sid)
            .field("auth_token", &"***")
            .field("sender", &self.sender)
            .field("base_url", &self.base_url)
            .field("status_callback", &self.status_callback)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// The most of an answer read: Twilio's answers are a few kilobytes.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// Sends each message through one client, whose connections are kept alive
/// between messages and which sends the basic auth header with each.
pub(crate) struct TwilioProvider {
    client: reqwest::Client,
    /// `…/2010-04-01/Accounts/{account_sid}/Messages.json`.
    url: Url,
    /// The URL without credentials nor query, for logs.
    endpoint: Arc<str>,
    /// The form field naming the sender and its value.
    sender: (&'static str, String),
    status_callback: Option<String>,
    timeout: Duration,
    /// Masked in every text taken from an answer.
    auth_token: Arc<str>,
}

impl TwilioProvider {
    pub(crate) fn new(spec: &TwilioSpec) -> Result<Self, BuildError> {
        let account_sid = spec.account_sid.trim();
        if account_sid.is_empty() || !account_sid.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(BuildError::InvalidSetting {
                setting: "account_sid",
                reason: "it must be letters and digits (AC…)",
            });
        }
        check_secret("auth_token", &spec.auth_token)?;
        let sender = match &spec.sender {
            TwilioSender::From(from) => ("From", non_blank("from", from)?),
            TwilioSender::MessagingService(sid) => (
                "MessagingServiceSid",
                non_blank("messaging_service_sid", sid)?,
            ),
        };
        if let Some(callback) = &spec.status_callback {
            parse_url(callback).map_err(|_| BuildError::InvalidSetting {
                setting: "status_callback",
                reason: "it must be an http or https URL",
            })?;
        }
        if spec.timeout.is_zero() {
            return Err(BuildError::ZeroTimeout);
        }
        let url = api_url(
            &spec.base_url,
            &["2010-04-01", "Accounts", account_sid, "Messages.json"],
        )?;

        let credentials = BASE64.encode(format!("{account_sid}:{}", spec.auth_token));
        let mut authorization = HeaderValue::from_str(&format!("Basic {credentials}"))
            .map_err(|_| BuildError::InvalidHeaderValue("Authorization".to_owned()))?;
        authorization.set_sensitive(true);
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, authorization);
        let client = reqwest::Client::builder()
            .default_headers(headers)
            .redirect(redirect::Policy::none())
            .timeout(spec.timeout)
            .build()
            .map_err(|error| BuildError::Client(innermost_cause(&error)))?;
        Ok(Self {
            client,
            endpoint: endpoint(&url).into(),
            url,
            sender,
            status_callback: spec.status_callback.clone(),
            timeout: spec.timeout,
            auth_token: spec.auth_token.as_str().into(),
        })
    }
}

/// `value` trimmed, or why a blank one is refused.
fn non_blank(setting: &'static str, value: &str) -> Result<String, BuildError> {
    let value = value.trim();
    if value.is_empty() {
        Err(BuildError::InvalidSetting {
            setting,
            reason: "it must not be blank",
        })
    } else {
        Ok(value.to_owned())
    }
}

impl fmt::Debug for TwilioProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TwilioProvider")
            .field("endpoint", &self.endpoint)
            .field("sender", &self.sender)
            .field("status_callback", &self.status_callback)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// The part of Twilio's message resource the provider keeps.
#[derive(Deserialize)]
struct Created {
    sid: Option<String>,
}

/// Twilio's error answer: `{"code":21211,"message":"…","more_info":"…","status":400}`.
/// Newer Twilio APIs answer RFC 9457 problems (`title`, `detail`, `code`),
/// which twilio-python also reads (`twilio/base/version.py`).
#[derive(Deserialize)]
struct TwilioError {
    code: Option<u64>,
    message: Option<String>,
    detail: Option<String>,
    title: Option<String>,
}

impl Provider for TwilioProvider {
    fn send(&self, message: Outgoing) -> BoxFuture<'static, Result<Delivery, ProviderError>> {
        let id = message.communication_id;
        let endpoint = Arc::clone(&self.endpoint);
        let request = message
            .to
            .as_deref()
            .map(str::trim)
            .filter(|to| !to.is_empty())
            .map(|to| {
                let mut form = vec![
                    ("To", to),
                    (self.sender.0, self.sender.1.as_str()),
                    ("Body", message.message.as_str()),
                ];
                if let Some(callback) = &self.status_callback {
                    form.push(("StatusCallback", callback));
                }
                self.client.post(self.url.clone()).form(&form)
            });
        let timeout = self.timeout;
        let token = Arc::clone(&self.auth_token);
        Box::pin(logged(id, endpoint, "Twilio", "SMS", async move {
            let request = request.ok_or_else(|| {
                ProviderError::Permanent("the client has no phone number".to_owned())
            })?;
            match request.send().await {
                Ok(response) => answer(response, &token).await,
                Err(error) => Err(failure(error.without_url(), timeout)),
            }
        }))
    }
}

/// Sent with the answer's `sid` on a 2xx, else the error the status means.
async fn answer(response: Response, token: &str) -> Result<Delivery, ProviderError> {
    let status = response.status();
    let body = read_answer(response, MAX_ANSWER_BYTES).await;
    if status.is_success() {
        let sid = serde_json::from_slice::<Created>(&body)
            .ok()
            .and_then(|created| created.sid)
            .filter(|sid| !sid.is_empty());
        if sid.is_none() {
            tracing::debug!("Twilio's answer holds no message sid");
        }
        return Ok(Delivery {
            provider_message_id: sid,
        });
    }
    let mut text = format!("HTTP {}", status.as_u16());
    if let Ok(error) = serde_json::from_slice::<TwilioError>(&body) {
        let said = error.message.or(error.detail).or(error.title);
        match (error.code, said) {
            (Some(code), Some(said)) => text += &format!(", Twilio error {code}: {said}"),
            (Some(code), None) => text += &format!(", Twilio error {code}"),
            (None, Some(said)) => text += &format!(": {said}"),
            (None, None) => {}
        }
    }
    let text = mask(&text, token);
    if is_transient(status) {
        Err(ProviderError::Transient(text))
    } else {
        Err(ProviderError::Permanent(text))
    }
}

#[cfg(test)]
mod tests;
