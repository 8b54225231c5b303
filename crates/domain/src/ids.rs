//! Typed identifiers: a user id cannot be passed where a department id is wanted.

use std::fmt;
use std::str::FromStr;

use uuid::Uuid;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Uuid);

        impl $name {
            /// A new, time-ordered id.
            pub fn generate() -> Self {
                Self(Uuid::now_v7())
            }

            pub const fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            pub const fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl From<Uuid> for $name {
            fn from(uuid: Uuid) -> Self {
                Self(uuid)
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Self {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    };
}

id_type!(
    /// A client of the company.
    UserId
);
id_type!(
    /// An organisational unit that sends communications.
    DepartmentId
);
id_type!(
    /// An entry of the communication-type dictionary.
    TypeId
);
id_type!(
    /// An entry of the communication-source (channel) dictionary.
    SourceId
);
id_type!(
    /// A department's contact-frequency rule.
    RuleId
);
id_type!(
    /// One communication, sent or not.
    CommunicationId
);
id_type!(
    /// The communications of one bulk send.
    BatchId
);
id_type!(
    /// An operator: an account of the admin API.
    AdminId
);
id_type!(
    /// A key of the public API.
    ApiKeyId
);
id_type!(
    /// One login: every refresh token rotated from one another shares it.
    TokenFamilyId
);
