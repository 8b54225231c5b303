//! The communication-type dictionary.

use std::sync::Arc;

use omnichannel_domain::ports::{Clock, CommunicationTypeRepository, Page, Paged};
use omnichannel_domain::{CommunicationType, TypeId, ValidationErrors};

use crate::dictionary::{EntryInput, EntryPatch, parse_entry, patch_entry};
use crate::error::{CreateError, DeleteError, GetError, ListError, UpdateError, deleted, updated};

pub struct Types {
    repo: Arc<dyn CommunicationTypeRepository>,
    clock: Arc<dyn Clock>,
}

impl Types {
    pub fn new(repo: Arc<dyn CommunicationTypeRepository>, clock: Arc<dyn Clock>) -> Self {
        Self { repo, clock }
    }

    pub fn create(&self, input: EntryInput) -> Result<CommunicationType, CreateError> {
        let mut errors = ValidationErrors::new();
        let Some((code, name, status)) = parse_entry(&mut errors, input) else {
            return Err(CreateError::Invalid(errors));
        };
        let now = self.clock.now();
        let item = CommunicationType {
            id: TypeId::generate(),
            code,
            name,
            status,
            created_at: now,
            updated_at: now,
        };
        self.repo.insert(&item)?;
        Ok(item)
    }

    pub fn get(&self, id: TypeId) -> Result<CommunicationType, GetError> {
        self.repo.get(id)?.ok_or(GetError::NotFound)
    }

    pub fn list(&self, page: Page) -> Result<Paged<CommunicationType>, ListError> {
        Ok(self.repo.list(page)?)
    }

    pub fn update(&self, id: TypeId, patch: EntryPatch) -> Result<CommunicationType, UpdateError> {
        let mut item = self.get(id)?;
        let mut errors = ValidationErrors::new();
        patch_entry(
            &mut errors,
            patch,
            &mut item.code,
            &mut item.name,
            &mut item.status,
        );
        if !errors.is_empty() {
            return Err(UpdateError::Invalid(errors));
        }
        item.updated_at = self.clock.now();
        updated(self.repo.update(&item)?)?;
        Ok(item)
    }

    pub fn delete(&self, id: TypeId) -> Result<(), DeleteError> {
        deleted(self.repo.delete(id)?)
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use omnichannel_domain::ports::{MockClock, MockCommunicationTypeRepository, RepoError};
    use omnichannel_domain::{Code, DictionaryStatus, Name};

    use super::*;

    fn clock() -> Arc<MockClock> {
        let mut clock = MockClock::new();
        clock.expect_now().returning(Utc::now);
        Arc::new(clock)
    }

    #[test]
    fn create_defaults_to_active_and_validates_the_code() {
        let mut repo = MockCommunicationTypeRepository::new();
        repo.expect_insert().times(1).returning(|_| Ok(()));
        let types = Types::new(Arc::new(repo), clock());
        let created = types
            .create(EntryInput {
                code: "reminder".into(),
                name: "Reminder".into(),
                status: None,
            })
            .expect("valid type");
        assert_eq!(created.status, DictionaryStatus::Active);

        let mut repo = MockCommunicationTypeRepository::new();
        repo.expect_insert().never();
        let types = Types::new(Arc::new(repo), clock());
        let invalid = types.create(EntryInput {
            code: "Not A Slug".into(),
            name: String::new(),
            status: Some("gone".into()),
        });
        let Err(CreateError::Invalid(errors)) = invalid else {
            panic!("expected invalid, got {invalid:?}");
        };
        let fields: Vec<_> = errors.errors().iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["code", "name", "status"]);
    }

    #[test]
    fn a_used_type_cannot_be_deleted() {
        let mut repo = MockCommunicationTypeRepository::new();
        repo.expect_delete()
            .returning(|_| Err(RepoError::Referenced));
        let types = Types::new(Arc::new(repo), clock());
        assert!(matches!(
            types.delete(TypeId::generate()),
            Err(DeleteError::Referenced)
        ));
    }

    #[test]
    fn update_can_block_a_type() {
        let mut repo = MockCommunicationTypeRepository::new();
        repo.expect_get().returning(|id| {
            Ok(Some(CommunicationType {
                id,
                code: Code::parse("mass").expect("code"),
                name: Name::parse("Mass").expect("name"),
                status: DictionaryStatus::Active,
                created_at: Utc::now(),
                updated_at: Utc::now(),
            }))
        });
        repo.expect_update()
            .withf(|t| t.status == DictionaryStatus::Blocked && t.code.as_str() == "mass")
            .times(1)
            .returning(|_| Ok(true));
        let types = Types::new(Arc::new(repo), clock());
        let patch = EntryPatch {
            status: Some("blocked".into()),
            ..EntryPatch::default()
        };
        assert!(types.update(TypeId::generate(), patch).is_ok());
    }
}
