//! Create, read, update and delete clients.

use std::sync::Arc;

use omnichannel_domain::ports::{Clock, Page, Paged, RepoError, UserFilter, UserRepository};
use omnichannel_domain::{
    Email, ExternalId, InvalidValue, PersonName, Phone, PushToken, User, UserId, ValidationErrors,
};

use crate::error::{CreateError, DeleteError, GetError, ListError, UpdateError, deleted, updated};

/// The fields of a new client, as received.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewUser {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub push_token: Option<String>,
    pub external_id: Option<String>,
}

/// A partial update: `None` keeps a field, `Some(None)` clears a nullable one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserPatch {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub phone: Option<Option<String>>,
    pub email: Option<Option<String>>,
    pub push_token: Option<Option<String>>,
    pub external_id: Option<Option<String>>,
}

pub struct Users {
    repo: Arc<dyn UserRepository>,
    clock: Arc<dyn Clock>,
}

fn optional<T>(
    errors: &mut ValidationErrors,
    field: &str,
    value: Option<String>,
    parse: fn(String) -> Result<T, InvalidValue>,
) -> Option<T> {
    value.and_then(|value| errors.check(field, parse(value)))
}

impl Users {
    pub fn new(repo: Arc<dyn UserRepository>, clock: Arc<dyn Clock>) -> Self {
        Self { repo, clock }
    }

    pub fn create(&self, input: NewUser) -> Result<User, CreateError> {
        let user = self.parse(input).map_err(CreateError::Invalid)?;
        self.repo.insert(&user)?;
        Ok(user)
    }

