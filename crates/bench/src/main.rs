//! `omnichannel-bench`: accepts N sends through the public API with the
//! workers off, then starts the workers and times dispatch until every
//! communication is `sent` through the `http` provider to a local sink.
//!
//! ```text
//! omnichannel-bench --backend sqlite
//! omnichannel-bench --backend postgres --postgres postgres://postgres@127.0.0.1:5432/postgres
//! ```
//!
//! With `--bulk` it times instead one bulk send to `--messages` clients, from
//! the request to its `202` and until every communication is `sent` (the
//! workers on, as in production), then one bulk booking of the same clients
//! to its `202`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Parser, ValueEnum};
use diesel::{Connection, PgConnection, RunQueryDsl};
use futures_util::StreamExt;
use omnichannel_server::config::Config;
use omnichannel_server::startup::{Application, Bootstrap};
use serde_json::{Value, json};

const PASSWORD: &str = "bench-operator-password";

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Debug, Parser)]
struct Args {
    #[arg(long, value_enum, default_value = "sqlite")]
    backend: Backend,
    /// The PostgreSQL server; a fresh database is made on it and dropped after.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    postgres: String,
    /// Communications to send.
    #[arg(long, default_value_t = 10_000)]
    messages: usize,
    /// Clients they go to.
    #[arg(long, default_value_t = 1_000)]
    users: usize,
    /// Concurrent API clients while accepting.
    #[arg(long, default_value_t = 16)]
    clients: usize,
    /// `worker.concurrency` while dispatching.
    #[arg(long, default_value_t = 64)]
    concurrency: u32,
    /// Times one bulk of `messages` clients instead (see the top).
    #[arg(long)]
    bulk: bool,
}

/// A fresh database for the run.
struct Database {
    url: String,
    drop_with: Option<(String, String)>,
    _dir: Option<tempfile::TempDir>,
}

impl Database {
    fn create(args: &Args) -> anyhow::Result<Self> {
        match args.backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir()?;
                let url = dir.path().join("bench.db").display().to_string();
                Ok(Self {
                    url,
                    drop_with: None,
                    _dir: Some(dir),
                })
            }
            Backend::Postgres => {
                let name = format!("omnichannel_bench_{}", std::process::id());
                let mut conn = PgConnection::establish(&args.postgres)?;
                diesel::sql_query(format!("CREATE DATABASE \"{name}\"")).execute(&mut conn)?;
                let base = args
                    .postgres
                    .rsplit_once('/')
                    .map(|(server, _)| server)
                    .context("the PostgreSQL URL names no database")?;
                Ok(Self {
                    url: format!("{base}/{name}"),
                    drop_with: Some((args.postgres.clone(), name)),
                    _dir: None,
                })
            }
        }
    }
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// A connection of the bench's own to the database, past the service.
enum Probe {
    Pg(PgConnection),
    Sqlite(diesel::SqliteConnection),
}

impl Probe {
    fn open(database: &Database) -> anyhow::Result<Self> {
        Ok(if database.drop_with.is_some() {
            Self::Pg(PgConnection::establish(&database.url)?)
        } else {
            Self::Sqlite(diesel::SqliteConnection::establish(&database.url)?)
        })
    }

    fn count(&mut self, sql: &str) -> anyhow::Result<i64> {
        let query = diesel::sql_query(sql);
        let count: Count = match self {
            Self::Pg(conn) => query.get_result(conn)?,
            Self::Sqlite(conn) => query.get_result(conn)?,
        };
        Ok(count.n)
    }

    /// Communications still queued: read through the queue's own partial
    /// index, so that watching costs little.
    fn queued(&mut self) -> anyhow::Result<i64> {
        self.count("SELECT count(*) AS n FROM (SELECT 1 FROM communications WHERE due_at IS NOT NULL LIMIT 1) AS q")
    }

    fn sent(&mut self) -> anyhow::Result<i64> {
        self.count("SELECT count(*) AS n FROM communications WHERE status = 'sent'")
    }

