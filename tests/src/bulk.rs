//! `POST /communications/bulk` and `GET /batches/{id}` of both APIs: one
//! communication per client under one batch id, sent now or booked, and the
//! batch's progress.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::HashSet;
use std::time::{Duration as StdDuration, Instant};

use chrono::{DateTime, Duration, SecondsFormat, SubsecRound, Utc};
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use omnichannel_domain::ports::{
    BulkInsert, BulkRepository, CommunicationFilter, CommunicationRepository,
    CommunicationTypeRepository, DepartmentRepository, Page, RepoError,
};
use omnichannel_domain::{
    BatchId, Communication, CommunicationId, CommunicationStatus, Department, DepartmentId, Event,
    EventKind, Message, Name, TypeId, UserId,
};
use omnichannel_storage::Store;

use crate::api::{ADMIN, Auth, JWT_SECRET, PUBLIC, Reply, TestApp};
use crate::db::{TestDb, both_backends};
use crate::sink::Sink;

/// The longest the bulk of 10 000 may take to be sent before the test fails.
const PATIENCE: StdDuration = StdDuration::from_secs(300);

/// A service, the seeded `mass` type and `sms` channel, and a department
/// that sends `mass` by sms.
struct World {
    app: TestApp,
    department: String,
    mass: String,
    sms: String,
}

impl World {
    /// With the workers off, so that nothing is dispatched.
    async fn new(db: &TestDb) -> Self {
        let env = [
            ("OMNICHANNEL_JWT_SECRET", JWT_SECRET),
            ("OMNICHANNEL_WORKER__ENABLED", "false"),
        ];
        Self::on(TestApp::spawn_with(db, &env).await).await
    }

    async fn on(app: TestApp) -> Self {
        let mass = app.seeded("communication-types", "mass").await;
        let sms = app.seeded("communication-sources", "sms").await;
        let department = app.department_preferring("Sales", &mass, &[&sms]).await;
        Self {
            app,
            department,
            mass,
            sms,
        }
    }

    /// `n` new clients with a phone, through the API.
    async fn clients(&self, n: usize) -> Vec<String> {
        let mut ids = Vec::new();
        for i in 0..n {
            let body =
                json!({"first_name": format!("Client {i}"), "phone": format!("+1666{i:07}")});
            ids.push(id_of(&self.app.create("users", &body).await));
        }
        ids
    }

    /// A bulk send body for `user_ids`.
    fn body(&self, user_ids: &[String]) -> Value {
        json!({
            "user_ids": user_ids,
            "department_id": self.department,
            "communication_type_id": self.mass,
            "message": "Spring sale",
        })
    }

    /// The same body, booked at `at`.
    fn booking(&self, user_ids: &[String], at: DateTime<Utc>) -> Value {
        let mut body = self.body(user_ids);
        body["communication_date"] = json!(text(at));
        body
    }

    async fn bulk(&self, body: &Value) -> Reply {
        self.app
            .post(&format!("{ADMIN}/communications/bulk"), body)
            .await
    }

    /// Posts a bulk, asserting `202`.
    async fn accepted(&self, body: &Value) -> Value {
        let reply = self.bulk(body).await;
        assert_eq!(reply.status, 202, "{reply:?}");
        reply.body
    }

    async fn batch(&self, id: &str) -> Reply {
        self.app.get(&format!("{ADMIN}/batches/{id}")).await
    }

    async fn detail(&self, id: &str) -> Value {
        let reply = self.app.get(&format!("{ADMIN}/communications/{id}")).await;
        assert_eq!(reply.status, 200, "{reply:?}");
        reply.body
    }

    /// One rule for the department: `limit` per day, every type.
    async fn daily_limit(&self, limit: u32) {
        let reply = self
            .app
            .post(
                &format!("{ADMIN}/departments/{}/rules", self.department),
                &json!({"limit_per_unit": limit, "unit": "day", "units_count": 1}),
            )
            .await;
        assert_eq!(reply.status, 201, "{reply:?}");
    }

    async fn block(&self, user: &str, until: Option<DateTime<Utc>>) {
        let reply = self
            .app
            .put(
                &format!("{ADMIN}/users/{user}/availability"),
                &json!({"status": "blocked", "blocked_to": until.map(text)}),
            )
            .await;
        assert_eq!(reply.status, 200, "{reply:?}");
    }
}

