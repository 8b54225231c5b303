//! Rows to domain types and back. A stored value the domain refuses is an
//! error, never replaced by a default.

use std::fmt::Display;

use chrono::{DateTime, NaiveDateTime, SubsecRound, Utc};
use omnichannel_domain::auth::{Admin, ApiKey, RefreshToken, Username};
use omnichannel_domain::decision::Counted;
use omnichannel_domain::ports::{Claim, RepoError, Stored};
use omnichannel_domain::{
    Availability, AvailabilityStatus, Code, Communication, CommunicationSource,
    CommunicationStatus, CommunicationType, Department, DepartmentId, DictionaryStatus, Email,
    Event, EventKind, ExternalId, FavoriteSource, Message, Name, PersonName, Phone, PushToken,
    Rule, RuleLimit, SourceKind, StatusReason, TimeUnit, User, UserId,
};
use uuid::Uuid;

use crate::error::unexpected;
use crate::rows::{
    AdminRow, ApiKeyRow, AvailabilityRow, CommunicationRow, CommunicationSourceRow,
    CommunicationTypeRow, CountedRow, DepartmentRow, EventRow, FavoriteSourceRow,
    NewCommunicationRow, NewEventRow, QueuedRow, RefreshTokenRow, RuleRow, UserRow,
};

/// Separates the fields of `users.search_text`, so that a query does not match
/// across two of them.
const SEARCH_SEPARATOR: &str = "\u{1f}";

/// A UUID as stored: hyphenated, lower case.
pub(crate) fn db_id(id: impl Into<Uuid>) -> String {
    id.into().hyphenated().to_string()
}

/// A time as stored: UTC, cut to microseconds, the precision both backends keep.
pub(crate) fn db_time(time: DateTime<Utc>) -> NaiveDateTime {
    time.naive_utc().trunc_subsecs(6)
}

pub(crate) fn db_time_opt(time: Option<DateTime<Utc>>) -> Option<NaiveDateTime> {
    time.map(db_time)
}

/// A count as an `INTEGER` column holds it.
pub(crate) fn db_count(value: u32) -> Result<i32, RepoError> {
    i32::try_from(value).map_err(|_| unexpected(anyhow::anyhow!("{value} is out of range")))
}

pub(crate) fn domain_time(time: NaiveDateTime) -> DateTime<Utc> {
    time.and_utc()
}

/// The lower-cased text the users' `q` filter searches.
pub(crate) fn search_text(user: &User) -> String {
    [
        Some(user.first_name.as_str()),
        Some(user.last_name.as_str()),
        user.phone.as_ref().map(Phone::as_str),
        user.email.as_ref().map(Email::as_str),
        user.external_id.as_ref().map(ExternalId::as_str),
    ]
    .into_iter()
    .flatten()
    .map(str::to_lowercase)
    .collect::<Vec<_>>()
    .join(SEARCH_SEPARATOR)
}

/// A stored value of `row` that does not parse.
fn invalid(column: &str, row: &str, error: impl Display) -> RepoError {
    unexpected(anyhow::anyhow!(
        "the stored {column} of {row} is invalid: {error}"
    ))
}

/// Parses the stored columns of one row, naming the row in errors.
struct Columns<'a> {
    row: &'a str,
}

impl<'a> Columns<'a> {
    fn of(row: &'a str) -> Self {
        Self { row }
    }

    fn id<T: From<Uuid>>(&self, column: &str, value: &str) -> Result<T, RepoError> {
        self.value(column, Uuid::parse_str(value).map(T::from))
    }

    fn value<T, E: Display>(&self, column: &str, parsed: Result<T, E>) -> Result<T, RepoError> {
        parsed.map_err(|error| invalid(column, self.row, error))
    }

    fn optional_id<T: From<Uuid>>(
        &self,
        column: &str,
        value: Option<&str>,
    ) -> Result<Option<T>, RepoError> {
        value.map(|value| self.id(column, value)).transpose()
    }

    fn optional<T, E: Display>(
        &self,
        column: &str,
        value: Option<String>,
        parse: impl FnOnce(String) -> Result<T, E>,
    ) -> Result<Option<T>, RepoError> {
        value
            .map(|value| self.value(column, parse(value)))
            .transpose()
    }
}

impl UserRow {
    pub(crate) fn from_domain(user: &User) -> Self {
        Self {
            id: db_id(user.id),
            first_name: user.first_name.as_str().to_owned(),
            last_name: user.last_name.as_str().to_owned(),
            phone: user.phone.as_ref().map(|v| v.as_str().to_owned()),
            email: user.email.as_ref().map(|v| v.as_str().to_owned()),
            push_token: user.push_token.as_ref().map(|v| v.as_str().to_owned()),
            external_id: user.external_id.as_ref().map(|v| v.as_str().to_owned()),
            search_text: search_text(user),
            created_at: db_time(user.created_at),
            updated_at: db_time(user.updated_at),
        }
    }

