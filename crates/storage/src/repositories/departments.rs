use diesel::prelude::*;
use omnichannel_domain::ports::{DepartmentRepository, Page, Paged, RepoError};
use omnichannel_domain::{Department, DepartmentId};

use super::{limit_offset, paged};
use crate::error::{delete_error, unexpected, write_error};
use crate::mapping::db_id;
use crate::rows::DepartmentRow;
use crate::schema::departments;
use crate::store::Store;

impl DepartmentRepository for Store {
    fn insert(&self, item: &Department) -> Result<(), RepoError> {
        let row = DepartmentRow::from_domain(item);
        self.with_conn(|conn| {
            diesel::insert_into(departments::table)
                .values(&row)
                .execute(conn)
                .map(drop)
                .map_err(|e| write_error(e, |_| "id"))
        })
    }

    fn get(&self, id: DepartmentId) -> Result<Option<Department>, RepoError> {
        let row = self.with_conn(|conn| {
            departments::table
                .find(db_id(id))
                .select(DepartmentRow::as_select())
                .first(conn)
                .optional()
                .map_err(unexpected)
        })?;
        row.map(DepartmentRow::into_domain).transpose()
    }

    fn list(&self, page: Page) -> Result<Paged<Department>, RepoError> {
        let (limit, offset) = limit_offset(page);
        let fetched = self.with_conn(|conn| {
            Ok(conn.transaction(|conn| {
                let total = departments::table.count().get_result::<i64>(conn)?;
                let rows = departments::table
                    .order((departments::created_at.desc(), departments::id.desc()))
                    .limit(limit)
                    .offset(offset)
                    .select(DepartmentRow::as_select())
                    .load(conn)?;
                Ok((total, rows))
            }))
        })?;
        paged(fetched, DepartmentRow::into_domain)
    }

    fn update(&self, item: &Department) -> Result<bool, RepoError> {
        let row = DepartmentRow::from_domain(item);
        self.with_conn(|conn| {
            diesel::update(departments::table.find(&row.id))
                .set(&row)
                .execute(conn)
                .map(|updated| updated > 0)
                .map_err(|e| write_error(e, |_| "id"))
        })
    }

    /// Favourite sources and rules go by `ON DELETE CASCADE`.
    fn delete(&self, id: DepartmentId) -> Result<bool, RepoError> {
        self.with_conn(|conn| {
            diesel::delete(departments::table.find(db_id(id)))
                .execute(conn)
                .map(|deleted| deleted > 0)
                .map_err(delete_error)
        })
    }
}
