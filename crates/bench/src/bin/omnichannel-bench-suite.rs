//! `omnichannel-bench-suite`, run by `make bench`: drives the release binary
//! `omnichannel serve` as a child process on a fresh PostgreSQL database and
//! then on a fresh SQLite file, every channel of the bench department on the
//! `http` provider pointed at a local sink that answers `200` at once, and
//! measures, beside PostgreSQL's own tools:
//!
//! 1. accept: `POST /api/public/v1/communications` from 1, 8 and 32
//!    keep-alive clients for a fixed time (p50, p99), beside `pgbench` with a
//!    one-row `INSERT` at the same client counts;
//! 2. dispatch: N `not_sent` communications seeded by SQL, workers started,
//!    messages a second from the first claim to the last `sent`, and a check
//!    of every rule for every client; beside pg-boss working N no-op jobs;
//! 3. bulk: one bulk send, time to its `202` and until all are `sent`;
//! 4. flat cost: dispatch again with a million older communications in the
//!    table;
//! 5. the server's peak RSS during the accept run.
//!
//! Prints one table and writes the figures as JSON (`--out`). See
//! docs/performance.md for how to read them.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use diesel::{Connection, PgConnection, RunQueryDsl, SqliteConnection};
use serde_json::{Value, json};

const PASSWORD: &str = "bench-operator-password";
const JWT_SECRET: &str = "bench-signing-key-of-at-least-32-bytes";
/// Id prefixes of the rows the bench writes by SQL: valid UUIDs numbered in
/// their last group, so that every statement can make them in the database.
const USER_PREFIX: &str = "20000000-0000-4000-8000-";
const QUEUED_PREFIX: &str = "30000000-0000-4000-8000-";
const OLD_PREFIX: &str = "10000000-0000-4000-8000-";
/// The two rules of the bench department: (limit, unit, units, seconds).
const RULES: [(u32, &str, u32, i64); 2] = [(12, "minute", 1, 60), (1000, "day", 1, 86_400)];

#[derive(Debug, Parser)]
struct Args {
    /// The release binary `omnichannel`.
    #[arg(long)]
    binary: PathBuf,
    /// The PostgreSQL server; a fresh database is made on it and dropped after.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    postgres: String,
    /// Backends to measure, in order.
    #[arg(long, value_delimiter = ',', default_value = "postgres,sqlite")]
    backends: Vec<String>,
    /// Where the JSON report goes.
    #[arg(long, default_value = "target/bench/report.json")]
    out: PathBuf,
    /// A folder holding `node_modules/pg-boss` and `node_modules/pg`; the
    /// script is copied there. Without it pg-boss is skipped.
    #[arg(long)]
    pgboss_dir: Option<PathBuf>,
    /// The pg-boss script (crates/bench/pgboss/bench.mjs).
    #[arg(long, default_value = "crates/bench/pgboss/bench.mjs")]
    pgboss_script: PathBuf,
    /// Smaller counts and shorter runs, for a fast check of the harness.
    #[arg(long, env = "BENCH_QUICK", value_parser = clap::builder::BoolishValueParser::new())]
    quick: bool,
    /// Rounds of the dispatch phase (this service's run, then pg-boss's);
    /// the figures are the medians.
    #[arg(long, default_value_t = 3)]
    dispatch_rounds: usize,
    /// Rounds of the accept phase (each client count, then pgbench's run at
    /// that count); the figures are the medians.
    #[arg(long, default_value_t = 3)]
    accept_rounds: usize,
    /// `worker.concurrency` of the service while dispatching: what an
    /// installation sending in volume would set (the default, 8, is for a
    /// provider's rate limits, not for throughput).
    #[arg(long, default_value_t = 256)]
    concurrency: u32,
    /// The phases to run, for a quicker look at one of them: `accept`
    /// (with pgbench), `dispatch` (with pg-boss), `bulk`, `flat`.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "accept,dispatch,bulk,flat"
    )]
    phases: Vec<String>,
}

impl Args {
    fn runs(&self, phase: &str) -> bool {
        self.phases.iter().any(|p| p == phase)
    }
}

/// The sizes of one run.
#[derive(Debug, Clone, Copy)]
struct Sizes {
    accept_secs: u64,
    clients: [usize; 3],
    dispatch: u64,
    dispatch_users: u64,
    bulk: u64,
    old: u64,
}

impl Sizes {
    fn of(quick: bool) -> Self {
        if quick {
            Self {
                accept_secs: 3,
                clients: [1, 8, 32],
                dispatch: 5_000,
                dispatch_users: 500,
                bulk: 1_000,
                old: 100_000,
            }
        } else {
            Self {
                accept_secs: 10,
                clients: [1, 8, 32],
                dispatch: 50_000,
                dispatch_users: 5_000,
                bulk: 10_000,
                old: 1_000_000,
            }
        }
    }

    fn users(&self) -> u64 {
        self.dispatch_users.max(self.bulk)
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Backend {
    Postgres,
    Sqlite,
}

impl Backend {
    fn name(self) -> &'static str {
        match self {
            Self::Postgres => "postgres",
            Self::Sqlite => "sqlite",
        }
    }
}

/// A fresh database for one backend, dropped (or deleted) at the end.
struct Database {
    backend: Backend,
    url: String,
    drop_with: Option<(String, String)>,
    _dir: Option<tempfile::TempDir>,
}

impl Database {
    fn create(backend: Backend, postgres: &str) -> anyhow::Result<Self> {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir()?;
                let url = dir.path().join("bench.db").display().to_string();
                Ok(Self {
                    backend,
                    url,
                    drop_with: None,
                    _dir: Some(dir),
                })
            }
            Backend::Postgres => {
                let name = format!(
                    "omnichannel_bench_{}_{}",
                    chrono::Utc::now().format("%Y%m%d%H%M%S"),
                    std::process::id()
                );
                let mut conn = PgConnection::establish(postgres)?;
                diesel::sql_query(format!("CREATE DATABASE \"{name}\"")).execute(&mut conn)?;
                let base = postgres
                    .rsplit_once('/')
                    .map(|(server, _)| server)
                    .context("the PostgreSQL URL names no database")?;
                Ok(Self {
                    backend,
                    url: format!("{base}/{name}"),
                    drop_with: Some((postgres.to_owned(), name)),
                    _dir: None,
                })
            }
        }
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        if let Some((server, name)) = &self.drop_with
            && let Ok(mut conn) = PgConnection::establish(server)
        {
            let dropped =
                diesel::sql_query(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                    .execute(&mut conn);
            if let Err(error) = dropped {
                eprintln!("cannot drop the bench database {name}: {error}");
            }
        }
    }
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

#[derive(diesel::QueryableByName)]
struct Seconds {
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Double>)]
    s: Option<f64>,
}

