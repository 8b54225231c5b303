use diesel::prelude::*;
use omnichannel_domain::ports::{Page, Paged, RepoError, RuleRepository};
use omnichannel_domain::{DepartmentId, Rule, RuleId};

use super::{limit_offset, paged};
use crate::error::{delete_error, unexpected, write_error};
use crate::mapping::db_id;
use crate::rows::RuleRow;
use crate::schema::department_rules;
use crate::store::Store;

impl RuleRepository for Store {
    fn insert(&self, rule: &Rule) -> Result<(), RepoError> {
        let row = RuleRow::from_domain(rule)?;
        self.with_conn(|conn| {
            diesel::insert_into(department_rules::table)
                .values(&row)
                .execute(conn)
                .map(drop)
                .map_err(|e| write_error(e, |_| "id"))
        })
    }

    fn get(&self, department_id: DepartmentId, id: RuleId) -> Result<Option<Rule>, RepoError> {
        let row = self.with_conn(|conn| {
            department_rules::table
                .find(db_id(id))
                .filter(department_rules::department_id.eq(db_id(department_id)))
                .select(RuleRow::as_select())
                .first(conn)
                .optional()
                .map_err(unexpected)
        })?;
        row.map(RuleRow::into_domain).transpose()
    }

    fn list(&self, department_id: DepartmentId, page: Page) -> Result<Paged<Rule>, RepoError> {
        let (limit, offset) = limit_offset(page);
        let department_id = db_id(department_id);
        let fetched = self.with_conn(|conn| {
            Ok(conn.transaction(|conn| {
                let of_department = department_rules::department_id.eq(&department_id);
                let total = department_rules::table
                    .filter(of_department)
                    .count()
                    .get_result::<i64>(conn)?;
                let rows = department_rules::table
                    .filter(of_department)
                    .order((
                        department_rules::created_at.desc(),
                        department_rules::id.desc(),
                    ))
                    .limit(limit)
                    .offset(offset)
                    .select(RuleRow::as_select())
                    .load(conn)?;
                Ok((total, rows))
            }))
        })?;
        paged(fetched, RuleRow::into_domain)
    }

    /// Only a rule of `rule.department_id`; the department never changes.
    fn update(&self, rule: &Rule) -> Result<bool, RepoError> {
        let row = RuleRow::from_domain(rule)?;
        self.with_conn(|conn| {
            diesel::update(
                department_rules::table
                    .find(&row.id)
                    .filter(department_rules::department_id.eq(&row.department_id)),
            )
            .set(&row)
            .execute(conn)
            .map(|updated| updated > 0)
            .map_err(|e| write_error(e, |_| "id"))
        })
    }

    fn delete(&self, department_id: DepartmentId, id: RuleId) -> Result<bool, RepoError> {
        self.with_conn(|conn| {
            diesel::delete(
                department_rules::table
                    .find(db_id(id))
                    .filter(department_rules::department_id.eq(db_id(department_id))),
            )
            .execute(conn)
            .map(|deleted| deleted > 0)
            .map_err(delete_error)
        })
    }
}