    pub(crate) fn into_domain(self) -> Result<User, RepoError> {
        let row = format!("user {}", self.id);
        let c = Columns::of(&row);
        Ok(User {
            id: c.id("users.id", &self.id)?,
            first_name: c.value("users.first_name", PersonName::parse(self.first_name))?,
            last_name: c.value("users.last_name", PersonName::parse(self.last_name))?,
            phone: c.optional("users.phone", self.phone, Phone::parse)?,
            email: c.optional("users.email", self.email, Email::parse)?,
            push_token: c.optional("users.push_token", self.push_token, PushToken::parse)?,
            external_id: c.optional("users.external_id", self.external_id, ExternalId::parse)?,
            created_at: domain_time(self.created_at),
            updated_at: domain_time(self.updated_at),
        })
    }
}

impl AvailabilityRow {
    pub(crate) fn from_domain(availability: &Availability) -> Self {
        Self {
            user_id: db_id(availability.user_id()),
            status: availability.status().as_str().to_owned(),
            blocked_from: db_time_opt(availability.blocked_from()),
            blocked_to: db_time_opt(availability.blocked_to()),
        }
    }

    pub(crate) fn into_domain(self) -> Result<Availability, RepoError> {
        let row = format!("the availability of user {}", self.user_id);
        let c = Columns::of(&row);
        let availability = Availability::new(
            c.id("user_availability.user_id", &self.user_id)?,
            c.value(
                "user_availability.status",
                AvailabilityStatus::parse(&self.status),
            )?,
            self.blocked_from.map(domain_time),
            self.blocked_to.map(domain_time),
        );
        c.value("user_availability.blocked_to", availability)
    }
}

impl CommunicationTypeRow {
    pub(crate) fn from_domain(item: &CommunicationType) -> Self {
        Self {
            id: db_id(item.id),
            code: item.code.as_str().to_owned(),
            name: item.name.as_str().to_owned(),
            status: item.status.as_str().to_owned(),
            created_at: db_time(item.created_at),
            updated_at: db_time(item.updated_at),
        }
    }

    pub(crate) fn into_domain(self) -> Result<CommunicationType, RepoError> {
        let row = format!("communication type {}", self.id);
        let c = Columns::of(&row);
        Ok(CommunicationType {
            id: c.id("communication_types.id", &self.id)?,
            code: c.value("communication_types.code", Code::parse(self.code))?,
            name: c.value("communication_types.name", Name::parse(self.name))?,
            status: c.value(
                "communication_types.status",
                DictionaryStatus::parse(&self.status),
            )?,
            created_at: domain_time(self.created_at),
            updated_at: domain_time(self.updated_at),
        })
    }
}

impl CommunicationSourceRow {
    pub(crate) fn from_domain(item: &CommunicationSource) -> Self {
        Self {
            id: db_id(item.id),
            code: item.code.as_str().to_owned(),
            name: item.name.as_str().to_owned(),
            kind: item.kind.as_str().to_owned(),
            status: item.status.as_str().to_owned(),
            created_at: db_time(item.created_at),
            updated_at: db_time(item.updated_at),
        }
    }

    pub(crate) fn into_domain(self) -> Result<CommunicationSource, RepoError> {
        let row = format!("communication source {}", self.id);
        let c = Columns::of(&row);
        Ok(CommunicationSource {
            id: c.id("communication_sources.id", &self.id)?,
            code: c.value("communication_sources.code", Code::parse(self.code))?,
            name: c.value("communication_sources.name", Name::parse(self.name))?,
            kind: c.value("communication_sources.kind", SourceKind::parse(&self.kind))?,
            status: c.value(
                "communication_sources.status",
                DictionaryStatus::parse(&self.status),
            )?,
            created_at: domain_time(self.created_at),
            updated_at: domain_time(self.updated_at),
        })
    }
}

impl DepartmentRow {
    pub(crate) fn from_domain(item: &Department) -> Self {
        Self {
            id: db_id(item.id),
            name: item.name.as_str().to_owned(),
            created_at: db_time(item.created_at),
            updated_at: db_time(item.updated_at),
        }
    }