#[derive(diesel::QueryableByName)]
struct Moment {
    #[diesel(sql_type = diesel::sql_types::Text)]
    user_id: String,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    t: i64,
}

/// The bench's own connection to the database, past the service.
enum Probe {
    Pg(PgConnection),
    Sqlite(SqliteConnection),
}

impl Probe {
    fn open(database: &Database) -> anyhow::Result<Self> {
        Ok(match database.backend {
            Backend::Postgres => Self::Pg(PgConnection::establish(&database.url)?),
            Backend::Sqlite => {
                let mut conn = SqliteConnection::establish(&database.url)?;
                diesel::sql_query("PRAGMA busy_timeout = 10000").execute(&mut conn)?;
                Self::Sqlite(conn)
            }
        })
    }

    fn is_pg(&self) -> bool {
        matches!(self, Self::Pg(_))
    }

    fn execute(&mut self, sql: &str) -> anyhow::Result<usize> {
        let query = diesel::sql_query(sql);
        Ok(match self {
            Self::Pg(conn) => query.execute(conn)?,
            Self::Sqlite(conn) => query.execute(conn)?,
        })
    }

    /// Before a timed phase: on PostgreSQL a `CHECKPOINT`, so that no phase
    /// pays for the writes of what came before it (a checkpoint the earlier
    /// phases' WAL or a load calls for would fall in whichever phase came
    /// next, this service's or pg-boss's); nothing on SQLite, whose loads
    /// are checkpointed already.
    fn settle(&mut self) -> anyhow::Result<()> {
        if self.is_pg() {
            self.execute("CHECKPOINT")
                .context("CHECKPOINT before a timed phase")?;
        }
        Ok(())
    }

    fn count(&mut self, sql: &str) -> anyhow::Result<i64> {
        let query = diesel::sql_query(sql);
        let count: Count = match self {
            Self::Pg(conn) => query.get_result(conn)?,
            Self::Sqlite(conn) => query.get_result(conn)?,
        };
        Ok(count.n)
    }

    fn seconds(&mut self, sql: &str) -> anyhow::Result<Option<f64>> {
        let query = diesel::sql_query(sql);
        let s: Seconds = match self {
            Self::Pg(conn) => query.get_result(conn)?,
            Self::Sqlite(conn) => query.get_result(conn)?,
        };
        Ok(s.s)
    }

    fn moments(&mut self, sql: &str) -> anyhow::Result<Vec<Moment>> {
        let query = diesel::sql_query(sql);
        Ok(match self {
            Self::Pg(conn) => query.load(conn)?,
            Self::Sqlite(conn) => query.load(conn)?,
        })
    }

    /// Whether anything is still queued: read through the queue's partial index.
    fn queued(&mut self) -> anyhow::Result<bool> {
        Ok(self.count(
            "SELECT count(*) AS n FROM (SELECT 1 FROM communications WHERE due_at IS NOT NULL LIMIT 1) AS q",
        )? > 0)
    }

    /// An id numbered `n` (an SQL expression) after `prefix`.
    fn id(&self, prefix: &str, n: &str) -> String {
        if self.is_pg() {
            format!("'{prefix}' || lpad(({n})::text, 12, '0')")
        } else {
            format!("printf('{prefix}%012d', {n})")
        }
    }

    /// A `TIMESTAMP` literal.
    fn at(&self, moment: &str) -> String {
        if self.is_pg() {
            format!("TIMESTAMP '{moment}'")
        } else {
            format!("'{moment}'")
        }
    }

    /// `INSERT INTO table (columns) SELECT values FROM 0..count AS n`.
    fn insert_series(
        &mut self,
        table: &str,
        columns: &str,
        values: &str,
        count: u64,
    ) -> anyhow::Result<()> {
        let sql = if self.is_pg() {
            format!(
                "INSERT INTO {table} ({columns}) SELECT {values} FROM generate_series(0, {}) AS s(n)",
                count.saturating_sub(1)
            )
        } else {
            format!(
                "WITH RECURSIVE s(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM s WHERE n + 1 < {count}) \
                 INSERT INTO {table} ({columns}) SELECT {values} FROM s"
            )
        };
        self.execute(&sql)?;
        Ok(())
    }

    /// An empty communications table (and history).
    fn empty_communications(&mut self) -> anyhow::Result<()> {
        if self.is_pg() {
            self.execute("TRUNCATE communication_events, communications")?;
        } else {
            self.execute("DELETE FROM communication_events")?;
            self.execute("DELETE FROM communications")?;
            self.execute("VACUUM")?;
        }
        Ok(())
    }

    /// Seconds between two timestamp expressions.
    fn span(&self, from: &str, to: &str) -> String {
        if self.is_pg() {
            format!("extract(epoch from ({to}) - ({from}))::float8")
        } else {
            format!("(julianday({to}) - julianday({from})) * 86400.0")
        }
    }

    fn micros(&self, column: &str) -> String {
        if self.is_pg() {
            format!("(extract(epoch from {column}) * 1000000)::int8")
        } else {
            format!("CAST(round((julianday({column}) - 2440587.5) * 86400000000.0) AS INTEGER)")
        }
    }
}

/// Now, a minute ago, as the databases store it (UTC, microseconds).
fn base_moment() -> String {
    (chrono::Utc::now() - chrono::Duration::minutes(1))
        .format("%Y-%m-%d %H:%M:%S.000000")
        .to_string()
}

