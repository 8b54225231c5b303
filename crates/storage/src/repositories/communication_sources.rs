use diesel::prelude::*;
use diesel::result::DatabaseErrorInformation;
use omnichannel_domain::ports::{CommunicationSourceRepository, Page, Paged, RepoError};
use omnichannel_domain::{CommunicationSource, SourceId};

use super::{limit_offset, paged};
use crate::error::{delete_error, unexpected, violates_unique, write_error};
use crate::mapping::db_id;
use crate::rows::CommunicationSourceRow;
use crate::schema::communication_sources;
use crate::store::Store;

fn conflict_field(info: &dyn DatabaseErrorInformation) -> &'static str {
    if violates_unique(info, "code") {
        "code"
    } else {
        "id"
    }
}

impl CommunicationSourceRepository for Store {
    fn insert(&self, item: &CommunicationSource) -> Result<(), RepoError> {
        let row = CommunicationSourceRow::from_domain(item);
        self.with_conn(|conn| {
            diesel::insert_into(communication_sources::table)
                .values(&row)
                .execute(conn)
                .map(drop)
                .map_err(|e| write_error(e, conflict_field))
        })
    }

    fn get(&self, id: SourceId) -> Result<Option<CommunicationSource>, RepoError> {
        let row = self.with_conn(|conn| {
            communication_sources::table
                .find(db_id(id))
                .select(CommunicationSourceRow::as_select())
                .first(conn)
                .optional()
                .map_err(unexpected)
        })?;
        row.map(CommunicationSourceRow::into_domain).transpose()
    }

    fn list(&self, page: Page) -> Result<Paged<CommunicationSource>, RepoError> {
        let (limit, offset) = limit_offset(page);
        let fetched = self.with_conn(|conn| {
            Ok(conn.transaction(|conn| {
                let total = communication_sources::table
                    .count()
                    .get_result::<i64>(conn)?;
                let rows = communication_sources::table
                    .order((
                        communication_sources::created_at.desc(),
                        communication_sources::id.desc(),
                    ))
                    .limit(limit)
                    .offset(offset)
                    .select(CommunicationSourceRow::as_select())
                    .load(conn)?;
                Ok((total, rows))
            }))
        })?;
        paged(fetched, CommunicationSourceRow::into_domain)
    }

    fn update(&self, item: &CommunicationSource) -> Result<bool, RepoError> {
        let row = CommunicationSourceRow::from_domain(item);
        self.with_conn(|conn| {
            diesel::update(communication_sources::table.find(&row.id))
                .set(&row)
                .execute(conn)
                .map(|updated| updated > 0)
                .map_err(|e| write_error(e, conflict_field))
        })
    }

    fn delete(&self, id: SourceId) -> Result<bool, RepoError> {
        self.with_conn(|conn| {
            diesel::delete(communication_sources::table.find(db_id(id)))
                .execute(conn)
                .map(|deleted| deleted > 0)
                .map_err(delete_error)
        })
    }
}
