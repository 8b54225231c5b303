//! `SIGTERM` to a serving process while it dispatches: it exits `0` within
//! its grace period, and every communication ends sent once, or is taken
//! by the next start at once (the leases of the calls cut short are given
//! back). The process is this test binary itself, re-executed to run
//! [`serve_process_for_the_shutdown_test`].

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::{BTreeMap, HashSet};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use clap::Parser;
use omnichannel_server::cli::Cli;
use serde_json::{Value, json};

use crate::api::{ADMIN, ADMIN_PASSWORD, TestApp};
use crate::db::{TestDb, both_backends};
use crate::dispatch::sink_env;
use crate::sink::Sink;

/// Set (to anything) in the environment of the re-executed test binary.
const SERVE_PROCESS_ENV: &str = "OMNICHANNEL_TEST_SERVE_PROCESS";
/// The full name of the test that serves when [`SERVE_PROCESS_ENV`] is set.
const SERVE_PROCESS_TEST: &str = "shutdown::serve_process_for_the_shutdown_test";
const COMMUNICATIONS: usize = 200;
/// `worker.concurrency` of the process.
const CONCURRENCY: usize = 8;
/// `shutdown_grace_secs` of the process.
const GRACE: Duration = Duration::from_secs(1);
/// How long the sink takes to answer while the process runs: longer than
/// the grace, so that the calls in flight at `SIGTERM` are cut short.
const SLOW_ANSWERS: Duration = Duration::from_millis(1_500);
const PATIENCE: Duration = Duration::from_secs(15);

/// `omnichannel serve`, configured by the environment, as the binary's
/// `main` runs it; does nothing unless [`SERVE_PROCESS_ENV`] is set.
#[test]
fn serve_process_for_the_shutdown_test() {
    if std::env::var_os(SERVE_PROCESS_ENV).is_none() {
        return;
    }
    let cli = Cli::try_parse_from(["omnichannel", "serve"]).expect("the arguments parse");
    actix_web::rt::System::new()
        .block_on(cli.run())
        .expect("the server stops without an error");
}

/// A free port of 127.0.0.1 (free when asked).
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// The process, serving `db` on `port`, posting to `sink`.
fn spawn_server(db: &TestDb, sink: &Sink, port: u16) -> Child {
    // This very image, even when a build running beside replaced the file.
    let this = std::path::Path::new("/proc/self/exe");
    let exe = if this.exists() {
        this.to_path_buf()
    } else {
        std::env::current_exe().expect("the test binary's path")
    };
    let mut command = Command::new(exe);
    command
        .args(["--exact", SERVE_PROCESS_TEST, "--nocapture"])
        .env(SERVE_PROCESS_ENV, "1")
        .env("OMNICHANNEL_DATABASE_URL", db.url())
        .env("OMNICHANNEL_BIND", format!("127.0.0.1:{port}"))
        .env("OMNICHANNEL_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env(
            "OMNICHANNEL_SHUTDOWN_GRACE_SECS",
            GRACE.as_secs().to_string(),
        )
        .env("OMNICHANNEL_WORKER__CONCURRENCY", CONCURRENCY.to_string())
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    for (name, value) in sink_env(sink, &[]) {
        command.env(name, value);
    }
    command.spawn().expect("the server process starts")
}

