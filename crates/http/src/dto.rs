//! The JSON bodies of the admin API, and their mapping to and from the
//! application's types. Requests refuse unknown fields.

use chrono::{DateTime, Utc};
use omnichannel_app::availability::AvailabilityInput;
use omnichannel_app::communication_stats::{CommunicationStatistics, StatsRange};
use omnichannel_app::communications::{CommunicationPatch, CommunicationQuery, NewCommunication};
use omnichannel_app::communications::{NextSlot, Preview};
use omnichannel_app::dictionary::{EntryInput, EntryPatch};
use omnichannel_app::favorites::FavoriteInput;
use omnichannel_app::rules::{NewRule, RulePatch};
use omnichannel_app::sources::{NewSource, SourcePatch};
use omnichannel_app::users::{NewUser, UserPatch};
use omnichannel_domain::ports::{Page, Paged};
use omnichannel_domain::{
    Availability, Communication, CommunicationSource, CommunicationType, Department, Event,
    FavoriteSource, Rule, User,
};
use serde::{Deserialize, Serialize};
use serde_with::rust::double_option;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

/// `?limit=&offset=` of every list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// How many items, 1 to 500 (more is capped at 500); 50 when left out.
    #[param(minimum = 1)]
    pub limit: Option<i64>,
    /// How many items to skip; 0 when left out.
    #[param(minimum = 0)]
    pub offset: Option<i64>,
}

/// One page of a list, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct ListOf<T> {
    pub items: Vec<T>,
    pub total: u64,
    pub limit: u32,
    pub offset: u64,
}

impl<T> ListOf<T> {
    pub fn new<D>(paged: Paged<D>, page: Page) -> Self
    where
        T: From<D>,
    {
        Self {
            items: paged.items.into_iter().map(T::from).collect(),
            total: paged.total,
            limit: page.limit,
            offset: page.offset,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserBody {
    pub id: Uuid,
    pub first_name: String,
    pub last_name: String,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub push_token: Option<String>,
    pub external_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<User> for UserBody {
    fn from(user: User) -> Self {
        Self {
            id: user.id.into(),
            first_name: user.first_name.into_inner(),
            last_name: user.last_name.into_inner(),
            phone: user.phone.map(|v| v.into_inner()),
            email: user.email.map(|v| v.into_inner()),
            push_token: user.push_token.map(|v| v.into_inner()),
            external_id: user.external_id.map(|v| v.into_inner()),
            created_at: user.created_at,
            updated_at: user.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    /// At most 200 characters; empty when left out.
    #[schema(max_length = 200)]
    pub first_name: Option<String>,
    #[schema(max_length = 200)]
    pub last_name: Option<String>,
    /// E.164: `+` then 8 to 15 digits.
    #[schema(pattern = r"^\+[1-9][0-9]{7,14}$")]
    pub phone: Option<String>,
    #[schema(format = Email, max_length = 254)]
    pub email: Option<String>,
    #[schema(min_length = 1, max_length = 4096, pattern = r"\S")]
    pub push_token: Option<String>,
    /// Unique: the id of the client in the system it came from.
    #[schema(min_length = 1, max_length = 255, pattern = r"\S")]
    pub external_id: Option<String>,
}

impl From<CreateUser> for NewUser {
    fn from(body: CreateUser) -> Self {
        Self {
            first_name: body.first_name,
            last_name: body.last_name,
            phone: body.phone,
            email: body.email,
            push_token: body.push_token,
            external_id: body.external_id,
        }
    }
}

/// Left-out fields stay; `null` clears a nullable one.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchUser {
    #[schema(max_length = 200)]
    pub first_name: Option<String>,
    #[schema(max_length = 200)]
    pub last_name: Option<String>,
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<String>, pattern = r"^\+[1-9][0-9]{7,14}$")]
    pub phone: Option<Option<String>>,
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<String>, format = Email, max_length = 254)]
    pub email: Option<Option<String>>,
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 4096, pattern = r"\S")]
    pub push_token: Option<Option<String>>,
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 255, pattern = r"\S")]
    pub external_id: Option<Option<String>>,
}

