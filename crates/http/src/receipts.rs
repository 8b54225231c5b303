//! Providers' delivery receipts (SPEC.md §4). Twilio posts each message's
//! status to `{public_url}/api/receipts/twilio`, form-encoded and signed in
//! `X-Twilio-Signature`; a receipt moves its communication as
//! `POST /communications/{id}/status` does: `delivered` → delivered,
//! `read` → read, `undelivered` and `failed` → failed. Twilio's other
//! statuses (`queued`, `sending`, `sent`, …) change nothing.

use std::fmt;

use actix_web::http::{StatusCode, header};
use actix_web::web::{Bytes, Data};
use actix_web::{HttpRequest, HttpResponse, post};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use omnichannel_app::Services;
use omnichannel_domain::communication::CommunicationStatus;
use omnichannel_domain::validation::ValidationErrors;
use serde::Deserialize;
use sha1::Sha1;
use utoipa::ToSchema;

use crate::blocking::blocking;
use crate::problem::{ApiError, Problem};

/// Where Twilio posts its receipts.
pub const TWILIO_RECEIPTS_PATH: &str = "/api/receipts/twilio";
/// The header that carries Twilio's signature of a request.
pub const TWILIO_SIGNATURE_HEADER: &str = "X-Twilio-Signature";

/// Twilio's status callbacks: the URL Twilio posts to, as it signs it, and the
/// auth token of each account the service sends through.
#[derive(Clone)]
pub struct TwilioReceipts {
    url: String,
    /// `(account_sid, auth_token)`; the tokens are secrets.
    accounts: Vec<(String, String)>,
}

impl TwilioReceipts {
    /// `url` is `{public_url}/api/receipts/twilio`, exactly as given to Twilio
    /// in `StatusCallback`.
    pub fn new(url: impl Into<String>, accounts: Vec<(String, String)>) -> Self {
        Self {
            url: url.into(),
            accounts,
        }
    }

    /// Whether `signature` is Twilio's signature of a request to our URL with
    /// `query` (without `?`, empty when none) and the form `params`, by the
    /// token of the account the request names (or of any account when it
    /// names none).
    fn verify(&self, query: &str, params: &[(String, String)], signature: &str) -> bool {
        let Ok(signature) = STANDARD.decode(signature.trim()) else {
            return false;
        };
        let url = if query.is_empty() {
            self.url.clone()
        } else {
            format!("{}?{query}", self.url)
        };
        let account = params
            .iter()
            .find(|(name, _)| name == "AccountSid")
            .map(|(_, value)| value.as_str());
        let urls = signed_urls(&url);
        self.accounts
            .iter()
            .filter(|(sid, _)| account.is_none_or(|account| account == sid))
            .any(|(_, token)| {
                urls.iter().any(|url| {
                    signer(token, url, params)
                        .is_some_and(|mac| mac.verify_slice(&signature).is_ok())
                })
            })
    }
}

