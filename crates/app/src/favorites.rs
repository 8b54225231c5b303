//! A department's favourite sources: the channels it prefers for each type.

use std::collections::HashSet;
use std::sync::Arc;

use omnichannel_domain::ports::{
    CommunicationSourceRepository, CommunicationTypeRepository, DepartmentRepository,
    FavoriteSourceRepository,
};
use omnichannel_domain::{DepartmentId, FavoriteSource, SourceId, TypeId, ValidationErrors};
use uuid::Uuid;

use crate::departments::ensure_department;
use crate::error::{CreateError, DeleteError, ListError, UpdateError, deleted};

/// One favourite, as received.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FavoriteInput {
    pub communication_type_id: Uuid,
    pub communication_source_id: Uuid,
    pub priority: i64,
}

pub struct Favorites {
    departments: Arc<dyn DepartmentRepository>,
    types: Arc<dyn CommunicationTypeRepository>,
    sources: Arc<dyn CommunicationSourceRepository>,
    repo: Arc<dyn FavoriteSourceRepository>,
}

impl Favorites {
    pub fn new(
        departments: Arc<dyn DepartmentRepository>,
        types: Arc<dyn CommunicationTypeRepository>,
        sources: Arc<dyn CommunicationSourceRepository>,
        repo: Arc<dyn FavoriteSourceRepository>,
    ) -> Self {
        Self {
            departments,
            types,
            sources,
            repo,
        }
    }

    /// Validates one item; `prefix` is `""` or `items.N.`.
    fn parse(
        &self,
        errors: &mut ValidationErrors,
        prefix: &str,
        department_id: DepartmentId,
        input: FavoriteInput,
    ) -> Result<Option<FavoriteSource>, anyhow::Error> {
        let type_id = TypeId::from_uuid(input.communication_type_id);
        let source_id = SourceId::from_uuid(input.communication_source_id);
        let type_known = self
            .types
            .get(type_id)
            .map_err(anyhow::Error::new)?
            .is_some();
        if !type_known {
            errors.add(format!("{prefix}communication_type_id"), "does not exist");
        }
        let source_known = self
            .sources
            .get(source_id)
            .map_err(anyhow::Error::new)?
            .is_some();
        if !source_known {
            errors.add(format!("{prefix}communication_source_id"), "does not exist");
        }
        let priority = errors.check(
            &format!("{prefix}priority"),
            FavoriteSource::parse_priority(input.priority),
        );
        Ok(priority
            .filter(|_| type_known && source_known)
            .map(|priority| FavoriteSource {
                department_id,
                type_id,
                source_id,
                priority,
            }))
    }

    pub fn list(&self, department_id: DepartmentId) -> Result<Vec<FavoriteSource>, ListError> {
        ensure_department(self.departments.as_ref(), department_id)?;
        Ok(self.repo.list(department_id)?)
    }

    /// Replaces the whole list; a pair listed twice is invalid.
    pub fn replace(
        &self,
        department_id: DepartmentId,
        items: Vec<FavoriteInput>,
    ) -> Result<Vec<FavoriteSource>, UpdateError> {
        ensure_department(self.departments.as_ref(), department_id)?;
        let mut errors = ValidationErrors::new();
        let mut seen = HashSet::new();
        let mut favorites = Vec::with_capacity(items.len());
        for (index, input) in items.into_iter().enumerate() {
            let prefix = format!("items.{index}.");
            if !seen.insert((input.communication_type_id, input.communication_source_id)) {
                errors.add(
                    format!("{prefix}communication_source_id"),
                    "is listed twice for the same type",
                );
            }
            let parsed = self
                .parse(&mut errors, &prefix, department_id, input)
                .map_err(UpdateError::Unexpected)?;
            favorites.extend(parsed);
        }
        if !errors.is_empty() {
            return Err(UpdateError::Invalid(errors));
        }
        self.repo.replace(department_id, &favorites)?;
        Ok(self.repo.list(department_id)?)
    }

    pub fn add(
        &self,
        department_id: DepartmentId,
        input: FavoriteInput,
    ) -> Result<FavoriteSource, CreateError> {
        ensure_department(self.departments.as_ref(), department_id)?;
        let mut errors = ValidationErrors::new();
        let parsed = self
            .parse(&mut errors, "", department_id, input)
            .map_err(CreateError::Unexpected)?;
        let Some(favorite) = parsed else {
            return Err(CreateError::Invalid(errors));
        };
        self.repo.add(&favorite)?;
        Ok(favorite)
    }

