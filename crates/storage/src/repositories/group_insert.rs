//! The group commit of sends on PostgreSQL in one statement: the check of the
//! API keys, the communications and their events, committed by themselves —
//! one round trip (and one wait for the disk) per group, as a single-row
//! `INSERT` costs. SQLite, in the process, writes the same in a transaction.

use chrono::NaiveDateTime;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{Array, Bool, Integer, Nullable, Text, Timestamp, Untyped};
use omnichannel_domain::ports::RepoError;

use crate::mapping::db_id;
use crate::rows::{CommunicationRow, NewCommunicationRow, NewEventRow};

/// Each column of the group as one array parameter, whatever its size. The
/// last `SELECT` reads `woken`, so that the notification is made.
const STATEMENT: &str = "\
WITH active AS (
    SELECT id FROM api_keys WHERE id = ANY($1) AND revoked_at IS NULL
), allowed AS (
    SELECT count(*) = cardinality($1::text[]) AS ok FROM active
), stored AS (
    INSERT INTO communications (
        id, department_id, user_id, communication_type_id, requested_source_id,
        communication_source_id, communication_date, status, status_reason, message,
        sent_at, delivered_at, read_at, attempts, next_attempt_at,
        provider_message_id, batch_id, created_at, updated_at, due_at,
        counted_at
    )
    SELECT * FROM unnest(
        $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
        $7::text[], $8::timestamp[], $9::text[], $10::text[], $11::text[],
        $12::timestamp[], $13::timestamp[], $14::timestamp[], $15::integer[], $16::timestamp[],
        $17::text[], $18::text[], $19::timestamp[], $20::timestamp[], $21::timestamp[],
        $22::timestamp[]
    )
    WHERE (SELECT ok FROM allowed)
), logged AS (
    INSERT INTO communication_events (communication_id, at, kind, channel, detail, until, reason)
    SELECT * FROM unnest(
        $23::text[], $24::timestamp[], $25::text[], $26::text[], $27::text[],
        $28::timestamp[], $29::text[]
    )
    WHERE (SELECT ok FROM allowed)
), woken AS (
    SELECT pg_notify($30, '') FROM allowed WHERE ok AND $31
)
SELECT ARRAY(SELECT id FROM active) AS active, (SELECT count(*) FROM woken) AS woken";

#[derive(QueryableByName)]
struct Answer {
    #[diesel(sql_type = Array<Text>)]
    active: Vec<String>,
}

/// One parameter of [`STATEMENT`].
enum Param {
    Texts(Vec<String>),
    OptionalTexts(Vec<Option<String>>),
    Times(Vec<NaiveDateTime>),
    OptionalTimes(Vec<Option<NaiveDateTime>>),
    Integers(Vec<i32>),
    Text(String),
    Bool(bool),
}

/// [`STATEMENT`] with its parameters, as a query type of its own with a
/// static query id: diesel prepares it once per connection and keeps it,
/// where a raw `sql_query` is parsed and planned on every call.
struct GroupStatement {
    /// `$1`, `$2`, … in order.
    params: Vec<Param>,
}

impl QueryId for GroupStatement {
    type QueryId = Self;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl Query for GroupStatement {
    type SqlType = Untyped;
}

impl RunQueryDsl<PgConnection> for GroupStatement {}

impl QueryFragment<Pg> for GroupStatement {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        let mut rest = STATEMENT;
        while let Some(at) = rest.find('$') {
            out.push_sql(&rest[..at]);
            let digits = rest[at + 1..]
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len() - at - 1);
            let number: usize = rest[at + 1..at + 1 + digits].parse().map_err(|_| {
                diesel::result::Error::QueryBuilderError("a $ without a number".into())
            })?;
            let param = self.params.get(number.wrapping_sub(1)).ok_or_else(|| {
                diesel::result::Error::QueryBuilderError(format!("no parameter ${number}").into())
            })?;
            match param {
                Param::Texts(v) => out.push_bind_param::<Array<Text>, _>(v)?,
                Param::OptionalTexts(v) => out.push_bind_param::<Array<Nullable<Text>>, _>(v)?,
                Param::Times(v) => out.push_bind_param::<Array<Timestamp>, _>(v)?,
                Param::OptionalTimes(v) => {
                    out.push_bind_param::<Array<Nullable<Timestamp>>, _>(v)?;
                }
                Param::Integers(v) => out.push_bind_param::<Array<Integer>, _>(v)?,
                Param::Text(v) => out.push_bind_param::<Text, _>(v)?,
                Param::Bool(v) => out.push_bind_param::<Bool, _>(v)?,
            }
            rest = &rest[at + 1 + digits..];
        }
        out.push_sql(rest);
        Ok(())
    }
}