impl fmt::Debug for TwilioReceipts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TwilioReceipts")
            .field("url", &self.url)
            .field(
                "accounts",
                &self.accounts.iter().map(|(sid, _)| sid).collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// The URL as Twilio may have signed it: as configured, without its port, and
/// with the scheme's default port written out (Twilio's own validators accept
/// all three).
fn signed_urls(url: &str) -> Vec<String> {
    let mut urls = vec![url.to_owned()];
    if let Ok(parsed) = url::Url::parse(url)
        && let Some(host) = parsed.host_str()
    {
        let rest = &url[parsed[..url::Position::BeforePath].len()..];
        let scheme = parsed.scheme();
        urls.push(format!("{scheme}://{host}{rest}"));
        if let Some(port) = parsed.port_or_known_default() {
            urls.push(format!("{scheme}://{host}:{port}{rest}"));
        }
    }
    urls.dedup();
    urls
}

/// Twilio's request signature: HMAC-SHA1, keyed by the auth token, of the full
/// URL followed by each form parameter's name and value, sorted by name (then
/// value), base64-encoded.
pub fn twilio_signature(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    signer(auth_token, url, params)
        .map(|mac| STANDARD.encode(mac.finalize().into_bytes()))
        .unwrap_or_default()
}

fn signer(auth_token: &str, url: &str, params: &[(String, String)]) -> Option<Hmac<Sha1>> {
    let mut mac = Hmac::<Sha1>::new_from_slice(auth_token.as_bytes()).ok()?;
    mac.update(url.as_bytes());
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    for (name, value) in sorted {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    Some(mac)
}

/// The fields of Twilio's status callback that the service reads; Twilio sends
/// more (`To`, `From`, `ApiVersion`, …), all covered by the signature.
#[derive(Deserialize, ToSchema)]
#[allow(dead_code, non_snake_case)] // documents the form; read by name from the pairs
pub struct TwilioStatusCallback {
    /// The message's SID, kept as the communication's `provider_message_id`.
    #[schema(example = "SM0123456789abcdef0123456789abcdef")]
    MessageSid: String,
    /// `queued`, `sending`, `sent`, `delivered`, `undelivered`, `failed`, `read`, …
    #[schema(example = "delivered")]
    MessageStatus: String,
    /// The account that sent the message.
    AccountSid: Option<String>,
    /// Twilio's error code of an undelivered or failed message.
    ErrorCode: Option<String>,
}

/// Twilio's status callback for a message sent through a `twilio` channel.
/// Accepted only with a valid `X-Twilio-Signature` made with the account's
/// auth token over `{public_url}/api/receipts/twilio` and the form; the
/// communication is found by its `provider_message_id`.
#[utoipa::path(
    tag = "communications",
    params(
        ("X-Twilio-Signature" = String, Header, description = "Base64 HMAC-SHA1 of the URL and the sorted form parameters, keyed by the account's auth token"),
    ),
    request_body(content = TwilioStatusCallback, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 204, description = "The receipt is applied, or its status changes nothing"),
        (status = 403, body = Problem, description = "The signature is missing or invalid", content_type = "application/problem+json"),
        (status = 404, body = Problem, description = "Receipts are not configured (no `public_url` or no `twilio` channel), or no communication has this MessageSid", content_type = "application/problem+json"),
        (status = 409, body = Problem, description = "The life-cycle has no such move", content_type = "application/problem+json"),
        (status = 413, body = Problem, content_type = "application/problem+json"),
        (status = 415, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, description = "MessageSid or MessageStatus is missing", content_type = "application/problem+json"),
    )
)]
#[post("/api/receipts/twilio")]
pub async fn twilio(
    services: Data<Services>,
    receipts: Option<Data<TwilioReceipts>>,
    request: HttpRequest,
    body: Bytes,
) -> Result<HttpResponse, ApiError> {
    let Some(receipts) = receipts else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "Twilio receipts are not configured on this installation.",
        ));
    };
    let form = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|mime| {
            mime.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !form {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "The body must be sent with Content-Type: application/x-www-form-urlencoded.",
        ));
    }
    let params: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
    let signature = request
        .headers()
        .get(TWILIO_SIGNATURE_HEADER)
        .and_then(|value| value.to_str().ok());
    let Some(signature) = signature else {
        return Err(forbidden("The X-Twilio-Signature header is missing."));
    };
    if !receipts.verify(request.query_string(), &params, signature) {
        return Err(forbidden("The X-Twilio-Signature is not valid."));
    }

    let field = |name: &str| {
        params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, value)| value.clone())
            .filter(|value| !value.is_empty())
    };
    let mut errors = ValidationErrors::new();
    let sid = field("MessageSid");
    let status = field("MessageStatus");
    if sid.is_none() {
        errors.add("MessageSid", "required");
    }
    if status.is_none() {
        errors.add("MessageStatus", "required");
    }
    let (Some(sid), Some(status)) = (sid, status) else {
        return Err(errors.into());
    };
    let to = match status.as_str() {
        "delivered" => CommunicationStatus::Delivered,
        "read" => CommunicationStatus::Read,
        "undelivered" | "failed" => CommunicationStatus::Failed,
        _ => return Ok(HttpResponse::NoContent().finish()),
    };
    let detail = match (to, field("ErrorCode")) {
        (CommunicationStatus::Failed, Some(code)) => {
            Some(format!("twilio: {status}, error {code}"))
        }
        _ => Some(format!("twilio: {status}")),
    };
    blocking(move || services.communications.receipt(&sid, to, detail)).await?;
    Ok(HttpResponse::NoContent().finish())
}

