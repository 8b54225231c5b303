//! The configuration of the `omnichannel` binary (SPEC §6).
//!
//! Three layers, each overriding the one before it: built-in defaults, an
//! optional TOML file (`--config FILE` or `OMNICHANNEL_CONFIG`), and
//! `OMNICHANNEL_*` environment variables, where `__` separates the levels of a
//! key (`OMNICHANNEL_WORKER__POLL_INTERVAL_MS` is `worker.poll_interval_ms`).
//! An unknown key or a bad value is an error that names the key and where it was
//! set. `docs/configuration.md` lists every key.

mod env;
mod raw;
mod secret;
#[cfg(test)]
#[allow(clippy::result_large_err)] // `Jail` closures return `figment::Result`
mod tests;
mod validate;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::providers::{Format, Toml};
use figment::value::{Dict, Map};
use figment::{Figment, Metadata, Profile, Provider};
use serde::Deserialize;

use env::EnvVars;
use raw::{ProviderKind, RawConfig};
pub use secret::Secret;
use secret::redact_url;
use validate::from_figment;

/// Every environment variable of the configuration starts with this.
pub const ENV_PREFIX: &str = "OMNICHANNEL_";
/// The path of the configuration file when `--config` is not given.
pub const CONFIG_FILE_ENV: &str = "OMNICHANNEL_CONFIG";
/// The password of the initial operator; read at start, not a configuration key.
pub const ADMIN_PASSWORD_ENV: &str = "OMNICHANNEL_ADMIN_PASSWORD";
/// The short alias of `OMNICHANNEL_AUTH__JWT_SECRET`.
pub const JWT_SECRET_ENV: &str = "OMNICHANNEL_JWT_SECRET";
/// Variables of the test suite; never configuration keys.
pub const TEST_ENV_PREFIX: &str = "OMNICHANNEL_TEST_";

/// The shortest `auth.jwt_secret`: HS256 needs a key of at least 256 bits (RFC 7518 §3.2).
pub const MIN_JWT_SECRET_BYTES: usize = 32;

/// Upper bounds that keep every duration far from overflowing in later arithmetic.
const MAX_MS: u64 = 86_400_000;
const MAX_SECS: u64 = 315_360_000;
const MAX_CONCURRENCY: u32 = 1_024;
const MAX_ATTEMPTS: u32 = 100;

/// The whole configuration, validated.
#[derive(Clone, PartialEq, Eq)]
pub struct Config {
    /// A SQLite file path, `sqlite://path`, or `postgres://…`.
    pub database_url: String,
    /// `host:port` to listen on; port 0 picks a free one.
    pub bind: String,
    pub auth: AuthConfig,
    pub worker: WorkerConfig,
    /// The provider of each configured channel code; see [`Config::channel`].
    pub channels: BTreeMap<String, ChannelConfig>,
    /// Where providers reach this service from outside (`https://omni.example.com`),
    /// for delivery receipts; without a trailing `/`. `None`: no receipts asked for.
    pub public_url: Option<String>,
    pub log: LogConfig,
    pub metrics: MetricsConfig,
    /// On `SIGTERM`, how long the requests and provider calls in flight may
    /// take to end before the process exits all the same.
    pub shutdown_grace_secs: u64,
}

/// How the process logs (to standard error).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    pub format: LogFormat,
}

/// One line a record: readable text, or one JSON object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// `GET /metrics`, in the Prometheus text format.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    /// `false`: no metrics are served.
    pub enabled: bool,
    /// `host:port` of a listener of their own; unset: served beside the API
    /// on `bind`.
    pub bind: Option<String>,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            bind: None,
        }
    }
}

/// The default of [`Config::shutdown_grace_secs`].
pub const DEFAULT_SHUTDOWN_GRACE_SECS: u64 = 30;

/// Admin API tokens.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// `None`: generated once and kept in the database.
    pub jwt_secret: Option<Secret>,
    pub issuer: String,
    pub access_ttl_secs: u64,
    pub refresh_ttl_secs: u64,
}

