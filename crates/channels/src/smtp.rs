//! The `smtp` provider: each message is a plain-text e-mail to the client's
//! address, sent through one SMTP server with lettre (SPEC.md §4).
//!
//! The connection is plain, upgraded by a required `STARTTLS`, or TLS from
//! the first byte, and is kept in a pool between messages. A 4xx reply, a
//! connection, TLS or timeout failure is transient; a 5xx reply (a refused
//! recipient, a wrong password) is permanent, as is a client without a valid
//! address. Error texts name the reply's code and text or the kind of
//! failure, never the password.

use std::error::Error as _;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use lettre::address::AddressError;
use lettre::message::header::ContentType;
use lettre::message::{Body, Mailbox};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::transport::smtp::{AsyncSmtpTransportBuilder, Error as SmtpError};
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use omnichannel_domain::ports::{BoxFuture, Delivery, Outgoing, Provider, ProviderError};

use crate::BuildError;

/// How the connection to the SMTP server is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    /// Plain text, for a local relay or a test server.
    None,
    /// A plain connection upgraded with `STARTTLS`; the upgrade is required.
    Starttls,
    /// TLS from the first byte (SMTPS).
    Tls,
}

/// The `[channels.<code>]` table of an `smtp` channel.
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpSpec {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    /// User name and password (a secret), or no authentication.
    pub credentials: Option<(String, String)>,
    /// `addr@example.com` or `Name <addr@example.com>`.
    pub from: String,
    /// The subject of every message; `None`: the communication type's name.
    pub subject: Option<String>,
    /// For the whole conversation of one message.
    pub timeout: Duration,
    /// PEM certificates trusted beside the system's roots (a private CA).
    pub extra_root_certificates: Vec<Vec<u8>>,
}

impl fmt::Debug for SmtpSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpSpec")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("username", &self.credentials.as_ref().map(|(user, _)| user))
            .field("from", &self.from)
            .field("subject", &self.subject)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// Sends each message through one SMTP server, over a pool of connections
/// kept between messages.
pub(crate) struct SmtpProvider {
    server: Arc<Server>,
}

/// What a message's future needs of the provider.
struct Server {
    /// The transport's settings, checked by `new`.
    builder: AsyncSmtpTransportBuilder,
    /// The transport and its pool, made by the first message: lettre starts
    /// the pool's cleaning task on the Tokio runtime, which `new` may lack.
    /// Dropped when a conversation is cut short (see `Conversation`).
    transport: Mutex<Option<AsyncSmtpTransport<Tokio1Executor>>>,
    from: Mailbox,
    /// The right-hand side of the `Message-ID`s: the domain of `from`.
    domain: String,
    subject: Option<String>,
    /// `host:port`, for logs.
    address: String,
    /// `STARTTLS` or TLS from the first byte.
    tls_in_use: bool,
    timeout: Duration,
    /// Removed from the server's replies, should one repeat it.
    password: Option<String>,
}

impl SmtpProvider {
    pub(crate) fn new(spec: &SmtpSpec) -> Result<Self, BuildError> {
        let host = spec.host.trim();
        if host.is_empty() {
            return Err(BuildError::InvalidSetting {
                setting: "host",
                reason: "it is empty",
            });
        }
        if spec.timeout.is_zero() {
            return Err(BuildError::ZeroTimeout);
        }
        let from = parse_from(&spec.from)?;
        // lettre's timeout bounds connecting only; `deliver` bounds the
        // whole conversation.
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
            .port(spec.port)
            .timeout(Some(spec.timeout))
            .tls(tls(host, spec)?);
        if let Some((user, password)) = &spec.credentials {
            builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
        }
        Ok(Self {
            server: Arc::new(Server {
                builder,
                transport: Mutex::new(None),
                domain: from.email.domain().to_owned(),
                from,
                subject: spec.subject.clone(),
                address: format!("{host}:{}", spec.port),
                tls_in_use: spec.tls != SmtpTls::None,
                timeout: spec.timeout,
                password: spec
                    .credentials
                    .as_ref()
                    .map(|(_, password)| password.clone())
                    .filter(|password| !password.is_empty()),
            }),
        })
    }
}

impl fmt::Debug for SmtpProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpProvider")
            .field("server", &self.server.address)
            .field("from", &self.server.from.to_string())
            .field("timeout", &self.server.timeout)
            .finish_non_exhaustive()
    }
}

