//! Keys of the public API: a public `api_key` and a `secret_api_key` shown once
//! and kept only as a SHA-256 hash (a fast hash suits a 256-bit random secret).
//!
//! A key verified once is remembered by the process (its id and the hash of
//! its secret, never the secret), so that the secret of the next request
//! with it is checked without the database. Remembering never stands for the
//! key being active: each use still confirms that in the database — in its
//! own query ([`ApiKeys::confirm`]), or in the transaction that stores a send
//! (the group commit) — so a revocation is effective at once on every
//! instance.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use chrono::{DateTime, Duration, Utc};
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

/// A key this process verified: its id, the hash of its secret, and when
/// this process last wrote its `last_used_at`.
#[derive(Debug, Clone)]
struct Remembered {
    id: ApiKeyId,
    secret_hash: String,
    touched_at: DateTime<Utc>,
}

pub struct ApiKeys {
    repo: Arc<dyn ApiKeyRepository>,
    clock: Arc<dyn Clock>,
    /// By public key.
    remembered: RwLock<HashMap<String, Remembered>>,
}

impl ApiKeys {
    pub const KEY_PREFIX: &str = "ock_";
    /// `last_used_at` is written at most this often for one key.
    pub const TOUCH_EVERY: Duration = Duration::seconds(60);

    pub fn new(repo: Arc<dyn ApiKeyRepository>, clock: Arc<dyn Clock>) -> Self {
        Self {
            repo,
            clock,
            remembered: RwLock::default(),
        }
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
        self.forget(id);
        if existed {
            tracing::info!(api_key.id = %id, "API key revoked");
        }
        deleted(existed)
    }

    /// The key a request presents, if the pair is valid and the key active;
    /// notes its use (at most once a minute). A remembered key costs one
    /// query by primary key.
    pub fn authenticate(&self, api_key: &str, secret: &str) -> Result<ApiKeyId, KeyAuthError> {
        match self.recall(api_key, secret) {
            Some(id) => self.confirm(id),
            None => self.look_up(api_key, secret),
        }
    }

    /// The key a request presents if the pair is one this process verified
    /// before and noted the use of less than a minute ago: no database. The
    /// key may have been revoked since; the caller confirms it is active
    /// where it acts (`confirm`, or the transaction that stores a send).
    /// `None`: ask `authenticate`.
    pub fn recall(&self, api_key: &str, secret: &str) -> Option<ApiKeyId> {
        let remembered = self
            .remembered
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(api_key)
            .cloned()?;
        let fresh = self.clock.now() - remembered.touched_at < Self::TOUCH_EVERY;
        (fresh && same_hash(&secret_hash(secret), &remembered.secret_hash)).then_some(remembered.id)
    }

    /// `id` if the key is still active; a revoked one is forgotten.
    pub fn confirm(&self, id: ApiKeyId) -> Result<ApiKeyId, KeyAuthError> {
        if self
            .repo
            .is_active(id)
            .map_err(|e| KeyAuthError::Unexpected(e.into()))?
        {
            Ok(id)
        } else {
            self.forget(id);
            Err(KeyAuthError::Invalid)
        }
    }

    /// Forgets a key found revoked (or revoked here).
    pub fn forget(&self, id: ApiKeyId) {
        self.remembered
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|_, remembered| remembered.id != id);
    }

    /// Checks the pair in the database, remembers a valid one and notes its
    /// use.
    fn look_up(&self, api_key: &str, secret: &str) -> Result<ApiKeyId, KeyAuthError> {
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
        self.remembered
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(
                key.key,
                Remembered {
                    id: key.id,
                    secret_hash: key.secret_hash,
                    touched_at: now,
                },
            );
        Ok(key.id)
    }
}
