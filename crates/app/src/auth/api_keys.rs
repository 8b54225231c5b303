//! Keys of the public API: a public `api_key` and a `secret_api_key` shown once
//! and kept only as a SHA-256 hash (a fast hash suits a 256-bit random secret).

use std::sync::Arc;

use chrono::Duration;
use omnichannel_domain::auth::ApiKey;
use omnichannel_domain::ports::{ApiKeyRepository, Clock, Page, Paged};
use omnichannel_domain::{ApiKeyId, Name, ValidationErrors};

use super::crypto::{random_token, same_hash, secret_hash};
use crate::error::{CreateError, DeleteError, ListError, deleted};

/// A new key with its secret, which is never available again.
#[derive(Debug)]
pub struct CreatedKey {
    pub key: ApiKey,
    pub secret: String,
}

#[derive(Debug, thiserror::Error)]
pub enum KeyAuthError {
    /// Unknown or revoked key, or a secret that does not match.
    #[error("invalid API key or secret")]
    Invalid,
    #[error(transparent)]
    Unexpected(anyhow::Error),
}

pub struct ApiKeys {
    repo: Arc<dyn ApiKeyRepository>,
    clock: Arc<dyn Clock>,
}

impl ApiKeys {
    pub const KEY_PREFIX: &str = "ock_";
    /// `last_used_at` is written at most this often for one key.
    pub const TOUCH_EVERY: Duration = Duration::seconds(60);

    pub fn new(repo: Arc<dyn ApiKeyRepository>, clock: Arc<dyn Clock>) -> Self {
        Self { repo, clock }
    }

    pub fn create(&self, name: String) -> Result<CreatedKey, CreateError> {
        let name = Name::parse(name)
            .map_err(|e| CreateError::Invalid(ValidationErrors::single("name", e.0)))?;
        let public = random_token(16).map_err(CreateError::Unexpected)?;
        let secret = random_token(32).map_err(CreateError::Unexpected)?;
        let key = ApiKey {
            id: ApiKeyId::generate(),
            name,
            key: format!("{}{public}", Self::KEY_PREFIX),
            secret_hash: secret_hash(&secret),
            created_at: self.clock.now(),
            last_used_at: None,
        };
        self.repo.insert(&key)?;
        tracing::info!(api_key.id = %key.id, "API key created");
        Ok(CreatedKey { key, secret })
    }

    pub fn list(&self, page: Page) -> Result<Paged<ApiKey>, ListError> {
        Ok(self.repo.list(page)?)
    }

    /// Effective at once: the next request with the key is refused.
    pub fn revoke(&self, id: ApiKeyId) -> Result<(), DeleteError> {
        let existed = self.repo.revoke(id, self.clock.now())?;
        if existed {
            tracing::info!(api_key.id = %id, "API key revoked");
        }
        deleted(existed)
    }

    /// The key a request presents, if the pair is valid; notes its use.
    pub fn authenticate(&self, api_key: &str, secret: &str) -> Result<ApiKeyId, KeyAuthError> {
        let presented = secret_hash(secret);
        let key = self
            .repo
            .find_active(api_key)
            .map_err(|e| KeyAuthError::Unexpected(e.into()))?;
        let Some(key) = key.filter(|key| same_hash(&presented, &key.secret_hash)) else {
            return Err(KeyAuthError::Invalid);
        };
        let now = self.clock.now();
        if let Err(error) = self.repo.touch(key.id, now, now - Self::TOUCH_EVERY) {
            tracing::warn!(api_key.id = %key.id, %error, "recording the use of an API key failed");
        }
        Ok(key.id)
    }
}