/// `addr@example.com` or `Name <addr@example.com>`, and nothing more.
fn parse_from(text: &str) -> Result<Mailbox, BuildError> {
    text.trim()
        .parse()
        .map_err(|error: AddressError| BuildError::InvalidAddress {
            address: text.to_owned(),
            reason: error.to_string(),
        })
}

/// lettre's TLS mode for the spec: the certificate must be valid for `host`
/// and issued by one of the system's roots or of the extra ones.
fn tls(host: &str, spec: &SmtpSpec) -> Result<Tls, BuildError> {
    if spec.tls == SmtpTls::None {
        return Ok(Tls::None);
    }
    let mut parameters = TlsParameters::builder(host.to_owned());
    for (at, pem) in spec.extra_root_certificates.iter().enumerate() {
        let blocks = pem_certificates(pem);
        if blocks.is_empty() {
            return Err(BuildError::Tls(format!(
                "extra root certificate #{} holds no PEM certificate",
                at + 1
            )));
        }
        for block in blocks {
            let certificate = Certificate::from_pem(block).map_err(|error| {
                BuildError::Tls(format!(
                    "extra root certificate #{} cannot be read: {}",
                    at + 1,
                    innermost_cause(&error)
                ))
            })?;
            parameters = parameters.add_root_certificate(certificate);
        }
    }
    let parameters = parameters
        .build()
        .map_err(|error| BuildError::Tls(innermost_cause(&error)))?;
    Ok(match spec.tls {
        SmtpTls::Starttls => Tls::Required(parameters),
        _ => Tls::Wrapper(parameters),
    })
}

/// Each `CERTIFICATE` block of a PEM text: a bundle may hold several, and
/// lettre reads only the first of a text.
fn pem_certificates(pem: &[u8]) -> Vec<&[u8]> {
    const BEGIN: &[u8] = b"-----BEGIN CERTIFICATE-----";
    const END: &[u8] = b"-----END CERTIFICATE-----";
    let find = |haystack: &[u8], needle: &[u8]| {
        haystack
            .windows(needle.len())
            .position(|window| window == needle)
    };
    let mut blocks = Vec::new();
    let mut rest = pem;
    while let Some(start) = find(rest, BEGIN) {
        let Some(length) = find(&rest[start..], END) else {
            break;
        };
        let end = start + length + END.len();
        blocks.push(&rest[start..end]);
        rest = &rest[end..];
    }
    blocks
}

impl Provider for SmtpProvider {
    fn send(&self, message: Outgoing) -> BoxFuture<'static, Result<Delivery, ProviderError>> {
        let server = Arc::clone(&self.server);
        Box::pin(async move {
            let id = message.communication_id;
            let started = Instant::now();
            let result = server.deliver(message).await;
            let duration_ms = started.elapsed().as_millis();
            match &result {
                Ok(_) => tracing::debug!(
                    communication.id = %id, server = %server.address, duration_ms,
                    "the SMTP server took the message"
                ),
                Err(error) => tracing::debug!(
                    communication.id = %id, server = %server.address, duration_ms, %error,
                    "the SMTP server did not take the message"
                ),
            }
            result
        })
    }
}

impl Server {
    async fn deliver(&self, message: Outgoing) -> Result<Delivery, ProviderError> {
        let (email, message_id) = self.email(message)?;
        let transport = self.transport();
        let conversation = Conversation {
            server: self,
            ended: false,
        };
        let sent = tokio::time::timeout(self.timeout, transport.send(email)).await;
        match sent {
            Ok(Ok(_)) => {
                conversation.ended();
                Ok(Delivery {
                    provider_message_id: Some(message_id),
                })
            }
            Ok(Err(error)) => {
                conversation.ended();
                Err(self.failure(&error))
            }
            Err(_) => Err(ProviderError::Transient(format!(
                "the SMTP conversation did not end within {} ms",
                self.timeout.as_millis()
            ))),
        }
    }