/// The background workers that dispatch communications.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WorkerConfig {
    /// `false`: `serve` runs the API only.
    pub enabled: bool,
    pub concurrency: u32,
    pub poll_interval_ms: u64,
    pub lease_ms: u64,
    /// The first retry delay; each further retry doubles it.
    pub retry_base_ms: u64,
    /// Provider calls per channel before falling back to the next one.
    pub max_attempts: u32,
    /// A deferral longer than this fails instead.
    pub defer_horizon_secs: u64,
}

/// The provider behind one channel code (`provider = "…"` in its table).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelConfig {
    /// Writes the message to the server log and counts it as sent.
    Log,
    /// The channel is switched off on this installation.
    None,
    Http(HttpConfig),
    Smtp(SmtpConfig),
    Twilio(TwilioConfig),
    Whatsapp(WhatsappConfig),
    Fcm(FcmConfig),
}

/// A generic JSON webhook (SPEC §4).
#[derive(Clone, PartialEq, Eq)]
pub struct HttpConfig {
    /// An `http://` or `https://` URL that receives a `POST` per message.
    pub url: String,
    pub timeout_ms: u64,
    /// Sent with every request; values are secrets.
    pub headers: BTreeMap<String, Secret>,
}

/// E-mail over SMTP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpConfig {
    pub host: String,
    /// Defaults by `tls`: 25 for `none`, 587 for `starttls`, 465 for `tls`.
    pub port: u16,
    pub tls: SmtpTls,
    /// Set together with `password`, or neither.
    pub username: Option<String>,
    pub password: Option<Secret>,
    /// `addr@example.com` or `Name <addr@example.com>`.
    pub from: String,
    /// The subject of every message; `None`: the communication type's name.
    pub subject: Option<String>,
    pub timeout_ms: u64,
}

/// How an SMTP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain text, for a local relay or a test server.
    None,
    /// A plain connection upgraded with `STARTTLS`; the upgrade is required.
    #[default]
    Starttls,
    /// TLS from the first byte (SMTPS).
    Tls,
}

/// SMS through the Twilio Messages API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TwilioConfig {
    pub account_sid: String,
    pub auth_token: Secret,
    pub sender: TwilioSender,
    /// Without a trailing `/`.
    pub base_url: String,
    pub timeout_ms: u64,
}

/// Who Twilio sends the messages as: `from` or `messaging_service_sid`, one of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TwilioSender {
    /// A phone number or an alphanumeric sender id.
    From(String),
    /// A messaging service (`MG…`), which picks the number.
    MessagingService(String),
}

/// The messenger channel through the WhatsApp Cloud API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WhatsappConfig {
    pub phone_number_id: String,
    /// Sent as `Authorization: Bearer <access_token>`.
    pub access_token: Secret,
    /// Without a trailing `/`.
    pub base_url: String,
    pub timeout_ms: u64,
}

/// Push through Firebase Cloud Messaging, HTTP v1 API, authenticated as a
/// service account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FcmConfig {
    /// The service account's JSON key file (`project_id`, `client_email`,
    /// `private_key`, `token_uri`); read when the provider is set up.
    pub service_account_file: PathBuf,
    /// Without a trailing `/`.
    pub base_url: String,
    /// Overrides the file's `token_uri`.
    pub token_uri: Option<String>,
    pub timeout_ms: u64,
}

/// Where a configuration value was set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    File(PathBuf),
    /// The name of the environment variable.
    Env(String),
}

/// Why the configuration could not be loaded; the message names the key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The configuration file could not be read.
    #[error("configuration file {}: {source}", path.display())]
    File {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The file is not valid TOML, or an environment variable is malformed.
    #[error("{message}{}", in_origin(origin))]
    Syntax {
        origin: Option<Origin>,
        message: String,
    },
    /// A key that the configuration does not have (or the channel's provider does not take).
    #[error("unknown key {key}{}{}", in_origin(origin), then_hint(hint))]
    UnknownKey {
        key: String,
        origin: Option<Origin>,
        hint: Option<String>,
    },
    /// A value of the wrong type, out of range or missing.
    #[error("{key}: {message}{}", in_origin(origin))]
    Invalid {
        key: String,
        message: String,
        origin: Option<Origin>,
    },
}

