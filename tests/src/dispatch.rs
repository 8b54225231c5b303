//! Dispatch end to end: the real service with its workers, every channel on
//! the `http` provider pointed at a local sink.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::HashSet;
use std::time::{Duration as StdDuration, Instant};

use chrono::{DateTime, Duration, SubsecRound, Utc};
use omnichannel_domain::SourceId;
use omnichannel_domain::ports::{DispatchQueue, Step};
use serde_json::{Value, json};

use crate::api::{ADMIN, CapturedLog, JWT_SECRET, TestApp};
use crate::db::{Backend, TestDb, both_backends};
use crate::sink::Sink;

/// The longest any wait below may take before the test fails.
const PATIENCE: StdDuration = StdDuration::from_secs(15);

/// A service whose sms and email channels post to a sink, with a department
/// that prefers sms, then email, for `mass`, and one client with both addresses.
struct World {
    app: TestApp,
    sink: Sink,
    department: String,
    mass: String,
    sms: String,
    email: String,
    user: String,
}

/// The configuration of a service that posts sms and email to `sink`.
pub(crate) fn sink_env(sink: &Sink, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = [
        ("OMNICHANNEL_JWT_SECRET", JWT_SECRET.to_owned()),
        ("OMNICHANNEL_CHANNELS__SMS__PROVIDER", "http".to_owned()),
        ("OMNICHANNEL_CHANNELS__SMS__URL", sink.url("/sms")),
        ("OMNICHANNEL_CHANNELS__SMS__TIMEOUT_MS", "2000".to_owned()),
        ("OMNICHANNEL_CHANNELS__EMAIL__PROVIDER", "http".to_owned()),
        ("OMNICHANNEL_CHANNELS__EMAIL__URL", sink.url("/email")),
        ("OMNICHANNEL_WORKER__POLL_INTERVAL_MS", "100".to_owned()),
        ("OMNICHANNEL_WORKER__RETRY_BASE_MS", "50".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    env.retain(|(k, _)| !extra.iter().any(|(key, _)| key == k));
    // A channel given another provider loses the sink's keys.
    for (key, _) in extra {
        if let Some(channel) = key.strip_suffix("PROVIDER") {
            env.retain(|(k, _)| !k.starts_with(channel));
        }
    }
    env.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    env
}

async fn spawn(db: &TestDb, env: &[(String, String)]) -> TestApp {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    TestApp::spawn_with(db, &env).await
}

impl World {
    async fn new(db: &TestDb) -> Self {
        Self::with(db, &[]).await
    }

    async fn with(db: &TestDb, extra: &[(&str, &str)]) -> Self {
        let sink = Sink::start().await;
        let app = spawn(db, &sink_env(&sink, extra)).await;
        Self::new_on(app, sink).await
    }

    /// The world's fixtures on an app already running.
    async fn new_on(app: TestApp, sink: Sink) -> Self {
        let mass = app.seeded("communication-types", "mass").await;
        let sms = app.seeded("communication-sources", "sms").await;
        let email = app.seeded("communication-sources", "email").await;
        let department = app
            .department_preferring("Sales", &mass, &[&sms, &email])
            .await;
        let user = app
            .create(
                "users",
                &json!({"first_name": "Ann", "phone": "+15551234567", "email": "ann@example.com"}),
            )
            .await["id"]
            .as_str()
            .unwrap()
            .to_owned();
        Self {
            app,
            sink,
            department,
            mass,
            sms,
            email,
            user,
        }
    }

    fn body(&self, message: &str) -> Value {
        json!({
            "user_id": self.user,
            "department_id": self.department,
            "communication_type_id": self.mass,
            "message": message,
        })
    }

    async fn send(&self, body: &Value) -> String {
        let reply = self
            .app
            .post(&format!("{ADMIN}/communications"), body)
            .await;
        assert_eq!(reply.status, 202, "{reply:?}");
        reply.body["id"].as_str().unwrap().to_owned()
    }

    async fn rule(&self, limit: u32, unit: &str) {
        let created = self
            .app
            .post(
                &format!("{ADMIN}/departments/{}/rules", self.department),
                &json!({"limit_per_unit": limit, "unit": unit, "units_count": 1}),
            )
            .await;
        assert_eq!(created.status, 201, "{created:?}");
    }

    async fn get(&self, id: &str) -> Value {
        get(&self.app, id).await
    }

    async fn wait_for(&self, id: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        wait_for(&self.app, id, what, done).await
    }
}

async fn get(app: &TestApp, id: &str) -> Value {
    let reply = app.get(&format!("{ADMIN}/communications/{id}")).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    reply.body
}

/// Polls the communication until `done` holds; fails after `PATIENCE`.
async fn wait_for(app: &TestApp, id: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let communication = get(app, id).await;
        if done(&communication) {
            return communication;
        }
        assert!(
            Instant::now() < deadline,
            "{what} did not happen in time: {communication:#}"
        );
        tokio::time::sleep(StdDuration::from_millis(20)).await;
    }
}

fn is(status: &'static str) -> impl Fn(&Value) -> bool {
    move |c| c["status"] == status
}

fn time(value: &Value) -> DateTime<Utc> {
    value
        .as_str()
        .unwrap_or_else(|| panic!("a time: {value}"))
        .parse()
        .unwrap()
}

fn kinds(communication: &Value) -> Vec<String> {
    communication["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .collect()
}

both_backends! {
    async fn the_provider_calls_at_once_never_exceed_the_concurrency(db: &TestDb) {
        const CONCURRENCY: usize = 3;
        const SENDS: usize = 10;
        let delay = std::time::Duration::from_millis(200);
        let concurrency = CONCURRENCY.to_string();
        let world = World::with(db, &[("OMNICHANNEL_WORKER__CONCURRENCY", &concurrency)]).await;
        world.sink.delay_answers(delay);
        let mut ids = Vec::new();
        for i in 0..SENDS {
            ids.push(world.send(&world.body(&format!("Message {i}"))).await);
        }
        for id in &ids {
            world.wait_for(id, "sent", is("sent")).await;
        }
        // A call's slot is free again no sooner than `delay` after the call
        // arrived, so more than CONCURRENCY calls arriving within less than
        // `delay` would be more than CONCURRENCY at once.
        let mut arrivals: Vec<_> = world.sink.requests_at("/sms").iter().map(|r| r.at).collect();
        assert_eq!(arrivals.len(), SENDS);
        arrivals.sort();
        for calls in arrivals.windows(CONCURRENCY + 1) {
            let span = calls[CONCURRENCY] - calls[0];
            assert!(span >= delay, "{} calls arrived within {span:?}", CONCURRENCY + 1);
        }
    }

    async fn a_send_reaches_the_provider_with_the_exact_payload_and_ends_sent(db: &TestDb) {
        let world = World::new(db).await;
        let id = world.send(&world.body("Your order has shipped")).await;
        let sent = world.wait_for(&id, "sent", is("sent")).await;
        let calls = world.sink.wait_for_at("/sms", 1, PATIENCE).await;
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].method, "POST");
        assert_eq!(calls[0].header("idempotency-key"), Some(id.as_str()));
        assert_eq!(
            calls[0].body,
            json!({
                "communication_id": id,
                "user_id": world.user,
                "department_id": world.department,
                "communication_type": "mass",
                "channel": "sms",
                "to": "+15551234567",
                "message": "Your order has shipped",
            })
        );
        assert_eq!(sent["communication_source_id"], world.sms);
        assert_eq!(sent["attempts"], 1);
        assert_eq!(sent["status_reason"], Value::Null);
        assert!(sent["provider_message_id"].as_str().unwrap().starts_with("sink-"));
        assert!(time(&sent["sent_at"]) >= time(&sent["created_at"]));
        assert_eq!(kinds(&sent), ["created", "channel_chosen", "sent"]);
        assert_eq!(sent["events"][1]["channel"], "sms");
    }

    async fn receipts_follow_the_arrows_of_the_life_cycle(db: &TestDb) {
        let world = World::new(db).await;
        let id = world.send(&world.body("Hello")).await;
        world.wait_for(&id, "sent", is("sent")).await;
        let status = format!("{ADMIN}/communications/{id}/status");
        let delivered = world.app.post(&status, &json!({"status": "delivered"})).await;
        assert_eq!(delivered.status, 200, "{delivered:?}");
        assert_eq!(delivered.body["status"], "delivered");
        assert!(delivered.body["delivered_at"].is_string());
        let again = world.app.post(&status, &json!({"status": "delivered"})).await;
        assert_eq!(again.status, 200);
        assert_eq!(again.body["updated_at"], delivered.body["updated_at"]);
        let read = world.app.post(&status, &json!({"status": "read", "detail": "opened"})).await;
        assert_eq!(read.status, 200);
        assert!(read.body["read_at"].is_string());
        world.app.post(&status, &json!({"status": "delivered"})).await.assert_problem(409);
        world.app.post(&status, &json!({"status": "failed"})).await.assert_problem(409);
        let history = world.get(&id).await;
        assert_eq!(kinds(&history), ["created", "channel_chosen", "sent", "delivered", "read"]);
        assert_eq!(history["events"][4]["detail"], "opened");

        let other = world.send(&world.body("Hello again")).await;
        world.wait_for(&other, "sent", is("sent")).await;
        let failed = world
            .app
            .post(&format!("{ADMIN}/communications/{other}/status"), &json!({"status": "failed"}))
            .await;
        assert_eq!(failed.body["status"], "failed");
        assert_eq!(failed.body["status_reason"], "receipt");
    }

    async fn a_booking_fires_at_its_time(db: &TestDb) {
        let world = World::new(db).await;
        let at = Utc::now() + Duration::milliseconds(1_500);
        let mut body = world.body("See you soon");
        body["communication_date"] = json!(at);
        let id = world.send(&body).await;
        let booked = world.get(&id).await;
        assert_eq!(booked["status"], "booked");
        assert!(world.sink.requests().is_empty());
        let sent = world.wait_for(&id, "the booking fired", is("sent")).await;
        assert!(time(&sent["sent_at"]) >= time(&booked["communication_date"]));
        assert_eq!(kinds(&sent), ["created", "booked", "channel_chosen", "sent"]);
        assert_eq!(world.sink.requests_at("/sms").len(), 1);
    }

    async fn a_blocked_client_is_deferred_then_sent_once_the_block_ends(db: &TestDb) {
        let world = World::new(db).await;
        let until = (Utc::now() + Duration::milliseconds(1_500)).trunc_subsecs(6);
        let blocked = world
            .app
            .put(
                &format!("{ADMIN}/users/{}/availability", world.user),
                &json!({"status": "blocked", "blocked_to": until}),
            )
            .await;
        assert_eq!(blocked.status, 200, "{blocked:?}");
        let id = world.send(&world.body("After the holidays")).await;
        let waiting = world
            .wait_for(&id, "the deferral", |c| c["status_reason"] == "user_unavailable")
            .await;
        assert_eq!(waiting["status"], "not_sent");
        assert_eq!(time(&waiting["next_attempt_at"]), time(&blocked.body["blocked_to"]));
        let deferred = &waiting["events"][1];
        assert_eq!(deferred["kind"], "deferred");
        assert_eq!(deferred["reason"], "user_unavailable");
        assert_eq!(time(&deferred["until"]), time(&blocked.body["blocked_to"]));
        let sent = world.wait_for(&id, "sent after the block", is("sent")).await;
        assert!(time(&sent["sent_at"]) >= time(&blocked.body["blocked_to"]));
        assert_eq!(sent["next_attempt_at"], Value::Null);
        assert_eq!(sent["status_reason"], Value::Null);
    }

    async fn a_rule_of_three_a_minute_holds_for_fifty_concurrent_sends(db: &TestDb) {
        let world = World::new(db).await;
        world.rule(3, "minute").await;
        let body = world.body("Flash sale");
        let path = format!("{ADMIN}/communications");
        let sends = (0..50).map(|_| world.app.post(&path, &body));
        let replies = futures_util::future::join_all(sends).await;
        assert!(replies.iter().all(|r| r.status == 202), "{replies:?}");
        let list = format!("{ADMIN}/communications?user_id={}&limit=500", world.user);
        let deadline = Instant::now() + PATIENCE;
        let items = loop {
            let items = world.app.get(&list).await.body["items"].as_array().unwrap().clone();
            let settled = items
                .iter()
                .all(|c| c["status"] == "sent" || c["status_reason"] == "rate_limited");
            if settled {
                break items;
            }
            assert!(Instant::now() < deadline, "dispatch did not settle: {items:#?}");
            tokio::time::sleep(StdDuration::from_millis(20)).await;
        };
        let sent: Vec<&Value> = items.iter().filter(|c| c["status"] == "sent").collect();
        assert_eq!(sent.len(), 3, "{items:#?}");
        assert_eq!(world.sink.requests().len(), 3);
        let first = sent.iter().map(|c| time(&c["sent_at"])).min().unwrap();
        let waiting: Vec<&Value> = items.iter().filter(|c| c["status"] == "not_sent").collect();
        assert_eq!(waiting.len(), 47);
        for c in waiting {
            assert_eq!(time(&c["next_attempt_at"]), first + Duration::minutes(1), "{c:#}");
        }
    }

    async fn a_transient_error_is_retried_and_a_permanent_one_falls_back(db: &TestDb) {
        let world = World::new(db).await;
        world.sink.respond_with_at("/sms", vec![503]);
        let id = world.send(&world.body("Retry me")).await;
        let sent = world.wait_for(&id, "sent after a retry", is("sent")).await;
        assert_eq!(sent["attempts"], 2);
        assert_eq!(sent["communication_source_id"], world.sms);
        assert_eq!(
            kinds(&sent),
            ["created", "channel_chosen", "attempt_failed", "deferred", "channel_chosen", "sent"]
        );
        assert!(sent["events"][2]["detail"].as_str().unwrap().contains("503"));
        assert_eq!(sent["events"][3]["reason"], "retrying");
        let calls = world.sink.requests_at("/sms");
        assert_eq!(calls.len(), 2);
        assert!(calls.iter().all(|c| c.header("idempotency-key") == Some(id.as_str())));

        world.sink.respond_with_at("/sms", vec![400]);
        let id = world.send(&world.body("Fall back")).await;
        let sent = world.wait_for(&id, "sent on the next favourite", is("sent")).await;
        assert_eq!(sent["communication_source_id"], world.email);
        assert_eq!(sent["attempts"], 2);
        assert_eq!(
            kinds(&sent),
            ["created", "channel_chosen", "attempt_failed", "channel_chosen", "sent"]
        );
        assert!(sent["events"][2]["detail"].as_str().unwrap().starts_with("permanent"));
        assert_eq!(world.sink.requests_at("/email")[0].body["to"], "ann@example.com");

        world.sink.respond_with_at("/sms", vec![404]);
        world.sink.respond_with_at("/email", vec![422]);
        let id = world.send(&world.body("Nowhere to go")).await;
        let failed = world.wait_for(&id, "failed", is("failed")).await;
        assert_eq!(failed["status_reason"], "provider_error");
        assert_eq!(failed["sent_at"], Value::Null);
        assert_eq!(kinds(&failed).last().map(String::as_str), Some("failed"));
    }

    async fn preview_and_dispatch_agree_on_the_same_state(db: &TestDb) {
        let world = World::new(db).await;
        let patched = world
            .app
            .patch(&format!("{ADMIN}/users/{}", world.user), &json!({"phone": null}))
            .await;
        assert_eq!(patched.status, 200);
        let body = world.body("Agreed");
        let preview = world.app.post(&format!("{ADMIN}/communications/preview"), &body).await;
        assert_eq!(preview.body["action"], "send", "{preview:?}");
        assert_eq!(preview.body["channel"]["id"], world.email);
        let id = world.send(&body).await;
        let sent = world.wait_for(&id, "sent", is("sent")).await;
        assert_eq!(sent["communication_source_id"], preview.body["channel"]["id"]);
        let call = &world.sink.wait_for_at("/email", 1, PATIENCE).await[0];
        assert_eq!(call.body["to"], preview.body["to"]);

        // Now the department's rule is full for a minute: both say wait until it ends.
        world.rule(1, "minute").await;
        let preview = world.app.post(&format!("{ADMIN}/communications/preview"), &body).await;
        assert_eq!(preview.body["action"], "defer", "{preview:?}");
        assert_eq!(preview.body["reason"], "rate_limited");
        assert_eq!(time(&preview.body["not_before"]), time(&sent["sent_at"]) + Duration::minutes(1));
        let id = world.send(&body).await;
        let deferred = world
            .wait_for(&id, "deferred", |c| c["status_reason"] == "rate_limited")
            .await;
        assert_eq!(time(&deferred["next_attempt_at"]), time(&preview.body["not_before"]));
    }

    async fn spent_retries_fall_back_to_the_next_channel(db: &TestDb) {
        let world = World::with(db, &[("OMNICHANNEL_WORKER__MAX_ATTEMPTS", "2")]).await;
        world.sink.respond_with_at("/sms", vec![500, 429]);
        let id = world.send(&world.body("Persist")).await;
        let sent = world.wait_for(&id, "sent on email", is("sent")).await;
        assert_eq!(sent["communication_source_id"], world.email);
        assert_eq!(sent["attempts"], 3);
        assert_eq!(world.sink.requests_at("/sms").len(), 2);
    }

    async fn without_a_usable_channel_a_communication_fails(db: &TestDb) {
        let world = World::with(db, &[("OMNICHANNEL_CHANNELS__EMAIL__PROVIDER", "none")]).await;
        let phoneless = world
            .app
            .create("users", &json!({"email": "bo@example.com"}))
            .await["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let mut body = world.body("Unreachable");
        body["user_id"] = json!(phoneless);
        let id = world.send(&body).await;
        let failed = world.wait_for(&id, "failed", is("failed")).await;
        assert_eq!(failed["status_reason"], "no_channel");
        assert!(world.sink.requests().is_empty());
    }

    async fn a_claim_left_by_a_dead_worker_is_taken_over_when_its_lease_ends(db: &TestDb) {
        let sink = Sink::start().await;
        let quiet = spawn(db, &sink_env(&sink, &[("OMNICHANNEL_WORKER__ENABLED", "false")])).await;
        let world = World::new_on(quiet, sink).await;
        let id = world.send(&world.body("Survive a crash")).await;
        // A worker claims it, reserves its slot and dies before the call.
        let store = db.store();
        let sms: SourceId = world.sms.parse().unwrap();
        let now = Utc::now();
        let lease_until = now + Duration::milliseconds(800);
        let claimed = store
            .claim(now, lease_until, 10, &mut |claims, _| {
                claims
                    .iter()
                    .map(|c| Step::Reserve {
                        id: c.communication.id,
                        channel: sms,
                        at: now,
                        events: Vec::new(),
                    })
                    .collect()
            })
            .unwrap();
        assert_eq!(claimed, 1);
        let env = sink_env(&world.sink, &[]);
        let worker = spawn(db, &env).await;
        let sent = wait_for(&worker, &id, "taken over", is("sent")).await;
        assert!(time(&sent["sent_at"]) >= lease_until);
        assert_eq!(sent["attempts"], 1);
        assert_eq!(world.sink.requests().len(), 1);
    }
}

/// Two instances with workers on one PostgreSQL share the queue and never
/// send one communication twice.
#[test]
fn two_instances_on_one_postgres_never_send_a_communication_twice() {
    let db = TestDb::new(Backend::Postgres);
    crate::db::runtime().block_on(async {
        let sink = Sink::start().await;
        let env = sink_env(&sink, &[("OMNICHANNEL_WORKER__CONCURRENCY", "4")]);
        let first = spawn(&db, &env).await;
        let world = World::new_on(first, sink).await;
        let second = spawn(&db, &env).await;
        let body = world.body("Once only");
        let mut ids = Vec::new();
        for i in 0..120 {
            let app = if i % 2 == 0 { &world.app } else { &second };
            let reply = app.post(&format!("{ADMIN}/communications"), &body).await;
            assert_eq!(reply.status, 202, "{reply:?}");
            ids.push(reply.body["id"].as_str().unwrap().to_owned());
        }
        world.sink.wait_for(120, PATIENCE).await;
        for id in &ids {
            wait_for(&world.app, id, "sent", is("sent")).await;
        }
        // Let any second delivery of the same communication arrive.
        tokio::time::sleep(StdDuration::from_millis(300)).await;
        let calls = world.sink.requests();
        let distinct: HashSet<&str> = calls
            .iter()
            .map(|c| c.header("idempotency-key").unwrap())
            .collect();
        assert_eq!(calls.len(), 120);
        assert_eq!(distinct.len(), 120);
    });
}

/// On PostgreSQL a send through one instance wakes the workers of another at
/// once (LISTEN/NOTIFY), not at their next look at the queue.
#[test]
fn a_send_through_one_instance_wakes_the_workers_of_another() {
    let db = TestDb::new(Backend::Postgres);
    crate::db::runtime().block_on(async {
        let sink = Sink::start().await;
        let api_only = spawn(
            &db,
            &sink_env(&sink, &[("OMNICHANNEL_WORKER__ENABLED", "false")]),
        )
        .await;
        let world = World::new_on(api_only, sink).await;
        // Workers that would look at the queue by themselves once a minute only.
        let rarely = [("OMNICHANNEL_WORKER__POLL_INTERVAL_MS", "60000")];
        let _workers = spawn(&db, &sink_env(&world.sink, &rarely)).await;
        tokio::time::sleep(StdDuration::from_millis(200)).await;
        let id = world.send(&world.body("Wake up")).await;
        // Well before the other instance's own minute is up.
        wait_for(&world.app, &id, "sent by the other instance", is("sent")).await;
        assert_eq!(world.sink.requests().len(), 1);
    });
}

/// With nothing configured every channel is on the `log` provider: a send
/// ends `sent` and the message is in the log.
#[test]
fn with_nothing_configured_a_send_is_written_to_the_log_and_sent() {
    let captured = CapturedLog::install("info");
    let db = TestDb::new(Backend::Sqlite);
    crate::db::runtime().block_on(async {
        let app = TestApp::spawn(&db).await;
        let world = World::new_on(app, Sink::start().await).await;
        let id = world.send(&world.body("Hello from the log provider")).await;
        let sent = wait_for(&world.app, &id, "sent", is("sent")).await;
        assert_eq!(sent["communication_source_id"], world.sms);
        let log = captured.text();
        let line = log
            .lines()
            .find(|line| line.contains("Hello from the log provider"))
            .unwrap_or_else(|| panic!("the message is not in the log:\n{log}"));
        assert!(line.contains(&id), "{line}");
        assert!(line.contains("+15551234567"), "{line}");
    });
}