    /// The e-mail and its `Message-ID`.
    fn email(&self, message: Outgoing) -> Result<(Message, String), ProviderError> {
        let to = message
            .to
            .as_deref()
            .map(str::trim)
            .filter(|to| !to.is_empty())
            .ok_or_else(|| ProviderError::Permanent("the client has no e-mail address".into()))?;
        let to: Address = to.parse().map_err(|error| {
            ProviderError::Permanent(format!("the client's e-mail address is invalid: {error}"))
        })?;
        let message_id = format!("<{}@{}>", message.communication_id, self.domain);
        // One line: a line break would be encoded, not a new header, but
        // it has no place in a subject.
        let subject: String = self
            .subject
            .as_deref()
            .unwrap_or(&message.communication_type_name)
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        let email = Message::builder()
            .from(self.from.clone())
            .to(Mailbox::new(None, to))
            .subject(subject)
            .message_id(Some(message_id.clone()))
            .date_now()
            .header(ContentType::TEXT_PLAIN)
            .body(Body::new(message.message))
            .map_err(|error| {
                ProviderError::Permanent(format!("the e-mail cannot be built: {error}"))
            })?;
        Ok((email, message_id))
    }

    /// The transport, made on first use.
    fn transport(&self) -> AsyncSmtpTransport<Tokio1Executor> {
        let mut transport = self
            .transport
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        transport
            .get_or_insert_with(|| self.builder.clone().build())
            .clone()
    }

    /// The error for a conversation that ended without the message taken.
    fn failure(&self, error: &SmtpError) -> ProviderError {
        if let Some(code) = error.status() {
            let reply = error.source().map(ToString::to_string).unwrap_or_default();
            let text = self.scrub(format!("the SMTP server answered {code} {reply}").trim_end());
            return if error.is_permanent() {
                ProviderError::Permanent(text)
            } else {
                ProviderError::Transient(text)
            };
        }
        let cause = self.scrub(&innermost_cause(error));
        ProviderError::Transient(if error.is_timeout() {
            format!("connecting timed out after {} ms", self.timeout.as_millis())
        } else if is_tls(error, self.tls_in_use) {
            format!("TLS failed: {cause}")
        } else if error.is_client() {
            format!("the SMTP conversation cannot go on: {cause}")
        } else if error.is_response() {
            format!("the SMTP server's reply cannot be read: {cause}")
        } else {
            format!("connection failed: {cause}")
        })
    }

    /// `text` without the password, should the server have repeated it.
    fn scrub(&self, text: &str) -> String {
        match &self.password {
            Some(password) => text.replace(password.as_str(), "***"),
            None => text.to_owned(),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let transport = self
            .transport
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(transport) = transport.take() {
            retire(transport, self.timeout);
        }
    }
}

/// A conversation in progress. lettre gives a connection back to its pool
/// when the message's future is dropped, even in the middle of a command,
/// and the next message on it would read the replies meant for this one: a
/// conversation cut short (by the timeout, or by the caller giving up)
/// retires the whole pool, and the next message starts a new one.
struct Conversation<'a> {
    server: &'a Server,
    ended: bool,
}

impl Conversation<'_> {
    fn ended(mut self) {
        self.ended = true;
    }
}

impl Drop for Conversation<'_> {
    fn drop(&mut self) {
        if self.ended {
            return;
        }
        let mut transport = self
            .server
            .transport
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(transport) = transport.take() {
            retire(transport, self.server.timeout);
        }
    }
}

/// Shuts a transport's pool down in the background: its idle connections
/// are closed (within `grace`), and one given back later is closed rather
/// than kept. lettre's pool needs the Tokio runtime, even to be dropped:
/// without one, the transport is leaked and its connections close with the
/// process.
fn retire(transport: AsyncSmtpTransport<Tokio1Executor>, grace: Duration) {
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) => {
            runtime.spawn(async move {
                let _ = tokio::time::timeout(grace, transport.shutdown()).await;
            });
        }
        Err(_) => std::mem::forget(transport),
    }
}

/// Whether a failure without a reply came from TLS. lettre reports a failed
/// handshake as a connection error whose cause is the TLS library's error;
/// a failure to connect has an I/O error among its causes.
fn is_tls(error: &SmtpError, tls_in_use: bool) -> bool {
    let mut has_io_error = false;
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(error) = cause {
        if error
            .downcast_ref::<SmtpError>()
            .is_some_and(SmtpError::is_tls)
        {
            return true;
        }
        has_io_error |= error.is::<std::io::Error>();
        cause = error.source();
    }
    tls_in_use && !has_io_error && !error.is_client() && !error.is_response()
}

/// The most precise text of an error: that of the last error of its chain
/// (`Connection refused (os error 111)` rather than `Connection error`).
fn innermost_cause(error: &SmtpError) -> String {
    let mut cause: &dyn std::error::Error = error;
    while let Some(source) = cause.source() {
        cause = source;
    }
    cause.to_string()
}

#[cfg(test)]
mod tests;
