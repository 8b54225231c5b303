//! Bulk sends: many communications in a few multi-row statements, the
//! bookings of many clients under their locks, and a batch's progress.

use std::collections::{BTreeSet, HashSet};

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::dsl::count_star;
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt};
use omnichannel_domain::ports::{
    BulkInsert, BulkRepository, BulkSendWrite, ClientsDecision, RepoError,
};
use omnichannel_domain::{
    BatchId, Communication, CommunicationStatus, DepartmentId, Event, UserId,
};
use uuid::Uuid;

use super::client_lock::client_lock_key;
use super::communications::append_events;
use super::dispatch_queue::notify_dispatch;
use super::policy_snapshot::load_snapshot;
use crate::connection::DbConnection;
use crate::error::{Abort, unexpected, write_error};
use crate::mapping::db_id;
use crate::rows::NewCommunicationRow;
use crate::schema::{communications, users};
use crate::store::Store;

/// The most rows one statement inserts or looks up: a communication has 21
/// values, so 1 000 of them stay far below the placeholders a statement may
/// have (32 766 on SQLite, 65 535 on PostgreSQL).
const ROWS_PER_STATEMENT: usize = 1_000;

/// The most clients one booking transaction locks: every advisory lock takes
/// an entry of the PostgreSQL server's shared lock table, which holds a few
/// thousand by default (`max_locks_per_transaction` × connections).
const CLIENTS_PER_TRANSACTION: usize = 1_000;

/// A new communication as one row of a multi-row `INSERT`: a missing value is
/// written as `NULL`, so that SQLite takes many rows in one statement too.
#[derive(Insertable)]
#[diesel(table_name = communications, treat_none_as_default_value = false)]
pub(super) struct BulkRow {
    id: String,
    department_id: String,
    user_id: String,
    communication_type_id: String,
    requested_source_id: Option<String>,
    communication_source_id: Option<String>,
    communication_date: NaiveDateTime,
    status: String,
    status_reason: Option<String>,
    message: String,
    sent_at: Option<NaiveDateTime>,
    delivered_at: Option<NaiveDateTime>,
    read_at: Option<NaiveDateTime>,
    attempts: i32,
    next_attempt_at: Option<NaiveDateTime>,
    provider_message_id: Option<String>,
    batch_id: Option<String>,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    due_at: Option<NaiveDateTime>,
    counted_at: Option<NaiveDateTime>,
}

impl From<NewCommunicationRow> for BulkRow {
    fn from(row: NewCommunicationRow) -> Self {
        let c = row.communication;
        Self {
            id: c.id,
            department_id: c.department_id,
            user_id: c.user_id,
            communication_type_id: c.communication_type_id,
            requested_source_id: c.requested_source_id,
            communication_source_id: c.communication_source_id,
            communication_date: c.communication_date,
            status: c.status,
            status_reason: c.status_reason,
            message: c.message,
            sent_at: c.sent_at,
            delivered_at: c.delivered_at,
            read_at: c.read_at,
            attempts: c.attempts,
            next_attempt_at: c.next_attempt_at,
            provider_message_id: c.provider_message_id,
            batch_id: c.batch_id,
            created_at: c.created_at,
            updated_at: c.updated_at,
            due_at: row.due_at,
            counted_at: row.counted_at,
        }
    }
}

/// Stores `insert` in multi-row statements, if each communication is of a
/// client `allowed` holds; wakes the workers once when one is queued.
fn insert_all(
    conn: &mut DbConnection,
    insert: &BulkInsert,
    allowed: &HashSet<UserId>,
) -> Result<(), Abort> {
    if let Some(stray) = insert
        .communications
        .iter()
        .find(|c| !allowed.contains(&c.user_id))
    {
        return Err(Abort(unexpected(anyhow::anyhow!(
            "communication {} is of client {}, whom the bulk write does not cover",
            stray.id,
            stray.user_id
        ))));
    }
    let rows = bulk_rows(&insert.communications)?;
    write_rows(conn, &rows, &insert.events).map_err(|e| Abort(write_error(e, |_| "id")))
}

/// The rows of new communications, queued and counted as their state says.
pub(super) fn bulk_rows(communications: &[Communication]) -> Result<Vec<BulkRow>, RepoError> {
    communications
        .iter()
        .map(|item| NewCommunicationRow::from_domain(item).map(BulkRow::from))
        .collect()
}

/// Stores `rows` and `events` in multi-row statements (one per 1 000 rows);
/// wakes the workers once when one is queued.
pub(super) fn write_rows(
    conn: &mut DbConnection,
    rows: &[BulkRow],
    events: &[Event],
) -> QueryResult<()> {
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let statement = diesel::insert_into(communications::table).values(chunk);
        match conn {
            DbConnection::Sqlite(conn) => statement.execute(conn),
            DbConnection::Pg(conn) => statement.execute(conn),
        }?;
    }
    for chunk in events.chunks(ROWS_PER_STATEMENT) {
        append_events(conn, chunk)?;
    }
    if rows.iter().any(|row| row.due_at.is_some()) {
        notify_dispatch(conn)?;
    }
    Ok(())
}