/// Stores `rows` and `events` if every key of `keys` (ids as stored) is
/// active, and notifies `channel` when one of them is queued (at the
/// commit); answers the keys found active. Nothing is stored when one is
/// not.
pub(super) fn insert_group(
    conn: &mut PgConnection,
    rows: &[NewCommunicationRow],
    events: &[NewEventRow],
    keys: &[String],
    channel: &str,
) -> QueryResult<Vec<String>> {
    fn column<T>(rows: &[NewCommunicationRow], f: impl Fn(&CommunicationRow) -> T) -> Vec<T> {
        rows.iter().map(|r| f(&r.communication)).collect()
    }
    fn event<T>(events: &[NewEventRow], f: impl Fn(&NewEventRow) -> T) -> Vec<T> {
        events.iter().map(f).collect()
    }
    let queued = rows.iter().any(|row| row.due_at.is_some());
    let params = vec![
        Param::Texts(keys.to_vec()),
        Param::Texts(column(rows, |r| r.id.clone())),
        Param::Texts(column(rows, |r| r.department_id.clone())),
        Param::Texts(column(rows, |r| r.user_id.clone())),
        Param::Texts(column(rows, |r| r.communication_type_id.clone())),
        Param::OptionalTexts(column(rows, |r| r.requested_source_id.clone())),
        Param::OptionalTexts(column(rows, |r| r.communication_source_id.clone())),
        Param::Times(column(rows, |r| r.communication_date)),
        Param::Texts(column(rows, |r| r.status.clone())),
        Param::OptionalTexts(column(rows, |r| r.status_reason.clone())),
        Param::Texts(column(rows, |r| r.message.clone())),
        Param::OptionalTimes(column(rows, |r| r.sent_at)),
        Param::OptionalTimes(column(rows, |r| r.delivered_at)),
        Param::OptionalTimes(column(rows, |r| r.read_at)),
        Param::Integers(column(rows, |r| r.attempts)),
        Param::OptionalTimes(column(rows, |r| r.next_attempt_at)),
        Param::OptionalTexts(column(rows, |r| r.provider_message_id.clone())),
        Param::OptionalTexts(column(rows, |r| r.batch_id.clone())),
        Param::Times(column(rows, |r| r.created_at)),
        Param::Times(column(rows, |r| r.updated_at)),
        Param::OptionalTimes(rows.iter().map(|r| r.due_at).collect()),
        Param::OptionalTimes(rows.iter().map(|r| r.counted_at).collect()),
        Param::Texts(event(events, |e| e.communication_id.clone())),
        Param::Times(event(events, |e| e.at)),
        Param::Texts(event(events, |e| e.kind.clone())),
        Param::OptionalTexts(event(events, |e| e.channel.clone())),
        Param::OptionalTexts(event(events, |e| e.detail.clone())),
        Param::OptionalTimes(event(events, |e| e.until)),
        Param::OptionalTexts(event(events, |e| e.reason.clone())),
        Param::Text(channel.to_owned()),
        Param::Bool(queued),
    ];
    let answer: Answer = GroupStatement { params }.get_result(conn)?;
    Ok(answer.active)
}

/// The stored ids of `keys`.
pub(super) fn key_ids(keys: &[omnichannel_domain::ApiKeyId]) -> Vec<String> {
    keys.iter().map(|&id| db_id(id)).collect()
}

/// The rows of new communications, queued and counted as their state says.
pub(super) fn rows(
    communications: &[omnichannel_domain::Communication],
) -> Result<Vec<NewCommunicationRow>, RepoError> {
    communications
        .iter()
        .map(NewCommunicationRow::from_domain)
        .collect()
}
