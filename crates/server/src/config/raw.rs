//! The configuration as deserialized, and its conversion into [`Config`] and
//! the [`ChannelConfig`] of each provider, checking every field.

use std::collections::BTreeMap;

use omnichannel_domain::{Code, Email};
use serde::Deserialize;

use super::validate::{
    Checked, Problem, http_url, in_range, not_blank, validate_auth, validate_bind,
    validate_bind_at, validate_database_url, validate_worker,
};
use super::{
    AuthConfig, ChannelConfig, Config, FcmConfig, HttpConfig, LogConfig, MAX_MS, MAX_SECS,
    MetricsConfig, Secret, SmtpConfig, SmtpTls, TwilioConfig, TwilioSender, WhatsappConfig,
    WorkerConfig,
};

const DEFAULT_TIMEOUT_MS: u64 = 5_000;
const DEFAULT_TWILIO_URL: &str = "https://api.twilio.com";
const DEFAULT_WHATSAPP_URL: &str = "https://graph.facebook.com/v21.0";
const DEFAULT_FCM_URL: &str = "https://fcm.googleapis.com";

/// The configuration as deserialized, before its rules are checked.
#[derive(Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct RawConfig {
    database_url: String,
    bind: String,
    auth: AuthConfig,
    worker: WorkerConfig,
    channels: BTreeMap<String, RawChannel>,
    public_url: Option<String>,
    log: LogConfig,
    metrics: MetricsConfig,
    shutdown_grace_secs: u64,
}

impl Default for RawConfig {
    fn default() -> Self {
        let config = Config::default();
        Self {
            database_url: config.database_url,
            bind: config.bind,
            auth: config.auth,
            worker: config.worker,
            channels: BTreeMap::new(),
            public_url: config.public_url,
            log: config.log,
            metrics: config.metrics,
            shutdown_grace_secs: config.shutdown_grace_secs,
        }
    }
}

/// One channel table: the keys of every provider, checked against the chosen one.
/// (A serde internally tagged enum would buffer the table and lose both the lossy
/// reading of environment values and the key path of errors.)
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawChannel {
    provider: Option<ProviderKind>,
    url: Option<String>,
    timeout_ms: Option<u64>,
    headers: Option<BTreeMap<String, Secret>>,
    host: Option<String>,
    port: Option<u16>,
    tls: Option<SmtpTls>,
    username: Option<String>,
    password: Option<Secret>,
    from: Option<String>,
    subject: Option<String>,
    account_sid: Option<String>,
    auth_token: Option<Secret>,
    messaging_service_sid: Option<String>,
    base_url: Option<String>,
    phone_number_id: Option<String>,
    access_token: Option<Secret>,
    service_account_file: Option<String>,
    token_uri: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(super) enum ProviderKind {
    Log,
    None,
    Http,
    Smtp,
    Twilio,
    Whatsapp,
    Fcm,
}

impl ProviderKind {
    const NAMES: &'static str = "log, none, http, smtp, twilio, whatsapp, fcm";

    pub(super) fn name(self) -> &'static str {
        match self {
            ProviderKind::Log => "log",
            ProviderKind::None => "none",
            ProviderKind::Http => "http",
            ProviderKind::Smtp => "smtp",
            ProviderKind::Twilio => "twilio",
            ProviderKind::Whatsapp => "whatsapp",
            ProviderKind::Fcm => "fcm",
        }
    }

    /// The keys of the provider's table besides `provider`.
    fn keys(self) -> &'static [&'static str] {
        match self {
            ProviderKind::Log | ProviderKind::None => &[],
            ProviderKind::Http => &["url", "timeout_ms", "headers"],
            ProviderKind::Smtp => &[
                "host",
                "port",
                "tls",
                "username",
                "password",
                "from",
                "subject",
                "timeout_ms",
            ],
            ProviderKind::Twilio => &[
                "account_sid",
                "auth_token",
                "from",
                "messaging_service_sid",
                "base_url",
                "timeout_ms",
            ],
            ProviderKind::Whatsapp => {
                &["phone_number_id", "access_token", "base_url", "timeout_ms"]
            }
            ProviderKind::Fcm => &[
                "service_account_file",
                "base_url",
                "token_uri",
                "timeout_ms",
            ],
        }
    }
}