impl Config {
    /// Loads the configuration of the process: defaults, then the TOML `file`
    /// (the `--config FILE` argument, else `OMNICHANNEL_CONFIG`, else none), then
    /// the `OMNICHANNEL_*` environment variables.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        let env = std::env::vars_os().map(|(name, value)| {
            (
                name.to_string_lossy().into_owned(),
                value.to_string_lossy().into_owned(),
            )
        });
        Self::load_from(file, env)
    }

    /// [`Config::load`] with the environment given as `(name, value)` pairs
    /// instead of read from the process; variables without the
    /// `OMNICHANNEL_` prefix are ignored.
    pub fn load_from<I, K, V>(file: Option<&Path>, env: I) -> Result<Config, ConfigError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let env: Vec<(String, String)> = env
            .into_iter()
            .map(|(name, value)| (name.into(), value.into()))
            .collect();
        let file = file.map(Path::to_path_buf).or_else(|| {
            env.iter()
                .find(|(name, value)| name == CONFIG_FILE_ENV && !value.is_empty())
                .map(|(_, value)| PathBuf::from(value))
        });

        let mut figment = Figment::new();
        if let Some(path) = file {
            let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::File {
                path: path.clone(),
                source,
            })?;
            figment = figment.merge(ConfigFile { path, text });
        }
        let (alias, vars) = EnvVars::split(&env)?;
        figment = figment.merge(alias).merge(vars);

        let raw: RawConfig = figment.extract_lossy().map_err(from_figment)?;
        raw.validate()
            .map_err(|problem| problem.into_error(&figment))
    }

    /// The provider of the channel `code`: the configured one, else [`ChannelConfig::Log`].
    pub fn channel(&self, code: &str) -> &ChannelConfig {
        static LOG: ChannelConfig = ChannelConfig::Log;
        self.channels.get(code).unwrap_or(&LOG)
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            database_url: "omnichannel.db".to_owned(),
            bind: "127.0.0.1:8080".to_owned(),
            auth: AuthConfig::default(),
            worker: WorkerConfig::default(),
            channels: BTreeMap::new(),
            public_url: None,
            log: LogConfig::default(),
            metrics: MetricsConfig::default(),
            shutdown_grace_secs: DEFAULT_SHUTDOWN_GRACE_SECS,
        }
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("database_url", &redact_url(&self.database_url))
            .field("bind", &self.bind)
            .field("auth", &self.auth)
            .field("worker", &self.worker)
            .field("channels", &self.channels)
            .field("public_url", &self.public_url)
            .field("log", &self.log)
            .field("metrics", &self.metrics)
            .field("shutdown_grace_secs", &self.shutdown_grace_secs)
            .finish()
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            jwt_secret: None,
            issuer: "omnichannel".to_owned(),
            access_ttl_secs: 900,
            refresh_ttl_secs: 2_592_000,
        }
    }
}

impl AuthConfig {
    pub fn access_ttl(&self) -> Duration {
        Duration::from_secs(self.access_ttl_secs)
    }

    pub fn refresh_ttl(&self) -> Duration {
        Duration::from_secs(self.refresh_ttl_secs)
    }
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            concurrency: 8,
            poll_interval_ms: 1_000,
            lease_ms: 30_000,
            retry_base_ms: 1_000,
            max_attempts: 5,
            defer_horizon_secs: 604_800,
        }
    }
}

impl Config {
    /// [`Config::shutdown_grace_secs`] as a duration.
    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_secs(self.shutdown_grace_secs)
    }
}

