//! The configuration of the `omnichannel` binary (SPEC §6).
//!
//! Three layers, each overriding the one before it: built-in defaults, an
//! optional TOML file (`--config FILE` or `OMNICHANNEL_CONFIG`), and
//! `OMNICHANNEL_*` environment variables, where `__` separates the levels of a
//! key (`OMNICHANNEL_WORKER__POLL_INTERVAL_MS` is `worker.poll_interval_ms`).
//! An unknown key or a bad value is an error that names the key and where it was
//! set. `docs/configuration.md` lists every key.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use figment::error::Kind;
use figment::providers::{Format, Toml};
use figment::value::{Dict, Map, Tag, Value};
use figment::{Figment, Metadata, Profile, Provider};
use omnichannel_domain::{Code, Email};
use serde::Deserialize;

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

const DEFAULT_TIMEOUT_MS: u64 = 5_000;
const DEFAULT_TWILIO_URL: &str = "https://api.twilio.com";
const DEFAULT_TELEGRAM_URL: &str = "https://api.telegram.org";
const DEFAULT_FCM_URL: &str = "https://fcm.googleapis.com";

/// Upper bounds that keep every duration far from overflowing in later arithmetic.
const MAX_MS: u64 = 86_400_000;
const MAX_SECS: u64 = 315_360_000;
const MAX_CONCURRENCY: u32 = 1_024;
const MAX_ATTEMPTS: u32 = 100;

const ENV_SOURCE_NAME: &str = "environment variable";
const REDACTED: &str = "***";

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
}

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
    Telegram(TelegramConfig),
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
    /// The sender: a phone number, a sender id or a messaging service SID.
    pub from: String,
    /// Without a trailing `/`.
    pub base_url: String,
    pub timeout_ms: u64,
}

/// Messages through the Telegram Bot API (`sendMessage`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TelegramConfig {
    pub bot_token: Secret,
    /// Without a trailing `/`.
    pub base_url: String,
    pub timeout_ms: u64,
}

/// Push through Firebase Cloud Messaging, HTTP v1 API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FcmConfig {
    pub project_id: String,
    /// Sent as `Authorization: Bearer <access_token>`.
    pub access_token: Secret,
    /// Without a trailing `/`.
    pub base_url: String,
    pub timeout_ms: u64,
}

/// A value that must not be logged: its `Debug` prints `***`.
#[derive(Clone, PartialEq, Eq, Deserialize)]
pub struct Secret(#[serde(deserialize_with = "secret_text")] String);

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
            ChannelConfig::Telegram(telegram) => telegram.timeout_ms,
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
            ChannelConfig::Telegram(_) => ProviderKind::Telegram,
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

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self::new(value)
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
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

/// Accepts a string, or an integer written without quotes (`{X-Token=1234}` in an
/// inline table from the environment), taken digit for digit.
fn secret_text<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    struct Text;

    impl serde::de::Visitor<'_> for Text {
        type Value = String;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string")
        }

        fn visit_str<E: serde::de::Error>(self, value: &str) -> Result<String, E> {
            Ok(value.to_owned())
        }

        fn visit_u64<E: serde::de::Error>(self, value: u64) -> Result<String, E> {
            Ok(value.to_string())
        }

        fn visit_i64<E: serde::de::Error>(self, value: i64) -> Result<String, E> {
            Ok(value.to_string())
        }
    }

    deserializer.deserialize_string(Text)
}

/// `scheme://user:password@host/…?password=…` with the password parts masked;
/// anything else unchanged.
fn redact_url(raw: &str) -> String {
    let Ok(mut url) = url::Url::parse(raw) else {
        return raw.to_owned();
    };
    let mut redacted = false;
    if url.password().is_some() {
        if url.set_password(Some(REDACTED)).is_err() {
            return REDACTED.to_owned();
        }
        redacted = true;
    }
    let secret_param = |name: &str| {
        let name = name.to_ascii_lowercase();
        ["password", "secret", "token", "key"]
            .iter()
            .any(|word| name.contains(word))
    };
    if url.query_pairs().any(|(name, _)| secret_param(&name)) {
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(name, value)| {
                let value = if secret_param(&name) {
                    REDACTED.to_owned()
                } else {
                    value.into_owned()
                };
                (name.into_owned(), value)
            })
            .collect();
        url.query_pairs_mut().clear().extend_pairs(pairs);
        redacted = true;
    }
    if redacted {
        url.to_string()
    } else {
        raw.to_owned()
    }
}

// ---------------------------------------------------------------------------
// Sources

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

/// One `OMNICHANNEL_*` variable and the key path it sets.
struct EnvVar {
    name: String,
    path: Vec<String>,
    value: String,
}

/// `OMNICHANNEL_*` variables as configuration data. Values are kept as written
/// (`extract_lossy` turns `"8"` into a number where a number is expected, and
/// `"12345"` stays a string where a string is); only a key that is a table takes
/// an inline table (`{Authorization="Bearer x"}`).
struct EnvVars {
    vars: Arc<Vec<EnvVar>>,
}