impl RawConfig {
    pub(super) fn validate(self) -> Checked<Config> {
        validate_database_url(&self.database_url)?;
        validate_bind(&self.bind)?;
        validate_auth(&self.auth)?;
        validate_worker(&self.worker)?;
        if let Some(bind) = &self.metrics.bind {
            validate_bind_at(&["metrics", "bind"], bind)?;
        }
        in_range(
            &["shutdown_grace_secs"],
            self.shutdown_grace_secs,
            0,
            MAX_SECS,
        )?;
        let public_url = match self.public_url {
            Some(url) => {
                http_url(&["public_url"], &url)?;
                Some(url.trim_end_matches('/').to_owned())
            }
            None => None,
        };
        let mut channels = BTreeMap::new();
        for (code, raw) in self.channels {
            let channel = raw.validate(&code)?;
            channels.insert(code, channel);
        }
        Ok(Config {
            database_url: self.database_url,
            bind: self.bind,
            auth: self.auth,
            worker: self.worker,
            channels,
            public_url,
            log: self.log,
            metrics: self.metrics,
            shutdown_grace_secs: self.shutdown_grace_secs,
        })
    }
}

impl RawChannel {
    fn validate(self, code: &str) -> Checked<ChannelConfig> {
        if let Err(error) = Code::parse(code) {
            return Err(Problem::invalid(
                &["channels", code],
                format!("a channel code {error}"),
            ));
        }
        let Some(kind) = self.provider else {
            return Err(Problem::invalid(
                &["channels", code, "provider"],
                format!("required: one of {}", ProviderKind::NAMES),
            ));
        };
        self.check_keys(code, kind)?;

        let key = |name: &'static str| ["channels", code, name];
        let timeout_ms = self.timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS);
        if self.timeout_ms.is_some() {
            in_range(&key("timeout_ms"), timeout_ms, 1, MAX_MS)?;
        }
        let required = |name: &'static str, value: Option<String>| -> Checked<String> {
            let value = value.ok_or_else(|| {
                Problem::invalid(
                    &key(name),
                    format!("required by the {} provider", kind.name()),
                )
            })?;
            not_blank(&key(name), &value)?;
            Ok(value)
        };
        let required_secret = |name: &'static str, value: Option<Secret>| -> Checked<Secret> {
            required(name, value.map(|secret| secret.0)).map(Secret)
        };
        let base_url = |default: &str, value: Option<String>| -> Checked<String> {
            let value = value.unwrap_or_else(|| default.to_owned());
            http_url(&key("base_url"), &value)?;
            Ok(value.trim_end_matches('/').to_owned())
        };

        Ok(match kind {
            ProviderKind::Log => ChannelConfig::Log,
            ProviderKind::None => ChannelConfig::None,
            ProviderKind::Http => {
                let url = required("url", self.url)?;
                http_url(&key("url"), &url)?;
                let headers = self.headers.unwrap_or_default();
                for (name, value) in &headers {
                    validate_header(code, name, value)?;
                }
                ChannelConfig::Http(HttpConfig {
                    url,
                    timeout_ms,
                    headers,
                })
            }
            ProviderKind::Smtp => {
                let host = required("host", self.host)?;
                if host.contains("://") || host.contains(char::is_whitespace) {
                    return Err(Problem::invalid(
                        &key("host"),
                        "must be a host name or an IP address, not a URL",
                    ));
                }
                let tls = self.tls.unwrap_or_default();
                let port = self.port.unwrap_or(tls.default_port());
                if port == 0 {
                    return Err(Problem::invalid(&key("port"), "must be at least 1"));
                }
                match (&self.username, &self.password) {
                    (Some(_), None) => {
                        return Err(Problem::invalid(&key("password"), "required with username"));
                    }
                    (None, Some(_)) => {
                        return Err(Problem::invalid(&key("username"), "required with password"));
                    }
                    (Some(username), Some(_)) => not_blank(&key("username"), username)?,
                    (None, None) => {}
                }
                let from = required("from", self.from)?;
                validate_mailbox(&key("from"), &from)?;
                if let Some(subject) = &self.subject {
                    not_blank(&key("subject"), subject)?;
                    if subject.chars().any(char::is_control) {
                        return Err(Problem::invalid(
                            &key("subject"),
                            "must be one line without control characters",
                        ));
                    }
                }
                ChannelConfig::Smtp(SmtpConfig {
                    host,
                    port,
                    tls,
                    username: self.username,
                    password: self.password,
                    from,
                    subject: self.subject,
                    timeout_ms,
                })
            }
            ProviderKind::Twilio => {
                let sender = match (self.from, self.messaging_service_sid) {
                    (Some(from), None) => {
                        not_blank(&key("from"), &from)?;
                        TwilioSender::From(from)
                    }
                    (None, Some(sid)) => {
                        not_blank(&key("messaging_service_sid"), &sid)?;
                        TwilioSender::MessagingService(sid)
                    }
                    (Some(_), Some(_)) => {
                        return Err(Problem::invalid(
                            &key("messaging_service_sid"),
                            "set either from or messaging_service_sid, not both",
                        ));
                    }
                    (None, None) => {
                        return Err(Problem::invalid(
                            &key("from"),
                            "required by the twilio provider, unless messaging_service_sid is set",
                        ));
                    }
                };
                ChannelConfig::Twilio(TwilioConfig {
                    account_sid: required("account_sid", self.account_sid)?,
                    auth_token: required_secret("auth_token", self.auth_token)?,
                    sender,
                    base_url: base_url(DEFAULT_TWILIO_URL, self.base_url)?,
                    timeout_ms,
                })
            }
            ProviderKind::Whatsapp => ChannelConfig::Whatsapp(WhatsappConfig {
                phone_number_id: required("phone_number_id", self.phone_number_id)?,
                access_token: required_secret("access_token", self.access_token)?,
                base_url: base_url(DEFAULT_WHATSAPP_URL, self.base_url)?,
                timeout_ms,
            }),
            ProviderKind::Fcm => {
                let token_uri = match self.token_uri {
                    Some(uri) => {
                        http_url(&key("token_uri"), &uri)?;
                        Some(uri)
                    }
                    None => None,
                };
                ChannelConfig::Fcm(FcmConfig {
                    service_account_file: required(
                        "service_account_file",
                        self.service_account_file,
                    )?
                    .into(),
                    base_url: base_url(DEFAULT_FCM_URL, self.base_url)?,
                    token_uri,
                    timeout_ms,
                })
            }
        })
    }

    /// A key that belongs to another provider is an unknown key of this channel.
    fn check_keys(&self, code: &str, kind: ProviderKind) -> Checked<()> {
        let set = [
            ("url", self.url.is_some()),
            ("timeout_ms", self.timeout_ms.is_some()),
            ("headers", self.headers.is_some()),
            ("host", self.host.is_some()),
            ("port", self.port.is_some()),
            ("tls", self.tls.is_some()),
            ("username", self.username.is_some()),
            ("password", self.password.is_some()),
            ("from", self.from.is_some()),
            ("subject", self.subject.is_some()),
            ("account_sid", self.account_sid.is_some()),
            ("auth_token", self.auth_token.is_some()),
            (
                "messaging_service_sid",
                self.messaging_service_sid.is_some(),
            ),
            ("base_url", self.base_url.is_some()),
            ("phone_number_id", self.phone_number_id.is_some()),
            ("access_token", self.access_token.is_some()),
            ("service_account_file", self.service_account_file.is_some()),
            ("token_uri", self.token_uri.is_some()),
        ];
        let allowed = kind.keys();
        match set
            .iter()
            .find(|(name, is_set)| *is_set && !allowed.contains(name))
        {
            None => Ok(()),
            Some((name, _)) => {
                let takes = if allowed.is_empty() {
                    "no other key".to_owned()
                } else {
                    allowed.join(", ")
                };
                Err(Problem {
                    path: vec!["channels".to_owned(), code.to_owned(), (*name).to_owned()],
                    message: format!("the {} provider takes provider, {takes}", kind.name()),
                    unknown_key: true,
                })
            }
        }
    }
}

