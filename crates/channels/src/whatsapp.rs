//! The `whatsapp` provider: the messenger channel through the WhatsApp Cloud
//! API (SPEC.md §4).
//!
//! Each message is `POST`ed to `{base_url}/{phone_number_id}/messages` with
//! `Authorization: Bearer {access_token}` as a text message to the client's
//! phone without its `+`, as Meta's WhatsApp-Nodejs-SDK does
//! (`src/requester.ts`, `src/api/messages.ts`); `messages[0].id` of the
//! answer (`wamid.…`) is the `provider_message_id`.
//!
//! Errors are Graph API errors, `{"error":{"message","type","code",
//! "error_data":{"details"},"fbtrace_id"}}`. Meta's error codes page
//! (developers.facebook.com/documentation/business-messaging/whatsapp/support/error-codes)
//! asks to build the handling on `code` rather than on the HTTP status,
//! which is 400 for most codes, the rate limits 80007, 130429, 131048 and
//! 131056 included (4 is listed with 400 or 429), and 401 for an invalid or
//! expired token (190). So 408, 429, 5xx, timeouts, connection failures and
//! those rate limit codes are transient, whatever the status; every other
//! error is permanent, among them 131047 (the client last wrote more than
//! 24 hours ago), so that dispatch falls back to the next channel. Error
//! texts name the status, the code and Meta's message and details, never
//! the access token.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use omnichannel_domain::ports::{BoxFuture, Delivery, Outgoing, Provider, ProviderError};
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use reqwest::{Response, StatusCode, redirect};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::BuildError;
use crate::web::{
    api_url, check_secret, endpoint, failure, innermost_cause, is_transient, logged, mask,
    read_answer,
};

/// The `[channels.<code>]` table of a `whatsapp` channel.
#[derive(Clone, PartialEq, Eq)]
pub struct WhatsappSpec {
    pub phone_number_id: String,
    /// A secret, sent as `Authorization: Bearer …`.
    pub access_token: String,
    /// `https://graph.facebook.com/v21.0` unless pointed elsewhere; no trailing `/`.
    pub base_url: String,
    pub timeout: Duration,
}

impl fmt::Debug for WhatsappSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WhatsappSpec")
            .field("phone_number_id", &self.phone_number_id)
            .field("access_token", &"***")
            .field("base_url", &self.base_url)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// Graph API error codes that are rate limits, retried whatever the HTTP
/// status: 4 (app calls), 80007 (business account), 130429 (throughput),
/// 131048 (spam rate limit), 131056 (business–client pair).
pub(crate) const RATE_LIMIT_CODES: [u64; 5] = [4, 80007, 130429, 131048, 131056];

/// The most of an answer read: the Cloud API's answers are a few hundred bytes.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// Sends each message through one client, whose connections are kept alive
/// between messages and which sends the bearer token with each.
pub(crate) struct WhatsappProvider {
    client: reqwest::Client,
    /// `{base_url}/{phone_number_id}/messages`.
    url: Url,
    /// The URL without credentials nor query, for logs.
    endpoint: Arc<str>,
    timeout: Duration,
    /// Masked in every text taken from an answer.
    access_token: Arc<str>,
}

impl WhatsappProvider {
    pub(crate) fn new(spec: &WhatsappSpec) -> Result<Self, BuildError> {
        let phone_number_id = spec.phone_number_id.trim();
        if phone_number_id.is_empty() || !phone_number_id.bytes().all(|b| b.is_ascii_alphanumeric())
        {
            return Err(BuildError::InvalidSetting {
                setting: "phone_number_id",
                reason: "it must be the id Meta gives the number, not the number itself",
            });
        }
        check_secret("access_token", &spec.access_token)?;
        if spec.timeout.is_zero() {
            return Err(BuildError::ZeroTimeout);
        }
        let url = api_url(&spec.base_url, &[phone_number_id, "messages"])?;

        let mut authorization = HeaderValue::from_str(&format!("Bearer {}", spec.access_token))
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
            timeout: spec.timeout,
            access_token: spec.access_token.as_str().into(),
        })
    }
}

impl fmt::Debug for WhatsappProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WhatsappProvider")
            .field("endpoint", &self.endpoint)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// A text message: `{"messaging_product":"whatsapp","to":"33612345678",
/// "type":"text","text":{"body":"…"}}`.
#[derive(Serialize)]
struct TextMessage<'a> {
    messaging_product: &'static str,
    to: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    text: Text<'a>,
}

#[derive(Serialize)]
struct Text<'a> {
    body: &'a str,
}

/// The part of the answer to a message sent that the provider keeps.
#[derive(Deserialize)]
struct Sent {
    #[serde(default)]
    messages: Vec<SentMessage>,
}

#[derive(Deserialize)]
struct SentMessage {
    id: Option<String>,
}

#[derive(Deserialize)]
struct GraphAnswer {
    error: GraphError,
}

#[derive(Deserialize)]
struct GraphError {
    code: Option<u64>,
    message: Option<String>,
    error_data: Option<ErrorData>,
}

#[derive(Deserialize)]
struct ErrorData {
    details: Option<String>,
}

impl Provider for WhatsappProvider {
    fn send(&self, message: Outgoing) -> BoxFuture<'static, Result<Delivery, ProviderError>> {
        let id = message.communication_id;
        let endpoint = Arc::clone(&self.endpoint);
        let request = message
            .to
            .as_deref()
            .map(|to| to.trim().trim_start_matches('+'))
            .filter(|to| !to.is_empty())
            .map(|to| {
                let body = TextMessage {
                    messaging_product: "whatsapp",
                    to,
                    kind: "text",
                    text: Text {
                        body: &message.message,
                    },
                };
                self.client.post(self.url.clone()).json(&body)
            });
        let timeout = self.timeout;
        let token = Arc::clone(&self.access_token);
        Box::pin(logged(id, endpoint, "WhatsApp", "message", async move {
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

/// Sent with the answer's message id on a 2xx, else the error the status
/// and the Graph API error code mean.
async fn answer(response: Response, token: &str) -> Result<Delivery, ProviderError> {
    let status = response.status();
    let body = read_answer(response, MAX_ANSWER_BYTES).await;
    if status.is_success() {
        let id = serde_json::from_slice::<Sent>(&body)
            .ok()
            .and_then(|sent| sent.messages.into_iter().next())
            .and_then(|message| message.id)
            .filter(|id| !id.is_empty());
        if id.is_none() {
            tracing::debug!("WhatsApp's answer holds no message id");
        }
        return Ok(Delivery {
            provider_message_id: id,
        });
    }
    let error = serde_json::from_slice::<GraphAnswer>(&body)
        .ok()
        .map(|answer| answer.error);
    let code = error.as_ref().and_then(|error| error.code);
    let mut text = format!("HTTP {}", status.as_u16());
    if let Some(error) = error {
        if let Some(code) = code {
            text += &format!(", WhatsApp error {code}");
        }
        let details = error.error_data.and_then(|data| data.details);
        let said: Vec<String> = error.message.into_iter().chain(details).collect();
        if !said.is_empty() {
            text += &format!(": {}", said.join(": "));
        }
    }
    let text = mask(&text, token);
    if is_transient_error(status, code) {
        Err(ProviderError::Transient(text))
    } else {
        Err(ProviderError::Permanent(text))
    }
}

/// Worth trying again: a status that says so, or a rate limit's code.
fn is_transient_error(status: StatusCode, code: Option<u64>) -> bool {
    is_transient(status) || code.is_some_and(|code| RATE_LIMIT_CODES.contains(&code))
}

#[cfg(test)]
mod tests;
