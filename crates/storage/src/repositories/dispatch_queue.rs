//! The dispatch queue: the `communications` rows with a `due_at`, claimed
//! under a lease and completed under it.
//!
//! A reserved communication is due again when its lease ends (`due_at =
//! lease_until`): a worker that crashed loses nothing, another takes it over
//! then, and `next_due` never answers a moment at which nothing can be claimed.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::Text;
use omnichannel_domain::ports::{Claim, DispatchQueue, Outcome, Planner, RepoError, Step};
use omnichannel_domain::{CommunicationId, CommunicationStatus, Event, StatusReason};
use uuid::Uuid;

use super::bound_sql::{BoundSql, Value};
use super::client_lock::try_lock_clients;
use super::communications::append_events;
use super::policy_snapshot::load_snapshot;
use crate::connection::DbConnection;
use crate::error::{Abort, unexpected};
use crate::mapping::{db_count, db_id, db_time, domain_time};
use crate::rows::QueuedRow;
use crate::schema::communications;
use crate::store::Store;

/// The PostgreSQL channel notified when a communication is queued, so that
/// the workers of every instance look at the queue.
pub const DISPATCH_CHANNEL: &str = "omnichannel_dispatch";

/// Notifies [`DISPATCH_CHANNEL`] when the transaction commits (PostgreSQL);
/// nothing on SQLite, which one process serves.
pub(super) fn notify_dispatch(conn: &mut DbConnection) -> QueryResult<()> {
    match conn {
        DbConnection::Pg(conn) => diesel::sql_query("SELECT pg_notify($1, '')")
            .bind::<Text, _>(DISPATCH_CHANNEL)
            .execute(conn)
            .map(drop),
        DbConnection::Sqlite(_) => Ok(()),
    }
}

const NOT_SENT: &str = CommunicationStatus::NotSent.as_str();
const RETRYING: &str = StatusReason::Retrying.as_str();

/// Up to `limit` communications due at `now` that no live lease holds, the
/// earliest first (then by id); on PostgreSQL locked, skipping those another
/// transaction holds.
fn load_due(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    limit: u32,
) -> QueryResult<Vec<QueuedRow>> {
    let query = communications::table
        .filter(communications::due_at.le(now))
        .filter(
            communications::lease_until
                .is_null()
                .or(communications::lease_until.le(now)),
        )
        .order((communications::due_at, communications::id))
        .limit(i64::from(limit));
    match conn {
        DbConnection::Pg(conn) => query
            .select(QueuedRow::as_select())
            .for_update()
            .skip_locked()
            .load(conn),
        DbConnection::Sqlite(conn) => query.select(QueuedRow::as_select()).load(conn),
    }
}