    pub(crate) fn into_domain(self) -> Result<Department, RepoError> {
        let row = format!("department {}", self.id);
        let c = Columns::of(&row);
        Ok(Department {
            id: c.id("departments.id", &self.id)?,
            name: c.value("departments.name", Name::parse(self.name))?,
            created_at: domain_time(self.created_at),
            updated_at: domain_time(self.updated_at),
        })
    }
}

impl FavoriteSourceRow {
    pub(crate) fn from_domain(item: &FavoriteSource) -> Self {
        Self {
            department_id: db_id(item.department_id),
            communication_type_id: db_id(item.type_id),
            communication_source_id: db_id(item.source_id),
            priority: item.priority,
        }
    }

    pub(crate) fn into_domain(self) -> Result<FavoriteSource, RepoError> {
        let row = format!(
            "favourite source {}/{}/{}",
            self.department_id, self.communication_type_id, self.communication_source_id
        );
        let c = Columns::of(&row);
        Ok(FavoriteSource {
            department_id: c.id("favorite_sources.department_id", &self.department_id)?,
            type_id: c.id(
                "favorite_sources.communication_type_id",
                &self.communication_type_id,
            )?,
            source_id: c.id(
                "favorite_sources.communication_source_id",
                &self.communication_source_id,
            )?,
            priority: c.value(
                "favorite_sources.priority",
                FavoriteSource::parse_priority(i64::from(self.priority)),
            )?,
        })
    }
}

impl RuleRow {
    pub(crate) fn from_domain(rule: &Rule) -> Result<Self, RepoError> {
        Ok(Self {
            id: db_id(rule.id),
            department_id: db_id(rule.department_id),
            communication_type_id: rule.type_id.map(db_id),
            limit_per_unit: db_count(rule.limit.limit_per_unit())?,
            unit: rule.limit.unit().as_str().to_owned(),
            units_count: db_count(rule.limit.units_count())?,
            created_at: db_time(rule.created_at),
            updated_at: db_time(rule.updated_at),
        })
    }

    pub(crate) fn into_domain(self) -> Result<Rule, RepoError> {
        let row = format!("rule {}", self.id);
        let c = Columns::of(&row);
        let unit = c.value("department_rules.unit", TimeUnit::parse(&self.unit))?;
        let limit = c.value(
            "department_rules.limit_per_unit",
            RuleLimit::new(
                i64::from(self.limit_per_unit),
                unit,
                i64::from(self.units_count),
            ),
        )?;
        Ok(Rule {
            id: c.id("department_rules.id", &self.id)?,
            department_id: c.id("department_rules.department_id", &self.department_id)?,
            type_id: self
                .communication_type_id
                .as_deref()
                .map(|id| c.id("department_rules.communication_type_id", id))
                .transpose()?,
            limit,
            created_at: domain_time(self.created_at),
            updated_at: domain_time(self.updated_at),
        })
    }
}

impl AdminRow {
    pub(crate) fn from_domain(admin: &Admin) -> Self {
        Self {
            id: db_id(admin.id),
            username: admin.username.as_str().to_owned(),
            password_hash: admin.password_hash.clone(),
            created_at: db_time(admin.created_at),
            updated_at: db_time(admin.updated_at),
        }
    }

    pub(crate) fn into_domain(self) -> Result<Admin, RepoError> {
        let row = format!("admin {}", self.id);
        let c = Columns::of(&row);
        let username = c.value("admins.username", Username::parse(&self.username))?;
        if username.as_str() != self.username {
            return Err(invalid("admins.username", &row, "it is not in lower case"));
        }
        Ok(Admin {
            id: c.id("admins.id", &self.id)?,
            username,
            password_hash: self.password_hash,
            created_at: domain_time(self.created_at),
            updated_at: domain_time(self.updated_at),
        })
    }
}

impl RefreshTokenRow {
    pub(crate) fn from_domain(token: &RefreshToken) -> Self {
        Self {
            token_hash: token.token_hash.clone(),
            admin_id: db_id(token.admin_id),
            family_id: db_id(token.family_id),
            created_at: db_time(token.created_at),
            expires_at: db_time(token.expires_at),
            used_at: db_time_opt(token.used_at),
            revoked_at: db_time_opt(token.revoked_at),
        }
    }

    pub(crate) fn into_domain(self) -> Result<RefreshToken, RepoError> {
        // The hash is a credential of sorts: errors name the family instead.
        let row = format!("a refresh token of family {}", self.family_id);
        let c = Columns::of(&row);
        Ok(RefreshToken {
            token_hash: self.token_hash,
            admin_id: c.id("refresh_tokens.admin_id", &self.admin_id)?,
            family_id: c.id("refresh_tokens.family_id", &self.family_id)?,
            created_at: domain_time(self.created_at),
            expires_at: domain_time(self.expires_at),
            used_at: self.used_at.map(domain_time),
            revoked_at: self.revoked_at.map(domain_time),
        })
    }
}

