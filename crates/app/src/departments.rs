//! Departments: the units that send communications and own the policies.

use std::sync::Arc;

use omnichannel_domain::ports::{Clock, DepartmentRepository, Page, Paged};
use omnichannel_domain::{Department, DepartmentId, Name, ValidationErrors};

use crate::error::{CreateError, DeleteError, GetError, ListError, UpdateError, deleted, updated};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DepartmentPatch {
    pub name: Option<String>,
}

/// `NotFound` unless the department exists: for the resources it owns.
pub(crate) fn ensure_department(
    repo: &dyn DepartmentRepository,
    id: DepartmentId,
) -> Result<(), GetError> {
    repo.get(id)?.map(|_| ()).ok_or(GetError::NotFound)
}

pub struct Departments {
    repo: Arc<dyn DepartmentRepository>,
    clock: Arc<dyn Clock>,
}

impl Departments {
    pub fn new(repo: Arc<dyn DepartmentRepository>, clock: Arc<dyn Clock>) -> Self {
        Self { repo, clock }
    }

    pub fn create(&self, name: String) -> Result<Department, CreateError> {
        let name = Name::parse(name)
            .map_err(|e| CreateError::Invalid(ValidationErrors::single("name", e.0)))?;
        let now = self.clock.now();
        let department = Department {
            id: DepartmentId::generate(),
            name,
            created_at: now,
            updated_at: now,
        };
        self.repo.insert(&department)?;
        Ok(department)
    }

    pub fn get(&self, id: DepartmentId) -> Result<Department, GetError> {
        self.repo.get(id)?.ok_or(GetError::NotFound)
    }

    pub fn list(&self, page: Page) -> Result<Paged<Department>, ListError> {
        Ok(self.repo.list(page)?)
    }

    pub fn update(
        &self,
        id: DepartmentId,
        patch: DepartmentPatch,
    ) -> Result<Department, UpdateError> {
        let mut department = self.get(id)?;
        if let Some(name) = patch.name {
            department.name = Name::parse(name)
                .map_err(|e| UpdateError::Invalid(ValidationErrors::single("name", e.0)))?;
        }
        department.updated_at = self.clock.now();
        updated(self.repo.update(&department)?)?;
        Ok(department)
    }

    /// Its favourite sources and rules go with it.
    pub fn delete(&self, id: DepartmentId) -> Result<(), DeleteError> {
        deleted(self.repo.delete(id)?)
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use omnichannel_domain::ports::{MockClock, MockDepartmentRepository};

    use super::*;

    fn clock() -> Arc<MockClock> {
        let mut clock = MockClock::new();
        clock.expect_now().returning(Utc::now);
        Arc::new(clock)
    }

    #[test]
    fn a_department_needs_a_name() {
        let mut repo = MockDepartmentRepository::new();
        repo.expect_insert().times(1).returning(|_| Ok(()));
        let departments = Departments::new(Arc::new(repo), clock());
        assert!(matches!(
            departments.create(" ".into()),
            Err(CreateError::Invalid(e)) if e.errors()[0].field == "name"
        ));
        let created = departments.create("Sales".into()).expect("valid");
        assert_eq!(created.name.as_str(), "Sales");
    }

    #[test]
    fn update_of_a_missing_department_is_not_found() {
        let mut repo = MockDepartmentRepository::new();
        repo.expect_get().returning(|_| Ok(None));
        let departments = Departments::new(Arc::new(repo), clock());
        let patch = DepartmentPatch {
            name: Some("Support".into()),
        };
        assert!(matches!(
            departments.update(DepartmentId::generate(), patch),
            Err(UpdateError::NotFound)
        ));
    }
}