/// A change that makes one field of a valid body invalid.
type Spoil = fn(&mut Value);

fn id_of(value: &Value) -> String {
    value["id"].as_str().unwrap().to_owned()
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("{value} is not an array"))
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

/// A whole second `offset` from now, so that it reads back unchanged.
fn from_now(offset: Duration) -> DateTime<Utc> {
    Utc::now().trunc_subsecs(0) + offset
}

fn text(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn moment(value: &Value) -> DateTime<Utc> {
    value
        .as_str()
        .unwrap_or_else(|| panic!("{value} is not a moment"))
        .parse()
        .unwrap()
}

/// `n` clients with a phone, inserted in one statement past the service.
fn insert_clients(db: &TestDb, n: usize) -> Vec<String> {
    let ids: Vec<String> = (0..n).map(|_| Uuid::now_v7().to_string()).collect();
    let rows: Vec<String> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            format!(
                "('{id}', 'Client', '{i}', '+1555{i:07}', 'client', \
                 '2026-01-01 00:00:00.000000', '2026-01-01 00:00:00.000000')"
            )
        })
        .collect();
    db.execute(&format!(
        "INSERT INTO users (id, first_name, last_name, phone, search_text, created_at, updated_at) \
         VALUES {}",
        rows.join(", ")
    ))
    .expect("the clients are inserted");
    ids
}

/// The statuses a batch counts, and how many of each.
fn counts(batch: &Value) -> Vec<(String, u64)> {
    batch["counts"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(status, n)| (status.clone(), n.as_u64().unwrap()))
        .collect()
}

/// Every status with no communication but those named.
fn only(present: &[(&str, u64)]) -> Vec<(String, u64)> {
    let mut all: Vec<(String, u64)> = [
        "booked",
        "cancelled",
        "delivered",
        "failed",
        "not_sent",
        "read",
        "sent",
    ]
    .iter()
    .map(|status| {
        let n = present
            .iter()
            .find(|(s, _)| s == status)
            .map_or(0, |(_, n)| *n);
        ((*status).to_owned(), n)
    })
    .collect();
    all.sort();
    all
}

fn sorted(mut pairs: Vec<(String, u64)>) -> Vec<(String, u64)> {
    pairs.sort();
    pairs
}

