//! The `http` provider, the universal adapter: each message is `POST`ed as
//! JSON to a configured URL (SPEC.md §4).
//!
//! A 2xx answer means sent, with the `provider_message_id` of an optional
//! `{"provider_message_id": "..."}` answer; 408, 429, 5xx, timeouts and
//! connection failures are transient; any other status is permanent.
//! Redirects are not followed. Error texts name the status or the kind of
//! failure, never a header, nor the URL's credentials or query.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use omnichannel_domain::ports::{BoxFuture, Delivery, Outgoing, Provider, ProviderError};
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use reqwest::{Response, redirect};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::BuildError;
use crate::web::{endpoint, failure, innermost_cause, is_transient, parse_url};

/// Headers the provider sets itself, which the configuration may not.
const RESERVED_HEADERS: [&str; 6] = [
    "idempotency-key",
    "content-type",
    "content-length",
    "transfer-encoding",
    "host",
    "connection",
];

/// The most of a 2xx answer read to find the `provider_message_id`.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// Posts each message to one URL through one client, whose connections are
/// kept alive between messages.
pub(crate) struct HttpProvider {
    client: reqwest::Client,
    url: Url,
    /// `scheme://host:port/path`, for logs.
    endpoint: Arc<str>,
    timeout: Duration,
    header_names: Vec<String>,
}

impl HttpProvider {
    pub(crate) fn new(
        url: &str,
        timeout: Duration,
        headers: &[(String, String)],
    ) -> Result<Self, BuildError> {
        let url = parse_url(url)?;
        if timeout.is_zero() {
            return Err(BuildError::ZeroTimeout);
        }
        let mut configured = HeaderMap::new();
        for (name, value) in headers {
            let header = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| BuildError::InvalidHeaderName(name.clone()))?;
            if RESERVED_HEADERS.contains(&header.as_str()) {
                return Err(BuildError::ReservedHeader(name.clone()));
            }
            let mut value = HeaderValue::from_str(value)
                .map_err(|_| BuildError::InvalidHeaderValue(name.clone()))?;
            value.set_sensitive(true);
            configured.append(header, value);
        }
        let client = reqwest::Client::builder()
            .default_headers(configured)
            .redirect(redirect::Policy::none())
            .timeout(timeout)
            .build()
            .map_err(|error| BuildError::Client(innermost_cause(&error)))?;
        Ok(Self {
            client,
            endpoint: endpoint(&url).into(),
            url,
            timeout,
            header_names: headers.iter().map(|(name, _)| name.clone()).collect(),
        })
    }
}

impl fmt::Debug for HttpProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpProvider")
            .field("endpoint", &self.endpoint)
            .field("timeout", &self.timeout)
            .field("header_names", &self.header_names)
            .finish_non_exhaustive()
    }
}

/// The JSON body of SPEC.md §4.
#[derive(Serialize)]
struct Body<'a> {
    communication_id: String,
    user_id: String,
    department_id: String,
    communication_type: &'a str,
    channel: &'a str,
    to: Option<&'a str>,
    message: &'a str,
}

impl<'a> From<&'a Outgoing> for Body<'a> {
    fn from(message: &'a Outgoing) -> Self {
        Self {
            communication_id: message.communication_id.to_string(),
            user_id: message.user_id.to_string(),
            department_id: message.department_id.to_string(),
            communication_type: &message.communication_type,
            channel: &message.channel,
            to: message.to.as_deref(),
            message: &message.message,
        }
    }
}

/// The optional answer to a 2xx.
#[derive(Deserialize)]
struct Answer {
    provider_message_id: Option<String>,
}

impl Provider for HttpProvider {
    fn send(&self, message: Outgoing) -> BoxFuture<'static, Result<Delivery, ProviderError>> {
        let id = message.communication_id;
        let request = serde_json::to_vec(&Body::from(&message)).map(|json| {
            self.client
                .post(self.url.clone())
                .header(CONTENT_TYPE, "application/json")
                .header("idempotency-key", id.to_string())
                .body(json)
        });
        let endpoint = Arc::clone(&self.endpoint);
        let timeout = self.timeout;
        Box::pin(async move {
            let request = request.map_err(|error| {
                ProviderError::Permanent(format!("the message cannot be encoded as JSON: {error}"))
            })?;
            let started = Instant::now();
            let result = match request.send().await {
                Ok(response) => answer(response).await,
                Err(error) => Err(failure(error.without_url(), timeout)),
            };
            let duration_ms = started.elapsed().as_millis();
            match &result {
                Ok(_) => tracing::debug!(
                    communication.id = %id, endpoint = %endpoint, duration_ms,
                    "the webhook took the message"
                ),
                Err(error) => tracing::debug!(
                    communication.id = %id, endpoint = %endpoint, duration_ms, %error,
                    "the webhook did not take the message"
                ),
            }
            result
        })
    }
}

/// Sent on a 2xx, else the error the status means.
async fn answer(response: Response) -> Result<Delivery, ProviderError> {
    let status = response.status();
    if status.is_success() {
        Ok(Delivery {
            provider_message_id: provider_message_id(response).await,
        })
    } else {
        let text = format!("HTTP {}", status.as_u16());
        if is_transient(status) {
            Err(ProviderError::Transient(text))
        } else {
            Err(ProviderError::Permanent(text))
        }
    }
}

/// The id of a `{"provider_message_id": "..."}` answer; `None` for any other
/// answer, which is still a success.
async fn provider_message_id(mut response: Response) -> Option<String> {
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) if body.len() + chunk.len() <= MAX_ANSWER_BYTES => {
                body.extend_from_slice(&chunk);
            }
            Ok(Some(_)) => {
                tracing::debug!("the webhook's answer is too long to hold a message id");
                return None;
            }
            Ok(None) => break,
            Err(error) => {
                let error = innermost_cause(&error.without_url());
                tracing::debug!(%error, "the webhook's answer was cut short");
                return None;
            }
        }
    }
    serde_json::from_slice::<Answer>(&body)
        .ok()
        .and_then(|answer| answer.provider_message_id)
        .filter(|id| !id.is_empty())
}

#[cfg(test)]
mod tests;
