//! The communications created over a time range, counted by hour and status
//! in one `GROUP BY` over the `created_at` index
//! (`communications_created_at_idx`). Only the hour of `created_at` is
//! dialect SQL: PostgreSQL truncates its `TIMESTAMP`, SQLite reformats its
//! `YYYY-MM-DD HH:MM:SS[.ffffff]` text; both read back as a timestamp.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Text, Timestamp};
use omnichannel_domain::CommunicationStatus;
use omnichannel_domain::ports::{CommunicationStats, HourlyCount, RepoError};

use super::bound_sql::{BoundSql, Value};
use crate::connection::DbConnection;
use crate::error::unexpected;
use crate::mapping::{db_time, domain_time};
use crate::store::Store;

/// One group: the hour, the status and how many.
#[derive(QueryableByName)]
struct Group {
    #[diesel(sql_type = Timestamp)]
    hour: NaiveDateTime,
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = BigInt)]
    count: i64,
}

/// The start of the UTC hour of `created_at`, in the backend's dialect.
fn hour_of_created_at(conn: &DbConnection) -> &'static str {
    match conn {
        DbConnection::Pg(_) => "date_trunc('hour', created_at)",
        DbConnection::Sqlite(_) => "strftime('%Y-%m-%d %H:00:00', created_at)",
    }
}

impl Group {
    fn into_domain(self) -> Result<HourlyCount, RepoError> {
        let status = CommunicationStatus::parse(&self.status).map_err(|e| {
            unexpected(anyhow::anyhow!(
                "the stored communications.status {} is invalid: {e}",
                self.status
            ))
        })?;
        Ok(HourlyCount {
            hour: domain_time(self.hour),
            status,
            count: u64::try_from(self.count).map_err(unexpected)?,
        })
    }
}

impl CommunicationStats for Store {
    fn hourly_counts(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<HourlyCount>, RepoError> {
        let groups: Vec<Group> = self.with_conn(|conn| {
            let hour = hour_of_created_at(conn);
            let mut sql = BoundSql::new(conn);
            sql.sql(&format!(
                "SELECT {hour} AS hour, status, COUNT(*) AS count FROM communications \
                 WHERE created_at >= "
            ))
            .value(Value::Time(db_time(from)))
            .sql(" AND created_at < ")
            .value(Value::Time(db_time(to)))
            .sql(&format!(" GROUP BY {hour}, status"));
            sql.load(conn).map_err(unexpected)
        })?;
        groups.into_iter().map(Group::into_domain).collect()
    }
}
