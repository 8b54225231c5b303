//! A fresh, migrated database for every test, on either backend, and the
//! `both_backends!` macro that runs one test body on each.
//!
//! ```ignore
//! use crate::db::{TestDb, both_backends};
//!
//! both_backends! {
//!     /// Attributes and doc comments apply to both generated tests.
//!     fn a_user_round_trips(db: &TestDb) {
//!         let store = db.store();
//!         // …
//!     }
//!
//!     async fn the_app_answers(db: &TestDb) {
//!         // Runs on a multi-threaded tokio runtime made for the test.
//!         let url = db.url();
//!         // …
//!     }
//! }
//! ```
//!
//! Each entry becomes a module with two tests, `a_user_round_trips::sqlite` and
//! `a_user_round_trips::postgres` (select one backend with
//! `cargo nextest run -E 'test(/::postgres$/)'`); the body sees the items of
//! the enclosing module, and the `TestDb` of its signature must be in scope.
//! An `async` body runs on a multi-threaded tokio runtime (`runtime()`), so it
//! may `tokio::spawn` a server; the database is made before that runtime starts
//! and dropped after it stops.
//!
//! Each test gets its own database, made before the body runs and removed when
//! it ends, so tests never share data and may run in any order, in parallel,
//! one process each. Beyond `url()`: `store()` opens a `Store` on it,
//! `execute(sql)` runs raw SQL past the store, `TestDb::empty(backend)` gives
//! a database without migrations, and `drop_postgres_database(name)` makes one
//! vanish under a running service.
//!
//! SQLite: a file in a temporary directory. PostgreSQL: a database on the
//! server `OMNICHANNEL_TEST_POSTGRES_URL` names (default
//! `postgres://postgres@127.0.0.1:5432/postgres`; the user must be allowed to
//! create databases), cloned from a template that is migrated once per version
//! of the migrations and dropped `WITH (FORCE)` at the end. A test process
//! killed before its end cannot drop its database: each database's name says
//! when it was made, and the first test of every process drops those older
//! than `STALE_AFTER`.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use diesel::connection::SimpleConnection;
use diesel::sql_types::{Bool, Text};
use diesel::{Connection, PgConnection, QueryableByName, RunQueryDsl, SqliteConnection};
use omnichannel_storage::{PoolOptions, Store};
use tempfile::TempDir;

pub use omnichannel_storage::Backend;

