//! Reading the database URL: which backend, and how to show it without its
//! password.

use crate::error::StorageError;
use crate::store::Backend;

/// Where the data lives.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum DatabaseUrl {
    /// The path of a SQLite file (or a SQLite `file:` URI).
    Sqlite(String),
    /// A libpq connection URL.
    Postgres(String),
}

/// Shows the redacted URL, so that a debug print never leaks the password.
impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl DatabaseUrl {
    /// `postgres://…` and `postgresql://…` are PostgreSQL; `sqlite://PATH`,
    /// `sqlite:PATH` and a plain path are a SQLite file.
    pub(crate) fn parse(url: &str) -> Result<Self, StorageError> {
        let url = url.trim();
        if let Some((scheme, rest)) = url.split_once("://") {
            return match scheme.to_ascii_lowercase().as_str() {
                "postgres" | "postgresql" => Ok(Self::Postgres(url.to_owned())),
                "sqlite" => sqlite_path(rest),
                _ => Err(StorageError::BadUrl(format!(
                    "the scheme `{scheme}` is not supported: use postgres://…, sqlite://PATH or a file path"
                ))),
            };
        }
        match url.strip_prefix("sqlite:") {
            Some(path) => sqlite_path(path),
            None => sqlite_path(url),
        }
    }

    pub(crate) fn backend(&self) -> Backend {
        match self {
            Self::Sqlite(_) => Backend::Sqlite,
            Self::Postgres(_) => Backend::Postgres,
        }
    }

    /// The URL as it may be logged: a password is replaced by `***`.
    pub(crate) fn redacted(&self) -> String {
        match self {
            Self::Sqlite(path) => format!("sqlite://{path}"),
            Self::Postgres(url) => redact_postgres(url),
        }
    }
}

fn sqlite_path(path: &str) -> Result<DatabaseUrl, StorageError> {
    if path.is_empty() {
        return Err(StorageError::BadUrl("the SQLite path is empty".to_owned()));
    }
    if path == ":memory:" || path.contains("mode=memory") {
        return Err(StorageError::BadUrl(
            "an in-memory SQLite database cannot be shared by a connection pool: give a file path"
                .to_owned(),
        ));
    }
    Ok(DatabaseUrl::Sqlite(path.to_owned()))
}

/// Hides the password of the user part and of a `password=` parameter.
fn redact_postgres(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (before_query, query) = match rest.split_once('?') {
        Some((before, query)) => (before, Some(query)),
        None => (rest, None),
    };
    let mut redacted = format!("{scheme}://");
    match before_query.rsplit_once('@') {
        Some((userinfo, host_and_path)) => {
            match userinfo.split_once(':') {
                Some((user, _password)) => redacted.push_str(&format!("{user}:***")),
                None => redacted.push_str(userinfo),
            }
            redacted.push('@');
            redacted.push_str(host_and_path);
        }
        None => redacted.push_str(before_query),
    }
    if let Some(query) = query {
        let params: Vec<&str> = query
            .split('&')
            .map(|param| match param.split_once('=') {
                Some((key, _)) if key.eq_ignore_ascii_case("password") => "password=***",
                _ => param,
            })
            .collect();
        redacted.push('?');
        redacted.push_str(&params.join("&"));
    }
    redacted
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(url: &str) -> Option<DatabaseUrl> {
        DatabaseUrl::parse(url).ok()
    }

    #[test]
    fn the_backend_comes_from_the_scheme() {
        assert_eq!(
            parse("postgres://u@h/db"),
            Some(DatabaseUrl::Postgres("postgres://u@h/db".to_owned()))
        );
        assert_eq!(
            parse("postgresql://h/db"),
            Some(DatabaseUrl::Postgres("postgresql://h/db".to_owned()))
        );
        assert_eq!(
            parse("omnichannel.db"),
            Some(DatabaseUrl::Sqlite("omnichannel.db".to_owned()))
        );
        assert_eq!(
            parse("sqlite://data/omnichannel.db"),
            Some(DatabaseUrl::Sqlite("data/omnichannel.db".to_owned()))
        );
        assert_eq!(
            parse("sqlite:///var/lib/o.db"),
            Some(DatabaseUrl::Sqlite("/var/lib/o.db".to_owned()))
        );
        assert_eq!(
            parse("sqlite:o.db"),
            Some(DatabaseUrl::Sqlite("o.db".to_owned()))
        );
    }

    #[test]
    fn unknown_schemes_and_memory_databases_are_refused() {
        assert_eq!(parse("mysql://h/db"), None);
        assert_eq!(parse(""), None);
        assert_eq!(parse("sqlite://"), None);
        assert_eq!(parse(":memory:"), None);
        assert_eq!(parse("file:x?mode=memory&cache=shared"), None);
    }

    #[test]
    fn passwords_never_show() {
        let redacted = |url: &str| DatabaseUrl::Postgres(url.to_owned()).redacted();
        assert_eq!(
            redacted("postgres://ann:s3cret@db:5432/o?sslmode=require"),
            "postgres://ann:***@db:5432/o?sslmode=require"
        );
        assert_eq!(
            redacted("postgres://ann:p@ss/w:rd@db/o"),
            "postgres://ann:***@db/o"
        );
        assert_eq!(
            redacted("postgres://db/o?user=ann&password=s3cret"),
            "postgres://db/o?user=ann&password=***"
        );
        assert_eq!(redacted("postgres://ann@db/o"), "postgres://ann@db/o");
        let error = DatabaseUrl::parse("mysql://ann:s3cret@db/o")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(!error.contains("s3cret"), "{error}");
    }
}
