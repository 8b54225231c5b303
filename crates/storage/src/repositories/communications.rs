//! Communications and their history, and the changes made under a client's
//! lock. Every write derives the queue columns from the domain: `due_at` from
//! `Communication::due_at`, `counted_at` from `Communication::counted_at`.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use omnichannel_domain::ports::{
    BulkInsert, ClientDecision, ClientWrite, CommunicationFilter, CommunicationRepository,
    GroupInsert, Page, Paged, RepoError,
};
use omnichannel_domain::{
    ApiKeyId, Communication, CommunicationId, CommunicationStatus, DepartmentId, Event, UserId,
};

use super::bulk::{bulk_rows, write_rows};
use super::client_lock::lock_client;
use super::dispatch_queue::DISPATCH_CHANNEL;
use super::dispatch_queue::notify_dispatch;
use super::group_insert;
use super::policy_snapshot::load_snapshot;
use super::{limit_offset, paged};
use crate::connection::{DbConnection, MultiBackend};
use crate::error::{Abort, unexpected, write_error};
use crate::mapping::{db_id, db_time, db_time_opt};
use crate::rows::{CommunicationRow, EventRow, NewCommunicationRow, NewEventRow, QueuedRow};
use crate::schema::{api_keys, communication_events, communications};
use crate::store::Store;

fn matching(filter: &CommunicationFilter) -> communications::BoxedQuery<'static, MultiBackend> {
    let mut query = communications::table.into_boxed();
    if let Some(status) = filter.status {
        query = query.filter(communications::status.eq(status.as_str()));
    }
    if let Some(id) = filter.user_id {
        query = query.filter(communications::user_id.eq(db_id(id)));
    }
    if let Some(id) = filter.department_id {
        query = query.filter(communications::department_id.eq(db_id(id)));
    }
    if let Some(id) = filter.type_id {
        query = query.filter(communications::communication_type_id.eq(db_id(id)));
    }
    if let Some(id) = filter.source_id {
        query = query.filter(communications::communication_source_id.eq(db_id(id)));
    }
    if let Some(id) = filter.batch_id {
        query = query.filter(communications::batch_id.eq(db_id(id)));
    }
    if let Some(from) = filter.from {
        query = query.filter(communications::communication_date.ge(db_time(from)));
    }
    if let Some(to) = filter.to {
        query = query.filter(communications::communication_date.lt(db_time(to)));
    }
    query
}

/// Appends `events` in one statement. The multi-backend connection has no
/// batch insert, so each dialect runs the same statement on its own
/// connection.
pub(super) fn append_events(conn: &mut DbConnection, events: &[Event]) -> QueryResult<()> {
    if events.is_empty() {
        return Ok(());
    }
    let rows: Vec<NewEventRow> = events.iter().map(NewEventRow::from_domain).collect();
    let insert = diesel::insert_into(communication_events::table).values(&rows);
    match conn {
        DbConnection::Sqlite(conn) => insert.execute(conn),
        DbConnection::Pg(conn) => insert.execute(conn),
    }
    .map(drop)
}

/// Stores `item` with `events`; wakes the workers when it is queued.
fn insert_communication(
    conn: &mut DbConnection,
    item: &Communication,
    events: &[Event],
) -> Result<(), Abort> {
    let row = NewCommunicationRow::from_domain(item)?;
    diesel::insert_into(communications::table)
        .values(&row)
        .execute(conn)
        .map_err(|e| write_error(e, |_| "id"))?;
    append_events(conn, events)?;
    if row.due_at.is_some() {
        notify_dispatch(conn)?;
    }
    Ok(())
}

/// Writes every column of `item`, queued and counted as its state says and
/// held by no worker, and appends `events`, if the stored row still has the
/// status `expected` and no live lease at `now` (when given); `false` when it
/// has not. Wakes the workers when it is queued.
fn update_communication(
    conn: &mut DbConnection,
    item: &Communication,
    events: &[Event],
    only_if: Option<(CommunicationStatus, DateTime<Utc>)>,
) -> Result<bool, Abort> {
    let row = CommunicationRow::from_domain(item)?;
    let due_at = db_time_opt(item.due_at());
    let mut update = diesel::update(communications::table)
        .filter(communications::id.eq(row.id.clone()))
        .set((
            &row,
            communications::due_at.eq(due_at),
            communications::counted_at.eq(db_time_opt(item.counted_at())),
            communications::lease_id.eq(None::<String>),
            communications::lease_until.eq(None::<NaiveDateTime>),
        ))
        .into_boxed::<MultiBackend>();
    if let Some((expected, now)) = only_if {
        update = update
            .filter(communications::status.eq(expected.as_str()))
            .filter(
                communications::lease_until
                    .is_null()
                    .or(communications::lease_until.le(db_time(now))),
            );
    }
    if update.execute(conn).map_err(|e| write_error(e, |_| "id"))? == 0 {
        return Ok(false);
    }
    append_events(conn, events)?;
    if due_at.is_some() {
        notify_dispatch(conn)?;
    }
    Ok(true)
}

