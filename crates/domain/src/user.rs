//! A client of the company (`User` in the design notes).

use chrono::{DateTime, Utc};

use crate::ids::UserId;
use crate::values::{Email, ExternalId, PersonName, Phone, PushToken};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub first_name: PersonName,
    pub last_name: PersonName,
    pub phone: Option<Phone>,
    pub email: Option<Email>,
    pub push_token: Option<PushToken>,
    pub external_id: Option<ExternalId>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}
