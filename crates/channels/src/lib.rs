//! The providers that send messages, behind the domain's `Provider` port
//! (SPEC.md §4): `log` writes them to the server log, `none` switches a
//! channel off, `http` posts them to a JSON webhook, and `smtp`, `twilio`,
//! `whatsapp` and `fcm` speak their services' own protocols.
//!
//! The server turns its configuration into one [`ProviderSpec`] per channel
//! and asks [`build`] for the provider. A new kind of provider is a module of
//! its own, a variant of `ProviderSpec` and one arm in `build`
//! (docs/providers.md).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use omnichannel_domain::ports::Provider;

#[cfg(any(test, feature = "fakes"))]
pub mod fakes;
pub mod fcm;
mod http;
mod log;
pub mod smtp;
#[cfg(test)]
mod test_logs;
pub mod twilio;
mod web;
pub mod whatsapp;

use fcm::{FcmProvider, FcmSpec};
use http::HttpProvider;
use log::LogProvider;
use smtp::{SmtpProvider, SmtpSpec};
use twilio::{TwilioProvider, TwilioSpec};
use whatsapp::{WhatsappProvider, WhatsappSpec};

/// What the configuration says about one channel's provider.
#[derive(Clone, PartialEq, Eq)]
pub enum ProviderSpec {
    /// Write each message to the server log.
    Log,
    /// The channel is switched off on this installation.
    None,
    /// `POST` each message as JSON to `url`.
    Http {
        url: String,
        /// For the whole request, from connecting to the end of the answer.
        timeout: Duration,
        /// Sent with every request; the values are secrets.
        headers: Vec<(String, String)>,
    },
    /// E-mail over SMTP.
    Smtp(SmtpSpec),
    /// SMS through Twilio's Messages API.
    Twilio(TwilioSpec),
    /// The messenger channel through the WhatsApp Cloud API.
    Whatsapp(WhatsappSpec),
    /// Push through Firebase Cloud Messaging HTTP v1.
    Fcm(FcmSpec),
}

impl ProviderSpec {
    /// The kind's name in the configuration: `log`, `none`, `http`, …
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Log => "log",
            Self::None => "none",
            Self::Http { .. } => "http",
            Self::Smtp(_) => "smtp",
            Self::Twilio(_) => "twilio",
            Self::Whatsapp(_) => "whatsapp",
            Self::Fcm(_) => "fcm",
        }
    }
}

/// Shows no secret: header names only, `***` for tokens and passwords.
impl fmt::Debug for ProviderSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Log => f.write_str("Log"),
            Self::None => f.write_str("None"),
            Self::Http {
                url,
                timeout,
                headers,
            } => f
                .debug_struct("Http")
                .field("url", &web::redact_url(url))
                .field("timeout", timeout)
                .field("headers", &Redacted(headers))
                .finish(),
            Self::Smtp(spec) => spec.fmt(f),
            Self::Twilio(spec) => spec.fmt(f),
            Self::Whatsapp(spec) => spec.fmt(f),
            Self::Fcm(spec) => spec.fmt(f),
        }
    }
}

/// Header names with `***` for their values.
struct Redacted<'a>(&'a [(String, String)]);

impl fmt::Debug for Redacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|(name, _)| (name, "***")))
            .finish()
    }
}

/// Why a provider cannot be built from its spec. The text never holds a
/// header value nor a URL's credentials or query.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The URL does not parse; the payload says why.
    #[error("the URL is invalid: {0}")]
    InvalidUrl(String),
    /// Only `http` and `https` URLs are accepted.
    #[error("the URL's scheme must be http or https, not {0:?}")]
    UnsupportedScheme(String),
    #[error("{0:?} is not a valid HTTP header name")]
    InvalidHeaderName(String),
    /// The payload is the header's name; the value is a secret.
    #[error("the value of header {0:?} is not a valid HTTP header value")]
    InvalidHeaderValue(String),
    /// The provider sets this header itself.
    #[error("header {0:?} is set by the provider and cannot be configured")]
    ReservedHeader(String),
    #[error("the timeout must be longer than zero")]
    ZeroTimeout,
    /// An `smtp` channel's `from` is neither `addr@example.com` nor
    /// `Name <addr@example.com>`; `reason` is the parser's.
    #[error("{address:?} is not a valid e-mail address: {reason}")]
    InvalidAddress { address: String, reason: String },
    /// A certificate or the TLS settings of an `smtp` channel cannot be used.
    #[error("the TLS settings cannot be used: {0}")]
    Tls(String),
    /// The HTTP client could not be made (its TLS backend failed to start).
    #[error("the HTTP client cannot be built: {0}")]
    Client(String),
    /// An `fcm` channel's service account file cannot be used: `problem`
    /// names the field at fault, never the key.
    #[error("the service account file {file} {problem}")]
    ServiceAccount { file: String, problem: String },
    /// A setting the provider cannot use: `setting` is its name in the
    /// configuration, `reason` says why without repeating its value.
    #[error("{setting} is invalid: {reason}")]
    InvalidSetting {
        setting: &'static str,
        reason: &'static str,
    },
}

