//! One error enum per kind of operation; the HTTP adapter maps each to a status.

use omnichannel_domain::ValidationErrors;
use omnichannel_domain::ports::RepoError;

#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    /// The resource the new one belongs to (a department, a user) does not exist.
    #[error("not found")]
    NotFound,
    #[error("invalid input: {0}")]
    Invalid(ValidationErrors),
    /// A unique value is taken; the payload names the field.
    #[error("{0} is already taken")]
    Conflict(&'static str),
    #[error(transparent)]
    Unexpected(anyhow::Error),
}

#[derive(Debug, thiserror::Error)]
pub enum GetError {
    #[error("not found")]
    NotFound,
    #[error(transparent)]
    Unexpected(anyhow::Error),
}

#[derive(Debug, thiserror::Error)]
pub enum ListError {
    /// The resource the list belongs to does not exist.
    #[error("not found")]
    NotFound,
    /// A filter is invalid.
    #[error("invalid input: {0}")]
    Invalid(ValidationErrors),
    #[error(transparent)]
    Unexpected(anyhow::Error),
}

#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    #[error("not found")]
    NotFound,
    #[error("invalid input: {0}")]
    Invalid(ValidationErrors),
    #[error("{0} is already taken")]
    Conflict(&'static str),
    #[error(transparent)]
    Unexpected(anyhow::Error),
}

#[derive(Debug, thiserror::Error)]
pub enum DeleteError {
    #[error("not found")]
    NotFound,
    /// Other rows still use it: block it instead.
    #[error("still referenced")]
    Referenced,
    /// A rule of the resource forbids it; the payload says which.
    #[error("{0}")]
    Refused(&'static str),
    #[error(transparent)]
    Unexpected(anyhow::Error),
}

/// `NotFound` when the adapter had no row to update.
pub(crate) fn updated(existed: bool) -> Result<(), UpdateError> {
    if existed {
        Ok(())
    } else {
        Err(UpdateError::NotFound)
    }
}

/// `NotFound` when the adapter had no row to delete.
pub(crate) fn deleted(existed: bool) -> Result<(), DeleteError> {
    if existed {
        Ok(())
    } else {
        Err(DeleteError::NotFound)
    }
}

pub(crate) fn unexpected(error: RepoError) -> anyhow::Error {
    match error {
        RepoError::Unexpected(error) => error,
        other => anyhow::Error::new(other),
    }
}

impl From<RepoError> for CreateError {
    fn from(error: RepoError) -> Self {
        match error {
            RepoError::Conflict(field) => Self::Conflict(field),
            other => Self::Unexpected(unexpected(other)),
        }
    }
}

impl From<RepoError> for GetError {
    fn from(error: RepoError) -> Self {
        Self::Unexpected(unexpected(error))
    }
}

impl From<RepoError> for ListError {
    fn from(error: RepoError) -> Self {
        Self::Unexpected(unexpected(error))
    }
}

impl From<RepoError> for UpdateError {
    fn from(error: RepoError) -> Self {
        match error {
            RepoError::Conflict(field) => Self::Conflict(field),
            other => Self::Unexpected(unexpected(other)),
        }
    }
}

impl From<RepoError> for DeleteError {
    fn from(error: RepoError) -> Self {
        match error {
            RepoError::Referenced => Self::Referenced,
            other => Self::Unexpected(unexpected(other)),
        }
    }
}

impl From<GetError> for CreateError {
    fn from(error: GetError) -> Self {
        match error {
            GetError::NotFound => Self::NotFound,
            GetError::Unexpected(error) => Self::Unexpected(error),
        }
    }
}

impl From<GetError> for ListError {
    fn from(error: GetError) -> Self {
        match error {
            GetError::NotFound => Self::NotFound,
            GetError::Unexpected(error) => Self::Unexpected(error),
        }
    }
}

impl From<GetError> for UpdateError {
    fn from(error: GetError) -> Self {
        match error {
            GetError::NotFound => Self::NotFound,
            GetError::Unexpected(error) => Self::Unexpected(error),
        }
    }
}

impl From<GetError> for DeleteError {
    fn from(error: GetError) -> Self {
        match error {
            GetError::NotFound => Self::NotFound,
            GetError::Unexpected(error) => Self::Unexpected(error),
        }
    }
}
