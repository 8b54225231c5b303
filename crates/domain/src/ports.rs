//! The ports: what the application needs from storage. Adapters implement them;
//! `mock` generates mockall doubles for the application's tests.
//!
//! Every method is blocking; callers run them off the async threads.

use chrono::{DateTime, Utc};

use crate::auth::{Admin, ApiKey, RefreshToken};
use crate::availability::Availability;
use crate::department::{Department, FavoriteSource, Rule};
use crate::dictionary::{CommunicationSource, CommunicationType};
use crate::ids::{
    AdminId, ApiKeyId, DepartmentId, RuleId, SourceId, TokenFamilyId, TypeId, UserId,
};
use crate::user::User;

/// How an adapter reports a failure.
#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    /// A unique value is taken; the payload is the field's name (`code`, `external_id`, …).
    #[error("{0} is already taken")]
    Conflict(&'static str),
    /// The row is still referenced by another and cannot be deleted.
    #[error("the row is still referenced")]
    Referenced,
    /// Anything else: the database is unreachable, a stored value is invalid, ….
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// A slice of a list, newest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub limit: u32,
    pub offset: u64,
}

impl Page {
    pub const DEFAULT_LIMIT: u32 = 50;
    pub const MAX_LIMIT: u32 = 500;
}

impl Default for Page {
    fn default() -> Self {
        Self {
            limit: Self::DEFAULT_LIMIT,
            offset: 0,
        }
    }
}

/// One page of a list and how many items the whole list holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paged<T> {
    pub items: Vec<T>,
    pub total: u64,
}

/// Which users a list holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserFilter {
    /// A part of the first or last name, phone, e-mail or external id, in any case.
    pub q: Option<String>,
}

/// The source of the current time.
#[cfg_attr(feature = "mock", mockall::automock)]
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

#[cfg_attr(feature = "mock", mockall::automock)]
pub trait UserRepository: Send + Sync {
    /// `Conflict("external_id")` when another user has the same external id.
    fn insert(&self, user: &User) -> Result<(), RepoError>;
    fn get(&self, id: UserId) -> Result<Option<User>, RepoError>;
    fn list(&self, filter: &UserFilter, page: Page) -> Result<Paged<User>, RepoError>;
    /// The user with this external id, if any.
    fn find_by_external_id(&self, external_id: &str) -> Result<Option<User>, RepoError>;
    /// `Ok(false)` when there is no such user; `Conflict` as for `insert`.
    fn update(&self, user: &User) -> Result<bool, RepoError>;
    /// `Ok(false)` when there is no such user; `Referenced` while communications
    /// of the user are kept. The availability goes with the user.
    fn delete(&self, id: UserId) -> Result<bool, RepoError>;
}

#[cfg_attr(feature = "mock", mockall::automock)]
pub trait AvailabilityRepository: Send + Sync {
    fn get(&self, user_id: UserId) -> Result<Option<Availability>, RepoError>;
    /// Creates or replaces the availability of an existing user.
    fn put(&self, availability: &Availability) -> Result<(), RepoError>;
}

#[cfg_attr(feature = "mock", mockall::automock)]
pub trait CommunicationTypeRepository: Send + Sync {
    /// `Conflict("code")` when the code is taken.
    fn insert(&self, item: &CommunicationType) -> Result<(), RepoError>;
    fn get(&self, id: TypeId) -> Result<Option<CommunicationType>, RepoError>;
    fn list(&self, page: Page) -> Result<Paged<CommunicationType>, RepoError>;
    /// `Ok(false)` when missing; `Conflict("code")` when the code is taken.
    fn update(&self, item: &CommunicationType) -> Result<bool, RepoError>;
    /// `Ok(false)` when missing; `Referenced` while a favourite source, rule or
    /// communication uses it.
    fn delete(&self, id: TypeId) -> Result<bool, RepoError>;
}

#[cfg_attr(feature = "mock", mockall::automock)]
pub trait CommunicationSourceRepository: Send + Sync {
    /// `Conflict("code")` when the code is taken.
    fn insert(&self, item: &CommunicationSource) -> Result<(), RepoError>;
    fn get(&self, id: SourceId) -> Result<Option<CommunicationSource>, RepoError>;
    fn list(&self, page: Page) -> Result<Paged<CommunicationSource>, RepoError>;
    /// `Ok(false)` when missing; `Conflict("code")` when the code is taken.
    fn update(&self, item: &CommunicationSource) -> Result<bool, RepoError>;
    /// `Ok(false)` when missing; `Referenced` while a favourite source or
    /// communication uses it.
    fn delete(&self, id: SourceId) -> Result<bool, RepoError>;
}

#[cfg_attr(feature = "mock", mockall::automock)]
pub trait DepartmentRepository: Send + Sync {
    fn insert(&self, item: &Department) -> Result<(), RepoError>;
    fn get(&self, id: DepartmentId) -> Result<Option<Department>, RepoError>;
    fn list(&self, page: Page) -> Result<Paged<Department>, RepoError>;
    /// `Ok(false)` when missing.
    fn update(&self, item: &Department) -> Result<bool, RepoError>;
    /// `Ok(false)` when missing; its favourite sources and rules go with it;
    /// `Referenced` while communications of the department are kept.
    fn delete(&self, id: DepartmentId) -> Result<bool, RepoError>;
}

