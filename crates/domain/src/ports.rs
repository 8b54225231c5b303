//! The ports: what the application needs from storage. Adapters implement them;
//! `mock` generates mockall doubles for the application's tests.
//!
//! Every method is blocking; callers run them off the async threads.

use chrono::{DateTime, Utc};

use crate::availability::Availability;
use crate::department::{Department, FavoriteSource, Rule};
use crate::dictionary::{CommunicationSource, CommunicationType};
use crate::ids::{DepartmentId, RuleId, SourceId, TypeId, UserId};
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