/// Runs one test body against each backend; see the module documentation.
macro_rules! both_backends {
    () => {};
    (
        $(#[$attr:meta])*
        fn $name:ident($db:ident: &$db_type:ty) $body:block
        $($rest:tt)*
    ) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            fn body($db: &$db_type) $body

            $(#[$attr])*
            #[test]
            fn sqlite() {
                body(&$crate::db::TestDb::new($crate::db::Backend::Sqlite));
            }

            $(#[$attr])*
            #[test]
            fn postgres() {
                body(&$crate::db::TestDb::new($crate::db::Backend::Postgres));
            }
        }

        $crate::db::both_backends! { $($rest)* }
    };
    (
        $(#[$attr:meta])*
        async fn $name:ident($db:ident: &$db_type:ty) $body:block
        $($rest:tt)*
    ) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn body($db: &$db_type) $body

            $(#[$attr])*
            #[test]
            fn sqlite() {
                let db = $crate::db::TestDb::new($crate::db::Backend::Sqlite);
                $crate::db::runtime().block_on(body(&db));
            }

            $(#[$attr])*
            #[test]
            fn postgres() {
                let db = $crate::db::TestDb::new($crate::db::Backend::Postgres);
                $crate::db::runtime().block_on(body(&db));
            }
        }

        $crate::db::both_backends! { $($rest)* }
    };
}

pub(crate) use both_backends;

/// The runtime an `async` test body runs on.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("the test runtime starts")
}

/// A database of its own for one test; dropping it removes the database.
pub struct TestDb {
    backend: Backend,
    url: String,
    _home: Home,
}

/// What removes the database when dropped.
#[expect(dead_code, reason = "held only for its Drop")]
enum Home {
    Sqlite(TempDir),
    Postgres(PostgresDatabase),
}

impl TestDb {
    /// A new database with every migration applied.
    pub fn new(backend: Backend) -> Self {
        match backend {
            Backend::Sqlite => {
                let db = Self::sqlite();
                migrate(&db.url);
                db
            }
            Backend::Postgres => Self::postgres(PostgresDatabase::create(Some(template()))),
        }
    }

    /// A new database without any migration (not even the migrations table),
    /// for tests of the migration runner itself.
    pub fn empty(backend: Backend) -> Self {
        match backend {
            Backend::Sqlite => Self::sqlite(),
            Backend::Postgres => Self::postgres(PostgresDatabase::create(None)),
        }
    }

    fn sqlite() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("omnichannel-test-")
            .tempdir()
            .expect("a temporary directory");
        let url = format!("sqlite://{}", dir.path().join("omnichannel.db").display());
        Self {
            backend: Backend::Sqlite,
            url,
            _home: Home::Sqlite(dir),
        }
    }

    fn postgres(database: PostgresDatabase) -> Self {
        Self {
            backend: Backend::Postgres,
            url: database.url.clone(),
            _home: Home::Postgres(database),
        }
    }

    /// A database URL that `Store::connect` and the server accept.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A new store on this database with a small pool.
    pub fn store(&self) -> Store {
        let options = PoolOptions {
            max_size: 4,
            connection_timeout: Duration::from_secs(10),
        };
        Store::connect(&self.url, &options).expect("the test database accepts connections")
    }

    /// Runs raw SQL on a connection of its own, bypassing the store: to look
    /// at or corrupt stored rows.
    pub fn execute(&self, sql: &str) -> diesel::QueryResult<()> {
        match self.backend {
            Backend::Sqlite => {
                let path = self.url.trim_start_matches("sqlite://");
                let mut conn = sqlite_connection(path);
                conn.batch_execute("PRAGMA foreign_keys = ON")?;
                conn.batch_execute(sql)
            }
            Backend::Postgres => {
                let mut conn = PgConnection::establish(&self.url)
                    .expect("the PostgreSQL test database accepts connections");
                conn.batch_execute(sql)
            }
        }
    }

    /// The text column `value` of every row `sql` selects, bypassing the store:
    /// to look at what is really stored.
    pub fn texts(&self, sql: &str) -> Vec<String> {
        #[derive(QueryableByName)]
        struct Row {
            #[diesel(sql_type = Text)]
            value: String,
        }
        let rows: Vec<Row> = match self.backend {
            Backend::Sqlite => {
                let path = self.url.trim_start_matches("sqlite://");
                let mut conn = sqlite_connection(path);
                diesel::sql_query(sql).load(&mut conn)
            }
            Backend::Postgres => {
                let mut conn = PgConnection::establish(&self.url)
                    .expect("the PostgreSQL test database accepts connections");
                diesel::sql_query(sql).load(&mut conn)
            }
        }
        .unwrap_or_else(|e| panic!("{sql} failed: {e}"));
        rows.into_iter().map(|row| row.value).collect()
    }
}

/// A connection of the test's own to the SQLite file at `path`, which waits
/// for the service's writers (and the recovery of a WAL a killed process left)
/// instead of failing with "database is locked".
fn sqlite_connection(path: &str) -> SqliteConnection {
    let mut conn = SqliteConnection::establish(path).expect("the SQLite test database opens");
    conn.batch_execute("PRAGMA busy_timeout = 10000")
        .expect("the busy timeout is set");
    conn
}

fn migrate(url: &str) {
    let options = PoolOptions {
        max_size: 1,
        connection_timeout: Duration::from_secs(10),
    };
    Store::connect(url, &options)
        .expect("the new test database accepts connections")
        .run_migrations()
        .expect("the migrations apply to a new database");
}

