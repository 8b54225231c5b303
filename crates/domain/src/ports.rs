//! The ports: what the application needs from storage. Adapters implement them;
//! `mock` generates mockall doubles for the application's tests.
//!
//! Every method is blocking; callers run them off the async threads.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;

use chrono::{DateTime, Utc};

use crate::auth::{Admin, ApiKey, RefreshToken};
use crate::availability::Availability;
use crate::communication::{Communication, CommunicationStatus, Event, StatusReason};
use crate::decision::Counted;
use crate::department::{Department, FavoriteSource, Rule};
use crate::dictionary::{CommunicationSource, CommunicationType};
use crate::ids::{
    AdminId, ApiKeyId, BatchId, CommunicationId, DepartmentId, RuleId, SourceId, TokenFamilyId,
    TypeId, UserId,
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
    /// Whether the key with this id exists and is not revoked.
    fn is_active(&self, id: ApiKeyId) -> Result<bool, RepoError>;
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

/// Which communications a list holds; each field that is set narrows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommunicationFilter {
    pub status: Option<CommunicationStatus>,
    pub user_id: Option<UserId>,
    pub department_id: Option<DepartmentId>,
    pub type_id: Option<TypeId>,
    pub source_id: Option<SourceId>,
    pub batch_id: Option<BatchId>,
    /// `communication_date` at or after.
    pub from: Option<DateTime<Utc>>,
    /// `communication_date` before.
    pub to: Option<DateTime<Utc>>,
}

/// What the decision needs about one client in one department.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientPolicy {
    pub user: User,
    /// `Availability::always` when none is stored.
    pub availability: Availability,
    /// The client's communications in the department that the limits count,
    /// from the longest window of the department's rules before the moment
    /// asked about on; empty when the department has no rule.
    pub counted: Vec<Counted>,
}

/// A department's two policies.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DepartmentPolicy {
    pub rules: Vec<Rule>,
    pub favorites: Vec<FavoriteSource>,
}

/// The state the decisions read, loaded in the transaction that holds the
/// clients' locks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicySnapshot {
    pub clients: HashMap<(UserId, DepartmentId), ClientPolicy>,
    pub departments: HashMap<DepartmentId, DepartmentPolicy>,
    pub types: Vec<CommunicationType>,
    pub sources: Vec<CommunicationSource>,
}

/// A stored communication as a change under the client's lock finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub communication: Communication,
    /// A worker holds it: its provider may be called at this moment.
    pub in_flight: bool,
}

/// What a change under the client's lock writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientWrite {
    Insert(Communication, Vec<Event>),
    Update(Communication, Vec<Event>),
}

/// A decision under a client's lock: it reads the snapshot (and the stored
/// communication, when one was named) and says what to write, if anything.
pub type ClientDecision<'a> =
    dyn FnMut(&PolicySnapshot, Option<&Stored>) -> Option<ClientWrite> + 'a;

#[cfg_attr(feature = "mock", mockall::automock)]
pub trait CommunicationRepository: Send + Sync {
    /// Stores a new communication with its first events, queued at its
    /// `due_at`, in one transaction.
    fn insert(&self, communication: &Communication, events: &[Event]) -> Result<(), RepoError>;
    /// Stores new communications with their first events in one transaction
    /// (a group commit of concurrent sends), if each key of `keys` is still
    /// active when it runs; otherwise stores nothing and says why.
    fn insert_group(&self, group: &BulkInsert, keys: &[ApiKeyId])
    -> Result<GroupInsert, RepoError>;
    fn get(&self, id: CommunicationId) -> Result<Option<Communication>, RepoError>;
    /// The newest communication whose provider answered `provider_message_id`.
    fn find_by_provider_message_id(
        &self,
        provider_message_id: &str,
    ) -> Result<Option<Communication>, RepoError>;
    /// The history, oldest first.
    fn events(&self, id: CommunicationId) -> Result<Vec<Event>, RepoError>;
    /// Newest first by `created_at`.
    fn list(
        &self,
        filter: &CommunicationFilter,
        page: Page,
    ) -> Result<Paged<Communication>, RepoError>;
    /// Writes `communication` and appends `events` if its stored status is
    /// still `expected` and no worker holds it at `now`; `Ok(false)` otherwise.
    fn update_if(
        &self,
        communication: &Communication,
        expected: CommunicationStatus,
        now: DateTime<Utc>,
        events: &[Event],
    ) -> Result<bool, RepoError>;
    /// Under the lock dispatch takes for the client `user_id`, in one
    /// transaction: loads the policy snapshot of the client in `department_id`
    /// at `now` (not counting `current`) and the stored `current`, and writes
    /// what `decide` answers. `Conflict("id")` when an insert's id is taken.
    fn decide_for_client<'a>(
        &self,
        user_id: UserId,
        department_id: DepartmentId,
        current: Option<CommunicationId>,
        now: DateTime<Utc>,
        decide: &mut ClientDecision<'a>,
    ) -> Result<(), RepoError>;
}

