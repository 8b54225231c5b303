//! The two dictionaries: communication types and communication sources (channels).

use chrono::{DateTime, Utc};

use crate::ids::{SourceId, TypeId};
use crate::validation::InvalidValue;
use crate::values::{Code, Name};

/// Whether a dictionary entry may be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DictionaryStatus {
    Active,
    Blocked,
}

impl DictionaryStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Blocked => "blocked",
        }
    }

    pub fn parse(value: &str) -> Result<Self, InvalidValue> {
        match value {
            "active" => Ok(Self::Active),
            "blocked" => Ok(Self::Blocked),
            _ => Err(InvalidValue::new("must be one of: active, blocked")),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommunicationType {
    pub id: TypeId,
    pub code: Code,
    pub name: Name,
    pub status: DictionaryStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Which address of a client a channel uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    Sms,
    Messenger,
    Email,
    Push,
    Webhook,
}

/// The client's field a channel sends to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressField {
    Phone,
    Email,
    PushToken,
    /// The provider receives the client's id.
    None,
}

impl SourceKind {
    pub const ALL: [Self; 5] = [
        Self::Sms,
        Self::Messenger,
        Self::Email,
        Self::Push,
        Self::Webhook,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Sms => "sms",
            Self::Messenger => "messenger",
            Self::Email => "email",
            Self::Push => "push",
            Self::Webhook => "webhook",
        }
    }

    pub fn parse(value: &str) -> Result<Self, InvalidValue> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.as_str() == value)
            .ok_or_else(|| {
                InvalidValue::new("must be one of: sms, messenger, email, push, webhook")
            })
    }

    pub const fn address_field(self) -> AddressField {
        match self {
            Self::Sms | Self::Messenger => AddressField::Phone,
            Self::Email => AddressField::Email,
            Self::Push => AddressField::PushToken,
            Self::Webhook => AddressField::None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommunicationSource {
    pub id: SourceId,
    pub code: Code,
    pub name: Name,
    pub kind: SourceKind,
    pub status: DictionaryStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_and_pick_their_address() {
        for kind in SourceKind::ALL {
            assert_eq!(SourceKind::parse(kind.as_str()), Ok(kind));
        }
        assert!(SourceKind::parse("fax").is_err());
        assert_eq!(SourceKind::Sms.address_field(), AddressField::Phone);
        assert_eq!(SourceKind::Messenger.address_field(), AddressField::Phone);
        assert_eq!(SourceKind::Email.address_field(), AddressField::Email);
        assert_eq!(SourceKind::Push.address_field(), AddressField::PushToken);
        assert_eq!(SourceKind::Webhook.address_field(), AddressField::None);
    }

    #[test]
    fn status_parses_only_known_values() {
        assert_eq!(
            DictionaryStatus::parse("blocked"),
            Ok(DictionaryStatus::Blocked)
        );
        assert!(DictionaryStatus::parse("Blocked").is_err());
    }
}