/// CPU seconds (user + system) a process has used, from /proc.
fn cpu_seconds(pid: &str) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name may hold spaces; the fields after it are plain.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).context("bad stat")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| -> anyhow::Result<f64> {
        Ok(fields.get(i).context("short stat")?.parse::<f64>()?)
    };
    // utime and stime are fields 14 and 15 of the line, 12 and 13 here.
    Ok((ticks(11)? + ticks(12)?) / clock_ticks())
}

fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

/// The `omnichannel serve` child process.
struct Server {
    child: Child,
    base: String,
}

impl Server {
    fn command(binary: &Path, database: &Database, extra: &[(&str, String)]) -> Command {
        let mut command = Command::new(binary);
        // Only the variables of this run: an unknown `OMNICHANNEL_*` key
        // (e.g. the tests' `OMNICHANNEL_TEST_POSTGRES_URL`) stops the start.
        for (key, _) in std::env::vars() {
            if key.starts_with("OMNICHANNEL_") {
                command.env_remove(key);
            }
        }
        command
            .env("OMNICHANNEL_DATABASE_URL", &database.url)
            .env("OMNICHANNEL_JWT_SECRET", JWT_SECRET)
            .env("OMNICHANNEL_ADMIN_PASSWORD", PASSWORD)
            .env("OMNICHANNEL_LOG__FORMAT", "text")
            .env("RUST_LOG", "warn");
        for (key, value) in extra {
            command.env(key, value);
        }
        command
    }

    async fn start(
        binary: &Path,
        database: &Database,
        sink: &str,
        workers: bool,
        concurrency: u32,
    ) -> anyhow::Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let child = Self::command(
            binary,
            database,
            &[
                ("OMNICHANNEL_BIND", format!("127.0.0.1:{port}")),
                ("OMNICHANNEL_WORKER__ENABLED", workers.to_string()),
                ("OMNICHANNEL_WORKER__CONCURRENCY", concurrency.to_string()),
                ("OMNICHANNEL_CHANNELS__SMS__PROVIDER", "http".to_owned()),
                ("OMNICHANNEL_CHANNELS__SMS__URL", sink.to_owned()),
            ],
        )
        .arg("serve")
        .stdin(Stdio::null())
        .spawn()
        .with_context(|| format!("cannot start {}", binary.display()))?;
        let mut server = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
        };
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if let Some(status) = server.child.try_wait()? {
                bail!("omnichannel serve exited at start: {status}");
            }
            let ready = http
                .get(format!("{}/health/ready", server.base))
                .send()
                .await
                .map(|r| r.status().is_success())
                .unwrap_or(false);
            if ready {
                return Ok(server);
            }
            if Instant::now() > deadline {
                server.stop();
                bail!("omnichannel serve was not ready within 2 minutes");
            }
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn pid(&self) -> String {
        self.child.id().to_string()
    }

    /// Peak resident set (VmHWM) so far, in MB.
    fn peak_rss_mb(&self) -> anyhow::Result<f64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))?;
        let kb: f64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .context("no VmHWM")?
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()?;
        Ok(kb / 1024.0)
    }

    /// `SIGTERM`, then at most 30 s for a clean exit, then `SIGKILL`.
    fn stop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.pid()]).status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        eprintln!("omnichannel serve did not stop within 30 s: killed");
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.stop();
        }
    }
}

/// What the bench sets up once per backend.
struct Setup {
    department: String,
    mass: String,
    sms: String,
    key: String,
    secret: String,
}

async fn admin_call(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> anyhow::Result<Value> {
    let mut request = http
        .request(method, format!("{base}/api/admin/v1{path}"))
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await?;
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        bail!("{path}: {status} {body}");
    }
    Ok(body)
}

fn id(value: &Value) -> anyhow::Result<String> {
    Ok(value["id"].as_str().context("no id")?.to_owned())
}