impl WorkerConfig {
    pub fn poll_interval(&self) -> Duration {
        Duration::from_millis(self.poll_interval_ms)
    }

    pub fn lease(&self) -> Duration {
        Duration::from_millis(self.lease_ms)
    }

    pub fn retry_base(&self) -> Duration {
        Duration::from_millis(self.retry_base_ms)
    }

    pub fn defer_horizon(&self) -> Duration {
        Duration::from_secs(self.defer_horizon_secs)
    }
}

impl ChannelConfig {
    /// The `provider` value that selects this variant.
    pub fn provider(&self) -> &'static str {
        self.kind().name()
    }

    /// `false` for the `none` provider: the channel is skipped.
    pub fn is_enabled(&self) -> bool {
        !matches!(self, ChannelConfig::None)
    }

    /// The time limit of one provider call; `None` for `log` and `none`.
    pub fn timeout(&self) -> Option<Duration> {
        let ms = match self {
            ChannelConfig::Log | ChannelConfig::None => return None,
            ChannelConfig::Http(http) => http.timeout_ms,
            ChannelConfig::Smtp(smtp) => smtp.timeout_ms,
            ChannelConfig::Twilio(twilio) => twilio.timeout_ms,
            ChannelConfig::Whatsapp(whatsapp) => whatsapp.timeout_ms,
            ChannelConfig::Fcm(fcm) => fcm.timeout_ms,
        };
        Some(Duration::from_millis(ms))
    }

    fn kind(&self) -> ProviderKind {
        match self {
            ChannelConfig::Log => ProviderKind::Log,
            ChannelConfig::None => ProviderKind::None,
            ChannelConfig::Http(_) => ProviderKind::Http,
            ChannelConfig::Smtp(_) => ProviderKind::Smtp,
            ChannelConfig::Twilio(_) => ProviderKind::Twilio,
            ChannelConfig::Whatsapp(_) => ProviderKind::Whatsapp,
            ChannelConfig::Fcm(_) => ProviderKind::Fcm,
        }
    }
}

impl fmt::Debug for HttpConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpConfig")
            .field("url", &redact_url(&self.url))
            .field("timeout_ms", &self.timeout_ms)
            .field("headers", &self.headers)
            .finish()
    }
}

impl SmtpTls {
    /// The usual port of the mode.
    pub fn default_port(self) -> u16 {
        match self {
            SmtpTls::None => 25,
            SmtpTls::Starttls => 587,
            SmtpTls::Tls => 465,
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::File(path) => write!(f, "file {}", path.display()),
            Origin::Env(name) => write!(f, "environment variable {name}"),
        }
    }
}

impl ConfigError {
    /// The dotted key the error is about, when it is about one.
    pub fn key(&self) -> Option<&str> {
        match self {
            ConfigError::UnknownKey { key, .. } | ConfigError::Invalid { key, .. } => Some(key),
            ConfigError::File { .. } | ConfigError::Syntax { .. } => None,
        }
    }

    /// Where the offending value was set, when known.
    pub fn origin(&self) -> Option<&Origin> {
        match self {
            ConfigError::Syntax { origin, .. }
            | ConfigError::UnknownKey { origin, .. }
            | ConfigError::Invalid { origin, .. } => origin.as_ref(),
            ConfigError::File { .. } => None,
        }
    }
}

fn in_origin(origin: &Option<Origin>) -> String {
    origin
        .as_ref()
        .map(|origin| format!(" (in {origin})"))
        .unwrap_or_default()
}

fn then_hint(hint: &Option<String>) -> String {
    hint.as_ref()
        .map(|hint| format!("; {hint}"))
        .unwrap_or_default()
}

/// The TOML file, read once so that a missing file is an error.
struct ConfigFile {
    path: PathBuf,
    text: String,
}

impl Provider for ConfigFile {
    fn metadata(&self) -> Metadata {
        Metadata::from("TOML file", self.path.as_path())
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Toml::string(&self.text).data()
    }
}