/// The process's status once it exits; fails after `timeout`.
async fn wait_exit(child: &mut Child, timeout: Duration) -> ExitStatus {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().expect("the process's status") {
            return status;
        }
        if Instant::now() > deadline {
            drop(child.kill());
            panic!("the server did not exit within {timeout:?} of SIGTERM");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Logs in to the process's admin API once it answers: a client and a token.
async fn log_in(base: &str) -> (reqwest::Client, String) {
    let client = reqwest::Client::new();
    let deadline = Instant::now() + PATIENCE;
    loop {
        let answer = client
            .post(format!("{base}{ADMIN}/auth/login"))
            .json(&json!({"username": "admin", "password": ADMIN_PASSWORD}))
            .send()
            .await;
        if let Ok(answer) = answer {
            assert_eq!(answer.status(), 200, "the first operator logs in");
            let body: Value = answer.json().await.unwrap();
            return (client, body["access_token"].as_str().unwrap().to_owned());
        }
        assert!(
            Instant::now() < deadline,
            "the server process did not answer"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A department preferring sms for `mass`, and a client with a phone: the
/// body of a communication to send.
pub(crate) async fn fixtures(app: &TestApp) -> Value {
    let mass = app.seeded("communication-types", "mass").await;
    let sms = app.seeded("communication-sources", "sms").await;
    let department = app.department_preferring("Sales", &mass, &[&sms]).await;
    let user = app
        .create(
            "users",
            &json!({"first_name": "Ann", "phone": "+15551234567"}),
        )
        .await["id"]
        .clone();
    json!({
        "user_id": user,
        "department_id": department,
        "communication_type_id": mass,
        "message": "Your order has shipped",
    })
}

/// How many calls the sink received for each communication.
fn calls_by_id(sink: &Sink) -> BTreeMap<String, usize> {
    let mut calls = BTreeMap::new();
    for request in sink.requests() {
        let id = request
            .header("idempotency-key")
            .expect("an idempotency key")
            .to_owned();
        *calls.entry(id).or_default() += 1;
    }
    calls
}

both_backends! {
    async fn sigterm_while_dispatching_exits_0_and_loses_or_repeats_nothing_but_the_calls_in_flight(db: &TestDb) {
        let sink = Sink::start().await;
        let quiet = TestApp::spawn_with(db, &[
            ("OMNICHANNEL_JWT_SECRET", crate::api::JWT_SECRET),
            ("OMNICHANNEL_WORKER__ENABLED", "false"),
        ])
        .await;
        let body = fixtures(&quiet).await;
        drop(quiet);

        sink.delay_answers(SLOW_ANSWERS);
        let port = free_port();
        let mut server = spawn_server(db, &sink, port);
        let base = format!("http://127.0.0.1:{port}");
        let (client, token) = log_in(&base).await;
        let mut ids = Vec::with_capacity(COMMUNICATIONS);
        for _ in 0..COMMUNICATIONS {
            let answer = client
                .post(format!("{base}{ADMIN}/communications"))
                .bearer_auth(&token)
                .json(&body)
                .send()
                .await
                .expect("the server answers");
            assert_eq!(answer.status(), 202);
            let created: Value = answer.json().await.unwrap();
            ids.push(created["id"].as_str().unwrap().to_owned());
        }
        drop(client);
        // Calls in flight: the sink holds them for longer than the grace.
        sink.wait_for(CONCURRENCY, PATIENCE).await;

        let killed = Instant::now();
        let signalled = Command::new("kill")
            .args(["-TERM", &server.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(signalled.success());
        let status = wait_exit(&mut server, GRACE + Duration::from_secs(4)).await;
        let took = killed.elapsed();
        assert_eq!(status.code(), Some(0), "the server exits 0 on SIGTERM");
        let before = calls_by_id(&sink);
        let sent_before = db.texts("SELECT id AS value FROM communications WHERE status = 'sent'");
        assert!(before.len() < COMMUNICATIONS, "the test stopped the server before it sent all");

        // The next start takes what was cut short at once (its lease is given
        // back, not left to end in 30 s), and the rest.
        sink.delay_answers(Duration::ZERO);
        let env = sink_env(&sink, &[]);
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let next = TestApp::spawn_with(db, &env).await;
        let deadline = Instant::now() + PATIENCE;
        loop {
            let sent = db.texts("SELECT id AS value FROM communications WHERE status = 'sent'");
            if sent.len() == COMMUNICATIONS {
                break;
            }
            assert!(Instant::now() < deadline, "only {} of {COMMUNICATIONS} were sent", sent.len());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        drop(next);

        // Sent once each: one `sent` event; received by the provider at least
        // once, twice only if its call was in flight at SIGTERM.
        let mut sent_events = BTreeMap::<String, usize>::new();
        for id in db.texts("SELECT communication_id AS value FROM communication_events WHERE kind = 'sent'") {
            *sent_events.entry(id).or_default() += 1;
        }
        assert_eq!(sent_events.len(), COMMUNICATIONS);
        assert!(sent_events.values().all(|&n| n == 1), "{sent_events:?}");
        let calls = calls_by_id(&sink);
        let expected: HashSet<&String> = ids.iter().collect();
        assert_eq!(calls.keys().collect::<HashSet<_>>(), expected);
        let repeated: Vec<&String> = calls.iter().filter(|(_, n)| **n > 1).map(|(id, _)| id).collect();
        assert!(calls.values().all(|&n| n <= 2), "{calls:?}");
        assert!(repeated.len() <= CONCURRENCY, "{repeated:?}");
        let sent_before: HashSet<String> = sent_before.into_iter().collect();
        for id in &repeated {
            assert!(before.contains_key(*id), "{id} was called before SIGTERM");
            assert!(!sent_before.contains(*id), "{id} was recorded sent, yet called again");
        }
        eprintln!(
            "SIGTERM: exited 0 in {took:?}; {} communications called before it, {} recorded sent, \
             {} called again after the restart (in flight at SIGTERM); {} sent once each",
            before.len(),
            sent_before.len(),
            repeated.len(),
            sent_events.len(),
        );
    }
}
