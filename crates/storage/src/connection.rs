//! One connection type for both backends, the pool's connection manager and
//! the set-up each new connection gets.

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::r2d2::R2D2Connection;
use diesel::result::Error as DieselError;
use diesel::{Connection, PgConnection, SqliteConnection};

use std::time::{Duration, Instant};

use crate::database_url::DatabaseUrl;

/// A connection to either backend. Queries written against it run on both;
/// dialect-only SQL matches on the variant.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Sqlite(SqliteConnection),
    Pg(PgConnection),
}

impl DbConnection {
    /// Runs `body` in one transaction. On SQLite it holds the write lock from
    /// its start (`BEGIN IMMEDIATE`): SQLite has one writer, so the body runs
    /// alone among writers and a read it writes after cannot go stale; on
    /// PostgreSQL it is a plain transaction, and the body takes the locks it
    /// needs.
    pub(crate) fn immediate_transaction<T, E>(
        &mut self,
        body: impl FnOnce(&mut Self) -> Result<T, E>,
    ) -> Result<T, E>
    where
        E: From<DieselError>,
    {
        match self {
            Self::Pg(_) => self.transaction(body),
            Self::Sqlite(sqlite) => {
                // What `SqliteConnection::immediate_transaction` does, with
                // the body written against this connection: its transaction
                // state is the SQLite connection's.
                AnsiTransactionManager::begin_transaction_sql(sqlite, "BEGIN IMMEDIATE")?;
                match body(self) {
                    Ok(value) => {
                        <Self as Connection>::TransactionManager::commit_transaction(self)?;
                        Ok(value)
                    }
                    Err(error) => {
                        <Self as Connection>::TransactionManager::rollback_transaction(self)?;
                        Err(error)
                    }
                }
            }
        }
    }
}

/// Opens a PostgreSQL connection. OpenSSL, which libpq uses for TLS, is first
/// told not to clean up when the process exits: the pool opens connections
/// on threads of its own, and a process that exits (a CLI command that is
/// done, a server that stopped) while one of them is in a TLS handshake would
/// otherwise crash in OpenSSL's exit handler (seen: a segmentation fault
/// after `api-key create` had printed the key, once in ten to sixty runs).
pub(crate) fn establish_pg(url: &str) -> diesel::ConnectionResult<PgConnection> {
    openssl_sys::init();
    PgConnection::establish(url)
}

/// Opens connections of the backend the URL names (the derived `establish`
/// would guess it by trying each backend in turn).
pub(crate) struct ConnectionManager {
    url: DatabaseUrl,
}

impl ConnectionManager {
    pub(crate) fn new(url: DatabaseUrl) -> Self {
        Self { url }
    }
}

impl std::fmt::Debug for ConnectionManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionManager")
            .field("url", &self.url)
            .finish()
    }
}

/// A connection known to have worked less than this ago is handed out
/// without a ping: a busy pool would otherwise pay one round trip per use.
const TRUSTED_FOR: Duration = Duration::from_secs(1);

/// A pooled connection, with when it last worked.
pub(crate) struct Pooled {
    pub(crate) conn: DbConnection,
    worked_at: Instant,
}

impl Pooled {
    /// Notes that a use of the connection succeeded.
    pub(crate) fn worked(&mut self) {
        self.worked_at = Instant::now();
    }
}

impl r2d2::ManageConnection for ConnectionManager {
    type Connection = Pooled;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<Pooled, Self::Error> {
        let connection = match &self.url {
            DatabaseUrl::Sqlite(path) => {
                SqliteConnection::establish(path).map(DbConnection::Sqlite)
            }
            DatabaseUrl::Postgres(url) => establish_pg(url).map(DbConnection::Pg),
        };
        connection
            .map(|conn| Pooled {
                conn,
                worked_at: Instant::now(),
            })
            .map_err(diesel::r2d2::Error::ConnectionError)
    }

    /// Pings a connection that has not worked for [`TRUSTED_FOR`]; one that
    /// did is handed out as it is (if the server went away since, the call
    /// fails, the connection is found broken and replaced).
    fn is_valid(&self, pooled: &mut Pooled) -> Result<(), Self::Error> {
        if pooled.worked_at.elapsed() < TRUSTED_FOR {
            return Ok(());
        }
        pooled
            .conn
            .ping()
            .map_err(diesel::r2d2::Error::QueryError)?;
        pooled.worked();
        Ok(())
    }

    fn has_broken(&self, pooled: &mut Pooled) -> bool {
        pooled.conn.is_broken()
    }
}

/// Set-up of every new connection. SQLite: write-ahead log, wait for locks
/// instead of failing, enforce foreign keys. PostgreSQL: times in UTC.
#[derive(Debug)]
pub(crate) struct SessionSetup;

impl r2d2::CustomizeConnection<Pooled, diesel::r2d2::Error> for SessionSetup {
    fn on_acquire(&self, pooled: &mut Pooled) -> Result<(), diesel::r2d2::Error> {
        let conn = &mut pooled.conn;
        let setup = match conn {
            DbConnection::Sqlite(_) => {
                "PRAGMA busy_timeout = 5000;
                 PRAGMA journal_mode = WAL;
                 PRAGMA synchronous = NORMAL;
                 PRAGMA foreign_keys = ON;"
            }
            DbConnection::Pg(_) => "SET TIME ZONE 'UTC';",
        };
        conn.batch_execute(setup)
            .map_err(diesel::r2d2::Error::QueryError)
    }
}

/// Logs what the pool cannot report to a caller (a failed background connect).
#[derive(Debug)]
pub(crate) struct LogPoolError;

impl r2d2::HandleError<diesel::r2d2::Error> for LogPoolError {
    fn handle_error(&self, error: diesel::r2d2::Error) {
        tracing::warn!(error = %error, "opening a database connection failed");
    }
}