/// The steps of one claim, grouped by the values they write.
#[derive(Default)]
struct StepWrites {
    /// By channel and reserved moment.
    reserve: BTreeMap<(String, NaiveDateTime), Vec<String>>,
    /// By moment and reason.
    defer: BTreeMap<(NaiveDateTime, &'static str), Vec<String>>,
    /// By moment and reason.
    fail: BTreeMap<(NaiveDateTime, &'static str), Vec<String>>,
    events: Vec<Event>,
}

impl StepWrites {
    /// Groups `steps`, each of which must be about one of `claims`, once.
    fn group(claims: &[Claim], steps: Vec<Step>) -> Result<Self, RepoError> {
        let mut unplanned: HashSet<_> = claims.iter().map(|c| c.communication.id).collect();
        let mut writes = Self::default();
        for step in steps {
            let id = match &step {
                Step::Reserve { id, .. } | Step::Defer { id, .. } | Step::Fail { id, .. } => *id,
            };
            if !unplanned.remove(&id) {
                return Err(unexpected(anyhow::anyhow!(
                    "a dispatch step is about communication {id}, which the claim does not hold \
                     or another step is about"
                )));
            }
            let (ids, events) = match step {
                Step::Reserve {
                    channel,
                    at,
                    events,
                    ..
                } => (
                    writes
                        .reserve
                        .entry((db_id(channel), db_time(at)))
                        .or_default(),
                    events,
                ),
                Step::Defer {
                    until,
                    reason,
                    events,
                    ..
                } => (
                    writes
                        .defer
                        .entry((db_time(until), reason.as_str()))
                        .or_default(),
                    events,
                ),
                Step::Fail {
                    at, reason, events, ..
                } => (
                    writes
                        .fail
                        .entry((db_time(at), reason.as_str()))
                        .or_default(),
                    events,
                ),
            };
            ids.push(db_id(id));
            writes.events.extend(events);
        }
        Ok(writes)
    }

    /// One `UPDATE` per group and one `INSERT` of every event.
    fn write(
        self,
        conn: &mut DbConnection,
        lease: Uuid,
        lease_until: NaiveDateTime,
        now: NaiveDateTime,
    ) -> QueryResult<()> {
        use communications::dsl as c;
        for ((channel, at), ids) in self.reserve {
            diesel::update(c::communications.filter(c::id.eq_any(ids)))
                .set((
                    c::status.eq(NOT_SENT),
                    c::status_reason.eq(None::<String>),
                    c::communication_source_id.eq(Some(channel)),
                    c::next_attempt_at.eq(None::<NaiveDateTime>),
                    c::counted_at.eq(Some(at)),
                    c::due_at.eq(Some(lease_until)),
                    c::lease_id.eq(Some(db_id(lease))),
                    c::lease_until.eq(Some(lease_until)),
                    c::updated_at.eq(at),
                ))
                .execute(conn)?;
        }
        for ((until, reason), ids) in self.defer {
            diesel::update(c::communications.filter(c::id.eq_any(ids)))
                .set((
                    c::status.eq(NOT_SENT),
                    c::status_reason.eq(Some(reason)),
                    c::next_attempt_at.eq(Some(until)),
                    c::counted_at.eq(None::<NaiveDateTime>),
                    c::due_at.eq(Some(until)),
                    c::lease_id.eq(None::<String>),
                    c::lease_until.eq(None::<NaiveDateTime>),
                    c::updated_at.eq(now),
                ))
                .execute(conn)?;
        }
        for ((at, reason), ids) in self.fail {
            diesel::update(c::communications.filter(c::id.eq_any(ids)))
                .set((
                    c::status.eq(CommunicationStatus::Failed.as_str()),
                    c::status_reason.eq(Some(reason)),
                    c::next_attempt_at.eq(None::<NaiveDateTime>),
                    c::counted_at.eq(None::<NaiveDateTime>),
                    c::due_at.eq(None::<NaiveDateTime>),
                    c::lease_id.eq(None::<String>),
                    c::lease_until.eq(None::<NaiveDateTime>),
                    c::updated_at.eq(at),
                ))
                .execute(conn)?;
        }
        append_events(conn, &self.events)
    }
}

/// The most rows one completion statement writes: its values stay far below
/// the placeholders a statement may have (32766 on SQLite, 65535 on
/// PostgreSQL).
const ROWS_PER_STATEMENT: usize = 1000;

/// The kinds of outcome, each written by its own statement.
#[derive(Clone, Copy)]
enum Kind {
    Sent,
    Retry,
    GiveUpChannel,
}

impl Kind {
    const ALL: [Self; 3] = [Self::Sent, Self::Retry, Self::GiveUpChannel];

    /// Appends the `SET` list of the kind's statement, in which `v.column2`,
    /// `v.column3` are the values each row carries after its id.
    fn set(self, sql: &mut BoundSql) {
        match self {
            // Values: the provider's message id.
            Self::Sent => sql
                .sql("status = ")
                .value(Value::Text(Some(
                    CommunicationStatus::Sent.as_str().to_owned(),
                )))
                .sql(
                    ", status_reason = NULL, sent_at = communications.counted_at, \
                     provider_message_id = v.column2, attempts = communications.attempts + 1, \
                     next_attempt_at = NULL, due_at = NULL",
                ),
            // Values: the next attempt, the calls on the channel.
            Self::Retry => sql
                .sql("status_reason = ")
                .value(Value::Text(Some(RETRYING.to_owned())))
                .sql(
                    ", attempts = communications.attempts + 1, channel_attempts = v.column3, \
                     next_attempt_at = v.column2, due_at = v.column2, counted_at = NULL",
                ),
            // Values: the channel given up on, the next attempt.
            Self::GiveUpChannel => sql.sql(
                "status_reason = NULL, attempts = communications.attempts + 1, \
                 given_up = CASE WHEN communications.given_up = '' THEN v.column2 \
                 ELSE communications.given_up || ' ' || v.column2 END, \
                 channel_attempts = 0, next_attempt_at = v.column3, due_at = v.column3, \
                 counted_at = NULL",
            ),
        };
        sql.sql(", lease_id = NULL, lease_until = NULL");
    }
}

/// One outcome: the row it writes, the values of that row, and the events
/// it appends if the row is written.
struct Completion<'a> {
    id: String,
    values: Vec<Value>,
    events: &'a [Event],
}

/// The outcomes of one kind under one lease, one per communication.
#[derive(Default)]
struct Completions<'a> {
    ids: HashSet<String>,
    rows: Vec<Completion<'a>>,
}