impl From<PatchUser> for UserPatch {
    fn from(body: PatchUser) -> Self {
        Self {
            first_name: body.first_name,
            last_name: body.last_name,
            phone: body.phone,
            email: body.email,
            push_token: body.push_token,
            external_id: body.external_id,
        }
    }
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserQuery {
    /// A part of the first or last name, phone, e-mail or external id, in any case.
    pub q: Option<String>,
    #[param(minimum = 1)]
    pub limit: Option<i64>,
    #[param(minimum = 0)]
    pub offset: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AvailabilityBody {
    pub user_id: Uuid,
    /// `active` or `blocked`.
    #[schema(value_type = AvailabilityStatusName)]
    pub status: String,
    /// `null`: since always.
    pub blocked_from: Option<DateTime<Utc>>,
    /// `null`: until further notice.
    pub blocked_to: Option<DateTime<Utc>>,
}

impl From<Availability> for AvailabilityBody {
    fn from(a: Availability) -> Self {
        Self {
            user_id: a.user_id().into(),
            status: a.status().as_str().to_owned(),
            blocked_from: a.blocked_from(),
            blocked_to: a.blocked_to(),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutAvailability {
    /// `active` or `blocked`.
    #[schema(value_type = AvailabilityStatusName)]
    pub status: String,
    #[serde(default, deserialize_with = "moment::optional")]
    pub blocked_from: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "moment::optional")]
    pub blocked_to: Option<DateTime<Utc>>,
}

impl From<PutAvailability> for AvailabilityInput {
    fn from(body: PutAvailability) -> Self {
        Self {
            status: body.status,
            blocked_from: body.blocked_from,
            blocked_to: body.blocked_to,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TypeBody {
    pub id: Uuid,
    pub code: String,
    pub name: String,
    /// `active` or `blocked`.
    #[schema(value_type = EntryStatus)]
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<CommunicationType> for TypeBody {
    fn from(t: CommunicationType) -> Self {
        Self {
            id: t.id.into(),
            code: t.code.into_inner(),
            name: t.name.into_inner(),
            status: t.status.as_str().to_owned(),
            created_at: t.created_at,
            updated_at: t.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateType {
    /// A unique slug of `a-z`, `0-9` and `_`.
    #[schema(pattern = r"^[a-z0-9_]{1,64}$")]
    pub code: String,
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub name: String,
    /// `active` (the default) or `blocked`.
    #[schema(value_type = Option<EntryStatus>)]
    pub status: Option<String>,
}

impl From<CreateType> for EntryInput {
    fn from(body: CreateType) -> Self {
        Self {
            code: body.code,
            name: body.name,
            status: body.status,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchType {
    #[schema(pattern = r"^[a-z0-9_]{1,64}$")]
    pub code: Option<String>,
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub name: Option<String>,
    #[schema(value_type = Option<EntryStatus>)]
    pub status: Option<String>,
}

impl From<PatchType> for EntryPatch {
    fn from(body: PatchType) -> Self {
        Self {
            code: body.code,
            name: body.name,
            status: body.status,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SourceBody {
    pub id: Uuid,
    pub code: String,
    pub name: String,
    /// `sms`, `messenger`, `email`, `push` or `webhook`: which address it uses.
    #[schema(value_type = SourceKindName)]
    pub kind: String,
    #[schema(value_type = EntryStatus)]
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<CommunicationSource> for SourceBody {
    fn from(s: CommunicationSource) -> Self {
        Self {
            id: s.id.into(),
            code: s.code.into_inner(),
            name: s.name.into_inner(),
            kind: s.kind.as_str().to_owned(),
            status: s.status.as_str().to_owned(),
            created_at: s.created_at,
            updated_at: s.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSource {
    #[schema(pattern = r"^[a-z0-9_]{1,64}$")]
    pub code: String,
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub name: String,
    /// `sms`, `messenger`, `email`, `push` or `webhook`.
    #[schema(value_type = SourceKindName)]
    pub kind: String,
    #[schema(value_type = Option<EntryStatus>)]
    pub status: Option<String>,
}

impl From<CreateSource> for NewSource {
    fn from(body: CreateSource) -> Self {
        Self {
            entry: EntryInput {
                code: body.code,
                name: body.name,
                status: body.status,
            },
            kind: body.kind,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchSource {
    #[schema(pattern = r"^[a-z0-9_]{1,64}$")]
    pub code: Option<String>,
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub name: Option<String>,
    #[schema(value_type = Option<SourceKindName>)]
    pub kind: Option<String>,
    #[schema(value_type = Option<EntryStatus>)]
    pub status: Option<String>,
}

impl From<PatchSource> for SourcePatch {
    fn from(body: PatchSource) -> Self {
        Self {
            entry: EntryPatch {
                code: body.code,
                name: body.name,
                status: body.status,
            },
            kind: body.kind,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DepartmentBody {
    pub id: Uuid,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Department> for DepartmentBody {
    fn from(d: Department) -> Self {
        Self {
            id: d.id.into(),
            name: d.name.into_inner(),
            created_at: d.created_at,
            updated_at: d.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateDepartment {
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub name: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchDepartment {
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub name: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FavoriteBody {
    pub communication_type_id: Uuid,
    pub communication_source_id: Uuid,
    /// Lower is tried first; 0 to 1 000 000.
    #[schema(minimum = 0, maximum = 1000000)]
    pub priority: i64,
}

impl From<FavoriteSource> for FavoriteBody {
    fn from(f: FavoriteSource) -> Self {
        Self {
            communication_type_id: f.type_id.into(),
            communication_source_id: f.source_id.into(),
            priority: i64::from(f.priority),
        }
    }
}

impl From<FavoriteBody> for FavoriteInput {
    fn from(body: FavoriteBody) -> Self {
        Self {
            communication_type_id: body.communication_type_id,
            communication_source_id: body.communication_source_id,
            priority: body.priority,
        }
    }
}

/// A department's whole list of favourite sources.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FavoriteList {
    pub items: Vec<FavoriteBody>,
}

impl FavoriteList {
    pub fn from_domain(items: Vec<FavoriteSource>) -> Self {
        Self {
            items: items.into_iter().map(FavoriteBody::from).collect(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RuleBody {
    pub id: Uuid,
    pub department_id: Uuid,
    /// `null`: the rule counts every type.
    pub communication_type_id: Option<Uuid>,
    pub limit_per_unit: u32,
    /// `second`, `minute`, `hour` or `day`.
    #[schema(value_type = TimeUnitName)]
    pub unit: String,
    pub units_count: u32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Rule> for RuleBody {
    fn from(r: Rule) -> Self {
        Self {
            id: r.id.into(),
            department_id: r.department_id.into(),
            communication_type_id: r.type_id.map(Uuid::from),
            limit_per_unit: r.limit.limit_per_unit(),
            unit: r.limit.unit().as_str().to_owned(),
            units_count: r.limit.units_count(),
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRule {
    /// At least 1.
    #[schema(minimum = 1, maximum = 1000000)]
    pub limit_per_unit: i64,
    /// `second`, `minute`, `hour` or `day`.
    #[schema(value_type = TimeUnitName)]
    pub unit: String,
    /// At least 1; the window `units_count × unit` is at most 366 days.
    #[schema(minimum = 1, maximum = 31622400)]
    pub units_count: i64,
    /// Left out or `null`: the rule counts every type.
    #[serde(default)]
    pub communication_type_id: Option<Uuid>,
}

impl From<CreateRule> for NewRule {
    fn from(body: CreateRule) -> Self {
        Self {
            limit_per_unit: body.limit_per_unit,
            unit: body.unit,
            units_count: body.units_count,
            communication_type_id: body.communication_type_id,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchRule {
    #[schema(minimum = 1, maximum = 1000000)]
    pub limit_per_unit: Option<i64>,
    #[schema(value_type = Option<TimeUnitName>)]
    pub unit: Option<String>,
    #[schema(minimum = 1, maximum = 31622400)]
    pub units_count: Option<i64>,
    /// `null` makes the rule count every type.
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<Uuid>)]
    pub communication_type_id: Option<Option<Uuid>>,
}

impl From<PatchRule> for RulePatch {
    fn from(body: PatchRule) -> Self {
        Self {
            limit_per_unit: body.limit_per_unit,
            unit: body.unit,
            units_count: body.units_count,
            communication_type_id: body.communication_type_id,
        }
    }
}

/// One message to one client, as stored.
#[derive(Debug, Serialize, ToSchema)]
pub struct CommunicationBody {
    pub id: Uuid,
    pub department_id: Uuid,
    pub user_id: Uuid,
    pub communication_type_id: Uuid,
    /// The channel in use: the one asked for, or the one dispatch chose last.
    pub communication_source_id: Option<Uuid>,
    /// When it is to be sent: the moment of the request, or the booked moment.
    pub communication_date: DateTime<Utc>,
    #[schema(value_type = CommunicationStatusName)]
    pub status: String,
    /// Why it waits or was given up on.
    #[schema(value_type = Option<StatusReasonName>)]
    pub status_reason: Option<String>,
    pub message: String,
    pub sent_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub read_at: Option<DateTime<Utc>>,
    /// Provider calls made, a timeout or a refused connection included.
    pub attempts: u32,
    /// When a waiting `not_sent` communication is tried next.
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub provider_message_id: Option<String>,
    /// Set by a bulk send.
    pub batch_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Communication> for CommunicationBody {
    fn from(c: Communication) -> Self {
        Self {
            id: c.id.into(),
            department_id: c.department_id.into(),
            user_id: c.user_id.into(),
            communication_type_id: c.type_id.into(),
            communication_source_id: c.source_id.map(Uuid::from),
            communication_date: c.communication_date,
            status: c.status.as_str().to_owned(),
            status_reason: c.status_reason.map(|r| r.as_str().to_owned()),
            message: c.message.into_inner(),
            sent_at: c.sent_at,
            delivered_at: c.delivered_at,
            read_at: c.read_at,
            attempts: c.attempts,
            next_attempt_at: c.next_attempt_at,
            provider_message_id: c.provider_message_id,
            batch_id: c.batch_id.map(Uuid::from),
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

/// A communication with its history, oldest step first.
#[derive(Debug, Serialize, ToSchema)]
pub struct CommunicationDetail {
    #[serde(flatten)]
    pub communication: CommunicationBody,
    pub events: Vec<EventBody>,
}

impl CommunicationDetail {
    pub fn new(communication: Communication, events: Vec<Event>) -> Self {
        Self {
            communication: communication.into(),
            events: events.into_iter().map(EventBody::from).collect(),
        }
    }
}

/// One step of a communication's history.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventBody {
    pub at: DateTime<Utc>,
    #[schema(value_type = EventKindName)]
    pub kind: String,
    /// The code of the channel the step concerns.
    pub channel: Option<String>,
    /// Words for a person: the provider's error, why a channel was chosen, ….
    pub detail: Option<String>,
    /// Until when it waits (`deferred`), or the booked moment (`booked`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub until: Option<DateTime<Utc>>,
    /// Why it waits (`deferred`) or failed (`failed`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<StatusReasonName>)]
    pub reason: Option<String>,
}

impl From<Event> for EventBody {
    fn from(e: Event) -> Self {
        Self {
            at: e.at,
            kind: e.kind.as_str().to_owned(),
            channel: e.channel,
            detail: e.detail,
            until: e.until,
            reason: e.reason.map(|r| r.as_str().to_owned()),
        }
    }
}

/// A send, or a booking when `communication_date` is more than a second ahead.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendCommunication {
    pub user_id: Uuid,
    pub department_id: Uuid,
    pub communication_type_id: Uuid,
    /// The channel to use, and no other; left out, the department's favourite
    /// sources for the type are tried by priority.
    #[serde(default)]
    pub communication_source_id: Option<Uuid>,
    /// 1 to 10 000 characters, not blank.
    #[schema(min_length = 1, max_length = 10000, pattern = r"\S")]
    pub message: String,
    /// RFC 3339. Left out, past or present: send now; more than a second
    /// ahead: book that moment.
    #[serde(default, deserialize_with = "moment::optional")]
    pub communication_date: Option<DateTime<Utc>>,
}

impl From<SendCommunication> for NewCommunication {
    fn from(body: SendCommunication) -> Self {
        Self {
            user_id: body.user_id.into(),
            department_id: body.department_id.into(),
            type_id: body.communication_type_id.into(),
            source_id: body.communication_source_id.map(Into::into),
            message: body.message,
            communication_date: body.communication_date,
        }
    }
}

/// Left-out fields stay. A date more than a second ahead books it again (the
/// reservation is checked again); an earlier one sends it now.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchCommunication {
    #[serde(default, deserialize_with = "moment::optional")]
    pub communication_date: Option<DateTime<Utc>>,
    #[schema(min_length = 1, max_length = 10000, pattern = r"\S")]
    #[serde(default)]
    pub message: Option<String>,
}

impl From<PatchCommunication> for CommunicationPatch {
    fn from(body: PatchCommunication) -> Self {
        Self {
            communication_date: body.communication_date,
            message: body.message,
        }
    }
}

/// A delivery receipt for a sent communication.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusUpdate {
    /// `delivered`, `read` or `failed`.
    #[schema(value_type = ReceiptStatus)]
    pub status: String,
    /// Words for the history; at most 1 000 characters.
    #[schema(max_length = 1000)]
    #[serde(default)]
    pub detail: Option<String>,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CommunicationFilterQuery {
    #[param(value_type = Option<CommunicationStatusName>)]
    pub status: Option<String>,
    pub user_id: Option<Uuid>,
    pub department_id: Option<Uuid>,
    pub communication_type_id: Option<Uuid>,
    pub communication_source_id: Option<Uuid>,
    pub batch_id: Option<Uuid>,
    /// RFC 3339; communications whose `communication_date` is at or after it.
    #[serde(default, deserialize_with = "moment::optional")]
    pub from: Option<DateTime<Utc>>,
    /// RFC 3339; communications whose `communication_date` is before it.
    #[serde(default, deserialize_with = "moment::optional")]
    pub to: Option<DateTime<Utc>>,
    #[param(minimum = 1)]
    pub limit: Option<i64>,
    #[param(minimum = 0)]
    pub offset: Option<i64>,
}

impl CommunicationFilterQuery {
    /// The filters, apart from the page.
    pub fn filters(&self) -> CommunicationQuery {
        CommunicationQuery {
            status: self.status.clone(),
            user_id: self.user_id.map(Into::into),
            department_id: self.department_id.map(Into::into),
            type_id: self.communication_type_id.map(Into::into),
            source_id: self.communication_source_id.map(Into::into),
            batch_id: self.batch_id.map(Into::into),
            from: self.from,
            to: self.to,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Login {
    pub username: String,
    pub password: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshBody {
    pub refresh_token: String,
}

#[derive(Serialize, ToSchema)]
pub struct TokenPairBody {
    /// A JWT for `Authorization: Bearer`.
    pub access_token: String,
    /// Opaque; exchange it at `/auth/refresh` before the access token expires.
    pub refresh_token: String,
    /// `Bearer`.
    pub token_type: &'static str,
    /// Seconds the access token lives.
    pub expires_in: u64,
}

impl From<omnichannel_app::auth::sessions::TokenPair> for TokenPairBody {
    fn from(pair: omnichannel_app::auth::sessions::TokenPair) -> Self {
        Self {
            access_token: pair.access_token,
            refresh_token: pair.refresh_token,
            token_type: "Bearer",
            expires_in: pair.expires_in,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePassword {
    pub current_password: String,
    /// At least 12 characters.
    #[schema(min_length = 12)]
    pub new_password: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOperator {
    /// 1 to 64 of `a-z 0-9 . _ @ -`, kept in lower case.
    #[schema(pattern = r"^[A-Za-z0-9._@-]{1,64}$")]
    pub username: String,
    /// At least 12 characters.
    #[schema(min_length = 12)]
    pub password: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OperatorBody {
    pub id: Uuid,
    pub username: String,
    pub created_at: DateTime<Utc>,
}

impl From<omnichannel_domain::auth::Admin> for OperatorBody {
    fn from(admin: omnichannel_domain::auth::Admin) -> Self {
        Self {
            id: admin.id.into(),
            username: admin.username.as_str().to_owned(),
            created_at: admin.created_at,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKey {
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyBody {
    pub id: Uuid,
    pub name: String,
    /// The public half, sent as `X-Api-Key`.
    pub api_key: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

impl From<omnichannel_domain::auth::ApiKey> for ApiKeyBody {
    fn from(key: omnichannel_domain::auth::ApiKey) -> Self {
        Self {
            id: key.id.into(),
            name: key.name.into_inner(),
            api_key: key.key,
            created_at: key.created_at,
            last_used_at: key.last_used_at,
        }
    }
}

/// A new API key with its secret, shown this once.
#[derive(Serialize, ToSchema)]
pub struct CreatedApiKeyBody {
    pub id: Uuid,
    pub name: String,
    pub api_key: String,
    /// Sent as `X-Api-Secret`; stored only as a hash, never shown again.
    pub secret_api_key: String,
    pub created_at: DateTime<Utc>,
}

impl From<omnichannel_app::auth::api_keys::CreatedKey> for CreatedApiKeyBody {
    fn from(created: omnichannel_app::auth::api_keys::CreatedKey) -> Self {
        Self {
            id: created.key.id.into(),
            name: created.key.name.into_inner(),
            api_key: created.key.key,
            secret_api_key: created.secret,
            created_at: created.key.created_at,
        }
    }
}

/// `active` or `blocked` (schema only: bodies carry it as a string).
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum EntryStatus {
    Active,
    Blocked,
}

/// A client's availability status (schema only).
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum AvailabilityStatusName {
    Active,
    Blocked,
}

/// Which address of a client a channel uses (schema only).
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum SourceKindName {
    Sms,
    Messenger,
    Email,
    Push,
    Webhook,
}

/// The unit of a rule's window (schema only).
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum TimeUnitName {
    Second,
    Minute,
    Hour,
    Day,
}

/// A communication's status (schema only).
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum CommunicationStatusName {
    Booked,
    NotSent,
    Sent,
    Delivered,
    Read,
    Failed,
    Cancelled,
}

/// The statuses a delivery receipt may report (schema only).
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum ReceiptStatus {
    Delivered,
    Read,
    Failed,
}

/// Why a communication waits or was given up on (schema only).
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum StatusReasonName {
    UserUnavailable,
    RateLimited,
    Retrying,
    UserBlocked,
    NoChannel,
    ProviderError,
    TypeBlocked,
    ChannelBlocked,
    Receipt,
}

/// What happened to a communication (schema only).
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum EventKindName {
    Created,
    Booked,
    Deferred,
    ChannelChosen,
    AttemptFailed,
    Sent,
    Delivered,
    Read,
    Failed,
    Cancelled,
}

/// What dispatch would do with a send, on the state of now.
#[derive(Debug, Serialize, ToSchema)]
pub struct PreviewBody {
    /// `send`, `defer` or `fail`.
    #[schema(value_type = PreviewAction)]
    pub action: String,
    /// The channel it would be sent on (`send` only).
    pub channel: Option<ChannelRef>,
    /// The client's address on that channel; `null` for a channel that takes none.
    pub to: Option<String>,
    /// Until when it would wait (`defer` only).
    #[serde(default, deserialize_with = "moment::optional")]
    pub not_before: Option<DateTime<Utc>>,
    /// Why it would wait or fail.
    #[schema(value_type = Option<StatusReasonName>)]
    pub reason: Option<String>,
}

/// The decision a preview answers.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code, reason = "documents the values of `action`")]
pub enum PreviewAction {
    Send,
    Defer,
    Fail,
}

/// A channel, by id and code.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChannelRef {
    pub id: Uuid,
    pub code: String,
}

impl From<Preview> for PreviewBody {
    fn from(preview: Preview) -> Self {
        let empty = Self {
            action: String::new(),
            channel: None,
            to: None,
            not_before: None,
            reason: None,
        };
        match preview {
            Preview::Send {
                channel,
                channel_code,
                to,
            } => Self {
                action: "send".to_owned(),
                channel: Some(ChannelRef {
                    id: channel.into(),
                    code: channel_code,
                }),
                to,
                ..empty
            },
            Preview::Defer { not_before, reason } => Self {
                action: "defer".to_owned(),
                not_before: Some(not_before),
                reason: Some(reason.as_str().to_owned()),
                ..empty
            },
            Preview::Fail { reason } => Self {
                action: "fail".to_owned(),
                reason: Some(reason.as_str().to_owned()),
                ..empty
            },
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NextSlotQuery {
    /// The department whose rules apply.
    pub department_id: Uuid,
    /// The earliest moment to consider; now when left out or past.
    #[serde(default, deserialize_with = "moment::optional")]
    pub after: Option<DateTime<Utc>>,
}

/// The earliest moment the client can be contacted, or `null` with why when
/// no moment within the horizon is free.
#[derive(Debug, Serialize, ToSchema)]
pub struct NextSlotBody {
    pub available_at: Option<DateTime<Utc>>,
    /// `user_blocked` or `rate_limited`, when `available_at` is `null`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<StatusReasonName>)]
    pub reason: Option<String>,
}

impl From<NextSlot> for NextSlotBody {
    fn from(slot: NextSlot) -> Self {
        match slot {
            NextSlot::At(at) => Self {
                available_at: Some(at),
                reason: None,
            },
            NextSlot::None(reason) => Self {
                available_at: None,
                reason: Some(reason.as_str().to_owned()),
            },
        }
    }
}

/// A bulk send, or a bulk booking when `communication_date` is more than a
/// second ahead: one communication per client, all sharing a new batch id.
/// Exactly one of `user_ids` and `all_users: true`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendBulk {
    /// 1 to 10 000 clients; a client named twice gets one communication.
    #[schema(min_items = 1, max_items = 10000)]
    #[serde(default)]
    pub user_ids: Option<Vec<Uuid>>,
    /// `true`: every client stored now — at most 10 000; with more, name
    /// them in several bulks with `user_ids`. `false` is as if left out.
    #[serde(default)]
    pub all_users: Option<bool>,
    pub department_id: Uuid,
    pub communication_type_id: Uuid,
    /// The channel to use, and no other; left out, the department's favourite
    /// sources for the type are tried by priority.
    #[serde(default)]
    pub communication_source_id: Option<Uuid>,
    /// 1 to 10 000 characters, not blank.
    #[schema(min_length = 1, max_length = 10000, pattern = r"\S")]
    pub message: String,
    /// RFC 3339. Left out, past or present: send now; more than a second
    /// ahead: book that moment for each client.
    #[serde(default, deserialize_with = "moment::optional")]
    pub communication_date: Option<DateTime<Utc>>,
}

impl From<SendBulk> for omnichannel_app::bulk::BulkInput {
    fn from(body: SendBulk) -> Self {
        Self {
            user_ids: body
                .user_ids
                .map(|ids| ids.into_iter().map(Into::into).collect()),
            all_users: body.all_users,
            department_id: body.department_id.into(),
            type_id: body.communication_type_id.into(),
            source_id: body.communication_source_id.map(Into::into),
            message: body.message,
            communication_date: body.communication_date,
        }
    }
}

/// What a bulk stored and refused.
#[derive(Debug, Serialize, ToSchema)]
pub struct BulkAccepted {
    /// Shared by every communication of the bulk: `GET /batches/{id}` follows
    /// them, `GET /communications?batch_id=` lists them.
    pub batch_id: Uuid,
    /// How many communications were stored.
    pub accepted: usize,
    /// The new communications, in the order their clients were named.
    pub ids: Vec<Uuid>,
    /// The clients that got none, in the order they were named.
    pub refused: Vec<BulkRefusedBody>,
}

impl From<omnichannel_app::bulk::BulkReceipt> for BulkAccepted {
    fn from(receipt: omnichannel_app::bulk::BulkReceipt) -> Self {
        Self {
            batch_id: receipt.batch_id.into(),
            accepted: receipt.ids.len(),
            ids: receipt.ids.into_iter().map(Uuid::from).collect(),
            refused: receipt
                .refused
                .into_iter()
                .map(|refusal| BulkRefusedBody {
                    user_id: refusal.user_id.into(),
                    reason: refusal.reason.as_str().to_owned(),
                    next_available_at: refusal.next_available_at,
                })
                .collect(),
        }
    }
}

/// A client of a bulk that got no communication, and why.
#[derive(Debug, Serialize, ToSchema)]
pub struct BulkRefusedBody {
    pub user_id: Uuid,
    /// `unknown_user`; for a booking, the decision at its moment:
    /// `user_unavailable`, `rate_limited`, or a reason dispatch would fail
    /// it for (`user_blocked`, `no_channel`, …).
    #[schema(value_type = BulkRefusalReason)]
    pub reason: String,
    /// For a booking refused for a wait: the client's next free moment
    /// within the horizon. Absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_available_at: Option<DateTime<Utc>>,
}

/// Why a client of a bulk got no communication (schema only).
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum BulkRefusalReason {
    UnknownUser,
    UserUnavailable,
    RateLimited,
    UserBlocked,
    NoChannel,
    TypeBlocked,
    ChannelBlocked,
}

/// How far a batch has gone.
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchBody {
    pub batch_id: Uuid,
    /// How many communications the batch has.
    pub total: u64,
    /// How many have each status, every status listed (0 when none has it).
    pub counts: BatchCounts,
}

/// How many communications of a batch have each status.
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchCounts {
    pub booked: u64,
    pub not_sent: u64,
    pub sent: u64,
    pub delivered: u64,
    pub read: u64,
    pub failed: u64,
    pub cancelled: u64,
}

impl From<omnichannel_app::bulk::BatchProgress> for BatchBody {
    fn from(progress: omnichannel_app::bulk::BatchProgress) -> Self {
        use omnichannel_domain::CommunicationStatus as S;
        let count = |status| progress.count(status);
        Self {
            batch_id: progress.batch_id.into(),
            total: progress.total(),
            counts: BatchCounts {
                booked: count(S::Booked),
                not_sent: count(S::NotSent),
                sent: count(S::Sent),
                delivered: count(S::Delivered),
                read: count(S::Read),
                failed: count(S::Failed),
                cancelled: count(S::Cancelled),
            },
        }
    }
}

/// `?from=&to=` of the communications' statistics.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CommunicationStatsQuery {
    /// RFC 3339; the communications created at or after it. Defaults to 24
    /// hours before `to`; at most 31 days before it.
    #[serde(default, deserialize_with = "moment::optional")]
    pub from: Option<DateTime<Utc>>,
    /// RFC 3339; the communications created before it. Defaults to now.
    #[serde(default, deserialize_with = "moment::optional")]
    pub to: Option<DateTime<Utc>>,
}

impl From<CommunicationStatsQuery> for StatsRange {
    fn from(query: CommunicationStatsQuery) -> Self {
        Self {
            from: query.from,
            to: query.to,
        }
    }
}

/// The communications created over a range, and the dispatch queue now.
#[derive(Debug, Serialize, ToSchema)]
pub struct CommunicationStatsBody {
    /// The range counted, defaults applied: created at or after `from`…
    pub from: DateTime<Utc>,
    /// …and before `to`.
    pub to: DateTime<Utc>,
    /// By current status.
    pub by_status: StatusCounts,
    /// One entry per UTC hour the range meets, oldest first, even an empty
    /// one; each counts the communications created within that hour and the
    /// range.
    pub hourly: Vec<HourStats>,
    /// The dispatch queue now, whatever the range.
    pub queue: QueueBody,
}

/// How many communications have each status, every status listed (0 when
/// none has it).
#[derive(Debug, Serialize, ToSchema)]
pub struct StatusCounts {
    pub booked: u64,
    pub not_sent: u64,
    pub sent: u64,
    pub delivered: u64,
    pub read: u64,
    pub failed: u64,
    pub cancelled: u64,
}

/// The communications created within one UTC hour.
#[derive(Debug, Serialize, ToSchema)]
pub struct HourStats {
    /// The start of the hour.
    pub hour: DateTime<Utc>,
    /// By current status.
    pub by_status: StatusCounts,
}

/// The communications waiting in the dispatch queue.
#[derive(Debug, Serialize, ToSchema)]
pub struct QueueBody {
    /// `not_sent` and due now.
    pub due: u64,
    /// `not_sent` and due later: deferred, retrying, or being sent.
    pub deferred: u64,
    /// `booked`, whatever their date.
    pub booked: u64,
}

impl From<omnichannel_app::communication_stats::StatusCounts> for StatusCounts {
    fn from(counts: omnichannel_app::communication_stats::StatusCounts) -> Self {
        use omnichannel_domain::CommunicationStatus as S;
        Self {
            booked: counts.count(S::Booked),
            not_sent: counts.count(S::NotSent),
            sent: counts.count(S::Sent),
            delivered: counts.count(S::Delivered),
            read: counts.count(S::Read),
            failed: counts.count(S::Failed),
            cancelled: counts.count(S::Cancelled),
        }
    }
}

impl From<CommunicationStatistics> for CommunicationStatsBody {
    fn from(stats: CommunicationStatistics) -> Self {
        Self {
            from: stats.from,
            to: stats.to,
            by_status: stats.by_status.into(),
            hourly: stats
                .hourly
                .into_iter()
                .map(|hour| HourStats {
                    hour: hour.hour,
                    by_status: hour.by_status.into(),
                })
                .collect(),
            queue: QueueBody {
                due: stats.queue.due,
                deferred: stats.queue.deferred,
                booked: stats.queue.booked,
            },
        }
    }
}

/// The moments a request may give: RFC 3339 within the years 0001 to 9999,
/// which both databases store and compare alike (PostgreSQL refuses years
/// before 4713 BC; SQLite compares the text).
pub(crate) mod moment {
    use chrono::{DateTime, Datelike, Utc};
    use serde::{Deserialize, Deserializer, de::Error};

    pub(crate) fn optional<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<DateTime<Utc>>, D::Error> {
        let value = Option::<DateTime<Utc>>::deserialize(deserializer)?;
        match value {
            Some(at) if !(1..=9999).contains(&at.year()) => Err(D::Error::custom(
                "must be a moment within the years 0001 to 9999",
            )),
            value => Ok(value),
        }
    }
}