/// A communication a worker holds, with its queue state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub communication: Communication,
    /// Identifies the claim; a completion with another lease is ignored.
    pub lease: uuid::Uuid,
    /// Channels given up on for this communication.
    pub given_up: Vec<SourceId>,
    /// Provider calls on the current channel since it was last given up on.
    pub channel_attempts: u32,
}

/// What dispatch does with a claimed communication, decided under its
/// client's lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Reserve the slot at `at` (counted from then on) on `channel`, and keep
    /// the lease: the provider is called next.
    Reserve {
        id: CommunicationId,
        channel: SourceId,
        at: DateTime<Utc>,
        events: Vec<Event>,
    },
    /// Wait until `until`; the lease is released.
    Defer {
        id: CommunicationId,
        until: DateTime<Utc>,
        reason: StatusReason,
        events: Vec<Event>,
    },
    /// Give up: `failed` with `reason`.
    Fail {
        id: CommunicationId,
        at: DateTime<Utc>,
        reason: StatusReason,
        events: Vec<Event>,
    },
}

/// How a provider call ended, for a reserved communication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// `sent`, with `sent_at` the reserved moment.
    Sent {
        id: CommunicationId,
        lease: uuid::Uuid,
        provider_message_id: Option<String>,
        events: Vec<Event>,
    },
    /// A transient error: the reservation is released and it is tried again
    /// at `at`; `channel_attempts` calls were made on the channel.
    Retry {
        id: CommunicationId,
        lease: uuid::Uuid,
        at: DateTime<Utc>,
        channel_attempts: u32,
        events: Vec<Event>,
    },
    /// The channel is given up on (a permanent error, or the retries are
    /// spent): the reservation is released and it is decided again at `at`.
    GiveUpChannel {
        id: CommunicationId,
        lease: uuid::Uuid,
        channel: SourceId,
        at: DateTime<Utc>,
        events: Vec<Event>,
    },
}

/// Plans one step per claim; the storage writes them in the claim's transaction.
pub type Planner<'a> = dyn FnMut(&[Claim], &PolicySnapshot) -> Vec<Step> + 'a;

/// The durable queue of communications to dispatch.
#[cfg_attr(feature = "mock", mockall::automock)]
pub trait DispatchQueue: Send + Sync {
    /// In one transaction: claims up to `limit` communications due at `now`
    /// that no live lease holds, under a new lease until `lease_until`; takes
    /// the lock of their clients (skipping, unclaimed, those whose client is
    /// locked elsewhere); loads the policy snapshot at `now`, not counting the
    /// claimed ones; writes the steps `plan` answers. Answers how many were
    /// claimed.
    fn claim<'a>(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
        plan: &mut Planner<'a>,
    ) -> Result<usize, RepoError>;
    /// Writes each outcome whose lease still holds, counting one more
    /// provider call for each.
    fn complete(&self, outcomes: &[Outcome]) -> Result<(), RepoError>;
    /// Gives back the leases of calls that did not end (a worker shutting
    /// down): each communication whose lease is still the one given loses
    /// its lease and its reservation and is due at `now`, so that the next
    /// worker takes it at once; no event is appended.
    fn release(
        &self,
        leases: &[(CommunicationId, uuid::Uuid)],
        now: DateTime<Utc>,
    ) -> Result<(), RepoError>;
    /// The earliest `due_at` of waiting or booked communications.
    fn next_due(&self) -> Result<Option<DateTime<Utc>>, RepoError>;
}

