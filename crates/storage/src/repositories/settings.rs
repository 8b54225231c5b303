use chrono::Utc;
use diesel::prelude::*;
use omnichannel_domain::ports::{RepoError, SettingRepository};

use crate::connection::DbConnection;
use crate::error::{unexpected, write_error};
use crate::mapping::db_time;
use crate::rows::NewSettingRow;
use crate::schema::settings;
use crate::store::Store;

impl SettingRepository for Store {
    /// `INSERT … ON CONFLICT DO NOTHING`, then a read: when processes race,
    /// the insert of each loser waits for the winner's to commit and does
    /// nothing, and the read finds the winner's value. The multi-backend
    /// connection has no `ON CONFLICT`, so each dialect runs the statement on
    /// its own connection. `created_at` is only informative: the clock of the
    /// process that stored the value.
    fn get_or_insert(&self, name: &str, candidate: &str) -> Result<String, RepoError> {
        let row = NewSettingRow {
            name,
            value: candidate,
            created_at: db_time(Utc::now()),
        };
        let insert = diesel::insert_into(settings::table)
            .values(&row)
            .on_conflict(settings::name)
            .do_nothing();
        self.with_conn(|conn| {
            match conn {
                DbConnection::Sqlite(conn) => insert.execute(conn),
                DbConnection::Pg(conn) => insert.execute(conn),
            }
            .map_err(|e| write_error(e, |_| "name"))?;
            settings::table
                .find(name)
                .select(settings::value)
                .first::<String>(conn)
                .optional()
                .map_err(unexpected)?
                .ok_or_else(|| unexpected(anyhow::anyhow!("the setting {name} vanished")))
        })
    }
}
