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
    MetricsConfig, Secret, SmtpConfig, SmtpTls, TelegramConfig, TwilioConfig, WorkerConfig,
};

const DEFAULT_TIMEOUT_MS: u64 = 5_000;
const DEFAULT_TWILIO_URL: &str = "https://api.twilio.com";
const DEFAULT_TELEGRAM_URL: &str = "https://api.telegram.org";
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
    account_sid: Option<String>,
    auth_token: Option<Secret>,
    base_url: Option<String>,
    bot_token: Option<Secret>,
    project_id: Option<String>,
    access_token: Option<Secret>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(super) enum ProviderKind {
    Log,
    None,
    Http,
    Smtp,
    Twilio,
    Telegram,
    Fcm,
}

impl ProviderKind {
    const NAMES: &'static str = "log, none, http, smtp, twilio, telegram, fcm";

    pub(super) fn name(self) -> &'static str {
        match self {
            ProviderKind::Log => "log",
            ProviderKind::None => "none",
            ProviderKind::Http => "http",
            ProviderKind::Smtp => "smtp",
            ProviderKind::Twilio => "twilio",
            ProviderKind::Telegram => "telegram",
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
                "timeout_ms",
            ],
            ProviderKind::Twilio => &[
                "account_sid",
                "auth_token",
                "from",
                "base_url",
                "timeout_ms",
            ],
            ProviderKind::Telegram => &["bot_token", "base_url", "timeout_ms"],
            ProviderKind::Fcm => &["project_id", "access_token", "base_url", "timeout_ms"],
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
                ChannelConfig::Smtp(SmtpConfig {
                    host,
                    port,
                    tls,
                    username: self.username,
                    password: self.password,
                    from,
                    timeout_ms,
                })
            }
            ProviderKind::Twilio => ChannelConfig::Twilio(TwilioConfig {
                account_sid: required("account_sid", self.account_sid)?,
                auth_token: required_secret("auth_token", self.auth_token)?,
                from: required("from", self.from)?,
                base_url: base_url(DEFAULT_TWILIO_URL, self.base_url)?,
                timeout_ms,
            }),
            ProviderKind::Telegram => ChannelConfig::Telegram(TelegramConfig {
                bot_token: required_secret("bot_token", self.bot_token)?,
                base_url: base_url(DEFAULT_TELEGRAM_URL, self.base_url)?,
                timeout_ms,
            }),
            ProviderKind::Fcm => ChannelConfig::Fcm(FcmConfig {
                project_id: required("project_id", self.project_id)?,
                access_token: required_secret("access_token", self.access_token)?,
                base_url: base_url(DEFAULT_FCM_URL, self.base_url)?,
                timeout_ms,
            }),
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
            ("account_sid", self.account_sid.is_some()),
            ("auth_token", self.auth_token.is_some()),
            ("base_url", self.base_url.is_some()),
            ("bot_token", self.bot_token.is_some()),
            ("project_id", self.project_id.is_some()),
            ("access_token", self.access_token.is_some()),
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