/// A future of a provider call; providers are asynchronous.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One message as a provider receives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    pub communication_id: CommunicationId,
    pub user_id: UserId,
    pub department_id: DepartmentId,
    /// The communication type's code and name.
    pub communication_type: String,
    pub communication_type_name: String,
    /// The channel's code.
    pub channel: String,
    /// The client's address on the channel; `None` for a channel that takes none.
    pub to: Option<String>,
    pub message: String,
}

/// What a provider answered for a message it took.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Delivery {
    pub provider_message_id: Option<String>,
}

/// Why a provider did not take a message. The text never holds a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    /// Worth trying again: a timeout, a refused connection, a 5xx, 408 or 429.
    #[error("transient: {0}")]
    Transient(String),
    /// Trying again will not help: the message or the address was refused.
    #[error("permanent: {0}")]
    Permanent(String),
}

/// A channel's provider: sends one message. The future owns what it needs,
/// so that many calls run at once on any thread.
#[cfg_attr(feature = "mock", mockall::automock)]
pub trait Provider: Send + Sync {
    fn send(&self, message: Outgoing) -> BoxFuture<'static, Result<Delivery, ProviderError>>;
}

/// Reads the policy state without any lock, for answers that store nothing
/// (a preview, the next free slot).
#[cfg_attr(feature = "mock", mockall::automock)]
pub trait PolicyRepository: Send + Sync {
    /// The policy snapshot of the client in the department at `now`, as
    /// `CommunicationRepository::decide_for_client` loads it, but without
    /// taking the client's lock. No client entry when the user does not exist.
    fn policy_snapshot(
        &self,
        user_id: UserId,
        department_id: DepartmentId,
        now: DateTime<Utc>,
    ) -> Result<PolicySnapshot, RepoError>;
}

/// What became of a group of new communications stored together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupInsert {
    /// Every one is stored.
    Stored,
    /// Nothing is stored: these keys are revoked (or gone).
    Revoked(Vec<ApiKeyId>),
    /// Nothing is stored: a client, department, type or channel one of them
    /// names does not exist.
    MissingReference,
}

/// New communications of many clients and their first events, written
/// together by a bulk send or a group commit of sends.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BulkInsert {
    pub communications: Vec<Communication>,
    pub events: Vec<Event>,
}

/// What a bulk send stores for the clients that exist: it receives their ids.
pub type BulkSendWrite<'a> = dyn FnMut(&[UserId]) -> BulkInsert + 'a;

/// A decision about many clients at once, under their locks: it receives the
/// clients of one transaction and their snapshot (a client that does not
/// exist has no entry) and says what to insert.
pub type ClientsDecision<'a> =
    dyn FnMut(&[(UserId, DepartmentId)], &PolicySnapshot) -> BulkInsert + 'a;

/// The mass communications: one request, one communication per client, all
/// sharing a batch id.
#[cfg_attr(feature = "mock", mockall::automock)]
pub trait BulkRepository: Send + Sync {
    /// The ids of up to `limit` clients, in id order.
    fn client_ids(&self, limit: u32) -> Result<Vec<UserId>, RepoError>;
    /// In one transaction: keeps those of `user_ids` that are clients and
    /// stores what `write` answers for them, each communication queued at its
    /// `due_at` with its events, in multi-row statements; wakes the workers
    /// once. Writes nothing when `write` answers nothing. A communication of
    /// a client not kept is refused as unexpected.
    fn insert_for_clients<'a>(
        &self,
        user_ids: &[UserId],
        write: &mut BulkSendWrite<'a>,
    ) -> Result<(), RepoError>;
    /// Under the lock dispatch and `decide_for_client` take for each client,
    /// in transactions of up to 1 000 clients each (the locks of each taken
    /// in one fixed order, so that two bulks never deadlock; a PostgreSQL
    /// server's lock table holds a few thousand): loads the policy snapshot of
    /// the transaction's
    /// clients at `now`, calls `decide` once, and stores what it answers as
    /// `insert_for_clients` does. Each client is named once. A communication
    /// of a client outside the transaction is refused as unexpected, and the
    /// transactions committed before stay.
    fn decide_for_clients<'a>(
        &self,
        clients: &[(UserId, DepartmentId)],
        now: DateTime<Utc>,
        decide: &mut ClientsDecision<'a>,
    ) -> Result<(), RepoError>;
    /// How many communications of the batch have each status; only the
    /// statuses some have, none at all when no communication has the batch id.
    fn batch_counts(&self, batch_id: BatchId)
    -> Result<Vec<(CommunicationStatus, u64)>, RepoError>;
}