impl ApiKeyRow {
    pub(crate) fn from_domain(key: &ApiKey) -> Self {
        Self {
            id: db_id(key.id),
            name: key.name.as_str().to_owned(),
            api_key: key.key.clone(),
            secret_hash: key.secret_hash.clone(),
            created_at: db_time(key.created_at),
            last_used_at: db_time_opt(key.last_used_at),
        }
    }

    pub(crate) fn into_domain(self) -> Result<ApiKey, RepoError> {
        let row = format!("API key {}", self.id);
        let c = Columns::of(&row);
        Ok(ApiKey {
            id: c.id("api_keys.id", &self.id)?,
            name: c.value("api_keys.name", Name::parse(self.name))?,
            key: self.api_key,
            secret_hash: self.secret_hash,
            created_at: domain_time(self.created_at),
            last_used_at: self.last_used_at.map(domain_time),
        })
    }
}

impl CommunicationRow {
    pub(crate) fn from_domain(item: &Communication) -> Result<Self, RepoError> {
        Ok(Self {
            id: db_id(item.id),
            department_id: db_id(item.department_id),
            user_id: db_id(item.user_id),
            communication_type_id: db_id(item.type_id),
            requested_source_id: item.requested_source_id.map(db_id),
            communication_source_id: item.source_id.map(db_id),
            communication_date: db_time(item.communication_date),
            status: item.status.as_str().to_owned(),
            status_reason: item.status_reason.map(|r| r.as_str().to_owned()),
            message: item.message.as_str().to_owned(),
            sent_at: db_time_opt(item.sent_at),
            delivered_at: db_time_opt(item.delivered_at),
            read_at: db_time_opt(item.read_at),
            attempts: db_count(item.attempts)?,
            next_attempt_at: db_time_opt(item.next_attempt_at),
            provider_message_id: item.provider_message_id.clone(),
            batch_id: item.batch_id.map(db_id),
            created_at: db_time(item.created_at),
            updated_at: db_time(item.updated_at),
        })
    }

    pub(crate) fn into_domain(self) -> Result<Communication, RepoError> {
        let row = format!("communication {}", self.id);
        let c = Columns::of(&row);
        Ok(Communication {
            id: c.id("communications.id", &self.id)?,
            department_id: c.id("communications.department_id", &self.department_id)?,
            user_id: c.id("communications.user_id", &self.user_id)?,
            type_id: c.id(
                "communications.communication_type_id",
                &self.communication_type_id,
            )?,
            requested_source_id: c.optional_id(
                "communications.requested_source_id",
                self.requested_source_id.as_deref(),
            )?,
            source_id: c.optional_id(
                "communications.communication_source_id",
                self.communication_source_id.as_deref(),
            )?,
            communication_date: domain_time(self.communication_date),
            status: c.value(
                "communications.status",
                CommunicationStatus::parse(&self.status),
            )?,
            status_reason: c.optional("communications.status_reason", self.status_reason, |v| {
                StatusReason::parse(&v)
            })?,
            message: c.value("communications.message", Message::parse(self.message))?,
            sent_at: self.sent_at.map(domain_time),
            delivered_at: self.delivered_at.map(domain_time),
            read_at: self.read_at.map(domain_time),
            attempts: c.value("communications.attempts", u32::try_from(self.attempts))?,
            next_attempt_at: self.next_attempt_at.map(domain_time),
            provider_message_id: self.provider_message_id,
            batch_id: c.optional_id("communications.batch_id", self.batch_id.as_deref())?,
            created_at: domain_time(self.created_at),
            updated_at: domain_time(self.updated_at),
        })
    }
}

impl NewCommunicationRow {
    /// The row queued and counted as the domain says a communication in its
    /// state is.
    pub(crate) fn from_domain(item: &Communication) -> Result<Self, RepoError> {
        Ok(Self {
            communication: CommunicationRow::from_domain(item)?,
            due_at: db_time_opt(item.due_at()),
            counted_at: db_time_opt(item.counted_at()),
        })
    }
}

impl QueuedRow {
    /// The communication as claimed under `lease`.
    pub(crate) fn into_claim(self, lease: Uuid) -> Result<Claim, RepoError> {
        let row = format!("communication {}", self.communication.id);
        let c = Columns::of(&row);
        let given_up = self
            .given_up
            .split_whitespace()
            .map(|id| c.id("communications.given_up", id))
            .collect::<Result<_, _>>()?;
        let channel_attempts = c.value(
            "communications.channel_attempts",
            u32::try_from(self.channel_attempts),
        )?;
        Ok(Claim {
            communication: self.communication.into_domain()?,
            lease,
            given_up,
            channel_attempts,
        })
    }

