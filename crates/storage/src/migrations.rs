//! The migrations of each dialect, embedded in the binary, and how they are
//! applied without two processes racing.

use diesel::{Connection, RunQueryDsl};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::connection::DbConnection;

const SQLITE: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");
const POSTGRES: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");

/// The PostgreSQL advisory lock that serialises migration runs.
const MIGRATION_LOCK: i64 = 0x6f6d_6e69_6d69_6772; // "omnimigr"

/// Applies the pending migrations in one transaction that holds the database's
/// write lock (SQLite) or an advisory lock (PostgreSQL), so that processes
/// starting together take turns and the later ones find nothing to do.
pub(crate) fn run_pending(conn: &mut DbConnection) -> anyhow::Result<()> {
    let applied = match conn {
        DbConnection::Sqlite(conn) => conn.immediate_transaction(|conn| {
            conn.run_pending_migrations(SQLITE)
                .map(|versions| versions.iter().map(ToString::to_string).collect::<Vec<_>>())
                .map_err(|error| anyhow::anyhow!(error))
        })?,
        DbConnection::Pg(conn) => conn.transaction(|conn| {
            diesel::sql_query(format!("SELECT pg_advisory_xact_lock({MIGRATION_LOCK})"))
                .execute(conn)?;
            conn.run_pending_migrations(POSTGRES)
                .map(|versions| versions.iter().map(ToString::to_string).collect::<Vec<_>>())
                .map_err(|error| anyhow::anyhow!(error))
        })?,
    };
    if applied.is_empty() {
        tracing::debug!("the database schema is up to date");
    } else {
        tracing::info!(migrations = ?applied, "database migrations applied");
    }
    Ok(())
}
