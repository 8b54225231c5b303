use diesel::prelude::*;
use omnichannel_domain::ports::{FavoriteSourceRepository, RepoError};
use omnichannel_domain::{DepartmentId, FavoriteSource, SourceId, TypeId};

use crate::error::{unexpected, write_error};
use crate::mapping::db_id;
use crate::rows::FavoriteSourceRow;
use crate::schema::favorite_sources;
use crate::store::Store;

/// The only unique key is the (department, type, source) triple.
const CONFLICT_FIELD: &str = "communication_source_id";

impl FavoriteSourceRepository for Store {
    fn list(&self, department_id: DepartmentId) -> Result<Vec<FavoriteSource>, RepoError> {
        let rows = self.with_conn(|conn| {
            favorite_sources::table
                .filter(favorite_sources::department_id.eq(db_id(department_id)))
                .order((
                    favorite_sources::communication_type_id.asc(),
                    favorite_sources::priority.asc(),
                    favorite_sources::communication_source_id.asc(),
                ))
                .select(FavoriteSourceRow::as_select())
                .load(conn)
                .map_err(unexpected)
        })?;
        rows.into_iter()
            .map(FavoriteSourceRow::into_domain)
            .collect()
    }

    fn replace(
        &self,
        department_id: DepartmentId,
        items: &[FavoriteSource],
    ) -> Result<(), RepoError> {
        if let Some(stray) = items
            .iter()
            .find(|item| item.department_id != department_id)
        {
            return Err(unexpected(anyhow::anyhow!(
                "a favourite source of department {} cannot be stored for department {department_id}",
                stray.department_id
            )));
        }
        let department_id = db_id(department_id);
        let rows: Vec<_> = items.iter().map(FavoriteSourceRow::from_domain).collect();
        self.with_conn(|conn| {
            conn.transaction(|conn| {
                diesel::delete(
                    favorite_sources::table
                        .filter(favorite_sources::department_id.eq(&department_id)),
                )
                .execute(conn)?;
                // One statement per row: the multi-backend connection has no
                // batch insert on SQLite. A department lists a few sources.
                for row in &rows {
                    diesel::insert_into(favorite_sources::table)
                        .values(row)
                        .execute(conn)?;
                }
                Ok(())
            })
            .map_err(|e| write_error(e, |_| CONFLICT_FIELD))
        })
    }

    fn add(&self, item: &FavoriteSource) -> Result<(), RepoError> {
        let row = FavoriteSourceRow::from_domain(item);
        self.with_conn(|conn| {
            diesel::insert_into(favorite_sources::table)
                .values(&row)
                .execute(conn)
                .map(drop)
                .map_err(|e| write_error(e, |_| CONFLICT_FIELD))
        })
    }

    fn remove(
        &self,
        department_id: DepartmentId,
        type_id: TypeId,
        source_id: SourceId,
    ) -> Result<bool, RepoError> {
        self.with_conn(|conn| {
            diesel::delete(favorite_sources::table.find((
                db_id(department_id),
                db_id(type_id),
                db_id(source_id),
            )))
            .execute(conn)
            .map(|deleted| deleted > 0)
            .map_err(unexpected)
        })
    }
}