const SERVER_URL_VAR: &str = "OMNICHANNEL_TEST_POSTGRES_URL";
const DEFAULT_SERVER_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
/// A test database older than this was left by a test process that died
/// before its end: no test runs this long.
const STALE_AFTER: Duration = Duration::from_secs(30 * 60);
const TEST_DATABASE_PREFIX: &str = "omnichannel_test_";

/// The advisory lock held while the template is made.
const TEMPLATE_LOCK: i64 = 0x6f6d_6e69_7465_6d70; // "omnitemp"

/// A database of the PostgreSQL test server, dropped with the value.
struct PostgresDatabase {
    name: String,
    url: String,
}

impl PostgresDatabase {
    /// A new database cloned from `template`, or empty without one.
    fn create(template: Option<&str>) -> Self {
        let name = test_database_name(SystemTime::now());
        let sql = match template {
            Some(template) => format!("CREATE DATABASE \"{name}\" TEMPLATE \"{template}\""),
            None => format!("CREATE DATABASE \"{name}\""),
        };
        server_connection()
            .batch_execute(&sql)
            .unwrap_or_else(|e| panic!("creating the test database {name} failed: {e}"));
        let url = with_database(&server_url(), &name);
        Self { name, url }
    }
}

impl Drop for PostgresDatabase {
    fn drop(&mut self) {
        if let Err(e) = try_drop_postgres_database(&self.name) {
            eprintln!("dropping the test database {} failed: {e}", self.name);
        }
    }
}

/// `omnichannel_test_<Unix seconds>_<random>`: the name says when it was made.
fn test_database_name(made: SystemTime) -> String {
    let secs = made
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |age| age.as_secs());
    format!(
        "{TEST_DATABASE_PREFIX}{secs}_{}",
        uuid::Uuid::new_v4().simple()
    )
}

/// Whether the test database `name` was left behind at `now`: made more than
/// `STALE_AFTER` before, or named the way of earlier versions of this module
/// (no time) and without a session.
fn is_stale(name: &str, has_sessions: bool, now: SystemTime) -> bool {
    let Some(rest) = name.strip_prefix(TEST_DATABASE_PREFIX) else {
        return false;
    };
    match rest.split_once('_').map(|(secs, _)| secs.parse::<u64>()) {
        Some(Ok(secs)) => {
            let made = SystemTime::UNIX_EPOCH + Duration::from_secs(secs);
            now.duration_since(made).is_ok_and(|age| age > STALE_AFTER)
        }
        _ => !has_sessions,
    }
}

/// Drops the test databases that test processes killed before their end left
/// behind; answers their names.
fn drop_stale_test_databases(conn: &mut PgConnection, now: SystemTime) -> Vec<String> {
    #[derive(QueryableByName)]
    struct Test {
        #[diesel(sql_type = Text)]
        datname: String,
        #[diesel(sql_type = Bool)]
        has_sessions: bool,
    }
    let tests = diesel::sql_query(
        "SELECT datname, EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.datname = d.datname) \
         AS has_sessions FROM pg_database d WHERE datname LIKE 'omnichannel\\_test\\_%'",
    )
    .load::<Test>(conn)
    .expect("pg_database can be read");
    let mut dropped = Vec::new();
    for test in tests {
        if !is_stale(&test.datname, test.has_sessions, now) {
            continue;
        }
        let sql = format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", test.datname);
        match conn.batch_execute(&sql) {
            Ok(()) => dropped.push(test.datname),
            Err(e) => eprintln!(
                "dropping the stale test database {} failed: {e}",
                test.datname
            ),
        }
    }
    dropped
}

/// Drops the test server's database `name` at once, closing its sessions: for
/// tests of what happens when the database goes away. Dropping the `TestDb`
/// that owned it afterwards is harmless.
pub fn drop_postgres_database(name: &str) {
    try_drop_postgres_database(name)
        .unwrap_or_else(|e| panic!("dropping the test database {name} failed: {e}"));
}

