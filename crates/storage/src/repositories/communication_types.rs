use diesel::prelude::*;
use diesel::result::DatabaseErrorInformation;
use omnichannel_domain::ports::{CommunicationTypeRepository, Page, Paged, RepoError};
use omnichannel_domain::{CommunicationType, TypeId};

use super::{limit_offset, paged};
use crate::error::{delete_error, unexpected, violates_unique, write_error};
use crate::mapping::db_id;
use crate::rows::CommunicationTypeRow;
use crate::schema::communication_types;
use crate::store::Store;

fn conflict_field(info: &dyn DatabaseErrorInformation) -> &'static str {
    if violates_unique(info, "code") {
        "code"
    } else {
        "id"
    }
}

impl CommunicationTypeRepository for Store {
    fn insert(&self, item: &CommunicationType) -> Result<(), RepoError> {
        let row = CommunicationTypeRow::from_domain(item);
        self.with_conn(|conn| {
            diesel::insert_into(communication_types::table)
                .values(&row)
                .execute(conn)
                .map(drop)
                .map_err(|e| write_error(e, conflict_field))
        })
    }

    fn get(&self, id: TypeId) -> Result<Option<CommunicationType>, RepoError> {
        let row = self.with_conn(|conn| {
            communication_types::table
                .find(db_id(id))
                .select(CommunicationTypeRow::as_select())
                .first(conn)
                .optional()
                .map_err(unexpected)
        })?;
        row.map(CommunicationTypeRow::into_domain).transpose()
    }

    fn list(&self, page: Page) -> Result<Paged<CommunicationType>, RepoError> {
        let (limit, offset) = limit_offset(page);
        let fetched = self.with_conn(|conn| {
            Ok(conn.transaction(|conn| {
                let total = communication_types::table.count().get_result::<i64>(conn)?;
                let rows = communication_types::table
                    .order((
                        communication_types::created_at.desc(),
                        communication_types::id.desc(),
                    ))
                    .limit(limit)
                    .offset(offset)
                    .select(CommunicationTypeRow::as_select())
                    .load(conn)?;
                Ok((total, rows))
            }))
        })?;
        paged(fetched, CommunicationTypeRow::into_domain)
    }

    fn update(&self, item: &CommunicationType) -> Result<bool, RepoError> {
        let row = CommunicationTypeRow::from_domain(item);
        self.with_conn(|conn| {
            diesel::update(communication_types::table.find(&row.id))
                .set(&row)
                .execute(conn)
                .map(|updated| updated > 0)
                .map_err(|e| write_error(e, conflict_field))
        })
    }

    fn delete(&self, id: TypeId) -> Result<bool, RepoError> {
        self.with_conn(|conn| {
            diesel::delete(communication_types::table.find(db_id(id)))
                .execute(conn)
                .map(|deleted| deleted > 0)
                .map_err(delete_error)
        })
    }
}