impl<'a> Completions<'a> {
    /// Adds `completion` unless an earlier outcome of the kind is about the
    /// same communication: that one is written, and releases the lease this
    /// one would need.
    fn push(&mut self, completion: Completion<'a>) {
        if self.ids.insert(completion.id.clone()) {
            self.rows.push(completion);
        }
    }
}

/// The outcomes of one completion, by lease and by kind: whatever their
/// values, the outcomes of one kind under one lease are one statement (one
/// per [`ROWS_PER_STATEMENT`] rows).
#[derive(Default)]
struct OutcomeWrites<'a> {
    /// By lease, then in the order of [`Kind::ALL`].
    leases: BTreeMap<String, [Completions<'a>; 3]>,
    /// When the rows are written, as far as the store knows: the latest
    /// moment of the completion's events; `None` leaves `updated_at` as it is.
    updated_at: Option<NaiveDateTime>,
}

/// A row an `UPDATE … RETURNING` wrote.
#[derive(QueryableByName)]
struct Written {
    #[diesel(sql_type = Text)]
    id: String,
}

impl<'a> OutcomeWrites<'a> {
    fn group(outcomes: &'a [Outcome]) -> Result<Self, RepoError> {
        let mut writes = Self::default();
        for outcome in outcomes {
            let (kind, id, lease, values, events) = match outcome {
                Outcome::Sent {
                    id,
                    lease,
                    provider_message_id,
                    events,
                } => (
                    Kind::Sent,
                    id,
                    lease,
                    vec![Value::Text(provider_message_id.clone())],
                    events,
                ),
                Outcome::Retry {
                    id,
                    lease,
                    at,
                    channel_attempts,
                    events,
                } => (
                    Kind::Retry,
                    id,
                    lease,
                    vec![
                        Value::Time(db_time(*at)),
                        Value::Int(db_count(*channel_attempts)?),
                    ],
                    events,
                ),
                Outcome::GiveUpChannel {
                    id,
                    lease,
                    channel,
                    at,
                    events,
                } => (
                    Kind::GiveUpChannel,
                    id,
                    lease,
                    vec![
                        Value::Text(Some(db_id(*channel))),
                        Value::Time(db_time(*at)),
                    ],
                    events,
                ),
            };
            let latest = events.iter().map(|event| db_time(event.at)).max();
            writes.updated_at = writes.updated_at.max(latest);
            writes.leases.entry(db_id(*lease)).or_default()[kind as usize].push(Completion {
                id: db_id(*id),
                values,
                events,
            });
        }
        Ok(writes)
    }

    /// Per lease and kind, one `UPDATE … FROM (VALUES …) RETURNING id` that
    /// writes only where the lease still holds; then one `INSERT` of the
    /// events of the outcomes written.
    fn write(self, conn: &mut DbConnection) -> QueryResult<()> {
        let mut events = Vec::new();
        for (lease, kinds) in &self.leases {
            for (kind, completions) in Kind::ALL.into_iter().zip(kinds) {
                for rows in completions.rows.chunks(ROWS_PER_STATEMENT) {
                    let written = update(conn, kind, rows, lease, self.updated_at)?;
                    for row in rows {
                        if written.contains(&row.id) {
                            events.extend_from_slice(row.events);
                        }
                    }
                }
            }
        }
        append_events(conn, &events)
    }
}

