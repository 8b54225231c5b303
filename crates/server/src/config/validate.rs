//! The rules shared by every part of the configuration, and the conversion of
//! figment's errors and of broken rules into [`ConfigError`].

use std::fmt;
use std::net::SocketAddr;

use figment::error::Kind;
use figment::{Figment, Metadata, Profile};

use super::env::{ENV_SOURCE_NAME, is_table};
use super::{
    AuthConfig, ConfigError, MAX_ATTEMPTS, MAX_CONCURRENCY, MAX_MS, MAX_SECS, MIN_JWT_SECRET_BYTES,
    Origin, WorkerConfig,
};

/// Whether a value at the key must never be echoed in a message.
fn is_secret<S: AsRef<str>>(path: &[S]) -> bool {
    let path: Vec<&str> = path.iter().map(AsRef::as_ref).collect();
    let secret_leaf = matches!(
        path.last(),
        Some(&("jwt_secret" | "password" | "auth_token" | "access_token"))
    );
    let in_headers = matches!(path.as_slice(), ["channels", _, "headers", ..]);
    secret_leaf || in_headers || is_table(&path)
}

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

pub(super) fn from_figment(error: figment::Error) -> ConfigError {
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
pub(super) struct Problem {
    pub(super) path: Vec<String>,
    pub(super) message: String,
    pub(super) unknown_key: bool,
}

impl Problem {
    pub(super) fn invalid(path: &[&str], message: impl Into<String>) -> Self {
        Self {
            path: path.iter().map(|part| (*part).to_owned()).collect(),
            message: message.into(),
            unknown_key: false,
        }
    }

    pub(super) fn into_error(self, figment: &Figment) -> ConfigError {
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

pub(super) type Checked<T> = Result<T, Problem>;

pub(super) fn in_range<T: PartialOrd + fmt::Display>(
    path: &[&str],
    value: T,
    min: T,
    max: T,
) -> Checked<()> {
    if value < min {
        return Err(Problem::invalid(path, format!("must be at least {min}")));
    }
    if value > max {
        return Err(Problem::invalid(path, format!("must be at most {max}")));
    }
    Ok(())
}

pub(super) fn not_blank(path: &[&str], value: &str) -> Checked<()> {
    if value.trim().is_empty() {
        return Err(Problem::invalid(path, "must not be empty"));
    }
    Ok(())
}

pub(super) fn http_url(path: &[&str], value: &str) -> Checked<()> {
    let valid = url::Url::parse(value)
        .map(|url| matches!(url.scheme(), "http" | "https") && url.host().is_some())
        .unwrap_or(false);
    if !valid {
        return Err(Problem::invalid(path, "must be an http:// or https:// URL"));
    }
    Ok(())
}

pub(super) fn validate_database_url(value: &str) -> Checked<()> {
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

pub(super) fn validate_bind(value: &str) -> Checked<()> {
    validate_bind_at(&["bind"], value)
}

/// A `host:port` to listen on, at the key `path`.
pub(super) fn validate_bind_at(path: &[&str], value: &str) -> Checked<()> {
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
            path,
            "must be host:port, e.g. 127.0.0.1:8080 or [::]:8080",
        ));
    }
    Ok(())
}

pub(super) fn validate_auth(auth: &AuthConfig) -> Checked<()> {
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

pub(super) fn validate_worker(worker: &WorkerConfig) -> Checked<()> {
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