/// Header names the http provider sets itself.
const RESERVED_HEADERS: [&str; 5] = [
    "content-type",
    "content-length",
    "host",
    "idempotency-key",
    "transfer-encoding",
];

fn validate_header(code: &str, name: &str, value: &Secret) -> Checked<()> {
    let path = ["channels", code, "headers", name];
    let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    if name.is_empty() || !name.bytes().all(token) {
        return Err(Problem::invalid(&path, "not a valid header name"));
    }
    if RESERVED_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
        return Err(Problem::invalid(&path, "set by the http provider itself"));
    }
    if value.expose().chars().any(|c| c.is_control() && c != '\t') {
        return Err(Problem::invalid(
            &path,
            "must not contain control characters",
        ));
    }
    Ok(())
}

/// `addr@example.com` or `Display Name <addr@example.com>`.
fn validate_mailbox(path: &[&str], value: &str) -> Checked<()> {
    let address = match value.trim_end().strip_suffix('>') {
        Some(rest) => rest.rsplit_once('<').map(|(_, address)| address),
        None => Some(value),
    };
    match address.map(Email::parse) {
        Some(Ok(_)) => Ok(()),
        _ => Err(Problem::invalid(
            path,
            "must be an e-mail address, optionally as Name <address>",
        )),
    }
}