fn try_drop_postgres_database(name: &str) -> Result<(), String> {
    let mut conn = PgConnection::establish(&server_url()).map_err(|e| e.to_string())?;
    conn.batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
        .map_err(|e| e.to_string())
}

fn server_url() -> String {
    std::env::var(SERVER_URL_VAR).unwrap_or_else(|_| DEFAULT_SERVER_URL.to_owned())
}

fn server_connection() -> PgConnection {
    let url = server_url();
    PgConnection::establish(&url).unwrap_or_else(|e| {
        panic!(
            "the PostgreSQL test server does not accept connections ({e}); \
             start it or point {SERVER_URL_VAR} at one (now: {})",
            redact(&url)
        )
    })
}

/// `url` with its path replaced by `/database`.
fn with_database(url: &str, database: &str) -> String {
    let (before_query, query) = match url.split_once('?') {
        Some((before, query)) => (before, Some(query)),
        None => (url, None),
    };
    let authority_start = before_query.find("://").map_or(0, |i| i + 3);
    let path_start = before_query[authority_start..]
        .find('/')
        .map_or(before_query.len(), |i| authority_start + i);
    let mut result = format!("{}/{database}", &before_query[..path_start]);
    if let Some(query) = query {
        result.push('?');
        result.push_str(query);
    }
    result
}

fn redact(url: &str) -> String {
    match (url.split_once("://"), url.rfind('@')) {
        (Some((scheme, rest)), Some(_)) => {
            let (userinfo, host) = rest.rsplit_once('@').unwrap_or(("", rest));
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{scheme}://{user}@{host}")
        }
        _ => url.to_owned(),
    }
}

/// The name of the template database for the current PostgreSQL migrations,
/// made once per version of them: the first test process to need it creates
/// and migrates it under an advisory lock, the others wait and reuse it.
fn template() -> &'static str {
    static TEMPLATE: OnceLock<String> = OnceLock::new();
    TEMPLATE.get_or_init(|| {
        let name = format!("omnichannel_template_{:016x}", migrations_hash());
        let mut conn = server_connection();
        conn.batch_execute(&format!("SELECT pg_advisory_lock({TEMPLATE_LOCK})"))
            .expect("the template lock is taken");
        if !is_template(&mut conn, &name) {
            // A database of that name that is not marked as a template was
            // left half made by a process that died: make it again.
            // One statement per call: PostgreSQL runs a multi-statement string
            // in one transaction, where `CREATE DATABASE` may not run.
            let statements = [
                format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"),
                format!("CREATE DATABASE \"{name}\""),
            ];
            for sql in &statements {
                conn.batch_execute(sql)
                    .expect("the template database is created");
            }
            migrate(&with_database(&server_url(), &name));
            // No session may stay on a template while it is cloned.
            let statements = [
                format!("ALTER DATABASE \"{name}\" WITH ALLOW_CONNECTIONS false"),
                format!(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
                ),
                format!("ALTER DATABASE \"{name}\" WITH IS_TEMPLATE true"),
            ];
            for sql in &statements {
                conn.batch_execute(sql)
                    .expect("the template database is sealed");
            }
            drop_stale_templates(&mut conn, &name);
        }
        conn.batch_execute(&format!("SELECT pg_advisory_unlock({TEMPLATE_LOCK})"))
            .expect("the template lock is released");
        drop_stale_test_databases(&mut conn, SystemTime::now());
        name
    })
}

/// Drops the templates of earlier versions of the migrations.
fn drop_stale_templates(conn: &mut PgConnection, current: &str) {
    #[derive(QueryableByName)]
    struct Stale {
        #[diesel(sql_type = Text)]
        datname: String,
    }
    let stale = diesel::sql_query(
        "SELECT datname FROM pg_database \
         WHERE datname LIKE 'omnichannel\\_template\\_%' AND datname <> $1",
    )
    .bind::<Text, _>(current)
    .load::<Stale>(conn)
    .expect("pg_database can be read");
    for Stale { datname } in stale {
        let statements = [
            format!("ALTER DATABASE \"{datname}\" WITH IS_TEMPLATE false"),
            format!("DROP DATABASE IF EXISTS \"{datname}\" WITH (FORCE)"),
        ];
        for sql in &statements {
            if let Err(e) = conn.batch_execute(sql) {
                eprintln!("dropping the stale template {datname} failed: {e}");
            }
        }
    }
}