fn forbidden(detail: &str) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, detail)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect()
    }

    const URL: &str = "https://mycompany.com/myapp.php?foo=1&bar=2";

    /// The vectors of Twilio's own validator tests (twilio-python,
    /// tests/unit/test_request_validator.py), token `12345`.
    #[test]
    fn the_signature_is_twilios() {
        let params = pairs(&[
            ("CallSid", "CA1234567890ABCDE"),
            ("Digits", "1234"),
            ("From", "+14158675309"),
            ("To", "+18005551212"),
            ("Caller", "+14158675309"),
        ]);
        assert_eq!(
            twilio_signature("12345", URL, &params),
            "RSOYDt4T1cUTdK1PDd93/VVr8B8="
        );
        // A repeated parameter: sorted by value too.
        let repeated = pairs(&[
            ("Sid", "CA123"),
            ("SidAccount", "AC123"),
            ("Digits", "5678"),
            ("Digits", "1234"),
        ]);
        assert_eq!(
            twilio_signature("12345", URL, &repeated),
            "IK+Dwps556ElfBT0I3Rgjkr1wJU="
        );
    }

    #[test]
    fn the_url_is_accepted_with_or_without_its_default_port() {
        let params = pairs(&[
            ("CallSid", "CA1234567890ABCDE"),
            ("Digits", "1234"),
            ("From", "+14158675309"),
            ("To", "+18005551212"),
            ("Caller", "+14158675309"),
        ]);
        let receipts = TwilioReceipts::new(
            "https://mycompany.com/myapp.php",
            vec![("AC1".to_owned(), "12345".to_owned())],
        );
        // Signed over https://mycompany.com:443/myapp.php?foo=1&bar=2.
        assert!(receipts.verify("foo=1&bar=2", &params, "kvajT1Ptam85bY51eRf/AJRuM3w="));
        assert!(receipts.verify("foo=1&bar=2", &params, "RSOYDt4T1cUTdK1PDd93/VVr8B8="));
        assert!(!receipts.verify("foo=1", &params, "RSOYDt4T1cUTdK1PDd93/VVr8B8="));
    }

    #[test]
    fn only_the_accounts_token_verifies() {
        let receipts = TwilioReceipts::new(
            "https://omni.example.com/api/receipts/twilio",
            vec![
                ("AC1".to_owned(), "token-one".to_owned()),
                ("AC2".to_owned(), "token-two".to_owned()),
            ],
        );
        let params = pairs(&[
            ("AccountSid", "AC2"),
            ("MessageSid", "SM1"),
            ("MessageStatus", "delivered"),
        ]);
        let url = "https://omni.example.com/api/receipts/twilio";
        let good = twilio_signature("token-two", url, &params);
        assert!(receipts.verify("", &params, &good));
        // Another account's token, a changed parameter, a query not signed.
        assert!(!receipts.verify("", &params, &twilio_signature("token-one", url, &params)));
        let mut changed = params.clone();
        changed[2].1 = "failed".to_owned();
        assert!(!receipts.verify("", &changed, &good));
        assert!(!receipts.verify("x=1", &params, &good));
        assert!(!receipts.verify("", &params, "not base64!"));
        assert!(!format!("{receipts:?}").contains("token-"));
    }
}