    /// The communication as a change at `now` finds it: in flight while its
    /// lease lasts.
    pub(crate) fn into_stored(self, now: DateTime<Utc>) -> Result<Stored, RepoError> {
        let in_flight = self
            .lease_until
            .is_some_and(|until| domain_time(until) > now);
        Ok(Stored {
            communication: self.communication.into_domain()?,
            in_flight,
        })
    }
}

impl CountedRow {
    /// Whose moment it is, and the moment.
    pub(crate) fn into_domain(self) -> Result<(UserId, DepartmentId, Counted), RepoError> {
        let row = format!(
            "a communication of user {} in department {}",
            self.user_id, self.department_id
        );
        let c = Columns::of(&row);
        let at = self
            .counted_at
            .ok_or_else(|| invalid("communications.counted_at", &row, "it is missing"))?;
        Ok((
            c.id("communications.user_id", &self.user_id)?,
            c.id("communications.department_id", &self.department_id)?,
            Counted {
                at: domain_time(at),
                type_id: c.id(
                    "communications.communication_type_id",
                    &self.communication_type_id,
                )?,
            },
        ))
    }
}

impl NewEventRow {
    pub(crate) fn from_domain(event: &Event) -> Self {
        Self {
            communication_id: db_id(event.communication_id),
            at: db_time(event.at),
            kind: event.kind.as_str().to_owned(),
            channel: event.channel.clone(),
            detail: event.detail.clone(),
            until: db_time_opt(event.until),
            reason: event.reason.map(|r| r.as_str().to_owned()),
        }
    }
}

impl EventRow {
    pub(crate) fn into_domain(self) -> Result<Event, RepoError> {
        let row = format!("an event of communication {}", self.communication_id);
        let c = Columns::of(&row);
        Ok(Event {
            communication_id: c.id(
                "communication_events.communication_id",
                &self.communication_id,
            )?,
            at: domain_time(self.at),
            kind: c.value("communication_events.kind", EventKind::parse(&self.kind))?,
            channel: self.channel,
            detail: self.detail,
            until: self.until.map(domain_time),
            reason: c.optional("communication_events.reason", self.reason, |v| {
                StatusReason::parse(&v)
            })?,
        })
    }
}

impl crate::rows::IdempotencyKeyRow {
    /// The reservation, in progress.
    pub(crate) fn in_progress(reservation: &omnichannel_domain::idempotency::Reservation) -> Self {
        Self {
            scope: reservation.scope.to_string(),
            idempotency_key: reservation.key.as_str().to_owned(),
            reservation_id: db_id(reservation.id),
            fingerprint: reservation.fingerprint.as_str().to_owned(),
            created_at: db_time(reservation.created_at),
            status_code: None,
            content_type: None,
            location: None,
            body: None,
            completed_at: None,
        }
    }

    pub(crate) fn into_domain(
        self,
    ) -> Result<omnichannel_domain::idempotency::IdempotencyRecord, RepoError> {
        use omnichannel_domain::idempotency::{
            Fingerprint, IdempotencyKey, IdempotencyRecord, IdempotencyState, Reservation,
            StoredAnswer,
        };
        // The key is the caller's text: errors name the reservation instead.
        let row = format!("idempotency key reservation {}", self.reservation_id);
        let c = Columns::of(&row);
        let state = match (self.status_code, self.body) {
            (None, None) => IdempotencyState::InProgress,
            (Some(status), Some(body)) => IdempotencyState::Done(StoredAnswer {
                status: c.value("idempotency_keys.status_code", u16::try_from(status))?,
                content_type: self.content_type,
                location: self.location,
                body,
            }),
            _ => {
                return Err(invalid(
                    "idempotency_keys.body",
                    &row,
                    "a status without a body or a body without a status",
                ));
            }
        };
        Ok(IdempotencyRecord {
            reservation: Reservation {
                id: c.id("idempotency_keys.reservation_id", &self.reservation_id)?,
                scope: c.value("idempotency_keys.scope", self.scope.parse())?,
                key: c.value(
                    "idempotency_keys.idempotency_key",
                    IdempotencyKey::parse(self.idempotency_key),
                )?,
                fingerprint: c.value(
                    "idempotency_keys.fingerprint",
                    Fingerprint::parse(self.fingerprint),
                )?,
                created_at: domain_time(self.created_at),
            },
            state,
        })
    }
}