    fn execute(&mut self, sql: &str) -> anyhow::Result<()> {
        let query = diesel::sql_query(sql);
        match self {
            Self::Pg(conn) => query.execute(conn)?,
            Self::Sqlite(conn) => query.execute(conn)?,
        };
        Ok(())
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

async fn start(
    database: &str,
    sink: &str,
    workers: bool,
    concurrency: u32,
) -> anyhow::Result<(Application, String)> {
    let concurrency = concurrency.to_string();
    let vars = [
        ("OMNICHANNEL_DATABASE_URL", database),
        ("OMNICHANNEL_BIND", "127.0.0.1:0"),
        (
            "OMNICHANNEL_JWT_SECRET",
            "bench-signing-key-of-at-least-32-bytes",
        ),
        (
            "OMNICHANNEL_WORKER__ENABLED",
            if workers { "true" } else { "false" },
        ),
        ("OMNICHANNEL_WORKER__CONCURRENCY", concurrency.as_str()),
        ("OMNICHANNEL_CHANNELS__SMS__PROVIDER", "http"),
        ("OMNICHANNEL_CHANNELS__SMS__URL", sink),
    ];
    let config = Config::load_from(None, vars)?;
    let app = Application::build(
        &config,
        Bootstrap {
            admin_password: Some(PASSWORD.to_owned()),
        },
    )
    .await?;
    let base = format!("http://127.0.0.1:{}", app.port());
    Ok((app, base))
}

struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Client {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let mut request = self
            .http
            .request(method, format!("{}/api/admin/v1{path}", self.base))
            .bearer_auth(&self.token);
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
}

async fn login(base: &str) -> anyhow::Result<Client> {
    let http = reqwest::Client::new();
    let pair: Value = http
        .post(format!("{base}/api/admin/v1/auth/login"))
        .json(&json!({"username": "admin", "password": PASSWORD}))
        .send()
        .await?
        .json()
        .await?;
    let token = pair["access_token"]
        .as_str()
        .context("no access token")?
        .to_owned();
    Ok(Client {
        http,
        base: base.to_owned(),
        token,
    })
}

fn id(value: &Value) -> anyhow::Result<String> {
    Ok(value["id"].as_str().context("no id")?.to_owned())
}

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let database = Database::create(&args)?;
    let (sink_url, received) = omnichannel_bench::sink::start().await?;
    if args.bulk {
        return bulk(&args, &database, &sink_url, &received).await;
    }

    // Set up and accept with the workers off.
    let (app, base) = start(&database.url, &sink_url, false, args.concurrency).await?;
    let handle = app.handle();
    let serving = tokio::spawn(app.run_until_stopped());
    let client = login(&base).await?;
    let (department, mass) = department(&client).await?;
    let users: Vec<String> = futures_util::stream::iter(0..args.users)
        .map(|i| {
            let client = &client;
            async move {
                let phone = format!("+1555{i:07}");
                id(&client
                    .call(
                        reqwest::Method::POST,
                        "/users",
                        Some(json!({"phone": phone})),
                    )
                    .await?)
            }
        })
        .buffer_unordered(args.clients)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<anyhow::Result<_>>()?;

    let started = Instant::now();
    let accepted = futures_util::stream::iter(0..args.messages)
        .map(|i| {
            let body = json!({
                "user_id": users[i % users.len()],
                "department_id": department,
                "communication_type_id": mass,
                "message": format!("Message {i}"),
            });
            let client = &client;
            async move {
                client
                    .call(reqwest::Method::POST, "/communications", Some(body))
                    .await
            }
        })
        .buffer_unordered(args.clients)
        .collect::<Vec<_>>()
        .await;
    let accept_time = started.elapsed();
    if let Some(error) = accepted.iter().find_map(|r| r.as_ref().err()) {
        bail!("a send was refused: {error:#}");
    }
    handle.stop(true).await;
    serving.await??;

    // Dispatch: a new process's worth of workers on the queue.
    let started = Instant::now();
    let (app, _) = start(&database.url, &sink_url, true, args.concurrency).await?;
    let handle = app.handle();
    let serving = tokio::spawn(app.run_until_stopped());
    let deadline = started + Duration::from_secs(600);
    let mut probe = Probe::open(&database)?;
    while probe.queued()? > 0 {
        if Instant::now() > deadline {
            bail!("dispatch did not end within 10 minutes");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let dispatch_time = started.elapsed();
    handle.stop(true).await;
    serving.await??;
    let sent = probe.sent()?;
    if sent != args.messages as i64 {
        bail!("{sent} of {} communications were sent", args.messages);
    }

    // The baseline of this machine in this run: the same number of JSON
    // posts straight to the sink, as many at once as the workers make.
    let started = Instant::now();
    let http = reqwest::Client::new();
    let posted = futures_util::stream::iter(0..args.messages)
        .map(|i| {
            let request = http
                .post(&sink_url)
                .json(&json!({"communication_id": i, "message": "x"}));
            async move { request.send().await.map(|r| r.status().is_success()) }
        })
        .buffer_unordered(args.concurrency as usize)
        .collect::<Vec<_>>()
        .await;
    let raw_time = started.elapsed();
    if posted.iter().any(|p| !matches!(p, Ok(true))) {
        bail!("the sink refused a direct post");
    }

    let rate = |n: usize, d: Duration| n as f64 / d.as_secs_f64();
    println!(
        "{}",
        json!({
            "backend": format!("{:?}", args.backend).to_lowercase(),
            "messages": args.messages,
            "users": args.users,
            "accept_clients": args.clients,
            "accept_per_s": rate(args.messages, accept_time).round(),
            "worker_concurrency": args.concurrency,
            "dispatch_s": (dispatch_time.as_secs_f64() * 100.0).round() / 100.0,
            "dispatch_per_s": rate(args.messages, dispatch_time).round(),
            "raw_posts_per_s": rate(args.messages, raw_time).round(),
            "dispatch_to_raw": (raw_time.as_secs_f64() / dispatch_time.as_secs_f64() * 100.0).round() / 100.0,
            "sink_calls": received.load(Ordering::Relaxed),
        })
    );
    Ok(())
}

/// A department that sends the seeded `mass` type by sms: its id and the type's.
async fn department(client: &Client) -> anyhow::Result<(String, String)> {
    let types = client
        .call(reqwest::Method::GET, "/communication-types", None)
        .await?;
    let sources = client
        .call(reqwest::Method::GET, "/communication-sources", None)
        .await?;
    let code = |list: &Value, code: &str| -> anyhow::Result<String> {
        list["items"]
            .as_array()
            .and_then(|items| items.iter().find(|i| i["code"] == code))
            .map(id)
            .context("a seeded entry is missing")?
    };
    let mass = code(&types, "mass")?;
    let sms = code(&sources, "sms")?;
    let department = id(&client
        .call(
            reqwest::Method::POST,
            "/departments",
            Some(json!({"name": "Bench"})),
        )
        .await?)?;
    client
        .call(
            reqwest::Method::PUT,
            &format!("/departments/{department}/favorite-sources"),
            Some(json!({"items": [{"communication_type_id": mass, "communication_source_id": sms, "priority": 1}]})),
        )
        .await?;
    Ok((department, mass))
}

/// `n` clients with a phone, inserted in one statement past the service.
fn insert_clients(probe: &mut Probe, n: usize) -> anyhow::Result<Vec<String>> {
    let ids: Vec<String> = (0..n).map(|_| uuid::Uuid::now_v7().to_string()).collect();
    let rows: Vec<String> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            format!(
                "('{id}', '', '', '+1555{i:07}', '', \
                 '2026-01-01 00:00:00.000000', '2026-01-01 00:00:00.000000')"
            )
        })
        .collect();
    probe.execute(&format!(
        "INSERT INTO users (id, first_name, last_name, phone, search_text, created_at, updated_at) \
         VALUES {}",
        rows.join(", ")
    ))?;
    Ok(ids)
}

/// `--bulk`: one bulk send to `messages` clients timed to its `202` and until
/// all are sent, then one bulk booking of them timed to its `202`.
async fn bulk(
    args: &Args,
    database: &Database,
    sink_url: &str,
    received: &AtomicU64,
) -> anyhow::Result<()> {
    let (app, base) = start(&database.url, sink_url, true, args.concurrency).await?;
    let handle = app.handle();
    let serving = tokio::spawn(app.run_until_stopped());
    let client = login(&base).await?;
    let (department, mass) = department(&client).await?;
    let mut probe = Probe::open(database)?;
    let users = insert_clients(&mut probe, args.messages)?;
    let body = |date: Option<String>| {
        json!({
            "user_ids": users,
            "department_id": department,
            "communication_type_id": mass,
            "message": "Spring sale",
            "communication_date": date,
        })
    };

    let started = Instant::now();
    let accepted = client
        .call(
            reqwest::Method::POST,
            "/communications/bulk",
            Some(body(None)),
        )
        .await?;
    let accept_time = started.elapsed();
    if accepted["accepted"].as_u64() != Some(args.messages as u64) {
        bail!(
            "the bulk send was not accepted whole: {}",
            accepted["refused"]
        );
    }
    let deadline = started + Duration::from_secs(600);
    while probe.queued()? > 0 {
        if Instant::now() > deadline {
            bail!("dispatch did not end within 10 minutes");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let sent_time = started.elapsed();
    let sent = probe.sent()?;
    if sent != args.messages as i64 {
        bail!("{sent} of {} communications were sent", args.messages);
    }

    let tomorrow = (chrono::Utc::now() + chrono::Duration::days(1)).to_rfc3339();
    let started = Instant::now();
    let booked = client
        .call(
            reqwest::Method::POST,
            "/communications/bulk",
            Some(body(Some(tomorrow))),
        )
        .await?;
    let book_time = started.elapsed();
    if booked["accepted"].as_u64() != Some(args.messages as u64) {
        bail!(
            "the bulk booking was not accepted whole: {}",
            booked["refused"]
        );
    }
    handle.stop(true).await;
    serving.await??;

    let ms = |d: Duration| (d.as_secs_f64() * 10_000.0).round() / 10.0;
    println!(
        "{}",
        json!({
            "backend": format!("{:?}", args.backend).to_lowercase(),
            "bulk_clients": args.messages,
            "worker_concurrency": args.concurrency,
            "send_accept_ms": ms(accept_time),
            "send_all_sent_ms": ms(sent_time),
            "send_sent_per_s": (args.messages as f64 / sent_time.as_secs_f64()).round(),
            "booking_accept_ms": ms(book_time),
            "sink_calls": received.load(Ordering::Relaxed),
        })
    );
    Ok(())
}
