//! A department's contact-frequency rules.

use std::sync::Arc;

use omnichannel_domain::ports::{
    Clock, CommunicationTypeRepository, DepartmentRepository, Page, Paged, RuleRepository,
};
use omnichannel_domain::{
    DepartmentId, Rule, RuleId, RuleLimit, TimeUnit, TypeId, ValidationErrors,
};
use uuid::Uuid;

use crate::departments::ensure_department;
use crate::error::{CreateError, DeleteError, GetError, ListError, UpdateError, deleted, updated};

/// A new rule, as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRule {
    pub limit_per_unit: i64,
    pub unit: String,
    pub units_count: i64,
    /// `None`: the rule counts every type.
    pub communication_type_id: Option<Uuid>,
}

/// A partial update: `None` keeps a field, `Some(None)` makes the rule cover every type.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RulePatch {
    pub limit_per_unit: Option<i64>,
    pub unit: Option<String>,
    pub units_count: Option<i64>,
    pub communication_type_id: Option<Option<Uuid>>,
}

pub struct Rules {
    departments: Arc<dyn DepartmentRepository>,
    types: Arc<dyn CommunicationTypeRepository>,
    repo: Arc<dyn RuleRepository>,
    clock: Arc<dyn Clock>,
}

impl Rules {
    pub fn new(
        departments: Arc<dyn DepartmentRepository>,
        types: Arc<dyn CommunicationTypeRepository>,
        repo: Arc<dyn RuleRepository>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            departments,
            types,
            repo,
            clock,
        }
    }

    /// Validates the fields together, naming each invalid one.
    fn parse(
        &self,
        limit_per_unit: i64,
        unit: &str,
        units_count: i64,
        type_id: Option<Uuid>,
    ) -> Result<Result<(RuleLimit, Option<TypeId>), ValidationErrors>, anyhow::Error> {
        let mut errors = ValidationErrors::new();
        let unit = errors.check("unit", TimeUnit::parse(unit));
        let type_id = type_id.map(TypeId::from_uuid);
        if let Some(type_id) = type_id
            && self
                .types
                .get(type_id)
                .map_err(anyhow::Error::new)?
                .is_none()
        {
            errors.add("communication_type_id", "does not exist");
        }
        let limit = match RuleLimit::new(
            limit_per_unit,
            unit.unwrap_or(TimeUnit::Second),
            units_count,
        ) {
            Ok(limit) => Some(limit),
            Err(limit_errors) => {
                for error in limit_errors.errors() {
                    errors.add(error.field.clone(), error.message.clone());
                }
                None
            }
        };
        Ok(match (unit, limit) {
            (Some(_), Some(limit)) if errors.is_empty() => Ok((limit, type_id)),
            _ => Err(errors),
        })
    }

    pub fn create(&self, department_id: DepartmentId, input: NewRule) -> Result<Rule, CreateError> {
        ensure_department(self.departments.as_ref(), department_id)?;
        let (limit, type_id) = self
            .parse(
                input.limit_per_unit,
                &input.unit,
                input.units_count,
                input.communication_type_id,
            )
            .map_err(CreateError::Unexpected)?
            .map_err(CreateError::Invalid)?;
        let now = self.clock.now();
        let rule = Rule {
            id: RuleId::generate(),
            department_id,
            type_id,
            limit,
            created_at: now,
            updated_at: now,
        };
        self.repo.insert(&rule)?;
        Ok(rule)
    }

    pub fn get(&self, department_id: DepartmentId, id: RuleId) -> Result<Rule, GetError> {
        self.repo.get(department_id, id)?.ok_or(GetError::NotFound)
    }

    pub fn list(&self, department_id: DepartmentId, page: Page) -> Result<Paged<Rule>, ListError> {
        ensure_department(self.departments.as_ref(), department_id)?;
        Ok(self.repo.list(department_id, page)?)
    }

    pub fn update(
        &self,
        department_id: DepartmentId,
        id: RuleId,
        patch: RulePatch,
    ) -> Result<Rule, UpdateError> {
        let mut rule = self.get(department_id, id)?;
        let current = rule.limit;
        let (limit, type_id) = self
            .parse(
                patch
                    .limit_per_unit
                    .unwrap_or_else(|| i64::from(current.limit_per_unit())),
                patch.unit.as_deref().unwrap_or(current.unit().as_str()),
                patch
                    .units_count
                    .unwrap_or_else(|| i64::from(current.units_count())),
                patch
                    .communication_type_id
                    .unwrap_or_else(|| rule.type_id.map(Uuid::from)),
            )
            .map_err(UpdateError::Unexpected)?
            .map_err(UpdateError::Invalid)?;
        rule.limit = limit;
        rule.type_id = type_id;
        rule.updated_at = self.clock.now();
        updated(self.repo.update(&rule)?)?;
        Ok(rule)
    }

    pub fn delete(&self, department_id: DepartmentId, id: RuleId) -> Result<(), DeleteError> {
        deleted(self.repo.delete(department_id, id)?)
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use omnichannel_domain::Department;
    use omnichannel_domain::Name;
    use omnichannel_domain::ports::{
        MockClock, MockCommunicationTypeRepository, MockDepartmentRepository, MockRuleRepository,
    };

    use super::*;

    fn rules(department_exists: bool, repo: MockRuleRepository) -> Rules {
        let mut departments = MockDepartmentRepository::new();
        departments.expect_get().returning(move |id| {
            Ok(department_exists.then(|| Department {
                id,
                name: Name::parse("Sales").expect("name"),
                created_at: Utc::now(),
                updated_at: Utc::now(),
            }))
        });
        let mut types = MockCommunicationTypeRepository::new();
        types.expect_get().returning(|_| Ok(None));
        let mut clock = MockClock::new();
        clock.expect_now().returning(Utc::now);
        Rules::new(
            Arc::new(departments),
            Arc::new(types),
            Arc::new(repo),
            Arc::new(clock),
        )
    }

    fn input() -> NewRule {
        NewRule {
            limit_per_unit: 2,
            unit: "hour".into(),
            units_count: 3,
            communication_type_id: None,
        }
    }

    #[test]
    fn create_stores_a_valid_rule() {
        let mut repo = MockRuleRepository::new();
        repo.expect_insert()
            .withf(|r| r.limit.window() == chrono::Duration::hours(3) && r.type_id.is_none())
            .times(1)
            .returning(|_| Ok(()));
        let rule = rules(true, repo).create(DepartmentId::generate(), input());
        assert_eq!(rule.map(|r| r.limit.limit_per_unit()).ok(), Some(2));
    }

    #[test]
    fn create_names_bad_fields_and_unknown_type() {
        let mut repo = MockRuleRepository::new();
        repo.expect_insert().never();
        let service = rules(true, repo);
        let bad = NewRule {
            limit_per_unit: 0,
            unit: "week".into(),
            units_count: 0,
            communication_type_id: Some(Uuid::new_v4()),
        };
        let Err(CreateError::Invalid(errors)) = service.create(DepartmentId::generate(), bad)
        else {
            panic!("expected invalid");
        };
        let mut fields: Vec<_> = errors.errors().iter().map(|e| e.field.as_str()).collect();
        fields.sort_unstable();
        assert_eq!(
            fields,
            [
                "communication_type_id",
                "limit_per_unit",
                "unit",
                "units_count"
            ]
        );
    }

    #[test]
    fn a_rule_of_a_missing_department_is_not_found() {
        let mut repo = MockRuleRepository::new();
        repo.expect_insert().never();
        let service = rules(false, repo);
        assert!(matches!(
            service.create(DepartmentId::generate(), input()),
            Err(CreateError::NotFound)
        ));
    }

    #[test]
    fn update_revalidates_the_merged_rule() {
        let department_id = DepartmentId::generate();
        let mut repo = MockRuleRepository::new();
        repo.expect_get().returning(move |department_id, id| {
            Ok(Some(Rule {
                id,
                department_id,
                type_id: None,
                limit: RuleLimit::new(5, TimeUnit::Minute, 10).expect("limit"),
                created_at: Utc::now(),
                updated_at: Utc::now(),
            }))
        });
        repo.expect_update().never();
        let service = rules(true, repo);
        // The stored count with the new unit would pass; the new count with it does not.
        let patch = RulePatch {
            unit: Some("day".into()),
            units_count: Some(400),
            ..RulePatch::default()
        };
        assert!(matches!(
            service.update(department_id, RuleId::generate(), patch),
            Err(UpdateError::Invalid(e)) if e.errors()[0].field == "units_count"
        ));
    }
}