/// Writes `rows`, outcomes of `kind`, where `lease` still holds them, in one
/// statement; answers the ids written.
fn update(
    conn: &mut DbConnection,
    kind: Kind,
    rows: &[Completion<'_>],
    lease: &str,
    updated_at: Option<NaiveDateTime>,
) -> QueryResult<HashSet<String>> {
    let mut sql = BoundSql::new(conn);
    sql.sql("UPDATE communications SET ");
    kind.set(&mut sql);
    if let Some(at) = updated_at {
        sql.sql(", updated_at = ").value(Value::Time(at));
    }
    sql.sql(" FROM (VALUES ");
    for (i, row) in rows.iter().enumerate() {
        sql.sql(if i == 0 { "(" } else { ", (" })
            .value(Value::Text(Some(row.id.clone())));
        for value in &row.values {
            sql.sql(", ").value(value.clone());
        }
        sql.sql(")");
    }
    sql.sql(") AS v WHERE communications.id = v.column1 AND communications.lease_id = ")
        .value(Value::Text(Some(lease.to_owned())))
        // Named, so that both backends call the column `id`.
        .sql(" RETURNING communications.id AS id");
    let written: Vec<Written> = sql.load(conn)?;
    Ok(written.into_iter().map(|row| row.id).collect())
}

impl DispatchQueue for Store {
    /// Nothing is written, and `plan` is not called, when nothing can be
    /// claimed. A step must be about a claimed communication, at most one
    /// per communication; a claimed one without a step stays as it was. A
    /// `booked` one that `Reserve` or `Defer` is about becomes `not_sent`.
    fn claim<'a>(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
        plan: &mut Planner<'a>,
    ) -> Result<usize, RepoError> {
        if limit == 0 {
            return Ok(0);
        }
        let lease = Uuid::now_v7();
        let (now_db, lease_until_db) = (db_time(now), db_time(lease_until));
        self.with_conn(|conn| {
            conn.immediate_transaction(|conn| {
                let due = load_due(conn, now_db, limit)?;
                if due.is_empty() {
                    return Ok(0);
                }
                let mut claims = due
                    .into_iter()
                    .map(|row| row.into_claim(lease))
                    .collect::<Result<Vec<_>, _>>()?;
                let locked =
                    try_lock_clients(conn, claims.iter().map(|c| c.communication.user_id))?;
                claims.retain(|c| locked.contains(&c.communication.user_id));
                if claims.is_empty() {
                    return Ok(0);
                }
                let pairs: Vec<_> = claims
                    .iter()
                    .map(|c| (c.communication.user_id, c.communication.department_id))
                    .collect::<HashSet<_>>()
                    .into_iter()
                    .collect();
                let claimed: Vec<String> =
                    claims.iter().map(|c| db_id(c.communication.id)).collect();
                let snapshot = load_snapshot(conn, &pairs, now, &claimed)?;
                let steps = plan(&claims, &snapshot);
                StepWrites::group(&claims, steps)?.write(conn, lease, lease_until_db, now_db)?;
                Ok(claims.len())
            })
            .map_err(|Abort(e)| e)
        })
    }

    /// In one transaction; an outcome whose lease was taken over or released
    /// writes nothing, its events included.
    fn complete(&self, outcomes: &[Outcome]) -> Result<(), RepoError> {
        if outcomes.is_empty() {
            return Ok(());
        }
        let writes = OutcomeWrites::group(outcomes)?;
        self.with_conn(|conn| {
            conn.transaction(|conn| writes.write(conn))
                .map_err(unexpected)
        })
    }

    /// In one transaction, one `UPDATE` per lease; a communication whose
    /// lease was taken over, completed or released is left as it is.
    fn release(
        &self,
        leases: &[(CommunicationId, Uuid)],
        now: DateTime<Utc>,
    ) -> Result<(), RepoError> {
        use communications::dsl as c;
        if leases.is_empty() {
            return Ok(());
        }
        let mut by_lease: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (id, lease) in leases {
            by_lease.entry(db_id(*lease)).or_default().push(db_id(*id));
        }
        let now = db_time(now);
        self.with_conn(|conn| {
            conn.transaction(|conn| {
                for (lease, ids) in &by_lease {
                    for ids in ids.chunks(ROWS_PER_STATEMENT) {
                        diesel::update(
                            c::communications
                                .filter(c::id.eq_any(ids))
                                .filter(c::lease_id.eq(lease)),
                        )
                        .set((
                            c::counted_at.eq(None::<NaiveDateTime>),
                            c::due_at.eq(Some(now)),
                            c::lease_id.eq(None::<String>),
                            c::lease_until.eq(None::<NaiveDateTime>),
                            c::updated_at.eq(now),
                        ))
                        .execute(conn)?;
                    }
                }
                notify_dispatch(conn)
            })
            .map_err(unexpected)
        })
    }

    /// A reserved communication is due when its lease ends.
    fn next_due(&self) -> Result<Option<DateTime<Utc>>, RepoError> {
        let earliest = self.with_conn(|conn| {
            communications::table
                .filter(communications::due_at.is_not_null())
                .order(communications::due_at)
                .select(communications::due_at)
                .first::<Option<NaiveDateTime>>(conn)
                .optional()
                .map_err(unexpected)
        })?;
        Ok(earliest.flatten().map(domain_time))
    }
}