/// Which of `user_ids` are clients, looked up in a few statements.
fn existing_clients(conn: &mut DbConnection, user_ids: &[UserId]) -> Result<Vec<UserId>, Abort> {
    let mut found = Vec::with_capacity(user_ids.len());
    for chunk in user_ids.chunks(ROWS_PER_STATEMENT) {
        let ids: Vec<String> = chunk.iter().map(|&id| db_id(id)).collect();
        let rows: Vec<String> = users::table
            .filter(users::id.eq_any(&ids))
            .select(users::id)
            .load(conn)?;
        found.extend(
            rows.iter()
                .map(|id| user_id(id))
                .collect::<Result<Vec<_>, _>>()?,
        );
    }
    Ok(found)
}

fn user_id(stored: &str) -> Result<UserId, RepoError> {
    Uuid::parse_str(stored).map(UserId::from).map_err(|e| {
        unexpected(anyhow::anyhow!(
            "the stored users.id {stored} is invalid: {e}"
        ))
    })
}

/// Waits for the locks of `keys`, in ascending order, in one statement; held
/// until the transaction ends. Every bulk takes its locks in that one order,
/// so two bulks over the same clients wait for each other and never
/// deadlock. Nothing to take on SQLite, whose immediate transaction
/// serialises every writer.
fn lock_clients(conn: &mut DbConnection, keys: &BTreeSet<i64>) -> QueryResult<()> {
    match conn {
        // `unnest` yields the keys in the array's order, and each is locked
        // as its row is produced.
        DbConnection::Pg(conn) => {
            diesel::sql_query("SELECT pg_advisory_xact_lock(k) FROM unnest($1) AS k")
                .bind::<Array<BigInt>, _>(keys.iter().copied().collect::<Vec<_>>())
                .execute(conn)
                .map(drop)
        }
        DbConnection::Sqlite(_) => Ok(()),
    }
}

impl BulkRepository for Store {
    fn client_ids(&self, limit: u32) -> Result<Vec<UserId>, RepoError> {
        let ids: Vec<String> = self.with_conn(|conn| {
            users::table
                .select(users::id)
                .order(users::id)
                .limit(i64::from(limit))
                .load(conn)
                .map_err(unexpected)
        })?;
        ids.iter().map(|id| user_id(id)).collect()
    }

    /// The statements: the lookup of the clients (one per 1 000 ids), then
    /// one `INSERT` per 1 000 communications and one per 1 000 events.
    fn insert_for_clients<'a>(
        &self,
        user_ids: &[UserId],
        write: &mut BulkSendWrite<'a>,
    ) -> Result<(), RepoError> {
        self.with_conn(|conn| {
            conn.immediate_transaction(|conn| {
                let kept = existing_clients(conn, user_ids)?;
                let insert = write(&kept);
                insert_all(conn, &insert, &kept.into_iter().collect())
            })
            .map_err(|Abort(e)| e)
        })
    }

    /// The clients are ordered by their lock key and cut into transactions
    /// in that order; each transaction locks its clients in one statement.
    fn decide_for_clients<'a>(
        &self,
        clients: &[(UserId, DepartmentId)],
        now: DateTime<Utc>,
        decide: &mut ClientsDecision<'a>,
    ) -> Result<(), RepoError> {
        let mut ordered = clients.to_vec();
        ordered.sort_by_key(|&(user, department)| (client_lock_key(user), user, department));
        ordered.dedup();
        for chunk in ordered.chunks(CLIENTS_PER_TRANSACTION) {
            let keys: BTreeSet<i64> = chunk
                .iter()
                .map(|&(user, _)| client_lock_key(user))
                .collect();
            self.with_conn(|conn| {
                conn.immediate_transaction(|conn| {
                    lock_clients(conn, &keys)?;
                    let snapshot = load_snapshot(conn, chunk, now, &[])?;
                    let insert = decide(chunk, &snapshot);
                    let allowed = snapshot.clients.keys().map(|&(user, _)| user).collect();
                    insert_all(conn, &insert, &allowed)
                })
                .map_err(|Abort(e)| e)
            })?;
        }
        Ok(())
    }

    /// One `SELECT … GROUP BY status` through the partial index on `batch_id`.
    fn batch_counts(
        &self,
        batch_id: BatchId,
    ) -> Result<Vec<(CommunicationStatus, u64)>, RepoError> {
        let rows: Vec<(String, i64)> = self.with_conn(|conn| {
            communications::table
                .filter(communications::batch_id.eq(db_id(batch_id)))
                .group_by(communications::status)
                .select((communications::status, count_star()))
                .load(conn)
                .map_err(unexpected)
        })?;
        rows.into_iter()
            .map(|(status, count)| {
                let status = CommunicationStatus::parse(&status).map_err(|e| {
                    unexpected(anyhow::anyhow!(
                        "the stored communications.status {status} is invalid: {e}"
                    ))
                })?;
                Ok((status, u64::try_from(count).map_err(unexpected)?))
            })
            .collect()
    }
}