/// The provider `spec` describes; `None` when the channel is switched off.
pub fn build(spec: &ProviderSpec) -> Result<Option<Arc<dyn Provider>>, BuildError> {
    Ok(match spec {
        ProviderSpec::Log => Some(Arc::new(LogProvider)),
        ProviderSpec::None => None,
        ProviderSpec::Http {
            url,
            timeout,
            headers,
        } => Some(Arc::new(HttpProvider::new(url, *timeout, headers)?)),
        ProviderSpec::Smtp(spec) => Some(Arc::new(SmtpProvider::new(spec)?)),
        ProviderSpec::Twilio(spec) => Some(Arc::new(TwilioProvider::new(spec)?)),
        ProviderSpec::Whatsapp(spec) => Some(Arc::new(WhatsappProvider::new(spec)?)),
        ProviderSpec::Fcm(spec) => Some(Arc::new(FcmProvider::new(spec)?)),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::expect_used, clippy::unwrap_used)]

    use super::*;

    const SECRET: &str = "s3cr3t-token-value";

    fn http(url: &str, headers: &[(&str, &str)]) -> ProviderSpec {
        ProviderSpec::Http {
            url: url.to_owned(),
            timeout: Duration::from_secs(5),
            headers: headers
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect(),
        }
    }

    fn build_error(spec: &ProviderSpec) -> BuildError {
        match build(spec) {
            Err(error) => error,
            Ok(provider) => panic!("expected an error, built {}", provider.is_some()),
        }
    }

    #[test]
    fn none_switches_the_channel_off() {
        assert!(build(&ProviderSpec::None).unwrap().is_none());
    }

    #[test]
    fn log_and_http_build_a_provider() {
        assert!(build(&ProviderSpec::Log).unwrap().is_some());
        let spec = http(
            "https://hooks.example.com/send",
            &[("Authorization", SECRET)],
        );
        assert!(build(&spec).unwrap().is_some());
    }

    #[test]
    fn an_invalid_url_is_refused() {
        for url in ["", "not a url", "/relative/path", "http://"] {
            let error = build_error(&http(url, &[]));
            assert!(
                matches!(error, BuildError::InvalidUrl(_)),
                "{url:?}: {error:?}"
            );
        }
        let error = build_error(&http("ftp://example.com/x", &[]));
        assert!(matches!(error, BuildError::UnsupportedScheme(ref s) if s == "ftp"));
    }

    #[test]
    fn invalid_headers_are_refused_without_their_value() {
        let error = build_error(&http("http://example.com", &[("bad name", SECRET)]));
        assert!(matches!(error, BuildError::InvalidHeaderName(ref n) if n == "bad name"));

        let bad_value = format!("{SECRET}\n");
        let error = build_error(&http("http://example.com", &[("X-Token", &bad_value)]));
        assert!(matches!(error, BuildError::InvalidHeaderValue(ref n) if n == "X-Token"));
        assert!(!error.to_string().contains(SECRET), "{error}");
        assert!(!format!("{error:?}").contains(SECRET), "{error:?}");

        for reserved in ["Idempotency-Key", "content-type", "Host", "Content-Length"] {
            let error = build_error(&http("http://example.com", &[(reserved, "x")]));
            assert!(matches!(error, BuildError::ReservedHeader(_)), "{error:?}");
        }
    }

    #[test]
    fn a_zero_timeout_is_refused() {
        let spec = ProviderSpec::Http {
            url: "http://example.com".to_owned(),
            timeout: Duration::ZERO,
            headers: Vec::new(),
        };
        assert!(matches!(build_error(&spec), BuildError::ZeroTimeout));
    }

    #[test]
    fn debug_hides_the_secrets() {
        let spec = http(
            "https://user:pass@hooks.example.com:8443/send?token=abc#frag",
            &[("Authorization", SECRET)],
        );
        let shown = format!("{spec:?}");
        assert!(!shown.contains(SECRET), "{shown}");
        assert!(!shown.contains("pass"), "{shown}");
        assert!(!shown.contains("token=abc"), "{shown}");
        assert!(
            shown.contains("https://hooks.example.com:8443/send"),
            "{shown}"
        );
        assert!(shown.contains("Authorization"), "{shown}");
        assert!(shown.contains("***"), "{shown}");
    }

    #[test]
    fn kinds_are_named_as_in_the_configuration() {
        assert_eq!(ProviderSpec::Log.kind(), "log");
        assert_eq!(ProviderSpec::None.kind(), "none");
        assert_eq!(http("http://example.com", &[]).kind(), "http");
    }
}