impl EnvVars {
    /// The `OMNICHANNEL_JWT_SECRET` alias, and every other configuration variable;
    /// the second is merged last so that the full name wins over the alias.
    fn split(env: &[(String, String)]) -> Result<(EnvVars, EnvVars), ConfigError> {
        let mut alias = Vec::new();
        let mut vars = Vec::new();
        for (name, value) in env {
            let Some(rest) = name.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            if rest.is_empty()
                || name == CONFIG_FILE_ENV
                || name == ADMIN_PASSWORD_ENV
                || name.starts_with(TEST_ENV_PREFIX)
            {
                continue;
            }
            if name == JWT_SECRET_ENV {
                alias.push(EnvVar {
                    name: name.clone(),
                    path: vec!["auth".to_owned(), "jwt_secret".to_owned()],
                    value: value.clone(),
                });
                continue;
            }
            let path: Vec<String> = rest.split("__").map(str::to_ascii_lowercase).collect();
            if path.iter().any(String::is_empty) {
                return Err(ConfigError::UnknownKey {
                    key: path.join("."),
                    origin: Some(Origin::Env(name.clone())),
                    hint: Some("levels of a key are separated by exactly `__`".to_owned()),
                });
            }
            vars.push(EnvVar {
                name: name.clone(),
                path,
                value: value.clone(),
            });
        }
        vars.sort_by(|a, b| a.name.cmp(&b.name));
        Ok((
            EnvVars {
                vars: Arc::new(alias),
            },
            EnvVars {
                vars: Arc::new(vars),
            },
        ))
    }
}

impl Provider for EnvVars {
    fn metadata(&self) -> Metadata {
        let vars = Arc::clone(&self.vars);
        Metadata::named(ENV_SOURCE_NAME).interpolater(move |_: &Profile, key: &[&str]| {
            // The variable that set `key` or the table holding it.
            vars.iter()
                .filter(|var| {
                    var.path.len() <= key.len() && var.path.iter().zip(key).all(|(a, b)| a == b)
                })
                .max_by_key(|var| var.path.len())
                .map(|var| var.name.clone())
                .unwrap_or_else(|| format!("{ENV_PREFIX}{}", key.join("__").to_ascii_uppercase()))
        })
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        let mut dict = Dict::new();
        for var in self.vars.iter() {
            let value = if is_table(&var.path) {
                var.value
                    .parse::<Value>()
                    .unwrap_or_else(|never| match never {})
            } else {
                Value::from(var.value.clone())
            };
            insert(&mut dict, &var.path, value);
        }
        Ok(Profile::Default.collect(dict))
    }
}

/// Whether the key holds a table: `auth`, `worker`, `channels`, `channels.<code>`
/// and `channels.<code>.headers`.
fn is_table<S: AsRef<str>>(path: &[S]) -> bool {
    let path: Vec<&str> = path.iter().map(AsRef::as_ref).collect();
    matches!(
        path.as_slice(),
        ["auth"] | ["worker"] | ["channels"] | ["channels", _] | ["channels", _, "headers"]
    )
}

/// Whether a value at the key must never be echoed in a message.
fn is_secret<S: AsRef<str>>(path: &[S]) -> bool {
    let path: Vec<&str> = path.iter().map(AsRef::as_ref).collect();
    let secret_leaf = matches!(
        path.last(),
        Some(&("jwt_secret" | "password" | "auth_token" | "bot_token" | "access_token"))
    );
    let in_headers = matches!(path.as_slice(), ["channels", _, "headers", ..]);
    secret_leaf || in_headers || is_table(&path)
}

/// Sets `path` in `dict`, merging tables and creating the missing ones.
fn insert(dict: &mut Dict, path: &[String], value: Value) {
    let Some((first, rest)) = path.split_first() else {
        return;
    };
    if rest.is_empty() {
        match (dict.get_mut(first), value) {
            (Some(Value::Dict(_, existing)), Value::Dict(_, new)) => {
                for (key, value) in new {
                    insert(existing, &[key], value);
                }
            }
            (_, value) => {
                dict.insert(first.clone(), value);
            }
        }
        return;
    }
    let entry = dict
        .entry(first.clone())
        .or_insert_with(|| Value::Dict(Tag::Default, Dict::new()));
    if !matches!(entry, Value::Dict(..)) {
        *entry = Value::Dict(Tag::Default, Dict::new());
    }
    if let Value::Dict(_, inner) = entry {
        insert(inner, rest, value);
    }
}

// ---------------------------------------------------------------------------
// Errors

fn origin_of(metadata: Option<&Metadata>, path: &[String]) -> Option<Origin> {
    let metadata = metadata?;
    if let Some(file) = metadata
        .source
        .as_ref()
        .and_then(|source| source.file_path())
    {
        return Some(Origin::File(file.to_path_buf()));
    }
    if metadata.name == ENV_SOURCE_NAME && !path.is_empty() {
        return Some(Origin::Env(metadata.interpolate(&Profile::Default, path)));
    }
    None
}

fn from_figment(error: figment::Error) -> ConfigError {
    // Only the first: serde stops at the first bad value anyway.
    let Some(error) = error.into_iter().next() else {
        return ConfigError::Syntax {
            origin: None,
            message: "invalid configuration".to_owned(),
        };
    };
    let origin = origin_of(error.metadata.as_ref(), &error.path);
    let key = error.path.join(".");
    if error.path.is_empty() {
        return ConfigError::Syntax {
            origin,
            message: error.kind.to_string(),
        };
    }
    let message = match &error.kind {
        Kind::UnknownField(..) => {
            return ConfigError::UnknownKey {
                key,
                origin,
                hint: None,
            };
        }
        Kind::UnknownVariant(found, expected) => {
            format!(
                "unknown value `{found}`, expected one of: {}",
                expected.join(", ")
            )
        }
        Kind::InvalidType(found, expected) | Kind::InvalidValue(found, expected) => {
            if is_secret(&error.path) {
                format!("must be {}", describe(expected))
            } else {
                format!("must be {}, found {found}", describe(expected))
            }
        }
        kind => kind.to_string(),
    };
    ConfigError::Invalid {
        key,
        message,
        origin,
    }
}

/// What serde expected, in the words of a configuration file.
fn describe(expected: &str) -> String {
    let words = match expected {
        "a boolean" => "true or false",
        "u16" => "an integer from 0 to 65535",
        "u32" => "an integer from 0 to 4294967295",
        "u64" => "an integer from 0 to 18446744073709551615",
        "a string" => "a string",
        _ if expected.starts_with("struct ") || expected.starts_with("a map") => "a table",
        _ => expected,
    };
    words.to_owned()
}

