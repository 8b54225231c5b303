use diesel::prelude::*;
use omnichannel_domain::ports::{AvailabilityRepository, RepoError};
use omnichannel_domain::{Availability, UserId};

use crate::connection::DbConnection;
use crate::error::{unexpected, write_error};
use crate::mapping::db_id;
use crate::rows::AvailabilityRow;
use crate::schema::user_availability;
use crate::store::Store;

impl AvailabilityRepository for Store {
    fn get(&self, user_id: UserId) -> Result<Option<Availability>, RepoError> {
        let row = self.with_conn(|conn| {
            user_availability::table
                .find(db_id(user_id))
                .select(AvailabilityRow::as_select())
                .first(conn)
                .optional()
                .map_err(unexpected)
        })?;
        row.map(AvailabilityRow::into_domain).transpose()
    }

    /// One upsert statement, so that two concurrent puts cannot collide. The
    /// multi-backend connection has no `ON CONFLICT`, so each dialect runs the
    /// same statement on its own connection.
    fn put(&self, availability: &Availability) -> Result<(), RepoError> {
        let row = AvailabilityRow::from_domain(availability);
        let upsert = diesel::insert_into(user_availability::table)
            .values(&row)
            .on_conflict(user_availability::user_id)
            .do_update()
            .set(&row);
        self.with_conn(|conn| {
            match conn {
                DbConnection::Sqlite(conn) => upsert.execute(conn),
                DbConnection::Pg(conn) => upsert.execute(conn),
            }
            .map(drop)
            .map_err(|e| write_error(e, |_| "user_id"))
        })
    }
}