    /// A new user from raw fields, naming every invalid one.
    fn parse(&self, input: NewUser) -> Result<User, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let first_name = errors.check(
            "first_name",
            PersonName::parse(input.first_name.unwrap_or_default()),
        );
        let last_name = errors.check(
            "last_name",
            PersonName::parse(input.last_name.unwrap_or_default()),
        );
        let phone = optional(&mut errors, "phone", input.phone, Phone::parse);
        let email = optional(&mut errors, "email", input.email, Email::parse);
        let push_token = optional(
            &mut errors,
            "push_token",
            input.push_token,
            PushToken::parse,
        );
        let external_id = optional(
            &mut errors,
            "external_id",
            input.external_id,
            ExternalId::parse,
        );
        let (Some(first_name), Some(last_name), true) = (first_name, last_name, errors.is_empty())
        else {
            return Err(errors);
        };
        let now = self.clock.now();
        Ok(User {
            id: UserId::generate(),
            first_name,
            last_name,
            phone,
            email,
            push_token,
            external_id,
            created_at: now,
            updated_at: now,
        })
    }

    /// Creates or replaces the user with this external id: every field takes
    /// the body's value (a left-out one is cleared). `true` when it was created.
    pub fn upsert_by_external_id(
        &self,
        external_id: &str,
        mut input: NewUser,
    ) -> Result<(User, bool), UpdateError> {
        if input
            .external_id
            .as_deref()
            .is_some_and(|own| own != external_id)
        {
            return Err(UpdateError::Invalid(ValidationErrors::single(
                "external_id",
                "must be the external id of the path",
            )));
        }
        input.external_id = Some(external_id.to_owned());
        let fresh = self.parse(input).map_err(UpdateError::Invalid)?;
        // Two attempts: a concurrent upsert may create the user between the
        // lookup and the insert; the second attempt then updates it.
        for _ in 0..2 {
            match self.repo.find_by_external_id(external_id)? {
                Some(existing) => {
                    let user = User {
                        id: existing.id,
                        created_at: existing.created_at,
                        ..fresh.clone()
                    };
                    if self.repo.update(&user)? {
                        return Ok((user, false));
                    }
                }
                None => match self.repo.insert(&fresh) {
                    Ok(()) => return Ok((fresh, true)),
                    Err(RepoError::Conflict("external_id")) => {}
                    Err(error) => return Err(error.into()),
                },
            }
        }
        Err(UpdateError::Conflict("external_id"))
    }

    pub fn get(&self, id: UserId) -> Result<User, GetError> {
        self.repo.get(id)?.ok_or(GetError::NotFound)
    }

    pub fn list(&self, filter: UserFilter, page: Page) -> Result<Paged<User>, ListError> {
        let filter = UserFilter {
            q: filter.q.filter(|q| !q.trim().is_empty()),
        };
        Ok(self.repo.list(&filter, page)?)
    }

    pub fn update(&self, id: UserId, patch: UserPatch) -> Result<User, UpdateError> {
        let mut user = self.get(id)?;
        let mut errors = ValidationErrors::new();
        if let Some(value) = patch.first_name
            && let Some(value) = errors.check("first_name", PersonName::parse(value))
        {
            user.first_name = value;
        }
        if let Some(value) = patch.last_name
            && let Some(value) = errors.check("last_name", PersonName::parse(value))
        {
            user.last_name = value;
        }
        if let Some(value) = patch.phone {
            user.phone = optional(&mut errors, "phone", value, Phone::parse);
        }
        if let Some(value) = patch.email {
            user.email = optional(&mut errors, "email", value, Email::parse);
        }
        if let Some(value) = patch.push_token {
            user.push_token = optional(&mut errors, "push_token", value, PushToken::parse);
        }
        if let Some(value) = patch.external_id {
            user.external_id = optional(&mut errors, "external_id", value, ExternalId::parse);
        }
        if !errors.is_empty() {
            return Err(UpdateError::Invalid(errors));
        }
        user.updated_at = self.clock.now();
        updated(self.repo.update(&user)?)?;
        Ok(user)
    }

    pub fn delete(&self, id: UserId) -> Result<(), DeleteError> {
        deleted(self.repo.delete(id)?)
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use mockall::predicate::eq;
    use omnichannel_domain::ports::{MockClock, MockUserRepository, RepoError};

    use super::*;

    fn clock() -> Arc<MockClock> {
        let mut clock = MockClock::new();
        clock.expect_now().returning(|| {
            Utc.with_ymd_and_hms(2026, 5, 1, 12, 0, 0)
                .single()
                .unwrap_or_default()
        });
        Arc::new(clock)
    }

    fn fields(errors: &ValidationErrors) -> Vec<&str> {
        errors.errors().iter().map(|e| e.field.as_str()).collect()
    }

    #[test]
    fn create_names_every_invalid_field_and_stores_nothing() {
        let mut repo = MockUserRepository::new();
        repo.expect_insert().never();
        let users = Users::new(Arc::new(repo), clock());
        let result = users.create(NewUser {
            first_name: Some("x".repeat(201)),
            phone: Some("12345".into()),
            email: Some("".into()),
            ..NewUser::default()
        });
        match result {
            Err(CreateError::Invalid(errors)) => {
                assert_eq!(fields(&errors), ["first_name", "phone", "email"]);
            }
            other => panic!("expected invalid, got {other:?}"),
        }
    }

    #[test]
    fn create_stores_a_valid_user_with_the_clock_time() {
        let mut repo = MockUserRepository::new();
        repo.expect_insert()
            .withf(|user| {
                user.phone.as_ref().map(Phone::as_str) == Some("+15551234567")
                    && user.first_name.as_str() == "Ann"
                    && user.last_name.as_str().is_empty()
            })
            .times(1)
            .returning(|_| Ok(()));
        let users = Users::new(Arc::new(repo), clock());
        let user = users
            .create(NewUser {
                first_name: Some("Ann".into()),
                phone: Some("+15551234567".into()),
                ..NewUser::default()
            })
            .expect("valid user");
        assert_eq!(user.created_at, user.updated_at);
        assert_eq!(user.created_at, clock().now());
    }

    #[test]
    fn create_reports_a_taken_external_id() {
        let mut repo = MockUserRepository::new();
        repo.expect_insert()
            .returning(|_| Err(RepoError::Conflict("external_id")));
        let users = Users::new(Arc::new(repo), clock());
        let result = users.create(NewUser {
            external_id: Some("crm-1".into()),
            ..NewUser::default()
        });
        assert!(matches!(result, Err(CreateError::Conflict("external_id"))));
    }

    fn stored_user() -> User {
        let now = Utc
            .with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
            .single()
            .unwrap_or_default();
        User {
            id: UserId::generate(),
            first_name: PersonName::parse("Ann").expect("name"),
            last_name: PersonName::parse("Lee").expect("name"),
            phone: Some(Phone::parse("+15551234567").expect("phone")),
            email: Some(Email::parse("ann@example.com").expect("email")),
            push_token: None,
            external_id: None,
            created_at: now,
            updated_at: now,
        }
    }

    #[test]
    fn update_keeps_absent_fields_and_clears_null_ones() {
        let user = stored_user();
        let id = user.id;
        let mut repo = MockUserRepository::new();
        repo.expect_get()
            .with(eq(id))
            .returning(move |_| Ok(Some(user.clone())));
        repo.expect_update().times(1).returning(|_| Ok(true));
        let users = Users::new(Arc::new(repo), clock());
        let updated = users
            .update(
                id,
                UserPatch {
                    last_name: Some("Park".into()),
                    phone: Some(None),
                    ..UserPatch::default()
                },
            )
            .expect("valid patch");
        assert_eq!(updated.first_name.as_str(), "Ann");
        assert_eq!(updated.last_name.as_str(), "Park");
        assert_eq!(updated.phone, None);
        assert_eq!(
            updated.email.as_ref().map(Email::as_str),
            Some("ann@example.com")
        );
        assert_eq!(updated.updated_at, clock().now());
    }

    #[test]
    fn update_of_a_missing_user_is_not_found() {
        let mut repo = MockUserRepository::new();
        repo.expect_get().returning(|_| Ok(None));
        repo.expect_update().never();
        let users = Users::new(Arc::new(repo), clock());
        let result = users.update(UserId::generate(), UserPatch::default());
        assert!(matches!(result, Err(UpdateError::NotFound)));
    }

    #[test]
    fn update_refuses_an_empty_email() {
        let user = stored_user();
        let mut repo = MockUserRepository::new();
        repo.expect_get().returning(move |_| Ok(Some(user.clone())));
        repo.expect_update().never();
        let users = Users::new(Arc::new(repo), clock());
        let result = users.update(
            UserId::generate(),
            UserPatch {
                email: Some(Some(String::new())),
                ..UserPatch::default()
            },
        );
        assert!(matches!(result, Err(UpdateError::Invalid(e)) if fields(&e) == ["email"]));
    }

    #[test]
    fn delete_maps_missing_and_referenced() {
        let mut missing = MockUserRepository::new();
        missing.expect_delete().returning(|_| Ok(false));
        let users = Users::new(Arc::new(missing), clock());
        assert!(matches!(
            users.delete(UserId::generate()),
            Err(DeleteError::NotFound)
        ));

        let mut referenced = MockUserRepository::new();
        referenced
            .expect_delete()
            .returning(|_| Err(RepoError::Referenced));
        let users = Users::new(Arc::new(referenced), clock());
        assert!(matches!(
            users.delete(UserId::generate()),
            Err(DeleteError::Referenced)
        ));
    }

    #[test]
    fn list_drops_a_blank_query() {
        let mut repo = MockUserRepository::new();
        repo.expect_list()
            .withf(|filter, _| filter.q.is_none())
            .times(1)
            .returning(|_, _| {
                Ok(Paged {
                    items: vec![],
                    total: 0,
                })
            });
        let users = Users::new(Arc::new(repo), clock());
        let blank = UserFilter {
            q: Some("  ".into()),
        };
        assert!(users.list(blank, Page::default()).is_ok());
    }
}
