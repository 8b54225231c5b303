//! The omnichannel domain: entities, validated values, policies and the ports that
//! adapters implement. Nothing here does IO; time comes in as an argument.

pub mod auth;
pub mod availability;
pub mod communication;
pub mod decision;
pub mod department;
pub mod dictionary;
pub mod idempotency;
pub mod ids;
pub mod ports;
pub mod rate;
pub mod user;
pub mod validation;
pub mod values;

pub use availability::{Availability, AvailabilityStatus};
pub use communication::{Communication, CommunicationStatus, Event, EventKind, StatusReason};
pub use department::{Department, FavoriteSource, Rule, RuleLimit, TimeUnit};
pub use dictionary::{CommunicationSource, CommunicationType, DictionaryStatus, SourceKind};
pub use ids::{
    AdminId, ApiKeyId, BatchId, CommunicationId, DepartmentId, RuleId, SourceId, TokenFamilyId,
    TypeId, UserId,
};
pub use user::User;
pub use validation::{FieldError, InvalidValue, ValidationErrors};
pub use values::{Code, Email, ExternalId, Message, Name, PersonName, Phone, PushToken};