/// A rule broken by a value that deserialized fine.
struct Problem {
    path: Vec<String>,
    message: String,
    unknown_key: bool,
}

impl Problem {
    fn invalid(path: &[&str], message: impl Into<String>) -> Self {
        Self {
            path: path.iter().map(|part| (*part).to_owned()).collect(),
            message: message.into(),
            unknown_key: false,
        }
    }

    fn into_error(self, figment: &Figment) -> ConfigError {
        // `find_metadata` splits at `.`, which a header name may contain.
        let known: Vec<String> = self
            .path
            .iter()
            .take_while(|part| !part.contains('.'))
            .cloned()
            .collect();
        let origin = origin_of(figment.find_metadata(&known.join(".")), &known);
        let key = self.path.join(".");
        if self.unknown_key {
            ConfigError::UnknownKey {
                key,
                origin,
                hint: Some(self.message),
            }
        } else {
            ConfigError::Invalid {
                key,
                message: self.message,
                origin,
            }
        }
    }
}

type Checked<T> = Result<T, Problem>;

fn in_range<T: PartialOrd + fmt::Display>(path: &[&str], value: T, min: T, max: T) -> Checked<()> {
    if value < min {
        return Err(Problem::invalid(path, format!("must be at least {min}")));
    }
    if value > max {
        return Err(Problem::invalid(path, format!("must be at most {max}")));
    }
    Ok(())
}

fn not_blank(path: &[&str], value: &str) -> Checked<()> {
    if value.trim().is_empty() {
        return Err(Problem::invalid(path, "must not be empty"));
    }
    Ok(())
}

fn http_url(path: &[&str], value: &str) -> Checked<()> {
    let valid = url::Url::parse(value)
        .map(|url| matches!(url.scheme(), "http" | "https") && url.host().is_some())
        .unwrap_or(false);
    if !valid {
        return Err(Problem::invalid(path, "must be an http:// or https:// URL"));
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Validation

/// The configuration as deserialized, before its rules are checked.
#[derive(Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawConfig {
    database_url: String,
    bind: String,
    auth: AuthConfig,
    worker: WorkerConfig,
    channels: BTreeMap<String, RawChannel>,
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
enum ProviderKind {
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

    fn name(self) -> &'static str {
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
    fn validate(self) -> Checked<Config> {
        validate_database_url(&self.database_url)?;
        validate_bind(&self.bind)?;
        validate_auth(&self.auth)?;
        validate_worker(&self.worker)?;
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
        })
    }
}

fn validate_database_url(value: &str) -> Checked<()> {
    let path = ["database_url"];
    not_blank(&path, value)?;
    if let Some((scheme, _)) = value.split_once("://")
        && !matches!(
            scheme.to_ascii_lowercase().as_str(),
            "sqlite" | "postgres" | "postgresql"
        )
    {
        return Err(Problem::invalid(
            &path,
            "must be a SQLite file path, sqlite://path or postgres://…",
        ));
    }
    Ok(())
}

fn validate_bind(value: &str) -> Checked<()> {
    if value.parse::<SocketAddr>().is_ok() {
        return Ok(());
    }
    let host_port = value.rsplit_once(':').filter(|(host, port)| {
        let host_ok = !host.is_empty()
            && host.len() <= 253
            && host.split('.').all(|label| {
                !label.is_empty()
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            });
        host_ok && port.parse::<u16>().is_ok()
    });
    if host_port.is_none() {
        return Err(Problem::invalid(
            &["bind"],
            "must be host:port, e.g. 127.0.0.1:8080 or [::]:8080",
        ));
    }
    Ok(())
}

fn validate_auth(auth: &AuthConfig) -> Checked<()> {
    if let Some(secret) = &auth.jwt_secret
        && secret.expose().len() < MIN_JWT_SECRET_BYTES
    {
        return Err(Problem::invalid(
            &["auth", "jwt_secret"],
            format!(
                "must be at least {MIN_JWT_SECRET_BYTES} bytes (leave it unset to have one generated)"
            ),
        ));
    }
    not_blank(&["auth", "issuer"], &auth.issuer)?;
    in_range(
        &["auth", "access_ttl_secs"],
        auth.access_ttl_secs,
        1,
        MAX_SECS,
    )?;
    in_range(
        &["auth", "refresh_ttl_secs"],
        auth.refresh_ttl_secs,
        1,
        MAX_SECS,
    )?;
    Ok(())
}

