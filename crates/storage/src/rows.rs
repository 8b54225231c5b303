//! Rows as the tables hold them. They never leave the crate: `mapping` turns
//! them into domain types and back.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::schema::{
    admins, api_keys, communication_events, communication_sources, communication_types,
    communications, department_rules, departments, favorite_sources, login_failures,
    refresh_tokens, settings, user_availability, users,
};

#[derive(Debug, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = users, treat_none_as_null = true)]
pub(crate) struct UserRow {
    pub id: String,
    pub first_name: String,
    pub last_name: String,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub push_token: Option<String>,
    pub external_id: Option<String>,
    pub search_text: String,
    #[diesel(skip_update)]
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = user_availability, primary_key(user_id), treat_none_as_null = true)]
pub(crate) struct AvailabilityRow {
    pub user_id: String,
    pub status: String,
    pub blocked_from: Option<NaiveDateTime>,
    pub blocked_to: Option<NaiveDateTime>,
}

#[derive(Debug, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = communication_types)]
pub(crate) struct CommunicationTypeRow {
    pub id: String,
    pub code: String,
    pub name: String,
    pub status: String,
    #[diesel(skip_update)]
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = communication_sources)]
pub(crate) struct CommunicationSourceRow {
    pub id: String,
    pub code: String,
    pub name: String,
    pub kind: String,
    pub status: String,
    #[diesel(skip_update)]
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = departments)]
pub(crate) struct DepartmentRow {
    pub id: String,
    pub name: String,
    #[diesel(skip_update)]
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = favorite_sources)]
pub(crate) struct FavoriteSourceRow {
    pub department_id: String,
    pub communication_type_id: String,
    pub communication_source_id: String,
    pub priority: i32,
}

#[derive(Debug, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = department_rules, treat_none_as_null = true)]
pub(crate) struct RuleRow {
    pub id: String,
    #[diesel(skip_update)]
    pub department_id: String,
    pub communication_type_id: Option<String>,
    pub limit_per_unit: i32,
    pub unit: String,
    pub units_count: i32,
    #[diesel(skip_update)]
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = admins)]
pub(crate) struct AdminRow {
    pub id: String,
    pub username: String,
    pub password_hash: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = refresh_tokens)]
pub(crate) struct RefreshTokenRow {
    pub token_hash: String,
    pub admin_id: String,
    pub family_id: String,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub used_at: Option<NaiveDateTime>,
    pub revoked_at: Option<NaiveDateTime>,
}

/// A new failure; the database numbers it.
#[derive(Debug, Insertable)]
#[diesel(table_name = login_failures)]
pub(crate) struct NewLoginFailureRow<'a> {
    pub username: &'a str,
    pub failed_at: NaiveDateTime,
}

/// A key as the domain sees it: `revoked_at` stays in the table, and a new
/// key is not revoked.
#[derive(Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = api_keys)]
pub(crate) struct ApiKeyRow {
    pub id: String,
    pub name: String,
    pub api_key: String,
    pub secret_hash: String,
    pub created_at: NaiveDateTime,
    pub last_used_at: Option<NaiveDateTime>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = settings)]
pub(crate) struct NewSettingRow<'a> {
    pub name: &'a str,
    pub value: &'a str,
    pub created_at: NaiveDateTime,
}

/// The columns of a communication the domain knows; the queue's columns are
/// written beside it.
#[derive(Debug, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = communications, treat_none_as_null = true)]
pub(crate) struct CommunicationRow {
    pub id: String,
    pub department_id: String,
    pub user_id: String,
    pub communication_type_id: String,
    pub requested_source_id: Option<String>,
    pub communication_source_id: Option<String>,
    pub communication_date: NaiveDateTime,
    pub status: String,
    pub status_reason: Option<String>,
    pub message: String,
    pub sent_at: Option<NaiveDateTime>,
    pub delivered_at: Option<NaiveDateTime>,
    pub read_at: Option<NaiveDateTime>,
    pub attempts: i32,
    pub next_attempt_at: Option<NaiveDateTime>,
    pub provider_message_id: Option<String>,
    pub batch_id: Option<String>,
    #[diesel(skip_update)]
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// A new communication queued at `due_at` and counted at `counted_at`; the
/// other queue columns take their defaults.
#[derive(Debug, Insertable)]
#[diesel(table_name = communications)]
pub(crate) struct NewCommunicationRow {
    #[diesel(embed)]
    pub communication: CommunicationRow,
    pub due_at: Option<NaiveDateTime>,
    pub counted_at: Option<NaiveDateTime>,
}

/// A communication with the queue state a worker or a change under the
/// client's lock needs.
#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = communications)]
pub(crate) struct QueuedRow {
    #[diesel(embed)]
    pub communication: CommunicationRow,
    pub lease_until: Option<NaiveDateTime>,
    pub channel_attempts: i32,
    pub given_up: String,
}

/// A moment the contact limits count, with whose it is.
#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = communications)]
pub(crate) struct CountedRow {
    pub id: String,
    pub user_id: String,
    pub department_id: String,
    pub communication_type_id: String,
    pub counted_at: Option<NaiveDateTime>,
}

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = communication_events)]
pub(crate) struct EventRow {
    pub communication_id: String,
    pub at: NaiveDateTime,
    pub kind: String,
    pub channel: Option<String>,
    pub detail: Option<String>,
    pub until: Option<NaiveDateTime>,
    pub reason: Option<String>,
}

/// A new event; the database numbers it. A missing value is written as
/// `NULL`, so that many events go in one statement on SQLite too.
#[derive(Debug, Insertable)]
#[diesel(table_name = communication_events, treat_none_as_default_value = false)]
pub(crate) struct NewEventRow {
    pub communication_id: String,
    pub at: NaiveDateTime,
    pub kind: String,
    pub channel: Option<String>,
    pub detail: Option<String>,
    pub until: Option<NaiveDateTime>,
    pub reason: Option<String>,
}

/// A caller's idempotency key: the reservation that holds it and, once its
/// request answered, the answer (all `None` while in progress).
#[derive(Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = crate::schema::idempotency_keys, treat_none_as_default_value = false)]
pub(crate) struct IdempotencyKeyRow {
    pub scope: String,
    pub idempotency_key: String,
    pub reservation_id: String,
    pub fingerprint: String,
    pub created_at: NaiveDateTime,
    pub status_code: Option<i32>,
    pub content_type: Option<String>,
    pub location: Option<String>,
    pub body: Option<String>,
    pub completed_at: Option<NaiveDateTime>,
}
