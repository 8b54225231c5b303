//! What the providers that call an HTTP API share: the classes of HTTP
//! answers and failures, base URLs and their display, secrets in headers and
//! in what a service answers, and reading an answer with a cap.

use std::sync::Arc;
use std::time::{Duration, Instant};

use omnichannel_domain::CommunicationId;
use omnichannel_domain::ports::{Delivery, ProviderError};
use reqwest::{Response, StatusCode};
use url::Url;

use crate::BuildError;

/// 408, 429 and 5xx: worth trying again.
pub(crate) fn is_transient(status: StatusCode) -> bool {
    status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS
        || status.is_server_error()
}

/// A request that got no answer. `error` has no URL.
pub(crate) fn failure(error: reqwest::Error, timeout: Duration) -> ProviderError {
    if error.is_timeout() {
        ProviderError::Transient(format!("timed out after {} ms", timeout.as_millis()))
    } else if error.is_connect() {
        ProviderError::Transient(format!("connection failed: {}", innermost_cause(&error)))
    } else if error.is_builder() {
        ProviderError::Permanent(format!(
            "the request cannot be built: {}",
            innermost_cause(&error)
        ))
    } else {
        ProviderError::Transient(format!("request failed: {}", innermost_cause(&error)))
    }
}

/// The most precise text of an error: that of the last error of its chain
/// (`Connection refused (os error 111)` rather than `client error (Connect)`).
pub(crate) fn innermost_cause(error: &reqwest::Error) -> String {
    let mut cause: &dyn std::error::Error = error;
    while let Some(source) = cause.source() {
        cause = source;
    }
    cause.to_string()
}

pub(crate) fn parse_url(text: &str) -> Result<Url, BuildError> {
    let url = Url::parse(text).map_err(|error| BuildError::InvalidUrl(error.to_string()))?;
    match url.scheme() {
        "http" | "https" => {}
        other => return Err(BuildError::UnsupportedScheme(other.to_owned())),
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(BuildError::InvalidUrl("it has no host".to_owned()));
    }
    Ok(url)
}

/// `scheme://host:port/path` of a URL: no credentials, query nor fragment.
pub(crate) fn endpoint(url: &Url) -> String {
    let mut shown = url.clone();
    // Both only fail for URLs that cannot have credentials: nothing to remove.
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.set_query(None);
    shown.set_fragment(None);
    shown.to_string()
}

/// What `Debug` shows of a configured URL: its endpoint, or that it is invalid.
pub(crate) fn redact_url(text: &str) -> String {
    Url::parse(text).map_or_else(|_| "<invalid URL>".to_owned(), |url| endpoint(&url))
}

/// A token fit for an HTTP header: visible ASCII, no space.
pub(crate) fn check_secret(setting: &'static str, secret: &str) -> Result<(), BuildError> {
    if secret.is_empty() {
        Err(BuildError::InvalidSetting {
            setting,
            reason: "it must not be blank",
        })
    } else if !secret.bytes().all(|b| b.is_ascii_graphic()) {
        Err(BuildError::InvalidSetting {
            setting,
            reason: "it must be printable ASCII without spaces",
        })
    } else {
        Ok(())
    }
}

/// `base_url` followed by `segments`, each percent-encoded. A base URL holds
/// no credentials, query nor fragment: they would be sent, or logged, with
/// every message.
pub(crate) fn api_url(base_url: &str, segments: &[&str]) -> Result<Url, BuildError> {
    let mut url = parse_url(base_url)?;
    if !url.username().is_empty()
        || url.password().is_some()
        || url.query().is_some()
        || url.fragment().is_some()
    {
        return Err(BuildError::InvalidUrl(
            "a base URL has no credentials, query nor fragment".to_owned(),
        ));
    }
    url.path_segments_mut()
        .map_err(|()| BuildError::InvalidUrl("it cannot be a base".to_owned()))?
        .pop_if_empty()
        .extend(segments);
    Ok(url)
}

/// `text` with every occurrence of `secret` replaced by `***`: what a
/// service answers is not trusted to leave the secret out.
pub(crate) fn mask(text: &str, secret: &str) -> String {
    if secret.is_empty() {
        text.to_owned()
    } else {
        text.replace(secret, "***")
    }
}

/// At most the first `limit` bytes of an answer's body; what arrived before
/// the connection failed, if it failed.
pub(crate) async fn read_answer(mut response: Response, limit: usize) -> Vec<u8> {
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let room = limit - body.len();
                if chunk.len() >= room {
                    body.extend_from_slice(&chunk[..room]);
                    return body;
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return body,
            Err(error) => {
                let error = innermost_cause(&error.without_url());
                tracing::debug!(%error, "the answer was cut short");
                return body;
            }
        }
    }
}

/// Runs one provider call, and logs at debug level whether `service` took
/// the `what` (`SMS`, `message`), how long it took, and why not.
pub(crate) async fn logged(
    id: CommunicationId,
    endpoint: Arc<str>,
    service: &'static str,
    what: &'static str,
    call: impl Future<Output = Result<Delivery, ProviderError>>,
) -> Result<Delivery, ProviderError> {
    let started = Instant::now();
    let result = call.await;
    let duration_ms = started.elapsed().as_millis();
    match &result {
        Ok(delivery) => tracing::debug!(
            communication.id = %id, endpoint = %endpoint, duration_ms,
            provider_message_id = delivery.provider_message_id.as_deref(),
            "{service} took the {what}"
        ),
        Err(error) => tracing::debug!(
            communication.id = %id, endpoint = %endpoint, duration_ms, %error,
            "{service} did not take the {what}"
        ),
    }
    result
}