/// The department (the seeded `mass` type by sms, two rules), an API key
/// made by `omnichannel api-key create`, and the clients, inserted by SQL.
async fn set_up(
    binary: &Path,
    database: &Database,
    server: &Server,
    probe: &mut Probe,
    users: u64,
) -> anyhow::Result<Setup> {
    let http = reqwest::Client::new();
    let base = &server.base;
    let pair: Value = http
        .post(format!("{base}/api/admin/v1/auth/login"))
        .json(&json!({"username": "admin", "password": PASSWORD}))
        .send()
        .await?
        .json()
        .await?;
    let token = pair["access_token"].as_str().context("no access token")?;
    let call = |method, path: String, body| {
        let http = &http;
        async move { admin_call(http, base, token, method, &path, body).await }
    };
    let types = call(reqwest::Method::GET, "/communication-types".into(), None).await?;
    let sources = call(reqwest::Method::GET, "/communication-sources".into(), None).await?;
    let code = |list: &Value, code: &str| -> anyhow::Result<String> {
        list["items"]
            .as_array()
            .and_then(|items| items.iter().find(|i| i["code"] == code))
            .map(id)
            .context("a seeded entry is missing")?
    };
    let mass = code(&types, "mass")?;
    let sms = code(&sources, "sms")?;
    let department = id(&call(
        reqwest::Method::POST,
        "/departments".into(),
        Some(json!({"name": "Bench"})),
    )
    .await?)?;
    call(
        reqwest::Method::PUT,
        format!("/departments/{department}/favorite-sources"),
        Some(json!({"items": [{"communication_type_id": mass, "communication_source_id": sms, "priority": 1}]})),
    )
    .await?;
    for (limit, unit, units, _) in RULES {
        call(
            reqwest::Method::POST,
            format!("/departments/{department}/rules"),
            Some(json!({"limit_per_unit": limit, "unit": unit, "units_count": units})),
        )
        .await?;
    }

    let output = Server::command(binary, database, &[])
        .args(["api-key", "create", "--name", "bench"])
        .stdin(Stdio::null())
        .output()?;
    if !output.status.success() {
        bail!(
            "omnichannel api-key create failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let mut key = None;
    let mut secret = None;
    for line in output.stdout.lines() {
        let line = line?;
        if let Some(v) = line.strip_prefix("api_key:") {
            key = Some(v.trim().to_owned());
        } else if let Some(v) = line.strip_prefix("secret_api_key:") {
            secret = Some(v.trim().to_owned());
        }
    }

    let at = probe.at(&base_moment());
    let user = probe.id(USER_PREFIX, "n");
    let phone = if probe.is_pg() {
        "'+1555' || lpad(n::text, 7, '0')".to_owned()
    } else {
        "printf('+1555%07d', n)".to_owned()
    };
    probe.insert_series(
        "users",
        "id, first_name, last_name, phone, search_text, created_at, updated_at",
        &format!("{user}, 'Bench', 'Client', {phone}, '', {at}, {at}"),
        users,
    )?;
    Ok(Setup {
        department,
        mass,
        sms,
        key: key.context("api-key create printed no api_key")?,
        secret: secret.context("api-key create printed no secret_api_key")?,
    })
}

fn user_id(n: u64) -> String {
    format!("{USER_PREFIX}{n:012}")
}

/// One accept run: `clients` keep-alive connections posting sends for `secs`.
struct AcceptRun {
    requests: u64,
    errors: u64,
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    loadgen_cpu: f64,
    server_cpu: f64,
}

async fn accept(
    server: &Server,
    setup: &Setup,
    users: u64,
    clients: usize,
    secs: u64,
) -> anyhow::Result<AcceptRun> {
    let url = format!("{}/api/public/v1/communications", server.base);
    let next = Arc::new(AtomicUsize::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let own_before = cpu_seconds("self")?;
    let server_before = cpu_seconds(&server.pid())?;
    let started = Instant::now();
    let deadline = started + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(1)
            .tcp_nodelay(true)
            .build()?;
        let url = url.clone();
        let next = next.clone();
        let errors = errors.clone();
        let (department, mass) = (setup.department.clone(), setup.mass.clone());
        let (key, secret) = (setup.key.clone(), setup.secret.clone());
        tasks.push(actix_web::rt::spawn(async move {
            let mut latencies: Vec<u32> = Vec::with_capacity(100_000);
            while Instant::now() < deadline {
                let i = next.fetch_add(1, Ordering::Relaxed) as u64;
                let body = json!({
                    "user_id": user_id(i % users),
                    "department_id": department,
                    "communication_type_id": mass,
                    "message": format!("Message {i}"),
                });
                let sent = Instant::now();
                let response = http
                    .post(&url)
                    .header("X-Api-Key", &key)
                    .header("X-Api-Secret", &secret)
                    .json(&body)
                    .send()
                    .await;
                let ok = match response {
                    Ok(response) => {
                        let accepted = response.status() == reqwest::StatusCode::ACCEPTED;
                        let _ = response.bytes().await;
                        accepted
                    }
                    Err(_) => false,
                };
                if ok {
                    let micros = sent.elapsed().as_micros();
                    latencies.push(u32::try_from(micros).unwrap_or(u32::MAX));
                } else {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await?);
    }
    let wall = started.elapsed().as_secs_f64();
    let own = cpu_seconds("self")? - own_before;
    let served = cpu_seconds(&server.pid())? - server_before;
    latencies.sort_unstable();
    let quantile = |q: f64| -> f64 {
        if latencies.is_empty() {
            return f64::NAN;
        }
        let i = ((latencies.len() as f64 * q).ceil() as usize).clamp(1, latencies.len()) - 1;
        f64::from(latencies[i]) / 1000.0
    };
    Ok(AcceptRun {
        requests: latencies.len() as u64,
        errors: errors.load(Ordering::Relaxed),
        rps: latencies.len() as f64 / wall,
        p50_ms: quantile(0.50),
        p99_ms: quantile(0.99),
        loadgen_cpu: own / wall,
        server_cpu: served / wall,
    })
}

/// `pgbench` with a one-row `INSERT` (uuid key, one index) on the same
/// database: transactions a second.
fn pgbench(database: &Database, clients: usize, secs: u64) -> anyhow::Result<f64> {
    let dir = tempfile::tempdir()?;
    let script = dir.path().join("insert.sql");
    std::fs::write(
        &script,
        "INSERT INTO bench_insert (user_id) VALUES (gen_random_uuid());\n",
    )?;
    let output = Command::new("pgbench")
        .args(["-n", "-c", &clients.to_string(), "-j", &clients.to_string()])
        .args(["-T", &secs.to_string(), "-f"])
        .arg(&script)
        .arg(&database.url)
        .stdin(Stdio::null())
        .output()
        .context("cannot run pgbench (it comes with PostgreSQL's client programs)")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!(
            "pgbench failed: {stdout} {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("tps = "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|tps| tps.parse().ok())
        .with_context(|| format!("no tps in pgbench's output: {stdout}"))
}

/// One dispatch run: `queued` not_sent communications (after `old` older
/// sent ones), the service started with its workers on.
struct DispatchRun {
    rate: f64,
    seconds: f64,
    sent: i64,
    violations: u64,
    seed_s: f64,
    server_cpu: f64,
}

#[allow(clippy::too_many_arguments)]
async fn dispatch(
    args: &Args,
    database: &Database,
    probe: &mut Probe,
    setup: &Setup,
    sink: &str,
    queued: u64,
    users: u64,
    old: u64,
) -> anyhow::Result<DispatchRun> {
    probe.empty_communications()?;
    // Before the load, not after it: a queue is worked soon after it is
    // written, within one checkpoint's cycle, so the pages the run writes
    // were logged whole by the load (pg-boss's run likewise, whose jobs are
    // inserted after the checkpoint before it).
    probe.settle()?;
    let seeding = Instant::now();
    let base = base_moment();
    let at = probe.at(&base);
    let (department, mass, sms) = (&setup.department, &setup.mass, &setup.sms);
    if old > 0 {
        // Sent ones, two days to a year old: counted by the rules' index,
        // outside every rule's window.
        let moment = if probe.is_pg() {
            format!("({at} - make_interval(secs => 172800 + (n % 31536000) * 30))")
        } else {
            format!(
                "(strftime('%Y-%m-%d %H:%M:%S', '{base}', '-' || (172800 + (n % 31536000) * 30) || ' seconds') || '.000000')"
            )
        };
        let id = probe.id(OLD_PREFIX, "n");
        let user = probe.id(USER_PREFIX, &format!("n % {users}"));
        probe.insert_series(
            "communications",
            "id, department_id, user_id, communication_type_id, communication_source_id, \
             communication_date, status, message, sent_at, attempts, provider_message_id, \
             created_at, updated_at, counted_at",
            &format!(
                "{id}, '{department}', {user}, '{mass}', '{sms}', {moment}, 'sent', 'Older message', \
                 {moment}, 1, 'old', {moment}, {moment}, {moment}"
            ),
            old,
        )?;
    }
    let id = probe.id(QUEUED_PREFIX, "n");
    let user = probe.id(USER_PREFIX, &format!("n % {users}"));
    probe.insert_series(
        "communications",
        "id, department_id, user_id, communication_type_id, communication_date, status, \
         message, attempts, created_at, updated_at, due_at",
        &format!(
            "{id}, '{department}', {user}, '{mass}', {at}, 'not_sent', 'Bench message', 0, {at}, {at}, {at}"
        ),
        queued,
    )?;
    if probe.is_pg() {
        // What autovacuum does soon after a load this size.
        probe.execute("ANALYZE communications")?;
    } else {
        // What SQLite's automatic checkpoint does soon after: the load's
        // pages moved from the write-ahead log into the database file.
        probe.execute("PRAGMA wal_checkpoint(TRUNCATE)")?;
    }
    let seed_s = seeding.elapsed().as_secs_f64();

    let server = Server::start(&args.binary, database, sink, true, args.concurrency).await?;
    let cpu_before = cpu_seconds(&server.pid())?;
    let started = Instant::now();
    let deadline = started + Duration::from_secs(600);
    // The times come from the database; the poll only says when to read
    // them, seldom enough that its scan of the queue's index (dead entries
    // and all, until vacuum) costs the database next to nothing.
    while probe.queued()? {
        if Instant::now() > deadline {
            bail!("the queue was not empty after 10 minutes");
        }
        actix_web::rt::time::sleep(Duration::from_millis(250)).await;
    }
    let server_cpu = (cpu_seconds(&server.pid())? - cpu_before) / started.elapsed().as_secs_f64();
    drop(server);

    let mine = format!("id LIKE '{QUEUED_PREFIX}%'");
    let sent = probe.count(&format!(
        "SELECT count(*) AS n FROM communications WHERE {mine} AND status = 'sent'"
    ))?;
    let span = probe.span("min(sent_at)", "max(updated_at)");
    let seconds = probe
        .seconds(&format!(
            "SELECT {span} AS s FROM communications WHERE {mine} AND status = 'sent'"
        ))?
        .context("nothing was sent")?;
    let micros = probe.micros("sent_at");
    let moments = probe.moments(&format!(
        "SELECT user_id, {micros} AS t FROM communications \
         WHERE department_id = '{department}' AND status IN ('sent', 'delivered', 'read') \
         AND sent_at >= {at} ORDER BY user_id, sent_at"
    ))?;
    Ok(DispatchRun {
        rate: sent as f64 / seconds,
        seconds,
        sent,
        violations: violations(&moments),
        seed_s,
        server_cpu,
    })
}

/// (client, rule) pairs with more than the rule's limit in some window of its
/// length. A moment `t` counts in the window `(s − length, s]` (see
/// crates/domain/src/rate.rs: a moment leaves the window exactly at its end),
/// so `limit + 1` moments within less than `length` of each other break it.
fn violations(moments: &[Moment]) -> u64 {
    let mut broken = 0;
    for (limit, _, _, secs) in RULES {
        let window = secs * 1_000_000;
        let limit = limit as usize;
        let mut start = 0;
        while start < moments.len() {
            let user = &moments[start].user_id;
            let end = moments[start..]
                .iter()
                .position(|m| &m.user_id != user)
                .map_or(moments.len(), |p| start + p);
            let times: Vec<i64> = moments[start..end].iter().map(|m| m.t).collect();
            if times.windows(limit + 1).any(|w| w[limit] - w[0] < window) {
                broken += 1;
            }
            start = end;
        }
    }
    broken
}

/// The median of `values`; `None` when there are none.
fn median(values: impl Iterator<Item = f64>) -> Option<f64> {
    let mut values: Vec<f64> = values.collect();
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let middle = values.len() / 2;
    Some(if values.len() % 2 == 1 {
        values[middle]
    } else {
        f64::midpoint(values[middle - 1], values[middle])
    })
}

/// The ceiling of this machine's HTTP path for dispatch: `posts` JSON bodies
/// like the `http` provider's posted straight to the sink, `in_flight` at
/// once, from a thread and runtime of their own (as the service's calls come
/// from its process, not the sink's thread): posts a second.
fn direct_posts(sink_url: &str, posts: u64, in_flight: usize) -> anyhow::Result<f64> {
    use futures_util::StreamExt;

    let sink_url = sink_url.to_owned();
    let posting = std::thread::spawn(move || -> anyhow::Result<f64> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        runtime.block_on(async move {
            let http = reqwest::Client::builder().tcp_nodelay(true).build()?;
            let started = Instant::now();
            let refused = futures_util::stream::iter(0..posts)
                .map(|i| {
                    let body = json!({
                        "communication_id": format!("00000000-0000-4000-8000-{i:012}"),
                        "user_id": user_id(i),
                        "department_id": "00000000-0000-4000-8000-000000000000",
                        "communication_type": "mass",
                        "channel": "sms",
                        "to": "+15550000000",
                        "message": format!("Message {i}"),
                    });
                    let request = http.post(&sink_url).json(&body);
                    async move {
                        match request.send().await {
                            Ok(response) => {
                                let ok = response.status().is_success();
                                response.bytes().await.is_ok() && ok
                            }
                            Err(_) => false,
                        }
                    }
                })
                .buffer_unordered(in_flight)
                .filter(|ok| std::future::ready(!ok))
                .count()
                .await;
            if refused > 0 {
                bail!("the sink refused {refused} of {posts} direct posts");
            }
            Ok(posts as f64 / started.elapsed().as_secs_f64())
        })
    });
    posting
        .join()
        .map_err(|_| anyhow::anyhow!("the posting thread panicked"))?
}

/// pg-boss on the same database: `jobs` no-op jobs, batches of 1 000, in a
/// queue of the round's own.
fn pgboss(args: &Args, database: &Database, jobs: u64, round: usize) -> anyhow::Result<Value> {
    let dir = args
        .pgboss_dir
        .as_ref()
        .context("no --pgboss-dir: pg-boss skipped")?;
    // Node resolves `pg-boss` from the script's folder.
    let dir = std::fs::canonicalize(dir)
        .with_context(|| format!("no pg-boss folder {}", dir.display()))?;
    let script = dir.join("bench.mjs");
    std::fs::copy(&args.pgboss_script, &script)
        .with_context(|| format!("cannot copy {}", args.pgboss_script.display()))?;
    let output = Command::new("node")
        .arg(&script)
        .current_dir(&dir)
        .env("DATABASE_URL", &database.url)
        .env("JOBS", jobs.to_string())
        .env("BATCH", "1000")
        .env("QUEUE", format!("bench_{round}"))
        .stdin(Stdio::null())
        .output()
        .context("cannot run node")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!(
            "the pg-boss bench failed: {stdout} {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .context("the pg-boss bench printed no result")?;
    Ok(serde_json::from_str(line)?)
}

struct Bulk {
    accept_s: f64,
    all_sent_s: f64,
}

async fn bulk(
    args: &Args,
    database: &Database,
    probe: &mut Probe,
    setup: &Setup,
    sink: &str,
    clients: u64,
) -> anyhow::Result<Bulk> {
    probe.empty_communications()?;
    probe.settle()?;
    let server = Server::start(&args.binary, database, sink, true, args.concurrency).await?;
    let users: Vec<String> = (0..clients).map(user_id).collect();
    let http = reqwest::Client::new();
    let started = Instant::now();
    let response = http
        .post(format!("{}/api/public/v1/communications/bulk", server.base))
        .header("X-Api-Key", &setup.key)
        .header("X-Api-Secret", &setup.secret)
        .json(&json!({
            "user_ids": users,
            "department_id": setup.department,
            "communication_type_id": setup.mass,
            "message": "Spring sale",
        }))
        .send()
        .await?;
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    let accept_s = started.elapsed().as_secs_f64();
    if status != reqwest::StatusCode::ACCEPTED || body["accepted"].as_u64() != Some(clients) {
        bail!(
            "the bulk send was not accepted whole: {status} {}",
            body["refused"]
        );
    }
    let deadline = started + Duration::from_secs(600);
    while probe.queued()? {
        if Instant::now() > deadline {
            bail!("the bulk was not all sent within 10 minutes");
        }
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    let all_sent_s = started.elapsed().as_secs_f64();
    drop(server);
    let sent = probe.count("SELECT count(*) AS n FROM communications WHERE status = 'sent'")?;
    if sent != clients as i64 {
        bail!("{sent} of {clients} communications of the bulk were sent");
    }
    Ok(Bulk {
        accept_s,
        all_sent_s,
    })
}

fn round(x: f64, digits: i32) -> Value {
    if x.is_finite() {
        let f = 10f64.powi(digits);
        json!((x * f).round() / f)
    } else {
        Value::Null
    }
}

/// Runs a phase; a failure is reported and leaves the phase's figures null.
fn phase<T>(name: &str, result: anyhow::Result<T>, notes: &mut Vec<String>) -> Option<T> {
    match result {
        Ok(value) => Some(value),
        Err(error) => {
            eprintln!("bench: {name} failed: {error:#}");
            notes.push(format!("{name}: {error:#}"));
            None
        }
    }
}

async fn run_backend(args: &Args, backend: Backend, sizes: Sizes) -> anyhow::Result<Value> {
    eprintln!("bench: {} — setting up", backend.name());
    let database = Database::create(backend, &args.postgres)?;
    let (sink_url, _received) = omnichannel_bench::sink::start().await?;
    // The service migrates the database; the probe opens it after.
    let server = Server::start(&args.binary, &database, &sink_url, false, args.concurrency).await?;
    let mut probe = Probe::open(&database)?;
    let setup = set_up(&args.binary, &database, &server, &mut probe, sizes.users()).await?;
    let mut notes = Vec::new();

    // 1. Accept, workers off, and the peak RSS of those runs; on PostgreSQL
    // each run is followed by pgbench's at the same client count, in rounds,
    // so that each pair shares the machine's moment and the figures are the
    // medians of the rounds.
    let mut accept_json = serde_json::Map::new();
    let accept_clients: &[usize] = if args.runs("accept") {
        &sizes.clients
    } else {
        &[]
    };
    let mut pgbench_ready = false;
    if backend == Backend::Postgres && !accept_clients.is_empty() {
        let created = probe
            .execute(
                "CREATE TABLE bench_insert (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), \
                 user_id uuid, created_at timestamptz DEFAULT now())",
            )
            .and_then(|_| {
                probe.execute("CREATE INDEX bench_insert_user_idx ON bench_insert (user_id)")
            });
        pgbench_ready = phase("pgbench table", created, &mut notes).is_some();
    }
    let accept_rounds = args.accept_rounds.max(1);
    let mut accept_runs: BTreeMap<usize, Vec<(AcceptRun, Option<f64>)>> = BTreeMap::new();
    for round in 1..=accept_rounds {
        for &clients in accept_clients {
            eprintln!(
                "bench: {} — accept, {clients} clients (round {round} of {accept_rounds})",
                backend.name()
            );
            probe.settle()?;
            let Some(run) = phase(
                &format!("accept {clients}"),
                accept(
                    &server,
                    &setup,
                    sizes.dispatch_users,
                    clients,
                    sizes.accept_secs,
                )
                .await,
                &mut notes,
            ) else {
                continue;
            };
            let tps = if pgbench_ready {
                eprintln!("bench: {} — pgbench, {clients} clients", backend.name());
                probe.settle()?;
                phase(
                    &format!("pgbench {clients}"),
                    pgbench(&database, clients, sizes.accept_secs),
                    &mut notes,
                )
            } else {
                None
            };
            accept_runs.entry(clients).or_default().push((run, tps));
        }
    }
    for (clients, runs) in &accept_runs {
        let of = |f: fn(&AcceptRun) -> f64| median(runs.iter().map(|(run, _)| f(run)));
        let figure = |x: Option<f64>, digits: i32| x.map_or(Value::Null, |x| round(x, digits));
        let rps = of(|r| r.rps);
        let mut entry = json!({
            "rps": figure(rps, 0),
            "p50_ms": figure(of(|r| r.p50_ms), 2),
            "p99_ms": figure(of(|r| r.p99_ms), 2),
            "requests": runs.iter().map(|(r, _)| r.requests).sum::<u64>(),
            "errors": runs.iter().map(|(r, _)| r.errors).sum::<u64>(),
            "loadgen_cpu": figure(of(|r| r.loadgen_cpu), 2),
            "server_cpu": figure(of(|r| r.server_cpu), 2),
            "rounds": runs.iter().map(|(r, tps)| json!({
                "rps": round(r.rps, 0),
                "p50_ms": round(r.p50_ms, 2),
                "p99_ms": round(r.p99_ms, 2),
                "pgbench_tps": tps.map_or(Value::Null, |t| round(t, 0)),
            })).collect::<Vec<_>>(),
        });
        if let Some(tps) = median(runs.iter().filter_map(|(_, tps)| *tps)) {
            entry["pgbench_tps"] = round(tps, 0);
            entry["ratio"] = rps.map_or(Value::Null, |r| round(r / tps, 2));
        }
        accept_json.insert(clients.to_string(), entry);
    }
    let peak_rss_mb = server.peak_rss_mb().ok();
    drop(server);

    // 2. Dispatch, in rounds: this service's run, then pg-boss's (on
    // PostgreSQL), again and again; each figure is the median of its rounds,
    // since one run of either moves by half on this shared machine.
    let mut runs = Vec::new();
    let mut bosses = Vec::new();
    let mut posts = Vec::new();
    if args.runs("dispatch") || args.runs("flat") {
        let rounds = if args.runs("dispatch") {
            args.dispatch_rounds.max(1)
        } else {
            1
        };
        for round in 1..=rounds {
            eprintln!(
                "bench: {} — dispatch of {} (round {round} of {rounds})",
                backend.name(),
                sizes.dispatch
            );
            let run = phase(
                "dispatch",
                dispatch(
                    args,
                    &database,
                    &mut probe,
                    &setup,
                    &sink_url,
                    sizes.dispatch,
                    sizes.dispatch_users,
                    0,
                )
                .await,
                &mut notes,
            );
            runs.extend(run);
            if args.runs("dispatch") {
                eprintln!(
                    "bench: {} — {} posts straight to the sink (round {round} of {rounds})",
                    backend.name(),
                    sizes.dispatch
                );
                posts.extend(phase(
                    "direct posts",
                    direct_posts(&sink_url, sizes.dispatch, args.concurrency as usize),
                    &mut notes,
                ));
            }
            if backend == Backend::Postgres && args.runs("dispatch") {
                eprintln!(
                    "bench: {} — pg-boss, {} jobs (round {round} of {rounds})",
                    backend.name(),
                    sizes.dispatch
                );
                probe.settle()?;
                bosses.extend(phase(
                    "pg-boss",
                    pgboss(args, &database, sizes.dispatch, round),
                    &mut notes,
                ));
            }
        }
    }
    let empty_rate = median(runs.iter().map(|r| r.rate));
    let mut dispatch_json = match runs.first() {
        Some(first) => json!({
            "rate": empty_rate.map_or(Value::Null, |r| round(r, 0)),
            "violations": runs.iter().map(|r| r.violations).sum::<u64>(),
            "sent": first.sent,
            "rounds": runs.iter().map(|r| json!({
                "rate": round(r.rate, 0),
                "violations": r.violations,
                "sent": r.sent,
                "seconds": round(r.seconds, 2),
                "seed_s": round(r.seed_s, 2),
                "server_cpu": round(r.server_cpu, 2),
            })).collect::<Vec<_>>(),
        }),
        None => json!({}),
    };
    if let Some(rate) = median(posts.iter().copied()) {
        dispatch_json["direct_posts_rate"] = round(rate, 0);
        dispatch_json["direct_posts"] = posts.iter().map(|&r| round(r, 0)).collect();
    }
    if let Some(rate) = median(
        bosses
            .iter()
            .map(|b| b["rate"].as_f64().unwrap_or(f64::NAN)),
    ) {
        dispatch_json["pgboss_rate"] = round(rate, 0);
        dispatch_json["pgboss"] = Value::Array(bosses);
        dispatch_json["ratio"] = empty_rate.map_or(Value::Null, |r| round(r / rate, 2));
        if let Some(posts) = median(posts.iter().copied()) {
            dispatch_json["direct_posts_to_pgboss"] = round(posts / rate, 2);
        }
    }

    // 3. Bulk.
    let bulk_run = if args.runs("bulk") {
        eprintln!("bench: {} — bulk of {}", backend.name(), sizes.bulk);
        phase(
            "bulk",
            bulk(args, &database, &mut probe, &setup, &sink_url, sizes.bulk).await,
            &mut notes,
        )
    } else {
        None
    };
    let bulk_json = match bulk_run {
        Some(b) => json!({"accept_s": round(b.accept_s, 3), "all_sent_s": round(b.all_sent_s, 2)}),
        None => json!({}),
    };

    // 4. Flat cost.
    let flat = if args.runs("flat") {
        eprintln!(
            "bench: {} — dispatch of {} after {} older",
            backend.name(),
            sizes.dispatch,
            sizes.old
        );
        phase(
            "flat",
            dispatch(
                args,
                &database,
                &mut probe,
                &setup,
                &sink_url,
                sizes.dispatch,
                sizes.dispatch_users,
                sizes.old,
            )
            .await,
            &mut notes,
        )
    } else {
        None
    };
    let flat_json = match &flat {
        Some(run) => json!({
            "rate": round(run.rate, 0),
            "ratio": empty_rate.map_or(Value::Null, |e| round(run.rate / e, 2)),
            "violations": run.violations,
            "older": sizes.old,
            "seed_s": round(run.seed_s, 1),
        }),
        None => json!({}),
    };

    Ok(json!({
        "accept": accept_json,
        "dispatch": dispatch_json,
        "bulk": bulk_json,
        "flat": flat_json,
        "peak_rss_mb": peak_rss_mb.map_or(Value::Null, |m| round(m, 1)),
        "notes": notes,
    }))
}

fn cell(v: &Value, digits: usize) -> String {
    match v.as_f64() {
        Some(x) => format!("{x:.digits$}"),
        None => "—".to_owned(),
    }
}

/// The table, one column per backend, in Markdown.
fn table(report: &BTreeMap<String, Value>, sizes: Sizes) -> String {
    let backends: Vec<&String> = report.keys().collect();
    let mut rows: Vec<(String, Vec<String>, &str)> = Vec::new();
    for c in sizes.clients {
        let key = c.to_string();
        let target = if c == 8 {
            "≥ 0.5× pgbench, ≥ 5 000/s; p99 < 50 ms"
        } else {
            ""
        };
        rows.push((
            format!("accept, {c} clients: sends/s (p50 / p99 ms)"),
            backends
                .iter()
                .map(|b| {
                    let a = &report[*b]["accept"][&key];
                    format!(
                        "{} ({} / {})",
                        cell(&a["rps"], 0),
                        cell(&a["p50_ms"], 1),
                        cell(&a["p99_ms"], 1)
                    )
                })
                .collect(),
            target,
        ));
        rows.push((
            format!("　pgbench INSERT, {c} clients: tps (ratio)"),
            backends
                .iter()
                .map(|b| {
                    let a = &report[*b]["accept"][&key];
                    if a.get("pgbench_tps").is_some() {
                        format!("{} ({})", cell(&a["pgbench_tps"], 0), cell(&a["ratio"], 2))
                    } else {
                        "—".to_owned()
                    }
                })
                .collect(),
            "",
        ));
        rows.push((
            format!("　CPU, {c} clients: load generator / server (cores)"),
            backends
                .iter()
                .map(|b| {
                    let a = &report[*b]["accept"][&key];
                    format!(
                        "{} / {}",
                        cell(&a["loadgen_cpu"], 2),
                        cell(&a["server_cpu"], 2)
                    )
                })
                .collect(),
            "",
        ));
    }
    let get = |path: &[&str], digits: usize| -> Vec<String> {
        backends
            .iter()
            .map(|b| {
                let mut v = &report[*b];
                for p in path {
                    v = &v[*p];
                }
                cell(v, digits)
            })
            .collect()
    };
    rows.push((
        format!("dispatch of {}: messages/s", sizes.dispatch),
        get(&["dispatch", "rate"], 0),
        "≥ 2× pg-boss, ≥ 5 000/s",
    ));
    rows.push((
        "　rule violations (client × rule)".to_owned(),
        get(&["dispatch", "violations"], 0),
        "0",
    ));
    rows.push((
        format!(
            "　pg-boss, {} jobs, batches of 1 000: jobs/s",
            sizes.dispatch
        ),
        get(&["dispatch", "pgboss_rate"], 0),
        "",
    ));
    rows.push((
        "　dispatch / pg-boss".to_owned(),
        get(&["dispatch", "ratio"], 2),
        "≥ 2",
    ));
    rows.push((
        format!(
            "　{} posts straight to the sink, as many at once as the calls: posts/s",
            sizes.dispatch
        ),
        get(&["dispatch", "direct_posts_rate"], 0),
        "",
    ));
    rows.push((
        "　direct posts / pg-boss: the HTTP path's ceiling for the ratio".to_owned(),
        get(&["dispatch", "direct_posts_to_pgboss"], 2),
        "",
    ));
    rows.push((
        format!("bulk of {}: to the 202 (s)", sizes.bulk),
        get(&["bulk", "accept_s"], 3),
        "≤ 1 s",
    ));
    rows.push((
        "　until all sent (s)".to_owned(),
        get(&["bulk", "all_sent_s"], 2),
        "≤ 5 s",
    ));
    rows.push((
        format!("dispatch after {} older: messages/s", sizes.old),
        get(&["flat", "rate"], 0),
        "",
    ));
    rows.push((
        "　flat / empty table".to_owned(),
        get(&["flat", "ratio"], 2),
        "≥ 0.8",
    ));
    rows.push((
        "peak RSS during accept (MB)".to_owned(),
        get(&["peak_rss_mb"], 1),
        "≤ 100 MB",
    ));
    let mut out = format!(
        "| measure | {} | target (PostgreSQL) |\n|---|{}---|\n",
        backends
            .iter()
            .map(|b| b.as_str())
            .collect::<Vec<_>>()
            .join(" | "),
        "---|".repeat(backends.len())
    );
    for (name, values, target) in rows {
        out.push_str(&format!("| {name} | {} | {target} |\n", values.join(" | ")));
    }
    out
}

fn uptime() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let sizes = Sizes::of(args.quick);
    let load_before = uptime();
    let started = Instant::now();
    let mut report = BTreeMap::new();
    for name in &args.backends {
        let backend = match name.as_str() {
            "postgres" => Backend::Postgres,
            "sqlite" => Backend::Sqlite,
            other => bail!("unknown backend {other}: postgres or sqlite"),
        };
        let result = run_backend(&args, backend, sizes).await;
        match result {
            Ok(value) => {
                report.insert(name.clone(), value);
            }
            Err(error) => {
                eprintln!("bench: {name} failed: {error:#}");
                report.insert(name.clone(), json!({"error": format!("{error:#}")}));
            }
        }
    }
    let load_after = uptime();
    if let Some(dir) = args.out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&args.out, serde_json::to_string_pretty(&report)?)?;
    println!();
    println!(
        "omnichannel bench{}: {} s; load average before {load_before}, after {load_after}",
        if args.quick { " (BENCH_QUICK)" } else { "" },
        started.elapsed().as_secs()
    );
    println!();
    print!("{}", table(&report, sizes));
    println!();
    for (name, value) in &report {
        if let Some(notes) = value["notes"].as_array()
            && !notes.is_empty()
        {
            println!("{name}: {}", Value::Array(notes.clone()));
        }
        if let Some(error) = value["error"].as_str() {
            println!("{name}: {error}");
        }
    }
    println!("written to {}", args.out.display());
    Ok(())
}