/// The idempotency keys of the callers (SPEC §3): a key is reserved by one
/// request before it runs, then holds its final answer for replays.
#[cfg_attr(feature = "mock", mockall::automock)]
pub trait IdempotencyRepository: Send + Sync {
    /// Stores the reservation as a new key in progress, in one `INSERT`.
    /// `Conflict("idempotency_key")` when the scope already has the key, in
    /// any state and of any age: of concurrent reservations of one key,
    /// exactly one succeeds.
    fn reserve(&self, reservation: &crate::idempotency::Reservation) -> Result<(), RepoError>;
    /// The key of the scope, if stored, however old.
    fn find(
        &self,
        scope: crate::idempotency::IdempotencyScope,
        key: &crate::idempotency::IdempotencyKey,
    ) -> Result<Option<crate::idempotency::IdempotencyRecord>, RepoError>;
    /// Replaces the key `reservation` names, in progress or done, with
    /// `reservation` in progress, if `previous` still holds it; `Ok(false)`
    /// when another reservation holds it or it is gone (of concurrent take-overs
    /// of one holder, exactly one succeeds).
    fn take_over(
        &self,
        previous: crate::idempotency::ReservationId,
        reservation: &crate::idempotency::Reservation,
    ) -> Result<bool, RepoError>;
    /// Stores the final answer of the key `reservation` holds in progress;
    /// `Ok(false)` when it no longer does (taken over, removed or done).
    fn complete(
        &self,
        reservation: &crate::idempotency::Reservation,
        answer: &crate::idempotency::StoredAnswer,
        at: DateTime<Utc>,
    ) -> Result<bool, RepoError>;
    /// Removes the key `reservation` holds in progress, so that a retry runs
    /// again; `Ok(false)` when it no longer holds it in progress.
    fn release(&self, reservation: &crate::idempotency::Reservation) -> Result<bool, RepoError>;
    /// Removes up to `limit` keys created before `before`; answers how many.
    fn delete_created_before(&self, before: DateTime<Utc>, limit: u32) -> Result<u64, RepoError>;
}

/// How many communications wait in the dispatch queue, by state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueCounts {
    /// `not_sent` and due at the moment asked about: to claim now.
    pub due: u64,
    /// `not_sent` and due later: deferred, retrying, or claimed and in
    /// flight (due again when their lease ends).
    pub deferred: u64,
    /// `booked`, whatever their date.
    pub booked: u64,
}

/// The queue's size, for the metrics: read through the queue's partial
/// `due_at` index only, never by a count over every communication.
#[cfg_attr(feature = "mock", mockall::automock)]
pub trait QueueGauges: Send + Sync {
    fn queue_counts(&self, now: DateTime<Utc>) -> Result<QueueCounts, RepoError>;
}

/// How many communications created within one UTC hour have one status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HourlyCount {
    /// The start of the hour.
    pub hour: DateTime<Utc>,
    /// The current status.
    pub status: CommunicationStatus,
    pub count: u64,
}

/// The communications created over a time range, counted in the store.
#[cfg_attr(feature = "mock", mockall::automock)]
pub trait CommunicationStats: Send + Sync {
    /// The communications whose `created_at` is at or after `from` and before
    /// `to`, grouped by the UTC hour of `created_at` and their current status:
    /// one entry per pair that some have, in no particular order. Counted by
    /// the store through the `created_at` index, never by loading the rows;
    /// a stored status the domain does not know is `Unexpected`.
    fn hourly_counts(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<HourlyCount>, RepoError>;
}