fn is_template(conn: &mut PgConnection, name: &str) -> bool {
    #[derive(QueryableByName)]
    struct Found {
        #[diesel(sql_type = Bool)]
        found: bool,
    }
    diesel::sql_query(
        "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1 AND datistemplate) AS found",
    )
    .bind::<Text, _>(name)
    .get_result::<Found>(conn)
    .expect("pg_database can be read")
    .found
}

/// FNV-1a over the names and contents of the PostgreSQL migration files, so
/// that a changed migration gets a new template.
fn migrations_hash() -> u64 {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations/postgres");
    let mut files = Vec::new();
    collect_files(&root, &mut files);
    files.sort();
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for file in files {
        let name = file.strip_prefix(&root).unwrap_or(&file).to_string_lossy();
        let contents = std::fs::read(&file).expect("a migration file is readable");
        for byte in name.bytes().chain([0]).chain(contents).chain([0]) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    hash
}

fn collect_files(dir: &Path, files: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("the migrations folder {} is readable: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("a migrations folder entry").path();
        if path.is_dir() {
            collect_files(&path, files);
        } else {
            files.push(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_database_of_a_url_is_replaced() {
        assert_eq!(
            with_database("postgres://u@h:5432/postgres", "t1"),
            "postgres://u@h:5432/t1"
        );
        assert_eq!(with_database("postgres://u@h", "t1"), "postgres://u@h/t1");
        assert_eq!(
            with_database("postgresql://u:p@h/db?sslmode=disable", "t1"),
            "postgresql://u:p@h/t1?sslmode=disable"
        );
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u@h/db");
    }

    fn exists(conn: &mut PgConnection, name: &str) -> bool {
        #[derive(QueryableByName)]
        struct Found {
            #[diesel(sql_type = Bool)]
            found: bool,
        }
        diesel::sql_query("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1) AS found")
            .bind::<Text, _>(name)
            .get_result::<Found>(conn)
            .expect("pg_database can be read")
            .found
    }

    #[test]
    fn a_database_is_stale_by_the_time_in_its_name() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(2_000_000_000);
        let made = |ago: u64| test_database_name(now - Duration::from_secs(ago));
        assert!(!is_stale(&made(0), true, now));
        assert!(!is_stale(&made(STALE_AFTER.as_secs()), false, now));
        assert!(is_stale(&made(STALE_AFTER.as_secs() + 1), true, now));
        // The earlier names carry no time: stale once nobody uses them.
        let old = "omnichannel_test_0123456789abcdef0123456789abcdef";
        assert!(is_stale(old, false, now));
        assert!(!is_stale(old, true, now));
        assert!(!is_stale("omnichannel_template_1", false, now));
    }

    /// A database left by a killed test process is dropped by the next
    /// process; a fresh one, another test's, is kept.
    #[test]
    fn stale_test_databases_are_dropped() {
        let mut conn = server_connection();
        let now = SystemTime::now();
        let left = test_database_name(now - STALE_AFTER - Duration::from_secs(60));
        let fresh = PostgresDatabase::create(None);
        conn.batch_execute(&format!("CREATE DATABASE \"{left}\""))
            .expect("the left-over database is created");

        let dropped = drop_stale_test_databases(&mut conn, now);

        assert!(dropped.contains(&left), "{dropped:?}");
        assert!(!exists(&mut conn, &left));
        assert!(!dropped.contains(&fresh.name), "{dropped:?}");
        assert!(exists(&mut conn, &fresh.name));
    }
}
