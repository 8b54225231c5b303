//! Operators (admin accounts): create, list, delete, change one's password,
//! and the first operator of a new installation.

use std::sync::Arc;

use omnichannel_domain::auth::{Admin, NewPassword, Username};
use omnichannel_domain::ports::{AdminDeletion, AdminRepository, Clock, Page, Paged};
use omnichannel_domain::{AdminId, ValidationErrors};

use super::crypto::{PasswordHasher, random_token};
use crate::error::{CreateError, DeleteError, ListError};

#[derive(Debug, thiserror::Error)]
pub enum PasswordChangeError {
    #[error("the current password is wrong")]
    WrongPassword,
    #[error("invalid input: {0}")]
    Invalid(ValidationErrors),
    #[error("the operator no longer exists")]
    NotFound,
    #[error(transparent)]
    Unexpected(anyhow::Error),
}

/// The first operator, made at a start with none.
#[derive(Debug)]
pub struct FirstOperator {
    pub username: String,
    /// Set when the password was generated and must be shown once.
    pub generated_password: Option<String>,
}

pub struct Operators {
    repo: Arc<dyn AdminRepository>,
    hasher: Arc<PasswordHasher>,
    clock: Arc<dyn Clock>,
}

impl Operators {
    pub const FIRST_USERNAME: &str = "admin";

    pub fn new(
        repo: Arc<dyn AdminRepository>,
        hasher: Arc<PasswordHasher>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            repo,
            hasher,
            clock,
        }
    }

    pub fn list(&self, page: Page) -> Result<Paged<Admin>, ListError> {
        Ok(self.repo.list(page)?)
    }

    pub fn create(&self, username: &str, password: String) -> Result<Admin, CreateError> {
        let mut errors = ValidationErrors::new();
        let username = errors.check("username", Username::parse(username));
        let password = errors.check("password", NewPassword::parse(password));
        let (Some(username), Some(password)) = (username, password) else {
            return Err(CreateError::Invalid(errors));
        };
        let admin = self
            .new_admin(username, &password)
            .map_err(CreateError::Unexpected)?;
        self.repo.insert(&admin)?;
        tracing::info!(admin.id = %admin.id, admin.username = admin.username.as_str(), "operator created");
        Ok(admin)
    }

    fn new_admin(&self, username: Username, password: &NewPassword) -> anyhow::Result<Admin> {
        let now = self.clock.now();
        Ok(Admin {
            id: AdminId::generate(),
            username,
            password_hash: self.hasher.hash(password)?,
            created_at: now,
            updated_at: now,
        })
    }

    /// Refused for the last operator, so that somebody can always log in.
    pub fn delete(&self, id: AdminId) -> Result<(), DeleteError> {
        match self.repo.delete_unless_last(id)? {
            AdminDeletion::Deleted => Ok(()),
            AdminDeletion::NotFound => Err(DeleteError::NotFound),
            AdminDeletion::LastOne => {
                Err(DeleteError::Refused("the last operator cannot be deleted"))
            }
        }
    }

    /// Changes the operator's own password and ends every login of it.
    pub fn change_password(
        &self,
        id: AdminId,
        current: &str,
        new: String,
    ) -> Result<(), PasswordChangeError> {
        let admin = self
            .repo
            .get(id)
            .map_err(|e| PasswordChangeError::Unexpected(e.into()))?
            .ok_or(PasswordChangeError::NotFound)?;
        if !self.hasher.verify(current, &admin.password_hash) {
            return Err(PasswordChangeError::WrongPassword);
        }
        let new = NewPassword::parse(new).map_err(|e| {
            PasswordChangeError::Invalid(ValidationErrors::single("new_password", e.0))
        })?;
        let hash = self
            .hasher
            .hash(&new)
            .map_err(PasswordChangeError::Unexpected)?;
        let changed = self
            .repo
            .change_password(id, &hash, self.clock.now())
            .map_err(|e| PasswordChangeError::Unexpected(e.into()))?;
        if !changed {
            return Err(PasswordChangeError::NotFound);
        }
        tracing::info!(admin.id = %id, "operator changed its password; its logins are revoked");
        Ok(())
    }

    /// Makes the operator `admin` when there is none: with `password` when
    /// given, else with a generated one that the caller shows once.
    pub fn ensure_first(&self, password: Option<String>) -> anyhow::Result<Option<FirstOperator>> {
        let existing = self.repo.list(Page {
            limit: 1,
            offset: 0,
        })?;
        if existing.total > 0 {
            return Ok(None);
        }
        let (password, generated) = match password {
            Some(password) => (password, false),
            None => (random_token(18)?, true),
        };
        let parsed = NewPassword::parse(password.clone())
            .map_err(|e| anyhow::anyhow!("OMNICHANNEL_ADMIN_PASSWORD {e}"))?;
        let username = Username::parse(Self::FIRST_USERNAME)?;
        let admin = self.new_admin(username, &parsed)?;
        if !self.repo.insert_first(&admin)? {
            return Ok(None);
        }
        Ok(Some(FirstOperator {
            username: Self::FIRST_USERNAME.to_owned(),
            generated_password: generated.then_some(password),
        }))
    }
}