fn validate_worker(worker: &WorkerConfig) -> Checked<()> {
    in_range(
        &["worker", "concurrency"],
        worker.concurrency,
        1,
        MAX_CONCURRENCY,
    )?;
    in_range(
        &["worker", "poll_interval_ms"],
        worker.poll_interval_ms,
        1,
        MAX_MS,
    )?;
    in_range(&["worker", "lease_ms"], worker.lease_ms, 1, MAX_MS)?;
    in_range(
        &["worker", "retry_base_ms"],
        worker.retry_base_ms,
        0,
        MAX_MS,
    )?;
    in_range(
        &["worker", "max_attempts"],
        worker.max_attempts,
        1,
        MAX_ATTEMPTS,
    )?;
    in_range(
        &["worker", "defer_horizon_secs"],
        worker.defer_horizon_secs,
        1,
        MAX_SECS,
    )?;
    Ok(())
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

#[cfg(test)]
#[allow(clippy::result_large_err)] // `Jail` closures return `figment::Result`
mod tests {
    use super::*;
    use figment::Jail;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect()
    }

    fn load_env(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::load_from(None, env(pairs))
    }

    /// Loads `toml` as the file `omnichannel.toml` of a fresh [`Jail`] directory.
    fn load_toml(toml: &str, pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let mut result = None;
        Jail::expect_with(|jail| {
            jail.create_file("omnichannel.toml", toml)?;
            result = Some(Config::load_from(
                Some(Path::new("omnichannel.toml")),
                env(pairs),
            ));
            Ok(())
        });
        result.unwrap()
    }

    fn error_env(pairs: &[(&str, &str)]) -> String {
        load_env(pairs).unwrap_err().to_string()
    }

    fn error_toml(toml: &str) -> String {
        load_toml(toml, &[]).unwrap_err().to_string()
    }

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn nothing_set_gives_the_documented_defaults() {
        let config = load_env(&[("PATH", "/bin"), ("HOME", "/root")]).unwrap();
        assert_eq!(config, Config::default());
        assert_eq!(config.database_url, "omnichannel.db");
        assert_eq!(config.bind, "127.0.0.1:8080");
        assert_eq!(config.auth.jwt_secret, None);
        assert_eq!(config.auth.issuer, "omnichannel");
        assert_eq!(config.auth.access_ttl_secs, 900);
        assert_eq!(config.auth.refresh_ttl_secs, 2_592_000);
        let worker = &config.worker;
        assert!(worker.enabled);
        assert_eq!(worker.concurrency, 8);
        assert_eq!(worker.poll_interval(), Duration::from_secs(1));
        assert_eq!(worker.lease(), Duration::from_secs(30));
        assert_eq!(worker.retry_base(), Duration::from_secs(1));
        assert_eq!(worker.max_attempts, 5);
        assert_eq!(worker.defer_horizon(), Duration::from_secs(7 * 24 * 3600));
        assert!(config.channels.is_empty());
        assert_eq!(config.channel("sms"), &ChannelConfig::Log);
    }

    #[test]
    fn the_file_overrides_the_defaults_and_keeps_the_rest() {
        let config = load_toml(
            r#"
            database_url = "postgres://omni@db/omni"
            [auth]
            issuer = "acme"
            [worker]
            enabled = false
            concurrency = 2
            "#,
            &[],
        )
        .unwrap();
        assert_eq!(config.database_url, "postgres://omni@db/omni");
        assert_eq!(config.bind, "127.0.0.1:8080");
        assert_eq!(config.auth.issuer, "acme");
        assert_eq!(config.auth.access_ttl_secs, 900);
        assert!(!config.worker.enabled);
        assert_eq!(config.worker.concurrency, 2);
        assert_eq!(config.worker.lease_ms, 30_000);
    }

    #[test]
    fn the_environment_overrides_the_file() {
        let config = load_toml(
            r#"
            bind = "0.0.0.0:9000"
            [worker]
            concurrency = 2
            max_attempts = 3
            [channels.sms]
            provider = "http"
            url = "http://127.0.0.1:9000/sms"
            "#,
            &[
                ("OMNICHANNEL_BIND", "127.0.0.1:0"),
                ("OMNICHANNEL_WORKER__CONCURRENCY", "16"),
                (
                    "OMNICHANNEL_CHANNELS__SMS__URL",
                    "https://sms.example.com/send",
                ),
            ],
        )
        .unwrap();
        assert_eq!(config.bind, "127.0.0.1:0");
        assert_eq!(config.worker.concurrency, 16);
        assert_eq!(config.worker.max_attempts, 3);
        let ChannelConfig::Http(http) = config.channel("sms") else {
            panic!("sms must be http: {config:?}");
        };
        assert_eq!(http.url, "https://sms.example.com/send");
    }

    #[test]
    fn double_underscores_nest_keys() {
        let config = load_env(&[
            ("OMNICHANNEL_DATABASE_URL", "sqlite://data/omni.db"),
            ("OMNICHANNEL_WORKER__POLL_INTERVAL_MS", "250"),
            ("OMNICHANNEL_WORKER__ENABLED", "false"),
            ("OMNICHANNEL_AUTH__ACCESS_TTL_SECS", "60"),
            ("OMNICHANNEL_CHANNELS__PUSH__PROVIDER", "none"),
        ])
        .unwrap();
        assert_eq!(config.database_url, "sqlite://data/omni.db");
        assert_eq!(config.worker.poll_interval_ms, 250);
        assert!(!config.worker.enabled);
        assert_eq!(config.auth.access_ttl(), Duration::from_secs(60));
        assert_eq!(config.channel("push"), &ChannelConfig::None);
        assert!(!config.channel("push").is_enabled());
    }

    #[test]
    fn jwt_secret_has_a_short_alias_and_the_full_name_wins() {
        let config = load_env(&[("OMNICHANNEL_JWT_SECRET", SECRET)]).unwrap();
        assert_eq!(config.auth.jwt_secret, Some(Secret::from(SECRET)));

        let full = "ffffffffffffffffffffffffffffffffffff";
        let config = load_env(&[
            ("OMNICHANNEL_AUTH__JWT_SECRET", full),
            ("OMNICHANNEL_JWT_SECRET", SECRET),
        ])
        .unwrap();
        assert_eq!(config.auth.jwt_secret, Some(Secret::from(full)));
    }

    #[test]
    fn values_from_the_environment_keep_their_text() {
        let digits = "12345678901234567890123456789012345";
        let config = load_env(&[
            ("OMNICHANNEL_JWT_SECRET", digits),
            ("OMNICHANNEL_CHANNELS__SMS__PROVIDER", "twilio"),
            ("OMNICHANNEL_CHANNELS__SMS__ACCOUNT_SID", "AC123"),
            ("OMNICHANNEL_CHANNELS__SMS__AUTH_TOKEN", "007"),
            ("OMNICHANNEL_CHANNELS__SMS__FROM", "+15551234567"),
        ])
        .unwrap();
        assert_eq!(config.auth.jwt_secret, Some(Secret::from(digits)));
        let ChannelConfig::Twilio(twilio) = config.channel("sms") else {
            panic!("sms must be twilio");
        };
        assert_eq!(twilio.auth_token.expose(), "007");
        assert_eq!(twilio.from, "+15551234567");
        assert_eq!(twilio.base_url, "https://api.twilio.com");
        assert_eq!(twilio.timeout_ms, 5_000);
    }

    #[test]
    fn variables_that_are_not_keys_are_ignored() {
        let config = load_env(&[
            ("OMNICHANNEL_ADMIN_PASSWORD", "correct horse battery"),
            ("OMNICHANNEL_TEST_DATABASE_URL", "postgres://test"),
            ("OMNICHANNEL_CONFIG", ""),
            ("omnichannel_bind", "nonsense"),
            ("NOT_OMNICHANNEL_BIND", "nonsense"),
        ])
        .unwrap();
        assert_eq!(config, Config::default());
    }

    #[test]
    fn the_file_comes_from_the_argument_else_omnichannel_config() {
        Jail::expect_with(|jail| {
            jail.create_file("from-env.toml", "bind = \"127.0.0.1:1111\"")?;
            jail.create_file("from-arg.toml", "bind = \"127.0.0.1:2222\"")?;
            let vars = env(&[("OMNICHANNEL_CONFIG", "from-env.toml")]);

            let config = Config::load_from(None, vars.clone()).map_err(|e| e.to_string())?;
            assert_eq!(config.bind, "127.0.0.1:1111");

            let arg = Path::new("from-arg.toml");
            let config = Config::load_from(Some(arg), vars).map_err(|e| e.to_string())?;
            assert_eq!(config.bind, "127.0.0.1:2222");
            Ok(())
        });
    }

    #[test]
    fn load_reads_the_process_environment() {
        Jail::expect_with(|jail| {
            jail.create_file("omnichannel.toml", "[worker]\nlease_ms = 5000")?;
            jail.set_env("OMNICHANNEL_CONFIG", "omnichannel.toml");
            jail.set_env("OMNICHANNEL_WORKER__RETRY_BASE_MS", "10");
            let config = Config::load(None).map_err(|e| e.to_string())?;
            assert_eq!(config.worker.lease_ms, 5_000);
            assert_eq!(config.worker.retry_base_ms, 10);

            jail.set_env("OMNICHANNEL_WORKER__LEASE", "5000");
            let error = Config::load(None).unwrap_err();
            assert_eq!(error.key(), Some("worker.lease"));
            Ok(())
        });
    }

    #[test]
    fn a_missing_file_is_an_error() {
        let missing = Path::new("/nonexistent/omnichannel.toml");
        let error = Config::load_from(Some(missing), env(&[])).unwrap_err();
        assert!(matches!(error, ConfigError::File { .. }), "{error}");
        assert!(
            error.to_string().contains("/nonexistent/omnichannel.toml"),
            "{error}"
        );
    }

    #[test]
    fn a_toml_syntax_error_names_the_file() {
        let error = load_toml("bind = \"127.0.0.1:8080", &[]).unwrap_err();
        assert!(matches!(error, ConfigError::Syntax { .. }), "{error}");
        assert!(matches!(error.origin(), Some(Origin::File(_))), "{error}");
    }

    #[test]
    fn an_unknown_key_in_the_file_is_named() {
        let error = load_toml(
            "[channels.sms]\nprovider = \"http\"\nurll = \"http://x\"",
            &[],
        )
        .unwrap_err();
        assert_eq!(error.key(), Some("channels.sms.urll"), "{error}");
        assert!(
            error
                .to_string()
                .starts_with("unknown key channels.sms.urll"),
            "{error}"
        );
        assert!(matches!(error.origin(), Some(Origin::File(_))), "{error}");

        for (toml, key) in [
            ("colour = 1", "colour"),
            ("[auth]\nsecret = \"x\"", "auth.secret"),
            ("[worker]\nthreads = 2", "worker.threads"),
        ] {
            let error = load_toml(toml, &[]).unwrap_err();
            assert_eq!(
                error.to_string(),
                format!(
                    "unknown key {key} (in {})",
                    error.origin().map(ToString::to_string).unwrap_or_default()
                )
            );
        }
    }

    #[test]
    fn an_unknown_key_in_the_environment_is_named_with_its_variable() {
        let error = load_env(&[("OMNICHANNEL_WORKER__CONCURENCY", "4")]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "unknown key worker.concurency (in environment variable OMNICHANNEL_WORKER__CONCURENCY)"
        );

        let error = load_env(&[("OMNICHANNEL_WORKER_CONCURRENCY", "4")]).unwrap_err();
        assert_eq!(error.key(), Some("worker_concurrency"));

        let error = load_env(&[
            ("OMNICHANNEL_CHANNELS__SMS__PROVIDER", "http"),
            ("OMNICHANNEL_CHANNELS__SMS__URL", "http://127.0.0.1:9000"),
            ("OMNICHANNEL_CHANNELS__SMS__URLL", "http://127.0.0.1:9000"),
        ])
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "unknown key channels.sms.urll (in environment variable OMNICHANNEL_CHANNELS__SMS__URLL)"
        );

        let error = load_env(&[("OMNICHANNEL_WORKER____CONCURRENCY", "4")]).unwrap_err();
        assert!(matches!(error, ConfigError::UnknownKey { .. }), "{error}");
    }

    #[test]
    fn a_key_of_another_provider_is_unknown() {
        let error =
            error_toml("[channels.sms]\nprovider = \"http\"\nurl = \"http://x\"\nhost = \"smtp\"");
        assert!(
            error.starts_with("unknown key channels.sms.host"),
            "{error}"
        );
        assert!(
            error.ends_with("the http provider takes provider, url, timeout_ms, headers"),
            "{error}"
        );

        let error = error_env(&[
            ("OMNICHANNEL_CHANNELS__SMS__PROVIDER", "log"),
            ("OMNICHANNEL_CHANNELS__SMS__TIMEOUT_MS", "100"),
        ]);
        assert!(
            error.starts_with("unknown key channels.sms.timeout_ms"),
            "{error}"
        );
    }

    #[test]
    fn bad_values_are_named() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (
                &[("OMNICHANNEL_WORKER__CONCURRENCY", "0")],
                "worker.concurrency: must be at least 1 (in environment variable OMNICHANNEL_WORKER__CONCURRENCY)",
            ),
            (
                &[("OMNICHANNEL_WORKER__CONCURRENCY", "many")],
                "worker.concurrency: must be an integer from 0 to 4294967295, found string \"many\"",
            ),
            (
                &[("OMNICHANNEL_WORKER__CONCURRENCY", "-1")],
                "worker.concurrency: must be an integer",
            ),
            (
                &[("OMNICHANNEL_WORKER__ENABLED", "maybe")],
                "worker.enabled: must be true or false",
            ),
            (
                &[("OMNICHANNEL_WORKER__MAX_ATTEMPTS", "0")],
                "worker.max_attempts: must be at least 1",
            ),
            (
                &[("OMNICHANNEL_WORKER__LEASE_MS", "0")],
                "worker.lease_ms: must be at least 1",
            ),
            (
                &[("OMNICHANNEL_WORKER__DEFER_HORIZON_SECS", "0")],
                "worker.defer_horizon_secs: must be at least 1",
            ),
            (
                &[("OMNICHANNEL_AUTH__ACCESS_TTL_SECS", "0")],
                "auth.access_ttl_secs: must be at least 1",
            ),
            (
                &[("OMNICHANNEL_AUTH__REFRESH_TTL_SECS", "0")],
                "auth.refresh_ttl_secs: must be at least 1",
            ),
            (
                &[("OMNICHANNEL_AUTH__ISSUER", " ")],
                "auth.issuer: must not be empty",
            ),
            (
                &[("OMNICHANNEL_JWT_SECRET", "short")],
                "auth.jwt_secret: must be at least 32 bytes",
            ),
            (
                &[("OMNICHANNEL_BIND", "localhost")],
                "bind: must be host:port",
            ),
            (
                &[("OMNICHANNEL_BIND", "127.0.0.1:99999")],
                "bind: must be host:port",
            ),
            (
                &[("OMNICHANNEL_DATABASE_URL", "")],
                "database_url: must not be empty",
            ),
            (
                &[("OMNICHANNEL_DATABASE_URL", "mysql://db/x")],
                "database_url: must be",
            ),
            (
                &[("OMNICHANNEL_CHANNELS__SMS__URL", "http://x")],
                "channels.sms.provider: required",
            ),
            (
                &[("OMNICHANNEL_CHANNELS__SMS__PROVIDER", "carrier-pigeon")],
                "channels.sms.provider: unknown value `carrier-pigeon`, expected one of: log, none,",
            ),
            (
                &[("OMNICHANNEL_CHANNELS__SMS__PROVIDER", "http")],
                "channels.sms.url: required by the http provider",
            ),
            (
                &[
                    ("OMNICHANNEL_CHANNELS__SMS__PROVIDER", "http"),
                    ("OMNICHANNEL_CHANNELS__SMS__URL", "ftp://example.com/x"),
                ],
                "channels.sms.url: must be an http:// or https:// URL",
            ),
            (
                &[
                    ("OMNICHANNEL_CHANNELS__SMS__PROVIDER", "http"),
                    ("OMNICHANNEL_CHANNELS__SMS__URL", "http://x"),
                    ("OMNICHANNEL_CHANNELS__SMS__TIMEOUT_MS", "0"),
                ],
                "channels.sms.timeout_ms: must be at least 1",
            ),
            (
                &[
                    ("OMNICHANNEL_CHANNELS__EMAIL__PROVIDER", "smtp"),
                    ("OMNICHANNEL_CHANNELS__EMAIL__HOST", "mail"),
                    ("OMNICHANNEL_CHANNELS__EMAIL__FROM", "a@example.com"),
                    ("OMNICHANNEL_CHANNELS__EMAIL__TLS", "ssl"),
                ],
                "channels.email.tls: unknown value `ssl`, expected one of: none, starttls, tls",
            ),
            (
                &[
                    ("OMNICHANNEL_CHANNELS__EMAIL__PROVIDER", "smtp"),
                    ("OMNICHANNEL_CHANNELS__EMAIL__HOST", "mail"),
                ],
                "channels.email.from: required by the smtp provider",
            ),
            (
                &[
                    ("OMNICHANNEL_CHANNELS__EMAIL__PROVIDER", "smtp"),
                    ("OMNICHANNEL_CHANNELS__EMAIL__HOST", "mail"),
                    ("OMNICHANNEL_CHANNELS__EMAIL__FROM", "nobody"),
                ],
                "channels.email.from: must be an e-mail address",
            ),
            (
                &[
                    ("OMNICHANNEL_CHANNELS__EMAIL__PROVIDER", "smtp"),
                    ("OMNICHANNEL_CHANNELS__EMAIL__HOST", "mail"),
                    ("OMNICHANNEL_CHANNELS__EMAIL__FROM", "a@example.com"),
                    ("OMNICHANNEL_CHANNELS__EMAIL__USERNAME", "me"),
                ],
                "channels.email.password: required with username",
            ),
            (
                &[
                    ("OMNICHANNEL_CHANNELS__EMAIL__PROVIDER", "smtp"),
                    ("OMNICHANNEL_CHANNELS__EMAIL__HOST", "mail"),
                    ("OMNICHANNEL_CHANNELS__EMAIL__FROM", "a@example.com"),
                    ("OMNICHANNEL_CHANNELS__EMAIL__PORT", "70000"),
                ],
                "channels.email.port: must be an integer from 0 to 65535",
            ),
            (
                &[
                    ("OMNICHANNEL_CHANNELS__CHAT__PROVIDER", "telegram"),
                    ("OMNICHANNEL_CHANNELS__CHAT__BOT_TOKEN", ""),
                ],
                "channels.chat.bot_token: must not be empty",
            ),
            (
                &[
                    ("OMNICHANNEL_CHANNELS__PUSH__PROVIDER", "fcm"),
                    ("OMNICHANNEL_CHANNELS__PUSH__ACCESS_TOKEN", "t"),
                ],
                "channels.push.project_id: required by the fcm provider",
            ),
            (
                &[
                    ("OMNICHANNEL_CHANNELS__CHAT__PROVIDER", "telegram"),
                    ("OMNICHANNEL_CHANNELS__CHAT__BOT_TOKEN", "t"),
                    ("OMNICHANNEL_CHANNELS__CHAT__BASE_URL", "api.telegram.org"),
                ],
                "channels.chat.base_url: must be an http:// or https:// URL",
            ),
            (
                &[("OMNICHANNEL_CHANNELS__SMS_EU-WEST__PROVIDER", "log")],
                "channels.sms_eu-west: a channel code must be",
            ),
        ];
        for (vars, expected) in cases {
            let error = error_env(vars);
            assert!(error.starts_with(expected), "{vars:?}: {error}");
        }

        let error = error_toml("[channels.SMS]\nprovider = \"log\"");
        assert!(
            error.starts_with("channels.SMS: a channel code must be"),
            "{error}"
        );
        let error = error_toml("[worker]\nconcurrency = 0");
        assert!(
            error.starts_with("worker.concurrency: must be at least 1 (in file "),
            "{error}"
        );
        let error = error_toml("[worker]\nenabled = \"often\"");
        assert!(
            error.starts_with("worker.enabled: must be true or false"),
            "{error}"
        );
    }

    #[test]
    fn http_channels_read_from_toml_and_from_the_environment() {
        let expected = ChannelConfig::Http(HttpConfig {
            url: "http://127.0.0.1:9000/sms".to_owned(),
            timeout_ms: 2_000,
            headers: BTreeMap::from([("Authorization".to_owned(), Secret::from("Bearer abc"))]),
        });

        let config = load_toml(
            r#"
            [channels.sms]
            provider = "http"
            url = "http://127.0.0.1:9000/sms"
            timeout_ms = 2000
            headers = { Authorization = "Bearer abc" }
            "#,
            &[],
        )
        .unwrap();
        assert_eq!(config.channel("sms"), &expected);
        assert_eq!(expected.timeout(), Some(Duration::from_secs(2)));
        assert_eq!(expected.provider(), "http");

        let config = load_env(&[
            ("OMNICHANNEL_CHANNELS__SMS__PROVIDER", "http"),
            (
                "OMNICHANNEL_CHANNELS__SMS__URL",
                "http://127.0.0.1:9000/sms",
            ),
            ("OMNICHANNEL_CHANNELS__SMS__TIMEOUT_MS", "2000"),
            (
                "OMNICHANNEL_CHANNELS__SMS__HEADERS",
                "{Authorization=\"Bearer abc\"}",
            ),
        ])
        .unwrap();
        assert_eq!(config.channel("sms"), &expected);

        let config = load_env(&[
            (
                "OMNICHANNEL_CHANNELS__SMS",
                "{provider=\"http\", url=\"http://127.0.0.1:9000/sms\", timeout_ms=2000}",
            ),
            ("OMNICHANNEL_CHANNELS__SMS__HEADERS__X_TOKEN", "1234"),
        ])
        .unwrap();
        let ChannelConfig::Http(http) = config.channel("sms") else {
            panic!("sms must be http");
        };
        assert_eq!(http.timeout_ms, 2_000);
        assert_eq!(http.headers.get("x_token"), Some(&Secret::from("1234")));

        let config = load_env(&[
            ("OMNICHANNEL_CHANNELS__HOOK__PROVIDER", "http"),
            (
                "OMNICHANNEL_CHANNELS__HOOK__URL",
                "https://hooks.example.com/",
            ),
        ])
        .unwrap();
        let ChannelConfig::Http(http) = config.channel("hook") else {
            panic!("hook must be http");
        };
        assert_eq!(http.timeout_ms, 5_000);
        assert!(http.headers.is_empty());

        let error = error_env(&[
            ("OMNICHANNEL_CHANNELS__SMS__PROVIDER", "http"),
            ("OMNICHANNEL_CHANNELS__SMS__URL", "http://x"),
            (
                "OMNICHANNEL_CHANNELS__SMS__HEADERS",
                "{Idempotency-Key=\"1\"}",
            ),
        ]);
        assert!(
            error.starts_with("channels.sms.headers.Idempotency-Key: set by the http provider"),
            "{error}"
        );
    }

    #[test]
    fn smtp_channels_read_from_toml_and_from_the_environment() {
        let config = load_toml(
            r#"
            [channels.email]
            provider = "smtp"
            host = "127.0.0.1"
            port = 2525
            tls = "none"
            from = "noreply@example.com"
            "#,
            &[],
        )
        .unwrap();
        assert_eq!(
            config.channel("email"),
            &ChannelConfig::Smtp(SmtpConfig {
                host: "127.0.0.1".to_owned(),
                port: 2525,
                tls: SmtpTls::None,
                username: None,
                password: None,
                from: "noreply@example.com".to_owned(),
                timeout_ms: 5_000,
            })
        );

        let config = load_env(&[
            ("OMNICHANNEL_CHANNELS__EMAIL__PROVIDER", "smtp"),
            ("OMNICHANNEL_CHANNELS__EMAIL__HOST", "smtp.example.com"),
            ("OMNICHANNEL_CHANNELS__EMAIL__TLS", "tls"),
            ("OMNICHANNEL_CHANNELS__EMAIL__USERNAME", "mailer"),
            ("OMNICHANNEL_CHANNELS__EMAIL__PASSWORD", "12345"),
            (
                "OMNICHANNEL_CHANNELS__EMAIL__FROM",
                "Omni <noreply@example.com>",
            ),
        ])
        .unwrap();
        let ChannelConfig::Smtp(smtp) = config.channel("email") else {
            panic!("email must be smtp");
        };
        assert_eq!(smtp.port, 465);
        assert_eq!(smtp.tls, SmtpTls::Tls);
        assert_eq!(smtp.username.as_deref(), Some("mailer"));
        assert_eq!(smtp.password.as_ref().map(Secret::expose), Some("12345"));
        assert_eq!(smtp.from, "Omni <noreply@example.com>");

        let config = load_env(&[
            ("OMNICHANNEL_CHANNELS__EMAIL__PROVIDER", "smtp"),
            ("OMNICHANNEL_CHANNELS__EMAIL__HOST", "smtp.example.com"),
            ("OMNICHANNEL_CHANNELS__EMAIL__FROM", "noreply@example.com"),
        ])
        .unwrap();
        let ChannelConfig::Smtp(smtp) = config.channel("email") else {
            panic!("email must be smtp");
        };
        assert_eq!((smtp.tls, smtp.port), (SmtpTls::Starttls, 587));
    }

    #[test]
    fn other_providers_take_their_defaults() {
        let config = load_toml(
            r#"
            [channels.messenger]
            provider = "telegram"
            bot_token = "123:abc"
            [channels.push]
            provider = "fcm"
            project_id = "omni-prod"
            access_token = "ya29.token"
            base_url = "http://127.0.0.1:9100/"
            timeout_ms = 100
            "#,
            &[],
        )
        .unwrap();
        let ChannelConfig::Telegram(telegram) = config.channel("messenger") else {
            panic!("messenger must be telegram");
        };
        assert_eq!(telegram.base_url, "https://api.telegram.org");
        assert_eq!(telegram.bot_token.expose(), "123:abc");
        let ChannelConfig::Fcm(fcm) = config.channel("push") else {
            panic!("push must be fcm");
        };
        assert_eq!(fcm.base_url, "http://127.0.0.1:9100");
        assert_eq!(fcm.project_id, "omni-prod");
        assert_eq!(
            config.channel("push").timeout(),
            Some(Duration::from_millis(100))
        );
    }

    #[test]
    fn the_documented_example_loads() {
        let doc = include_str!("../../../docs/configuration.md");
        let start = doc.find("```toml\n").unwrap() + "```toml\n".len();
        let example = &doc[start..];
        let example = &example[..example.find("```").unwrap()];
        let config = load_toml(example, &[]).unwrap();
        assert_eq!(config.worker, WorkerConfig::default());
        assert_eq!(config.auth, AuthConfig::default());
        assert_eq!(config.channel("sms").provider(), "http");
        assert_eq!(config.channel("email").provider(), "smtp");
        assert_eq!(config.channel("messenger").provider(), "telegram");
        assert!(!config.channel("push").is_enabled());
    }

    #[test]
    fn debug_output_hides_secrets() {
        let config = load_toml(
            r#"
            database_url = "postgres://omni:dbpass-1@db/omni?sslmode=require"
            [auth]
            jwt_secret = "jwt-secret-jwt-secret-jwt-secret-0"
            [channels.sms]
            provider = "http"
            url = "https://user:urlpass-2@sms.example.com/send?token=urltoken-3"
            headers = { Authorization = "Bearer header-4" }
            [channels.email]
            provider = "smtp"
            host = "mail"
            username = "mailer"
            password = "smtppass-5"
            from = "noreply@example.com"
            [channels.texts]
            provider = "twilio"
            account_sid = "AC1"
            auth_token = "twiliotoken-6"
            from = "+15550000000"
            [channels.messenger]
            provider = "telegram"
            bot_token = "bottoken-7"
            [channels.push]
            provider = "fcm"
            project_id = "p"
            access_token = "fcmtoken-8"
            "#,
            &[],
        )
        .unwrap();
        let debug = format!("{config:?} {config:#?}");
        for secret in [
            "dbpass-1",
            "jwt-secret",
            "urlpass-2",
            "urltoken-3",
            "header-4",
            "smtppass-5",
            "twiliotoken-6",
            "bottoken-7",
            "fcmtoken-8",
        ] {
            assert!(!debug.contains(secret), "{secret} leaked: {debug}");
        }
        assert!(debug.contains("sslmode=require"), "{debug}");
        assert!(debug.contains("Authorization"), "{debug}");
        assert!(debug.contains("mailer"), "{debug}");
    }

    #[test]
    fn errors_do_not_echo_secrets() {
        let error = error_env(&[
            ("OMNICHANNEL_CHANNELS__SMS__PROVIDER", "http"),
            ("OMNICHANNEL_CHANNELS__SMS__URL", "http://x"),
            (
                "OMNICHANNEL_CHANNELS__SMS__HEADERS",
                "Authorization: Bearer leaked",
            ),
        ]);
        assert!(
            error.starts_with("channels.sms.headers: must be a table"),
            "{error}"
        );
        assert!(!error.contains("leaked"), "{error}");

        let error = error_toml("[auth]\njwt_secret = 1.5");
        assert!(
            error.starts_with("auth.jwt_secret: must be a string"),
            "{error}"
        );
        assert!(!error.contains("1.5"), "{error}");
    }
}
