//! The use cases of omnichannel. Each service holds the ports it needs and turns
//! raw input into validated domain values, naming every invalid field.

pub mod auth;
pub mod availability;
pub mod bulk;
pub mod channels;
pub mod clock;
pub mod communication_stats;
pub mod communications;
pub mod departments;
pub mod dictionary;
pub mod dispatch;
pub mod error;
pub mod favorites;
pub mod idempotency;
mod in_flight;
mod intake;
pub mod metrics;
pub mod page;
mod policy;
pub mod rules;
pub mod services;
pub mod sources;
pub mod types;
pub mod users;

pub use clock::SystemClock;
pub use error::{CreateError, DeleteError, GetError, ListError, UpdateError};
pub use page::parse_page;
pub use services::{AuthSettings, PipelineSettings, Services, Storage};
