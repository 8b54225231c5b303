//! The errors of the store itself, and how database errors become the ports'
//! `RepoError`.

use diesel::result::{DatabaseErrorInformation, DatabaseErrorKind, Error as DieselError};
use omnichannel_domain::ports::RepoError;

/// Why the store could not be opened, migrated or reached. No message shows
/// the password of the database URL.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("invalid database URL: {0}")]
    BadUrl(String),
    #[error("invalid pool options: {0}")]
    BadPoolOptions(&'static str),
    #[error("cannot connect to the database {url}")]
    Connect {
        /// The URL without its password.
        url: String,
        #[source]
        source: diesel::r2d2::Error,
    },
    #[error("no database connection became free in time")]
    Unavailable(#[source] r2d2::Error),
    #[error("the database query failed")]
    Query(#[source] DieselError),
    #[error("applying the database migrations failed")]
    Migration(#[source] anyhow::Error),
    #[error("cannot start listening for queued work")]
    Listen(#[source] std::io::Error),
}

/// Any failure the port has no variant for.
pub(crate) fn unexpected(error: impl Into<anyhow::Error>) -> RepoError {
    RepoError::Unexpected(error.into())
}

/// A failed insert or update: a unique violation becomes `Conflict` with the
/// field `conflict_field` names; a missing referenced row is unexpected (the
/// caller checks references first).
pub(crate) fn write_error(
    error: DieselError,
    conflict_field: fn(&dyn DatabaseErrorInformation) -> &'static str,
) -> RepoError {
    match &error {
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
            RepoError::Conflict(conflict_field(info.as_ref()))
        }
        DieselError::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, _) => {
            unexpected(anyhow::Error::new(error).context("a referenced row does not exist"))
        }
        _ => unexpected(error),
    }
}

/// A failed delete: a row still referenced by another is `Referenced`.
pub(crate) fn delete_error(error: DieselError) -> RepoError {
    match error {
        DieselError::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, _) => {
            RepoError::Referenced
        }
        error => unexpected(error),
    }
}

/// Whether a unique violation is about `column`: PostgreSQL names the
/// constraint (`users_external_id_key`; every unique constraint is named
/// `<table>_<column>_key`), SQLite the column
/// (`UNIQUE constraint failed: users.external_id`). The whole suffix is
/// matched, so that `api_key` does not match the primary key `api_keys_pkey`.
pub(crate) fn violates_unique(info: &dyn DatabaseErrorInformation, column: &str) -> bool {
    info.constraint_name()
        .is_some_and(|name| name.ends_with(&format!("_{column}_key")))
        || info.message().contains(&format!(".{column}"))
}

/// Why the body of a transaction gave up, rolling it back: the port's error
/// to answer. A database error the body does not map itself is unexpected.
#[derive(Debug)]
pub(crate) struct Abort(pub(crate) RepoError);

impl From<DieselError> for Abort {
    fn from(error: DieselError) -> Self {
        Self(unexpected(error))
    }
}

impl From<RepoError> for Abort {
    fn from(error: RepoError) -> Self {
        Self(error)
    }
}