both_backends! {
    async fn a_bulk_sends_to_each_known_client_once_under_one_batch(db: &TestDb) {
        let world = World::new(db).await;
        let clients = world.clients(3).await;
        let unknown = Uuid::now_v7().to_string();
        let named = [
            clients[0].clone(),
            unknown.clone(),
            clients[1].clone(),
            clients[0].clone(),
            clients[2].clone(),
        ];
        let reply = world.bulk(&world.body(&named)).await;
        assert_eq!(reply.status, 202, "{reply:?}");
        let batch = reply.body["batch_id"].as_str().unwrap().to_owned();
        assert_eq!(
            reply.location.as_deref(),
            Some(format!("{ADMIN}/batches/{batch}").as_str())
        );
        assert_eq!(reply.body["accepted"], 3);
        assert_eq!(
            reply.body["refused"],
            json!([{"user_id": unknown, "reason": "unknown_user"}])
        );
        let ids = strings(&reply.body["ids"]);
        assert_eq!(ids.len(), 3);
        // In the order the clients were named, each once.
        for (id, client) in ids.iter().zip(&clients) {
            let detail = world.detail(id).await;
            assert_eq!(detail["user_id"], *client);
            assert_eq!(detail["status"], "not_sent");
            assert_eq!(detail["batch_id"], batch);
            assert_eq!(detail["message"], "Spring sale");
            assert_eq!(detail["department_id"], world.department);
            assert_eq!(detail["communication_source_id"], Value::Null);
            let kinds: Vec<&str> = detail["events"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["kind"].as_str().unwrap())
                .collect();
            assert_eq!(kinds, ["created"]);
        }

        let listed = world
            .app
            .get(&format!("{ADMIN}/communications?batch_id={batch}"))
            .await;
        assert_eq!(listed.status, 200, "{listed:?}");
        assert_eq!(listed.body["total"], 3);
        let listed: HashSet<String> = listed.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(id_of)
            .collect();
        assert_eq!(listed, ids.iter().cloned().collect());

        let progress = world.batch(&batch).await;
        assert_eq!(progress.status, 200, "{progress:?}");
        assert_eq!(progress.body["batch_id"], batch);
        assert_eq!(progress.body["total"], 3);
        assert_eq!(sorted(counts(&progress.body)), only(&[("not_sent", 3)]));
        world.batch(&Uuid::now_v7().to_string()).await.assert_problem(404);
        world.batch("not-a-uuid").await.assert_problem(404);

        // Another bulk has a batch of its own.
        let again = world.accepted(&world.body(&clients[..1])).await;
        assert_ne!(again["batch_id"], batch);
        assert_eq!(world.batch(&batch).await.body["total"], 3);
    }

    async fn the_public_api_sends_a_bulk_and_follows_its_batch(db: &TestDb) {
        let world = World::new(db).await;
        let clients = world.clients(2).await;
        let key = world.app.api_key().await;
        let reply = world
            .app
            .send_as(
                key.clone(),
                Method::POST,
                &format!("{PUBLIC}/communications/bulk"),
                Some(&world.body(&clients)),
            )
            .await;
        assert_eq!(reply.status, 202, "{reply:?}");
        assert_eq!(reply.body["accepted"], 2);
        assert_eq!(reply.body["refused"], json!([]));
        let batch = reply.body["batch_id"].as_str().unwrap();
        let location = format!("{PUBLIC}/batches/{batch}");
        assert_eq!(reply.location.as_deref(), Some(location.as_str()));
        let progress = world.app.send_as(key, Method::GET, &location, None).await;
        assert_eq!(progress.status, 200, "{progress:?}");
        assert_eq!(sorted(counts(&progress.body)), only(&[("not_sent", 2)]));
        let anonymous = world
            .app
            .send_as(
                Auth::Anonymous,
                Method::POST,
                &format!("{PUBLIC}/communications/bulk"),
                Some(&world.body(&clients)),
            )
            .await;
        anonymous.assert_problem(401);
    }

    async fn a_bulk_with_an_idempotency_key_runs_once(db: &TestDb) {
        let world = World::new(db).await;
        let clients = world.clients(3).await;
        let http = reqwest::Client::new();
        let post = |body: Value| {
            http.post(format!("{}{ADMIN}/communications/bulk", world.app.base))
                .bearer_auth(&world.app.token)
                .header("Idempotency-Key", "spring-sale-1")
                .json(&body)
                .send()
        };
        let first = post(world.body(&clients)).await.unwrap();
        assert_eq!(first.status(), 202);
        let first: Value = first.json().await.unwrap();
        assert_eq!(first["accepted"], 3);
        let again = post(world.body(&clients)).await.unwrap();
        assert_eq!(again.status(), 202);
        assert_eq!(
            again.headers().get("idempotent-replayed").and_then(|v| v.to_str().ok()),
            Some("true")
        );
        assert_eq!(again.json::<Value>().await.unwrap(), first);
        let other = post(world.body(&clients[..1])).await.unwrap();
        assert_eq!(other.status(), 422);
        let listed = world.app.get(&format!("{ADMIN}/communications")).await;
        assert_eq!(listed.body["total"], 3);
    }

    async fn all_users_sends_to_every_client_stored(db: &TestDb) {
        let world = World::new(db).await;
        let clients: HashSet<String> = world.clients(4).await.into_iter().collect();
        let mut body = world.body(&[]);
        body.as_object_mut().unwrap().remove("user_ids");
        body["all_users"] = json!(true);
        let reply = world.accepted(&body).await;
        assert_eq!(reply["accepted"], 4);
        assert_eq!(reply["refused"], json!([]));
        let mut reached = HashSet::new();
        for id in strings(&reply["ids"]) {
            reached.insert(world.detail(&id).await["user_id"].as_str().unwrap().to_owned());
        }
        assert_eq!(reached, clients);
    }

    async fn an_invalid_bulk_names_the_field_and_stores_nothing(db: &TestDb) {
        let world = World::new(db).await;
        let clients = world.clients(1).await;
        let cases: [(Spoil, &str); 12] = [
            (|b| b["all_users"] = json!(true), "all_users"),
            (
                |b| {
                    b.as_object_mut().unwrap().remove("user_ids");
                },
                "user_ids",
            ),
            (
                |b| {
                    b.as_object_mut().unwrap().remove("user_ids");
                    b["all_users"] = json!(false);
                },
                "all_users",
            ),
            (|b| b["user_ids"] = json!([]), "user_ids"),
            (
                |b| {
                    let ids: Vec<String> =
                        (0..10_001).map(|_| Uuid::now_v7().to_string()).collect();
                    b["user_ids"] = json!(ids);
                },
                "user_ids",
            ),
            (|b| b["user_ids"] = json!([Uuid::now_v7(), "nope"]), "user_ids.1"),
            (|b| b["department_id"] = json!(Uuid::now_v7()), "department_id"),
            (
                |b| b["communication_type_id"] = json!(Uuid::now_v7()),
                "communication_type_id",
            ),
            (
                |b| b["communication_source_id"] = json!(Uuid::now_v7()),
                "communication_source_id",
            ),
            (|b| b["message"] = json!(""), "message"),
            (|b| b["message"] = json!("x".repeat(10_001)), "message"),
            (|b| b["extra"] = json!(1), "extra"),
        ];
        for (change, field) in cases {
            let mut body = world.body(&clients);
            change(&mut body);
            let reply = world.bulk(&body).await;
            reply.assert_problem(422);
            assert_eq!(reply.error_fields(), [field], "{reply:?}");
        }
        // Every invalid field at once.
        let mut body = world.body(&[]);
        body["message"] = json!(" ");
        body["department_id"] = json!(Uuid::now_v7());
        let reply = world.bulk(&body).await;
        reply.assert_problem(422);
        assert_eq!(reply.error_fields(), ["message", "user_ids", "department_id"]);
        let listed = world.app.get(&format!("{ADMIN}/communications")).await;
        assert_eq!(listed.body["total"], 0);
    }

    async fn a_bulk_booking_refuses_the_clients_the_policies_refuse_then(db: &TestDb) {
        let world = World::new(db).await;
        world.daily_limit(1).await;
        let clients = world.clients(5).await;
        let (taken, free, away, gone, phoneless) =
            (&clients[0], &clients[1], &clients[2], &clients[3], &clients[4]);
        let day = from_now(Duration::days(2));
        let at = day + Duration::hours(1);
        // `taken` already has a booking that day.
        let mut single = world.booking(&[], day);
        let single = single.as_object_mut().unwrap();
        single.remove("user_ids");
        single.insert("user_id".to_owned(), json!(taken));
        let booked = world
            .app
            .post(&format!("{ADMIN}/communications"), &Value::Object(single.clone()))
            .await;
        assert_eq!(booked.status, 202, "{booked:?}");
        // `away` is unavailable until two hours after the moment, `gone` for good.
        let back = at + Duration::hours(2);
        world.block(away, Some(back)).await;
        world.block(gone, None).await;
        // `phoneless` has no address on the department's only channel.
        let patched = world
            .app
            .patch(&format!("{ADMIN}/users/{phoneless}"), &json!({"phone": null}))
            .await;
        assert_eq!(patched.status, 200, "{patched:?}");

        let reply = world.accepted(&world.booking(&clients, at)).await;
        assert_eq!(reply["accepted"], 1, "{reply:#}");
        assert_eq!(
            reply["refused"],
            json!([
                {"user_id": taken, "reason": "rate_limited", "next_available_at": text(day + Duration::days(1))},
                {"user_id": away, "reason": "user_unavailable", "next_available_at": text(back)},
                {"user_id": gone, "reason": "user_blocked"},
                {"user_id": phoneless, "reason": "no_channel"},
            ])
        );
        let ids = strings(&reply["ids"]);
        let detail = world.detail(&ids[0]).await;
        assert_eq!(detail["user_id"], *free);
        assert_eq!(detail["status"], "booked");
        assert_eq!(moment(&detail["communication_date"]), at);
        assert_eq!(detail["batch_id"], reply["batch_id"]);
        let kinds: Vec<&str> = detail["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["kind"].as_str().unwrap())
            .collect();
        assert_eq!(kinds, ["created", "booked"]);
        let batch = world.batch(reply["batch_id"].as_str().unwrap()).await;
        assert_eq!(sorted(counts(&batch.body)), only(&[("booked", 1)]));

        // The booking counts: the client's slot that day is taken now.
        let again = world.accepted(&world.booking(std::slice::from_ref(free), at + Duration::hours(3))).await;
        assert_eq!(again["accepted"], 0);
        assert_eq!(again["refused"][0]["reason"], "rate_limited");
        assert_eq!(again["refused"][0]["next_available_at"], text(at + Duration::days(1)));
        // A bulk where nobody is accepted has no communication to follow.
        world.batch(again["batch_id"].as_str().unwrap()).await.assert_problem(404);
    }

    async fn two_bulk_bookings_for_the_same_clients_book_each_client_once(db: &TestDb) {
        let world = World::new(db).await;
        world.daily_limit(1).await;
        // More clients than one booking transaction locks.
        let clients = insert_clients(db, 2_500);
        let at = from_now(Duration::days(1));
        let first = world.booking(&clients, at);
        let mut reversed = clients.clone();
        reversed.reverse();
        let second = world.booking(&reversed, at + Duration::minutes(5));
        let (a, b) = tokio::join!(world.bulk(&first), world.bulk(&second));
        assert_eq!(a.status, 202, "{:?}", a.body["detail"]);
        assert_eq!(b.status, 202, "{:?}", b.body["detail"]);
        assert_eq!(
            a.body["accepted"].as_u64().unwrap() + b.body["accepted"].as_u64().unwrap(),
            2_500
        );
        let refused = |reply: &Reply| -> HashSet<String> {
            let refused = reply.body["refused"].as_array().unwrap();
            assert!(refused.iter().all(|r| r["reason"] == "rate_limited"));
            refused
                .iter()
                .map(|r| r["user_id"].as_str().unwrap().to_owned())
                .collect()
        };
        let (refused_a, refused_b) = (refused(&a), refused(&b));
        assert!(refused_a.is_disjoint(&refused_b));
        assert_eq!(refused_a.len() + refused_b.len(), 2_500);
        let booked = world
            .app
            .get(&format!("{ADMIN}/communications?status=booked&limit=1"))
            .await;
        assert_eq!(booked.body["total"], 2_500);
    }

    async fn bodies_up_to_sixteen_mebibytes_are_taken_on_the_bulk_route_only(db: &TestDb) {
        let world = World::new(db).await;
        let clients = world.clients(2).await;
        let padded = |body: &Value, size: usize| -> Vec<u8> {
            let mut bytes = serde_json::to_vec(body).unwrap();
            let end = bytes.pop().unwrap();
            bytes.resize(size - 1, b' ');
            bytes.push(end);
            bytes
        };
        let bulk = format!("{ADMIN}/communications/bulk");
        let two_mib = padded(&world.body(&clients), 2 * 1024 * 1024);
        let reply = world
            .app
            .raw(Method::POST, &bulk, Some("application/json"), two_mib)
            .await;
        assert_eq!(reply.status, 202, "{reply:?}");
        assert_eq!(reply.body["accepted"], 2);

        let mut single = world.body(&[]);
        let single = single.as_object_mut().unwrap();
        single.remove("user_ids");
        single.insert("user_id".to_owned(), json!(clients[0]));
        let two_mib = padded(&Value::Object(single.clone()), 2 * 1024 * 1024);
        world
            .app
            .raw(
                Method::POST,
                &format!("{ADMIN}/communications"),
                Some("application/json"),
                two_mib,
            )
            .await
            .assert_problem(413);

        let too_large = padded(&world.body(&clients), 16 * 1024 * 1024 + 1);
        world
            .app
            .raw(Method::POST, &bulk, Some("application/json"), too_large)
            .await
            .assert_problem(413);
        let listed = world.app.get(&format!("{ADMIN}/communications")).await;
        assert_eq!(listed.body["total"], 2);
    }

    /// The suite's one bulk of 10 000: every client's message reaches the
    /// provider once.
    async fn a_bulk_of_ten_thousand_clients_is_sent_to_each_once(db: &TestDb) {
        let sink = Sink::start().await;
        let env = [
            ("OMNICHANNEL_JWT_SECRET", JWT_SECRET.to_owned()),
            ("OMNICHANNEL_CHANNELS__SMS__PROVIDER", "http".to_owned()),
            ("OMNICHANNEL_CHANNELS__SMS__URL", sink.url("/sms")),
            ("OMNICHANNEL_CHANNELS__SMS__TIMEOUT_MS", "5000".to_owned()),
            ("OMNICHANNEL_WORKER__CONCURRENCY", "64".to_owned()),
            ("OMNICHANNEL_WORKER__POLL_INTERVAL_MS", "100".to_owned()),
        ];
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let world = World::on(TestApp::spawn_with(db, &env).await).await;
        let clients = insert_clients(db, 10_000);
        let reply = world.accepted(&world.body(&clients)).await;
        assert_eq!(reply["accepted"], 10_000);
        assert_eq!(reply["refused"], json!([]));
        let ids: HashSet<String> = strings(&reply["ids"]).into_iter().collect();
        assert_eq!(ids.len(), 10_000);
        let batch = reply["batch_id"].as_str().unwrap();

        let deadline = Instant::now() + PATIENCE;
        loop {
            let progress = world.batch(batch).await;
            assert_eq!(progress.status, 200, "{progress:?}");
            if progress.body["counts"]["sent"] == 10_000 {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the batch was not sent in time: {:#}",
                progress.body
            );
            tokio::time::sleep(StdDuration::from_millis(200)).await;
        }
        let calls = sink.requests_at("/sms");
        let keys: HashSet<String> = calls
            .iter()
            .map(|c| c.header("idempotency-key").unwrap().to_owned())
            .collect();
        assert_eq!(calls.len(), 10_000);
        assert_eq!(keys, ids);
        assert_eq!(world.sms, world.detail(ids.iter().next().unwrap()).await["communication_source_id"]);
    }
}

// ---- the port, on the store ------------------------------------------------

/// A department of its own and the first seeded type, stored.
fn directory(store: &Store) -> (DepartmentId, TypeId) {
    let department = Department {
        id: DepartmentId::generate(),
        name: Name::parse("Bulk").unwrap(),
        created_at: Utc::now(),
        updated_at: Utc::now(),
    };
    DepartmentRepository::insert(store, &department).unwrap();
    let page = Page {
        limit: 1,
        offset: 0,
    };
    let kind = CommunicationTypeRepository::list(store, page)
        .unwrap()
        .items[0]
        .id;
    (department.id, kind)
}

/// A communication of a bulk, with its `created` event (and `booked` for
/// a booking).
fn add(
    insert: &mut BulkInsert,
    user_id: UserId,
    (department_id, type_id): (DepartmentId, TypeId),
    batch: BatchId,
    booked_for: Option<DateTime<Utc>>,
) {
    let now = Utc::now().trunc_subsecs(6);
    let communication = Communication {
        id: CommunicationId::generate(),
        department_id,
        user_id,
        type_id,
        requested_source_id: None,
        source_id: None,
        communication_date: booked_for.unwrap_or(now),
        status: if booked_for.is_some() {
            CommunicationStatus::Booked
        } else {
            CommunicationStatus::NotSent
        },
        status_reason: None,
        message: Message::parse("Spring sale").unwrap(),
        sent_at: None,
        delivered_at: None,
        read_at: None,
        attempts: 0,
        next_attempt_at: None,
        provider_message_id: None,
        batch_id: Some(batch),
        created_at: now,
        updated_at: now,
    };
    insert
        .events
        .push(Event::new(communication.id, now, EventKind::Created));
    if booked_for.is_some() {
        insert
            .events
            .push(Event::new(communication.id, now, EventKind::Booked));
    }
    insert.communications.push(communication);
}

fn user_ids(ids: &[String]) -> Vec<UserId> {
    ids.iter().map(|id| id.parse().unwrap()).collect()
}

both_backends! {
    fn the_store_inserts_a_bulk_for_the_clients_that_exist_and_counts_its_batch(db: &TestDb) {
        let store = db.store();
        let directory = directory(&store);
        let clients = user_ids(&insert_clients(db, 1_500));
        let mut named = clients.clone();
        named.insert(700, UserId::generate());
        let batch = BatchId::generate();
        store
            .insert_for_clients(&named, &mut |kept| {
                assert_eq!(kept.iter().collect::<HashSet<_>>(), clients.iter().collect());
                let mut insert = BulkInsert::default();
                for &user in kept {
                    add(&mut insert, user, directory, batch, None);
                }
                insert
            })
            .unwrap();
        assert_eq!(
            store.batch_counts(batch).unwrap(),
            [(CommunicationStatus::NotSent, 1_500)]
        );
        assert_eq!(store.batch_counts(BatchId::generate()).unwrap(), []);
        let filter = CommunicationFilter {
            batch_id: Some(batch),
            ..CommunicationFilter::default()
        };
        let listed = CommunicationRepository::list(&store, &filter, Page::default()).unwrap();
        assert_eq!(listed.total, 1_500);
        let one = &listed.items[0];
        let events = store.events(one.id).unwrap();
        assert_eq!(events.iter().map(|e| e.kind).collect::<Vec<_>>(), [EventKind::Created]);

        // A communication of a client the write does not cover: nothing stored.
        let stray = BatchId::generate();
        let refused = store.insert_for_clients(&clients[..1], &mut |_| {
            let mut insert = BulkInsert::default();
            add(&mut insert, clients[0], directory, stray, None);
            add(&mut insert, clients[1], directory, stray, None);
            insert
        });
        assert!(matches!(refused, Err(RepoError::Unexpected(_))), "{refused:?}");
        assert_eq!(store.batch_counts(stray).unwrap(), []);

        let mut sorted = clients.clone();
        sorted.sort();
        assert_eq!(store.client_ids(10).unwrap(), sorted[..10]);
        assert_eq!(store.client_ids(5_000).unwrap().len(), 1_500);
    }

    fn the_store_decides_for_many_clients_a_thousand_a_transaction(db: &TestDb) {
        let store = db.store();
        let directory @ (department, _) = directory(&store);
        let clients = user_ids(&insert_clients(db, 2_500));
        let unknown = UserId::generate();
        let mut pairs: Vec<(UserId, DepartmentId)> =
            clients.iter().map(|&user| (user, department)).collect();
        pairs.push((unknown, department));
        let batch = BatchId::generate();
        let at = Utc::now().trunc_subsecs(0) + Duration::days(1);
        let mut seen = Vec::new();
        let mut sizes = Vec::new();
        store
            .decide_for_clients(&pairs, Utc::now(), &mut |chunk, snapshot| {
                sizes.push(chunk.len());
                let mut insert = BulkInsert::default();
                for &(user, department) in chunk {
                    seen.push(user);
                    let known = snapshot.clients.contains_key(&(user, department));
                    assert_eq!(known, user != unknown);
                    if known {
                        add(&mut insert, user, directory, batch, Some(at));
                    }
                }
                insert
            })
            .unwrap();
        assert_eq!(sizes, [1_000, 1_000, 501]);
        seen.sort();
        let mut expected: Vec<UserId> = pairs.iter().map(|&(user, _)| user).collect();
        expected.sort();
        assert_eq!(seen, expected);
        assert_eq!(
            store.batch_counts(batch).unwrap(),
            [(CommunicationStatus::Booked, 2_500)]
        );

        // A write for a client outside its transaction is refused; the
        // transactions before it stay.
        let stray = BatchId::generate();
        let mut calls = 0;
        let refused = store.decide_for_clients(&pairs, Utc::now(), &mut |chunk, snapshot| {
            calls += 1;
            let mut insert = BulkInsert::default();
            let known = chunk.iter().find(|pair| snapshot.clients.contains_key(pair)).unwrap();
            add(&mut insert, known.0, directory, stray, Some(at + Duration::hours(1)));
            if calls == 2 {
                let outside = pairs.iter().find(|pair| !chunk.contains(pair)).unwrap().0;
                add(&mut insert, outside, directory, stray, Some(at + Duration::hours(1)));
            }
            insert
        });
        assert!(matches!(refused, Err(RepoError::Unexpected(_))), "{refused:?}");
        assert_eq!(calls, 2);
        assert_eq!(
            store.batch_counts(stray).unwrap(),
            [(CommunicationStatus::Booked, 1)]
        );
    }
}
