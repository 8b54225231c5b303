//! Diesel adapters of the omnichannel ports, one code path for SQLite and
//! PostgreSQL.
//!
//! [`Store`] holds a pool of [`DbConnection`]s and implements every repository
//! port of `omnichannel_domain::ports`. The backend is picked from the database
//! URL; the migrations of its dialect are embedded in the binary and applied
//! by [`Store::run_migrations`]. Every method blocks: call them off the async
//! threads.

mod connection;
mod database_url;
mod error;
mod listen;
mod mapping;
mod migrations;
mod repositories;
mod rows;
mod schema;
mod store;

pub use error::StorageError;
pub use listen::Listener;
pub use repositories::DISPATCH_CHANNEL;
pub use store::{Backend, PoolOptions, PoolState, Store};