    pub fn remove(
        &self,
        department_id: DepartmentId,
        type_id: TypeId,
        source_id: SourceId,
    ) -> Result<(), DeleteError> {
        ensure_department(self.departments.as_ref(), department_id)?;
        deleted(self.repo.remove(department_id, type_id, source_id)?)
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use omnichannel_domain::ports::{
        MockCommunicationSourceRepository, MockCommunicationTypeRepository,
        MockDepartmentRepository, MockFavoriteSourceRepository,
    };
    use omnichannel_domain::{
        Code, CommunicationSource, CommunicationType, Department, DictionaryStatus, Name,
        SourceKind,
    };

    use super::*;

    /// A service where only `known_type` and `known_source` exist.
    fn favorites(
        known_type: Uuid,
        known_source: Uuid,
        repo: MockFavoriteSourceRepository,
    ) -> Favorites {
        let mut departments = MockDepartmentRepository::new();
        departments.expect_get().returning(|id| {
            Ok(Some(Department {
                id,
                name: Name::parse("Sales").expect("name"),
                created_at: Utc::now(),
                updated_at: Utc::now(),
            }))
        });
        let mut types = MockCommunicationTypeRepository::new();
        types.expect_get().returning(move |id| {
            Ok((id.as_uuid() == known_type).then(|| CommunicationType {
                id,
                code: Code::parse("mass").expect("code"),
                name: Name::parse("Mass").expect("name"),
                status: DictionaryStatus::Active,
                created_at: Utc::now(),
                updated_at: Utc::now(),
            }))
        });
        let mut sources = MockCommunicationSourceRepository::new();
        sources.expect_get().returning(move |id| {
            Ok((id.as_uuid() == known_source).then(|| CommunicationSource {
                id,
                code: Code::parse("sms").expect("code"),
                name: Name::parse("SMS").expect("name"),
                kind: SourceKind::Sms,
                status: DictionaryStatus::Active,
                created_at: Utc::now(),
                updated_at: Utc::now(),
            }))
        });
        Favorites::new(
            Arc::new(departments),
            Arc::new(types),
            Arc::new(sources),
            Arc::new(repo),
        )
    }

    #[test]
    fn replace_names_each_bad_item_by_its_index() {
        let (type_id, source_id) = (Uuid::new_v4(), Uuid::new_v4());
        let mut repo = MockFavoriteSourceRepository::new();
        repo.expect_replace().never();
        let service = favorites(type_id, source_id, repo);
        let good = FavoriteInput {
            communication_type_id: type_id,
            communication_source_id: source_id,
            priority: 1,
        };
        let items = vec![
            good,
            FavoriteInput {
                communication_source_id: Uuid::new_v4(),
                priority: -5,
                ..good
            },
            good,
        ];
        let result = service.replace(DepartmentId::generate(), items);
        let Err(UpdateError::Invalid(errors)) = result else {
            panic!("expected invalid, got {result:?}");
        };
        let fields: Vec<_> = errors.errors().iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "items.1.communication_source_id",
                "items.1.priority",
                "items.2.communication_source_id"
            ]
        );
    }

    #[test]
    fn replace_stores_valid_items_and_answers_the_stored_list() {
        let (type_id, source_id) = (Uuid::new_v4(), Uuid::new_v4());
        let mut repo = MockFavoriteSourceRepository::new();
        repo.expect_replace()
            .withf(|_, items| items.len() == 1 && items[0].priority == 3)
            .times(1)
            .returning(|_, _| Ok(()));
        repo.expect_list().times(1).returning(|_| Ok(vec![]));
        let service = favorites(type_id, source_id, repo);
        let items = vec![FavoriteInput {
            communication_type_id: type_id,
            communication_source_id: source_id,
            priority: 3,
        }];
        assert_eq!(
            service.replace(DepartmentId::generate(), items).ok(),
            Some(vec![])
        );
    }

    #[test]
    fn add_of_an_unknown_type_names_the_field() {
        let source_id = Uuid::new_v4();
        let mut repo = MockFavoriteSourceRepository::new();
        repo.expect_add().never();
        let service = favorites(Uuid::new_v4(), source_id, repo);
        let input = FavoriteInput {
            communication_type_id: Uuid::new_v4(),
            communication_source_id: source_id,
            priority: 0,
        };
        assert!(matches!(
            service.add(DepartmentId::generate(), input),
            Err(CreateError::Invalid(e)) if e.errors()[0].field == "communication_type_id"
        ));
    }
}
