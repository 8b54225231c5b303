//! The `OMNICHANNEL_*` environment variables as a figment provider.

use std::sync::Arc;

use figment::value::{Dict, Map, Tag, Value};
use figment::{Metadata, Profile, Provider};

use super::{
    ADMIN_PASSWORD_ENV, CONFIG_FILE_ENV, ConfigError, ENV_PREFIX, JWT_SECRET_ENV, Origin,
    TEST_ENV_PREFIX,
};

/// The name of the environment provider in figment's metadata.
pub(super) const ENV_SOURCE_NAME: &str = "environment variable";

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
pub(super) struct EnvVars {
    vars: Arc<Vec<EnvVar>>,
}

impl EnvVars {
    /// The `OMNICHANNEL_JWT_SECRET` alias, and every other configuration variable;
    /// the second is merged last so that the full name wins over the alias.
    pub(super) fn split(env: &[(String, String)]) -> Result<(EnvVars, EnvVars), ConfigError> {
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

/// Whether the key holds a table: `auth`, `worker`, `log`, `metrics`,
/// `channels`, `channels.<code>` and `channels.<code>.headers`.
pub(super) fn is_table<S: AsRef<str>>(path: &[S]) -> bool {
    let path: Vec<&str> = path.iter().map(AsRef::as_ref).collect();
    matches!(
        path.as_slice(),
        ["auth"]
            | ["worker"]
            | ["log"]
            | ["metrics"]
            | ["channels"]
            | ["channels", _]
            | ["channels", _, "headers"]
    )
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
