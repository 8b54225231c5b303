//! Read and set when a client may be contacted.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use omnichannel_domain::ports::{AvailabilityRepository, UserRepository};
use omnichannel_domain::{Availability, AvailabilityStatus, UserId, ValidationErrors};

use crate::error::{GetError, UpdateError};

/// A client's availability, as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AvailabilityInput {
    pub status: String,
    pub blocked_from: Option<DateTime<Utc>>,
    pub blocked_to: Option<DateTime<Utc>>,
}

pub struct Availabilities {
    users: Arc<dyn UserRepository>,
    repo: Arc<dyn AvailabilityRepository>,
}

impl Availabilities {
    pub fn new(users: Arc<dyn UserRepository>, repo: Arc<dyn AvailabilityRepository>) -> Self {
        Self { users, repo }
    }

    fn ensure_user(&self, user_id: UserId) -> Result<(), GetError> {
        self.users
            .get(user_id)?
            .map(|_| ())
            .ok_or(GetError::NotFound)
    }

    /// A client without a stored availability is always available.
    pub fn get(&self, user_id: UserId) -> Result<Availability, GetError> {
        self.ensure_user(user_id)?;
        Ok(self
            .repo
            .get(user_id)?
            .unwrap_or_else(|| Availability::always(user_id)))
    }

    pub fn put(
        &self,
        user_id: UserId,
        input: AvailabilityInput,
    ) -> Result<Availability, UpdateError> {
        self.ensure_user(user_id)?;
        let mut errors = ValidationErrors::new();
        let status = errors.check("status", AvailabilityStatus::parse(&input.status));
        let Some(status) = status else {
            return Err(UpdateError::Invalid(errors));
        };
        let availability = Availability::new(user_id, status, input.blocked_from, input.blocked_to)
            .map_err(|e| UpdateError::Invalid(ValidationErrors::single("blocked_to", e.0)))?;
        self.repo.put(&availability)?;
        Ok(availability)
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use omnichannel_domain::ports::{MockAvailabilityRepository, MockUserRepository};
    use omnichannel_domain::{PersonName, User};

    use super::*;

    fn users_with(exists: bool) -> Arc<MockUserRepository> {
        let mut users = MockUserRepository::new();
        users.expect_get().returning(move |id| {
            Ok(exists.then(|| User {
                id,
                first_name: PersonName::parse("").expect("name"),
                last_name: PersonName::parse("").expect("name"),
                phone: None,
                email: None,
                push_token: None,
                external_id: None,
                created_at: Utc::now(),
                updated_at: Utc::now(),
            }))
        });
        Arc::new(users)
    }

    #[test]
    fn a_user_without_availability_is_active() {
        let mut repo = MockAvailabilityRepository::new();
        repo.expect_get().returning(|_| Ok(None));
        let service = Availabilities::new(users_with(true), Arc::new(repo));
        let id = UserId::generate();
        assert_eq!(service.get(id).ok(), Some(Availability::always(id)));
    }

    #[test]
    fn an_unknown_user_has_no_availability() {
        let mut repo = MockAvailabilityRepository::new();
        repo.expect_get().never();
        repo.expect_put().never();
        let service = Availabilities::new(users_with(false), Arc::new(repo));
        assert!(matches!(
            service.get(UserId::generate()),
            Err(GetError::NotFound)
        ));
        let input = AvailabilityInput {
            status: "blocked".into(),
            blocked_from: None,
            blocked_to: None,
        };
        assert!(matches!(
            service.put(UserId::generate(), input),
            Err(UpdateError::NotFound)
        ));
    }

    #[test]
    fn put_refuses_a_bad_status_and_a_reversed_period() {
        let mut repo = MockAvailabilityRepository::new();
        repo.expect_put().never();
        let service = Availabilities::new(users_with(true), Arc::new(repo));
        let bad_status = AvailabilityInput {
            status: "paused".into(),
            blocked_from: None,
            blocked_to: None,
        };
        assert!(matches!(
            service.put(UserId::generate(), bad_status),
            Err(UpdateError::Invalid(e)) if e.errors()[0].field == "status"
        ));
        let t = |h| Utc.with_ymd_and_hms(2026, 1, 1, h, 0, 0).single();
        let reversed = AvailabilityInput {
            status: "blocked".into(),
            blocked_from: t(5),
            blocked_to: t(4),
        };
        assert!(matches!(
            service.put(UserId::generate(), reversed),
            Err(UpdateError::Invalid(e)) if e.errors()[0].field == "blocked_to"
        ));
    }

    #[test]
    fn put_stores_the_availability() {
        let mut repo = MockAvailabilityRepository::new();
        repo.expect_put()
            .withf(|a| a.status() == AvailabilityStatus::Blocked && a.blocked_to().is_none())
            .times(1)
            .returning(|_| Ok(()));
        let service = Availabilities::new(users_with(true), Arc::new(repo));
        let input = AvailabilityInput {
            status: "blocked".into(),
            blocked_from: None,
            blocked_to: None,
        };
        let stored = service.put(UserId::generate(), input).expect("stored");
        assert_eq!(stored.status(), AvailabilityStatus::Blocked);
    }
}