/// The stored `id` if it is a communication of `user_id`, locked until the
/// transaction ends on PostgreSQL (a worker's completion waits for the change).
fn load_current(
    conn: &mut DbConnection,
    id: CommunicationId,
    user_id: UserId,
) -> QueryResult<Option<QueuedRow>> {
    let query = communications::table
        .find(db_id(id))
        .filter(communications::user_id.eq(db_id(user_id)));
    match conn {
        DbConnection::Pg(conn) => query
            .select(QueuedRow::as_select())
            .for_update()
            .first(conn)
            .optional(),
        DbConnection::Sqlite(conn) => query.select(QueuedRow::as_select()).first(conn).optional(),
    }
}

/// A write under the lock of `user_id` that concerns another client, or (an
/// update) another communication than `current`, would escape the lock.
fn check_under_lock(
    write: &ClientWrite,
    user_id: UserId,
    current: Option<CommunicationId>,
) -> Result<(), RepoError> {
    let (item, allowed) = match write {
        ClientWrite::Insert(item, _) => (item, true),
        ClientWrite::Update(item, _) => (item, current == Some(item.id)),
    };
    if item.user_id == user_id && allowed {
        Ok(())
    } else {
        Err(unexpected(anyhow::anyhow!(
            "communication {} cannot be written under the lock of client {user_id}",
            item.id
        )))
    }
}

/// Why a group insert rolled back.
enum GroupAbort {
    Revoked(Vec<ApiKeyId>),
    Failed(DieselError),
}

impl From<DieselError> for GroupAbort {
    fn from(error: DieselError) -> Self {
        Self::Failed(error)
    }
}

impl CommunicationRepository for Store {
    /// Wakes the workers of every instance (PostgreSQL `NOTIFY` on
    /// [`DISPATCH_CHANNEL`](super::DISPATCH_CHANNEL)) when the communication
    /// is queued.
    fn insert(&self, communication: &Communication, events: &[Event]) -> Result<(), RepoError> {
        self.with_conn(|conn| {
            conn.transaction(|conn| insert_communication(conn, communication, events))
                .map_err(|Abort(e)| e)
        })
    }

    /// PostgreSQL: one statement, committed by itself, for any size of group
    /// (see `group_insert`); it notifies the workers. SQLite: the keys that are still active, one
    /// multi-row `INSERT` of the communications and one of their events
    /// (per 1 000), in one transaction. Read committed: a revocation
    /// committed before the group is stored is seen. A missing reference is
    /// found by the foreign keys.
    fn insert_group(
        &self,
        group: &BulkInsert,
        keys: &[ApiKeyId],
    ) -> Result<GroupInsert, RepoError> {
        let ids = group_insert::key_ids(keys);
        let revoked = |active: &[String]| -> Vec<ApiKeyId> {
            keys.iter()
                .zip(&ids)
                .filter(|(_, id)| !active.contains(id))
                .map(|(&key, _)| key)
                .collect()
        };
        let outcome = self.with_conn(|conn| {
            Ok(match conn {
                DbConnection::Pg(pg) => {
                    let rows = group_insert::rows(&group.communications)?;
                    let events: Vec<NewEventRow> =
                        group.events.iter().map(NewEventRow::from_domain).collect();
                    group_insert::insert_group(pg, &rows, &events, &ids, DISPATCH_CHANNEL)
                        .map_err(GroupAbort::Failed)
                        .and_then(|active| {
                            let revoked = revoked(&active);
                            if revoked.is_empty() {
                                Ok(())
                            } else {
                                Err(GroupAbort::Revoked(revoked))
                            }
                        })
                }
                DbConnection::Sqlite(_) => {
                    let rows = bulk_rows(&group.communications)?;
                    conn.immediate_transaction(|conn| {
                        if !ids.is_empty() {
                            let active: Vec<String> = api_keys::table
                                .filter(api_keys::id.eq_any(&ids))
                                .filter(api_keys::revoked_at.is_null())
                                .select(api_keys::id)
                                .load(conn)?;
                            let revoked = revoked(&active);
                            if !revoked.is_empty() {
                                return Err(GroupAbort::Revoked(revoked));
                            }
                        }
                        write_rows(conn, &rows, &group.events)?;
                        Ok(())
                    })
                }
            })
        })?;
        match outcome {
            Ok(()) => Ok(GroupInsert::Stored),
            Err(GroupAbort::Revoked(keys)) => Ok(GroupInsert::Revoked(keys)),
            Err(GroupAbort::Failed(DieselError::DatabaseError(
                DatabaseErrorKind::ForeignKeyViolation,
                _,
            ))) => Ok(GroupInsert::MissingReference),
            Err(GroupAbort::Failed(error)) => Err(write_error(error, |_| "id")),
        }
    }

