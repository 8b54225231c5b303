//! Every use case, built over one adapter that implements all the ports.

use std::sync::Arc;

use chrono::Duration;
use omnichannel_domain::auth::LoginThrottle;
use omnichannel_domain::ports::{
    AdminRepository, ApiKeyRepository, AvailabilityRepository, BulkRepository, Clock,
    CommunicationRepository, CommunicationSourceRepository, CommunicationStats,
    CommunicationTypeRepository, DepartmentRepository, DispatchQueue, FavoriteSourceRepository,
    HealthCheck, LoginAttemptRepository, PolicyRepository, QueueGauges, RefreshTokenRepository,
    RuleRepository, SettingRepository, UserRepository,
};

use crate::auth::api_keys::ApiKeys;
use crate::auth::crypto::PasswordHasher;
use crate::auth::operators::Operators;
use crate::auth::sessions::{SessionParts, Sessions};
use crate::auth::tokens::AccessTokens;
use crate::availability::Availabilities;
use crate::bulk::{Bulk, BulkPorts};
use crate::channels::Channels;
use crate::communication_stats::Stats;
use crate::communications::{CommunicationPorts, Communications};
use crate::departments::Departments;
use crate::favorites::Favorites;
use crate::rules::Rules;
use crate::sources::Sources;
use crate::types::Types;
use crate::users::Users;

/// A storage adapter that implements every port.
pub trait Storage:
    UserRepository
    + AvailabilityRepository
    + CommunicationTypeRepository
    + CommunicationSourceRepository
    + DepartmentRepository
    + FavoriteSourceRepository
    + RuleRepository
    + AdminRepository
    + RefreshTokenRepository
    + LoginAttemptRepository
    + ApiKeyRepository
    + SettingRepository
    + CommunicationRepository
    + DispatchQueue
    + PolicyRepository
    + BulkRepository
    + omnichannel_domain::ports::IdempotencyRepository
    + CommunicationStats
    + QueueGauges
    + HealthCheck
    + 'static
{
}

impl<T> Storage for T where
    T: UserRepository
        + AvailabilityRepository
        + CommunicationTypeRepository
        + CommunicationSourceRepository
        + DepartmentRepository
        + FavoriteSourceRepository
        + RuleRepository
        + AdminRepository
        + RefreshTokenRepository
        + LoginAttemptRepository
        + ApiKeyRepository
        + SettingRepository
        + CommunicationRepository
        + DispatchQueue
        + PolicyRepository
        + BulkRepository
        + omnichannel_domain::ports::IdempotencyRepository
        + CommunicationStats
        + QueueGauges
        + HealthCheck
        + 'static
{
}

/// How operators authenticate.
#[derive(Clone)]
pub struct AuthSettings {
    /// The HS256 key of access tokens.
    pub jwt_secret: Vec<u8>,
    pub issuer: String,
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
    pub bcrypt_cost: u32,
}

impl std::fmt::Debug for AuthSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthSettings")
            .field("jwt_secret", &"***")
            .field("issuer", &self.issuer)
            .field("access_ttl", &self.access_ttl)
            .field("refresh_ttl", &self.refresh_ttl)
            .field("bcrypt_cost", &self.bcrypt_cost)
            .finish()
    }
}

/// What sending needs beyond the storage: the channels' providers, the
/// horizon of deferrals, and the signal that wakes dispatch.
#[derive(Debug, Clone)]
pub struct PipelineSettings {
    pub channels: Arc<Channels>,
    pub horizon: Duration,
    pub wake: Arc<tokio::sync::Notify>,
}

pub struct Services {
    pub users: Users,
    pub availability: Availabilities,
    pub types: Types,
    pub sources: Sources,
    pub departments: Departments,
    pub favorites: Favorites,
    pub rules: Rules,
    pub communications: Communications,
    /// The communications by status and hour, and the queue: the dashboard's.
    pub stats: Stats,
    pub idempotency: Arc<crate::idempotency::IdempotencyKeys>,
    pub bulk: Bulk,
    pub sessions: Sessions,
    pub operators: Operators,
    pub api_keys: ApiKeys,
    pub access_tokens: Arc<AccessTokens>,
    pub health: Arc<dyn HealthCheck>,
}

impl Services {
    pub fn new<S: Storage>(
        storage: Arc<S>,
        clock: Arc<dyn Clock>,
        auth: &AuthSettings,
        pipeline: &PipelineSettings,
    ) -> Self {
        let hasher = Arc::new(PasswordHasher::new(auth.bcrypt_cost));
        let access_tokens = Arc::new(AccessTokens::new(
            &auth.jwt_secret,
            auth.issuer.clone(),
            auth.access_ttl,
        ));
        Self {
            users: Users::new(storage.clone(), clock.clone()),
            availability: Availabilities::new(storage.clone(), storage.clone()),
            types: Types::new(storage.clone(), clock.clone()),
            sources: Sources::new(storage.clone(), clock.clone()),
            departments: Departments::new(storage.clone(), clock.clone()),
            favorites: Favorites::new(
                storage.clone(),
                storage.clone(),
                storage.clone(),
                storage.clone(),
            ),
            rules: Rules::new(
                storage.clone(),
                storage.clone(),
                storage.clone(),
                clock.clone(),
            ),
            communications: Communications::new(
                CommunicationPorts {
                    communications: storage.clone(),
                    policies: storage.clone(),
                    users: storage.clone(),
                    departments: storage.clone(),
                    types: storage.clone(),
                    sources: storage.clone(),
                    clock: clock.clone(),
                },
                pipeline.channels.clone(),
                pipeline.horizon,
                pipeline.wake.clone(),
            ),
            stats: Stats::new(storage.clone(), storage.clone(), clock.clone()),
            bulk: Bulk::new(
                BulkPorts {
                    bulk: storage.clone(),
                    departments: storage.clone(),
                    types: storage.clone(),
                    sources: storage.clone(),
                    clock: clock.clone(),
                },
                pipeline.channels.clone(),
                pipeline.horizon,
                pipeline.wake.clone(),
            ),
            idempotency: Arc::new(crate::idempotency::IdempotencyKeys::new(
                storage.clone(),
                clock.clone(),
            )),
            sessions: Sessions::new(SessionParts {
                admins: storage.clone(),
                refresh_tokens: storage.clone(),
                attempts: storage.clone(),
                hasher: hasher.clone(),
                access: access_tokens.clone(),
                clock: clock.clone(),
                refresh_ttl: auth.refresh_ttl,
                throttle: LoginThrottle::default(),
            }),
            operators: Operators::new(storage.clone(), hasher, clock.clone()),
            api_keys: ApiKeys::new(storage.clone(), clock),
            access_tokens,
            health: storage,
        }
    }
}
