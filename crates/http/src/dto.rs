//! The JSON bodies of the admin API, and their mapping to and from the
//! application's types. Requests refuse unknown fields.

use chrono::{DateTime, Utc};
use omnichannel_app::availability::AvailabilityInput;
use omnichannel_app::dictionary::{EntryInput, EntryPatch};
use omnichannel_app::favorites::FavoriteInput;
use omnichannel_app::rules::{NewRule, RulePatch};
use omnichannel_app::sources::{NewSource, SourcePatch};
use omnichannel_app::users::{NewUser, UserPatch};
use omnichannel_domain::ports::{Page, Paged};
use omnichannel_domain::{
    Availability, CommunicationSource, CommunicationType, Department, FavoriteSource, Rule, User,
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
    #[serde(default)]
    pub blocked_from: Option<DateTime<Utc>>,
    #[serde(default)]
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
