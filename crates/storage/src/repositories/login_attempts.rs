use chrono::{DateTime, Utc};
use diesel::prelude::*;
use omnichannel_domain::ports::{LoginAttemptRepository, RepoError};

use crate::error::unexpected;
use crate::mapping::{db_time, domain_time};
use crate::rows::NewLoginFailureRow;
use crate::schema::login_failures;
use crate::store::Store;

impl LoginAttemptRepository for Store {
    /// Inserts the failure and drops every failure older than `forget_before`,
    /// of any username, in one transaction: the table never holds more than
    /// the throttle's window, however many usernames are tried.
    fn record_failure(
        &self,
        username: &str,
        at: DateTime<Utc>,
        forget_before: DateTime<Utc>,
    ) -> Result<(), RepoError> {
        let row = NewLoginFailureRow {
            username,
            failed_at: db_time(at),
        };
        let forget_before = db_time(forget_before);
        self.with_conn(|conn| {
            conn.transaction(|conn| {
                diesel::insert_into(login_failures::table)
                    .values(&row)
                    .execute(conn)?;
                diesel::delete(
                    login_failures::table.filter(login_failures::failed_at.lt(forget_before)),
                )
                .execute(conn)
                .map(drop)
            })
            .map_err(unexpected)
        })
    }

    /// Oldest first.
    fn failures_since(
        &self,
        username: &str,
        since: DateTime<Utc>,
    ) -> Result<Vec<DateTime<Utc>>, RepoError> {
        let times = self.with_conn(|conn| {
            login_failures::table
                .filter(login_failures::username.eq(username))
                .filter(login_failures::failed_at.gt(db_time(since)))
                .order(login_failures::failed_at.asc())
                .select(login_failures::failed_at)
                .load(conn)
                .map_err(unexpected)
        })?;
        Ok(times.into_iter().map(domain_time).collect())
    }

    fn clear(&self, username: &str) -> Result<(), RepoError> {
        self.with_conn(|conn| {
            diesel::delete(login_failures::table.filter(login_failures::username.eq(username)))
                .execute(conn)
                .map(drop)
                .map_err(unexpected)
        })
    }
}