#[cfg_attr(feature = "mock", mockall::automock)]
pub trait FavoriteSourceRepository: Send + Sync {
    /// The department's list, by type and then by priority.
    fn list(&self, department_id: DepartmentId) -> Result<Vec<FavoriteSource>, RepoError>;
    /// Replaces the department's whole list in one transaction.
    fn replace(
        &self,
        department_id: DepartmentId,
        items: &[FavoriteSource],
    ) -> Result<(), RepoError>;
    /// `Conflict("communication_source_id")` when the pair is already listed.
    fn add(&self, item: &FavoriteSource) -> Result<(), RepoError>;
    /// `Ok(false)` when the pair was not listed.
    fn remove(
        &self,
        department_id: DepartmentId,
        type_id: TypeId,
        source_id: SourceId,
    ) -> Result<bool, RepoError>;
}

#[cfg_attr(feature = "mock", mockall::automock)]
pub trait RuleRepository: Send + Sync {
    fn insert(&self, rule: &Rule) -> Result<(), RepoError>;
    /// Only a rule of that department.
    fn get(&self, department_id: DepartmentId, id: RuleId) -> Result<Option<Rule>, RepoError>;
    fn list(&self, department_id: DepartmentId, page: Page) -> Result<Paged<Rule>, RepoError>;
    /// `Ok(false)` when missing.
    fn update(&self, rule: &Rule) -> Result<bool, RepoError>;
    /// `Ok(false)` when missing.
    fn delete(&self, department_id: DepartmentId, id: RuleId) -> Result<bool, RepoError>;
}

/// Whether the storage answers; `GET /health/ready` asks it.
#[cfg_attr(feature = "mock", mockall::automock)]
pub trait HealthCheck: Send + Sync {
    fn ping(&self) -> Result<(), RepoError>;
}

/// How deleting an operator went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminDeletion {
    Deleted,
    NotFound,
    /// Refused: it is the only operator left.
    LastOne,
}

#[cfg_attr(feature = "mock", mockall::automock)]
pub trait AdminRepository: Send + Sync {
    /// `Conflict("username")` when the username is taken.
    fn insert(&self, admin: &Admin) -> Result<(), RepoError>;
    /// Inserts `admin` only when there is no operator at all; `Ok(false)` when
    /// there was one (or another process inserted one at the same time).
    fn insert_first(&self, admin: &Admin) -> Result<bool, RepoError>;
    fn get(&self, id: AdminId) -> Result<Option<Admin>, RepoError>;
    /// `username` is already in lower case.
    fn find_by_username(&self, username: &str) -> Result<Option<Admin>, RepoError>;
    fn list(&self, page: Page) -> Result<Paged<Admin>, RepoError>;
    /// Deletes the operator and its refresh tokens unless it is the last one,
    /// atomically: two concurrent deletions never leave no operator.
    fn delete_unless_last(&self, id: AdminId) -> Result<AdminDeletion, RepoError>;
    /// Sets the password hash and revokes every refresh token of the operator,
    /// in one transaction; `Ok(false)` when there is no such operator.
    fn change_password(
        &self,
        id: AdminId,
        password_hash: &str,
        at: DateTime<Utc>,
    ) -> Result<bool, RepoError>;
}

#[cfg_attr(feature = "mock", mockall::automock)]
pub trait RefreshTokenRepository: Send + Sync {
    /// Stores the token and drops every token that expired before it was made.
    fn insert(&self, token: &RefreshToken) -> Result<(), RepoError>;
    fn find(&self, token_hash: &str) -> Result<Option<RefreshToken>, RepoError>;
    /// Marks the token used at `at` if it is still unused, unrevoked and
    /// unexpired; `Ok(false)` when another request got there first.
    fn mark_used(&self, token_hash: &str, at: DateTime<Utc>) -> Result<bool, RepoError>;
    /// Revokes every token of the family that is not revoked yet.
    fn revoke_family(&self, family_id: TokenFamilyId, at: DateTime<Utc>) -> Result<(), RepoError>;
}

#[cfg_attr(feature = "mock", mockall::automock)]
pub trait LoginAttemptRepository: Send + Sync {
    /// Records a failed login and drops the failures of every username older
    /// than `forget_before`.
    fn record_failure(
        &self,
        username: &str,
        at: DateTime<Utc>,
        forget_before: DateTime<Utc>,
    ) -> Result<(), RepoError>;
    /// The failures of `username` after `since`.
    fn failures_since(
        &self,
        username: &str,
        since: DateTime<Utc>,
    ) -> Result<Vec<DateTime<Utc>>, RepoError>;
    /// Forgets the failures of `username` (after a successful login).
    fn clear(&self, username: &str) -> Result<(), RepoError>;
}

#[cfg_attr(feature = "mock", mockall::automock)]
pub trait ApiKeyRepository: Send + Sync {
    /// `Conflict("api_key")` if the public key is taken.
    fn insert(&self, key: &ApiKey) -> Result<(), RepoError>;
    /// The key with this public part, unless revoked.
    fn find_active(&self, api_key: &str) -> Result<Option<ApiKey>, RepoError>;
    /// The keys that are not revoked, newest first.
    fn list(&self, page: Page) -> Result<Paged<ApiKey>, RepoError>;
    /// `Ok(false)` when there is no such key or it is revoked already.
    fn revoke(&self, id: ApiKeyId, at: DateTime<Utc>) -> Result<bool, RepoError>;
    /// Sets `last_used_at` to `at` unless it is already after `unless_after`
    /// (so a busy key is not written on every request).
    fn touch(
        &self,
        id: ApiKeyId,
        at: DateTime<Utc>,
        unless_after: DateTime<Utc>,
    ) -> Result<(), RepoError>;
}

#[cfg_attr(feature = "mock", mockall::automock)]
pub trait SettingRepository: Send + Sync {
    /// The value stored under `name`; stores `candidate` first when there is
    /// none, so that every process on one database agrees on the value.
    fn get_or_insert(&self, name: &str, candidate: &str) -> Result<String, RepoError>;
}