    fn get(&self, id: CommunicationId) -> Result<Option<Communication>, RepoError> {
        let row = self.with_conn(|conn| {
            communications::table
                .find(db_id(id))
                .select(CommunicationRow::as_select())
                .first(conn)
                .optional()
                .map_err(unexpected)
        })?;
        row.map(CommunicationRow::into_domain).transpose()
    }

    fn find_by_provider_message_id(
        &self,
        provider_message_id: &str,
    ) -> Result<Option<Communication>, RepoError> {
        let row = self.with_conn(|conn| {
            communications::table
                .filter(communications::provider_message_id.eq(provider_message_id))
                .order((communications::created_at.desc(), communications::id.desc()))
                .select(CommunicationRow::as_select())
                .first(conn)
                .optional()
                .map_err(unexpected)
        })?;
        row.map(CommunicationRow::into_domain).transpose()
    }

    /// In the order they were appended.
    fn events(&self, id: CommunicationId) -> Result<Vec<Event>, RepoError> {
        let rows = self.with_conn(|conn| {
            communication_events::table
                .filter(communication_events::communication_id.eq(db_id(id)))
                .order(communication_events::id)
                .select(EventRow::as_select())
                .load(conn)
                .map_err(unexpected)
        })?;
        rows.into_iter().map(EventRow::into_domain).collect()
    }

    /// Newest first by `created_at`, then by id.
    fn list(
        &self,
        filter: &CommunicationFilter,
        page: Page,
    ) -> Result<Paged<Communication>, RepoError> {
        let (limit, offset) = limit_offset(page);
        let fetched = self.with_conn(|conn| {
            Ok(conn.transaction(|conn| {
                let total = matching(filter).count().get_result::<i64>(conn)?;
                let rows = matching(filter)
                    .order((communications::created_at.desc(), communications::id.desc()))
                    .limit(limit)
                    .offset(offset)
                    .select(CommunicationRow::as_select())
                    .load(conn)?;
                Ok((total, rows))
            }))
        })?;
        paged(fetched, CommunicationRow::into_domain)
    }

    /// Releases the lease of an expired worker: a completion under it writes
    /// nothing afterwards.
    fn update_if(
        &self,
        communication: &Communication,
        expected: CommunicationStatus,
        now: DateTime<Utc>,
        events: &[Event],
    ) -> Result<bool, RepoError> {
        self.with_conn(|conn| {
            conn.transaction(|conn| {
                update_communication(conn, communication, events, Some((expected, now)))
            })
            .map_err(|Abort(e)| e)
        })
    }

    /// `current` is looked for among the communications of `user_id` only.
    /// An insert must be of that client and an update must be of `current`;
    /// anything else is refused as unexpected, since the lock would not cover
    /// it.
    fn decide_for_client<'a>(
        &self,
        user_id: UserId,
        department_id: DepartmentId,
        current: Option<CommunicationId>,
        now: DateTime<Utc>,
        decide: &mut ClientDecision<'a>,
    ) -> Result<(), RepoError> {
        let exclude: Vec<String> = current.map(db_id).into_iter().collect();
        self.with_conn(|conn| {
            conn.immediate_transaction(|conn| {
                lock_client(conn, user_id)?;
                let snapshot = load_snapshot(conn, &[(user_id, department_id)], now, &exclude)?;
                let stored = match current {
                    Some(id) => load_current(conn, id, user_id)?
                        .map(|row| row.into_stored(now))
                        .transpose()?,
                    None => None,
                };
                let Some(write) = decide(&snapshot, stored.as_ref()) else {
                    return Ok(());
                };
                check_under_lock(&write, user_id, stored.as_ref().map(|s| s.communication.id))?;
                match write {
                    ClientWrite::Insert(item, events) => insert_communication(conn, &item, &events),
                    ClientWrite::Update(item, events) => {
                        update_communication(conn, &item, &events, None).map(drop)
                    }
                }
            })
            .map_err(|Abort(e)| e)
        })
    }
}
