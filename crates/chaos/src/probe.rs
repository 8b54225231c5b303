//! The harness's own connection to the service's database, past the
//! service: what the end checks read.

use std::collections::HashSet;

use anyhow::Context;
use chrono::NaiveDateTime;
use diesel::connection::SimpleConnection;
use diesel::pg::Pg;
use diesel::query_builder::SqlQuery;
use diesel::sqlite::Sqlite;
use diesel::{Connection, PgConnection, QueryableByName, RunQueryDsl, SqliteConnection};

pub enum Probe {
    Pg(PgConnection),
    Sqlite(SqliteConnection),
}

/// One communication as stored.
#[derive(Debug, Clone, diesel::QueryableByName)]
pub struct Row {
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub id: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub user_id: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub status: String,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    pub status_reason: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub message: String,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Timestamp>)]
    pub sent_at: Option<NaiveDateTime>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Timestamp>)]
    pub next_attempt_at: Option<NaiveDateTime>,
}

#[derive(diesel::QueryableByName)]
struct Id {
    #[diesel(sql_type = diesel::sql_types::Text)]
    id: String,
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

#[derive(diesel::QueryableByName)]
struct Integrity {
    #[diesel(sql_type = diesel::sql_types::Text)]
    integrity_check: String,
}

/// Statuses that no longer change by dispatch.
pub const FINAL: [&str; 5] = ["sent", "delivered", "read", "failed", "cancelled"];
/// Statuses a provider has taken the message in.
pub const SENT: [&str; 3] = ["sent", "delivered", "read"];

/// `('a', 'b', …)` of ids the harness made or read: uuids, no quotes in them.
fn list(items: &[String]) -> String {
    let quoted: Vec<String> = items
        .iter()
        .map(|item| format!("'{}'", item.replace('\'', "''")))
        .collect();
    format!("({})", quoted.join(", "))
}

impl Probe {
    pub fn pg(url: &str) -> anyhow::Result<Self> {
        Ok(Self::Pg(
            PgConnection::establish(url).context("cannot open the probe connection")?,
        ))
    }

    pub fn sqlite(path: &str) -> anyhow::Result<Self> {
        let mut conn =
            SqliteConnection::establish(path).with_context(|| format!("cannot open {path}"))?;
        conn.batch_execute("PRAGMA busy_timeout = 10000;")?;
        Ok(Self::Sqlite(conn))
    }

    fn load<T>(&mut self, query: SqlQuery) -> anyhow::Result<Vec<T>>
    where
        T: QueryableByName<Pg> + QueryableByName<Sqlite> + 'static,
    {
        Ok(match self {
            Self::Pg(conn) => query.load(conn)?,
            Self::Sqlite(conn) => query.load(conn)?,
        })
    }

    pub fn rows(&mut self, filter: &str) -> anyhow::Result<Vec<Row>> {
        self.load(diesel::sql_query(format!(
            "SELECT id, user_id, status, status_reason, message, sent_at, next_attempt_at \
             FROM communications {filter}"
        )))
    }

    /// Communications not yet final.
    pub fn pending(&mut self) -> anyhow::Result<i64> {
        let counts: Vec<Count> = self.load(diesel::sql_query(
            "SELECT count(*) AS n FROM communications WHERE status IN ('not_sent', 'booked')",
        ))?;
        Ok(counts.first().map_or(0, |c| c.n))
    }

    /// Which of `ids` a provider has taken, as the database records it.
    pub fn sent_among(&mut self, ids: &[String]) -> anyhow::Result<HashSet<String>> {
        let mut sent = HashSet::new();
        for chunk in ids.chunks(500) {
            let rows: Vec<Id> = self.load(diesel::sql_query(format!(
                "SELECT id FROM communications WHERE status IN ('sent', 'delivered', 'read') AND id IN {}",
                list(chunk)
            )))?;
            sent.extend(rows.into_iter().map(|r| r.id));
        }
        Ok(sent)
    }

    /// Every communication recorded as sent.
    pub fn all_sent(&mut self) -> anyhow::Result<HashSet<String>> {
        let rows: Vec<Id> = self.load(diesel::sql_query(
            "SELECT id FROM communications WHERE status IN ('sent', 'delivered', 'read')",
        ))?;
        Ok(rows.into_iter().map(|r| r.id).collect())
    }

    /// Which of the `messages` texts are stored.
    pub fn stored_messages(&mut self, messages: &[String]) -> anyhow::Result<HashSet<String>> {
        #[derive(diesel::QueryableByName)]
        struct Message {
            #[diesel(sql_type = diesel::sql_types::Text)]
            message: String,
        }
        let mut stored = HashSet::new();
        for chunk in messages.chunks(500) {
            let rows: Vec<Message> = self.load(diesel::sql_query(format!(
                "SELECT message FROM communications WHERE message IN {}",
                list(chunk)
            )))?;
            stored.extend(rows.into_iter().map(|r| r.message));
        }
        Ok(stored)
    }

    /// `PRAGMA integrity_check` (SQLite): `ok`, or what it found.
    pub fn integrity_check(&mut self) -> anyhow::Result<String> {
        let rows: Vec<Integrity> = self.load(diesel::sql_query("PRAGMA integrity_check"))?;
        Ok(rows
            .into_iter()
            .map(|r| r.integrity_check)
            .collect::<Vec<_>>()
            .join("; "))
    }
}
