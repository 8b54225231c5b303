//! Every use case, built over one adapter that implements all the ports.

use std::sync::Arc;

use omnichannel_domain::ports::{
    AvailabilityRepository, Clock, CommunicationSourceRepository, CommunicationTypeRepository,
    DepartmentRepository, FavoriteSourceRepository, HealthCheck, RuleRepository, UserRepository,
};

use crate::availability::Availabilities;
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
        + HealthCheck
        + 'static
{
}

pub struct Services {
    pub users: Users,
    pub availability: Availabilities,
    pub types: Types,
    pub sources: Sources,
    pub departments: Departments,
    pub favorites: Favorites,
    pub rules: Rules,
    pub health: Arc<dyn HealthCheck>,
}

impl Services {
    pub fn new<S: Storage>(storage: Arc<S>, clock: Arc<dyn Clock>) -> Self {
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
            rules: Rules::new(storage.clone(), storage.clone(), storage.clone(), clock),
            health: storage,
        }
    }
}
