//! The store: a pool of connections to one database, its set-up and health.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use diesel::RunQueryDsl;
use omnichannel_domain::ports::{HealthCheck, RepoError};
use r2d2::{ManageConnection, Pool};

use crate::connection::{ConnectionManager, DbConnection, LogPoolError, SessionSetup};
use crate::database_url::DatabaseUrl;
use crate::error::{StorageError, unexpected};
use crate::migrations;

/// Which database a [`Store`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// How many connections the pool keeps and how long a caller waits for one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolOptions {
    /// At least 1.
    pub max_size: u32,
    /// More than zero.
    pub connection_timeout: Duration,
}

impl Default for PoolOptions {
    fn default() -> Self {
        Self {
            max_size: 10,
            connection_timeout: Duration::from_secs(10),
        }
    }
}

/// The pool at one moment: open connections, of which idle, and the most
/// it opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolState {
    pub max_size: u32,
    pub connections: u32,
    pub idle: u32,
    /// Callers waiting for a connection of the pool at that moment.
    pub waiting: u32,
}

/// How long the health check waits for a connection.
const HEALTH_CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// The diesel adapter of every repository port, over a pool of connections.
/// Cloning is cheap: clones share the pool.
#[derive(Clone)]
pub struct Store {
    pool: Pool<ConnectionManager>,
    backend: Backend,
    /// Callers of `with_conn` waiting for a connection (r2d2 does not count them).
    waiting: Arc<AtomicU32>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend)
            .field("pool", &self.pool.state())
            .finish()
    }
}

impl Store {
    /// Opens a pool on the database `url` names: `postgres://…` or
    /// `postgresql://…` for PostgreSQL; `sqlite://PATH` or a plain path for a
    /// SQLite file, created when missing. Fails at once when the first
    /// connection cannot be opened.
    pub fn connect(url: &str, options: &PoolOptions) -> Result<Self, StorageError> {
        if options.max_size == 0 {
            return Err(StorageError::BadPoolOptions("max_size must be at least 1"));
        }
        if options.connection_timeout.is_zero() {
            return Err(StorageError::BadPoolOptions(
                "connection_timeout must be more than zero",
            ));
        }
        let url = DatabaseUrl::parse(url)?;
        let backend = url.backend();
        let redacted = url.redacted();
        let manager = ConnectionManager::new(url);
        manager.connect().map_err(|source| StorageError::Connect {
            url: redacted.clone(),
            source,
        })?;
        let pool = Pool::builder()
            .max_size(options.max_size)
            .min_idle(Some(1))
            .connection_timeout(options.connection_timeout)
            .connection_customizer(Box::new(SessionSetup))
            .error_handler(Box::new(LogPoolError))
            .build_unchecked(manager);
        tracing::debug!(database = %redacted, "database pool opened");
        Ok(Self {
            pool,
            backend,
            waiting: Arc::default(),
        })
    }

    /// The pool's connections, as r2d2 counts them (it does not count the
    /// callers waiting for one).
    pub fn pool_state(&self) -> PoolState {
        let state = self.pool.state();
        PoolState {
            max_size: self.pool.max_size(),
            connections: state.connections,
            idle: state.idle_connections,
            waiting: self.waiting.load(Ordering::Relaxed),
        }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Applies the pending migrations of the backend's dialect. Several
    /// processes may call it at once: they take turns.
    pub fn run_migrations(&self) -> Result<(), StorageError> {
        let mut conn = self.pool.get().map_err(StorageError::Unavailable)?;
        migrations::run_pending(&mut conn.conn).map_err(StorageError::Migration)
    }

    /// Gets a connection within `timeout` and runs `SELECT 1` on it.
    pub fn ping(&self, timeout: Duration) -> Result<(), StorageError> {
        let mut conn = self
            .pool
            .get_timeout(timeout)
            .map_err(StorageError::Unavailable)?;
        diesel::sql_query("SELECT 1")
            .execute(&mut conn.conn)
            .map_err(StorageError::Query)?;
        conn.worked();
        Ok(())
    }

    /// Runs one repository call on a connection of the pool.
    pub(crate) fn with_conn<T>(
        &self,
        call: impl FnOnce(&mut DbConnection) -> Result<T, RepoError>,
    ) -> Result<T, RepoError> {
        self.waiting.fetch_add(1, Ordering::Relaxed);
        let conn = self.pool.get();
        self.waiting.fetch_sub(1, Ordering::Relaxed);
        let mut conn = conn.map_err(|error| {
            unexpected(anyhow::Error::new(error).context("no database connection"))
        })?;
        let result = call(&mut conn.conn);
        if result.is_ok() {
            conn.worked();
        }
        result
    }
}

impl HealthCheck for Store {
    /// [`Store::ping`] within two seconds.
    fn ping(&self) -> Result<(), RepoError> {
        Store::ping(self, HEALTH_CHECK_TIMEOUT).map_err(unexpected)
    }
}
