//! `Idempotency-Key` on `POST /communications` of both APIs (SPEC §3, §7),
//! with the workers switched off so that nothing moves but what the tests do.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use chrono::{Duration, SecondsFormat, SubsecRound, Utc};
use reqwest::Method;
use serde_json::{Value, json};

use crate::api::{ADMIN, Auth, JWT_SECRET, PUBLIC, TestApp};
use crate::db::{TestDb, both_backends};

/// An answer, with the headers idempotency is about and the body as sent.
#[derive(Debug)]
struct Answer {
    status: u16,
    location: Option<String>,
    replayed: bool,
    raw: String,
    body: Value,
}

impl Answer {
    fn id(&self) -> String {
        self.body["id"]
            .as_str()
            .unwrap_or_else(|| panic!("no id in {self:?}"))
            .to_owned()
    }

    /// Asserts a `422` that names `Idempotency-Key`.
    #[track_caller]
    fn assert_key_refused(&self) {
        assert_eq!(self.status, 422, "{self:?}");
        let fields: Vec<&str> = self.body["errors"]
            .as_array()
            .map(|errors| errors.iter().filter_map(|e| e["field"].as_str()).collect())
            .unwrap_or_default();
        assert_eq!(fields, ["Idempotency-Key"], "{self:?}");
    }
}

/// A service without workers, the seeded `mass` type, a department that
/// sends it by sms and a client with a phone.
struct World {
    app: TestApp,
    client: reqwest::Client,
    department: String,
    user: String,
    mass: String,
    sms: String,
}

fn id_of(value: &Value) -> String {
    value["id"].as_str().unwrap().to_owned()
}

impl World {
    async fn new(db: &TestDb) -> Self {
        let app = TestApp::spawn_with(
            db,
            &[
                ("OMNICHANNEL_JWT_SECRET", JWT_SECRET),
                ("OMNICHANNEL_WORKER__ENABLED", "false"),
            ],
        )
        .await;
        let mass = app.seeded("communication-types", "mass").await;
        let sms = app.seeded("communication-sources", "sms").await;
        let department = id_of(&app.create("departments", &json!({"name": "Sales"})).await);
        let user = id_of(
            &app.create(
                "users",
                &json!({"first_name": "Ann", "phone": "+15551234567"}),
            )
            .await,
        );
        let world = Self {
            app,
            client: reqwest::Client::new(),
            department,
            user,
            mass,
            sms,
        };
        world.favor_sms().await;
        world
    }

    /// Makes sms the department's channel for `mass`.
    async fn favor_sms(&self) {
        let favorites = json!({"items": [
            {"communication_type_id": self.mass, "communication_source_id": self.sms, "priority": 1},
        ]});
        let put = self
            .app
            .put(
                &format!("{ADMIN}/departments/{}/favorite-sources", self.department),
                &favorites,
            )
            .await;
        assert_eq!(put.status, 200, "{put:?}");
    }

    fn operator(&self) -> Auth {
        Auth::Bearer(self.app.token.clone())
    }

    fn body(&self, message: &str) -> Value {
        json!({
            "user_id": self.user,
            "department_id": self.department,
            "communication_type_id": self.mass,
            "message": message,
        })
    }

    /// `POST /communications` of the API `auth` belongs to, with `body` as
    /// it is written and the key, if any.
    async fn post_raw(&self, auth: &Auth, key: Option<&str>, body: String) -> Answer {
        let api = if matches!(auth, Auth::Key { .. }) {
            PUBLIC
        } else {
            ADMIN
        };
        let mut request = self
            .client
            .post(format!("{}{api}/communications", self.app.base))
            .header("content-type", "application/json")
            .body(body);
        if let Some(key) = key {
            request = request.header("Idempotency-Key", key);
        }
        request = match auth {
            Auth::Anonymous => request,
            Auth::Bearer(token) => request.bearer_auth(token),
            Auth::Key { key, secret } => request
                .header("x-api-key", key)
                .header("x-api-secret", secret),
        };
        let response = request.send().await.expect("the server answers");
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let location = header("location");
        let replayed = header("idempotent-replayed").as_deref() == Some("true");
        let status = response.status().as_u16();
        let raw = response.text().await.expect("the body is read");
        let body = serde_json::from_str(&raw).unwrap_or(Value::Null);
        Answer {
            status,
            location,
            replayed,
            raw,
            body,
        }
    }

    async fn post(&self, auth: &Auth, key: Option<&str>, body: &Value) -> Answer {
        self.post_raw(auth, key, body.to_string()).await
    }

    /// How many communications are stored.
    async fn total(&self) -> u64 {
        let list = self.app.get(&format!("{ADMIN}/communications")).await;
        assert_eq!(list.status, 200, "{list:?}");
        list.body["total"].as_u64().unwrap()
    }

    /// A second operator, logged in.
    async fn another_operator(&self) -> Auth {
        let password = "another-operator-password";
        self.app
            .create(
                "admins",
                &json!({"username": "second", "password": password}),
            )
            .await;
        let login = self.app.login("second", password).await;
        assert_eq!(login.status, 200, "{login:?}");
        Auth::Bearer(login.body["access_token"].as_str().unwrap().to_owned())
    }

    /// Sets back the moment every stored key was first used.
    fn age_keys(&self, db: &TestDb) {
        db.execute("UPDATE idempotency_keys SET created_at = '2000-01-01 00:00:00'")
            .expect("the keys are aged");
    }
}

fn key_count(db: &TestDb) -> String {
    db.texts("SELECT CAST(COUNT(*) AS TEXT) AS value FROM idempotency_keys")
        .remove(0)
}

both_backends! {
    async fn the_same_request_again_gets_the_first_answer_unchanged_and_creates_nothing(db: &TestDb) {
        let world = World::new(db).await;
        let operator = world.operator();
        let first = world.post(&operator, Some("send-1"), &world.body("Hello")).await;
        assert_eq!(first.status, 202, "{first:?}");
        assert!(!first.replayed, "{first:?}");
        let id = first.id();

        // The same body written another way is the same request.
        let reordered = format!(
            r#"{{ "message": "Hello", "communication_type_id": "{}", "department_id": "{}", "user_id": "{}" }}"#,
            world.mass, world.department, world.user
        );
        let again = world.post_raw(&operator, Some("send-1"), reordered).await;
        assert_eq!((again.status, &again.raw, &again.location), (202, &first.raw, &first.location));
        assert!(again.replayed, "{again:?}");
        assert_eq!(world.total().await, 1);

        // The replay does not follow the communication: it is the first answer.
        let cancelled = world
            .app
            .send(Method::POST, &format!("{ADMIN}/communications/{id}/cancel"), None)
            .await;
        assert_eq!(cancelled.body["status"], "cancelled", "{cancelled:?}");
        let after = world.post(&operator, Some("send-1"), &world.body("Hello")).await;
        assert_eq!((after.status, &after.raw), (202, &first.raw));
        assert_eq!(after.body["status"], "not_sent");
        assert_eq!(world.total().await, 1);

        // Without a key, every send is a new one.
        for _ in 0..2 {
            assert_eq!(world.post(&operator, None, &world.body("Hello")).await.status, 202);
        }
        assert_eq!(world.total().await, 3);
    }

    async fn the_public_api_replays_too(db: &TestDb) {
        let world = World::new(db).await;
        let key = world.app.api_key().await;
        let first = world.post(&key, Some("public-1"), &world.body("Hi")).await;
        assert_eq!(first.status, 202, "{first:?}");
        let location = first.location.clone().unwrap();
        assert!(location.starts_with(PUBLIC), "{location}");
        let again = world.post(&key, Some("public-1"), &world.body("Hi")).await;
        assert_eq!((again.status, &again.raw, again.location.as_ref()), (202, &first.raw, Some(&location)));
        assert!(again.replayed);
        assert_eq!(world.total().await, 1);
    }

    async fn a_revoked_api_key_leaves_no_idempotency_record(db: &TestDb) {
        let world = World::new(db).await;
        let key = world.app.api_key().await;
        // The process now remembers the key; another instance revokes it.
        assert_eq!(world.post(&key, Some("before"), &world.body("Hi")).await.status, 202);
        db.execute("UPDATE api_keys SET revoked_at = '2026-01-01 00:00:00'")
            .expect("the key is revoked");
        let refused = world.post(&key, Some("after"), &world.body("Hi")).await;
        assert_eq!(refused.status, 401, "{refused:?}");
        assert_eq!(key_count(db), "1", "only the key used before the revocation");
        assert_eq!(world.total().await, 1);
    }

    async fn a_key_used_with_another_body_or_malformed_is_refused(db: &TestDb) {
        let world = World::new(db).await;
        let operator = world.operator();
        assert_eq!(world.post(&operator, Some("k"), &world.body("Hello")).await.status, 202);
        let other = world.post(&operator, Some("k"), &world.body("Hello again")).await;
        other.assert_key_refused();
        assert!(other.body["detail"].as_str().unwrap().contains("another request"), "{other:?}");
        // The first answer is still the key's.
        assert_eq!(world.post(&operator, Some("k"), &world.body("Hello")).await.status, 202);

        world.post(&operator, Some(&"k".repeat(256)), &world.body("Long")).await.assert_key_refused();
        world.post(&operator, Some(""), &world.body("Empty")).await.assert_key_refused();
        let longest = world.post(&operator, Some(&"ж".repeat(255)), &world.body("Longest")).await;
        assert_eq!(longest.status, 202, "{longest:?}");
        assert_eq!(world.total().await, 2);

        let doc = world.app.get("/api/openapi.json").await;
        for api in [ADMIN, PUBLIC] {
            let send = &doc.body["paths"][format!("{api}/communications")]["post"];
            let header = send["parameters"]
                .as_array()
                .and_then(|params| params.iter().find(|p| p["name"] == "Idempotency-Key"))
                .unwrap_or_else(|| panic!("no Idempotency-Key on {api}: {send}"));
            assert_eq!(header["in"], "header");
            assert_eq!(header["required"], false);
            assert_eq!(header["schema"]["maxLength"], 255, "{header}");
            assert!(send["responses"]["409"].is_object());
        }
    }

    async fn keys_belong_to_their_caller(db: &TestDb) {
        let world = World::new(db).await;
        let callers = [world.operator(), world.app.api_key().await, world.another_operator().await];
        let mut ids = Vec::new();
        for caller in &callers {
            let answer = world.post(caller, Some("shared"), &world.body("Hello")).await;
            assert_eq!(answer.status, 202, "{answer:?}");
            assert!(!answer.replayed);
            ids.push(answer.id());
        }
        let mut distinct = ids.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(distinct.len(), 3, "{ids:?}");
        for (caller, id) in callers.iter().zip(&ids) {
            let again = world.post(caller, Some("shared"), &world.body("Hello")).await;
            assert_eq!(&again.id(), id);
        }
        assert_eq!(world.total().await, 3);
    }

    async fn a_refused_booking_replays_its_409(db: &TestDb) {
        let world = World::new(db).await;
        let operator = world.operator();
        let patched = world.app.patch(&format!("{ADMIN}/users/{}", world.user), &json!({"phone": null})).await;
        assert_eq!(patched.status, 200, "{patched:?}");
        let mut booking = world.body("See you then");
        let at = (Utc::now() + Duration::hours(1)).trunc_subsecs(0);
        booking["communication_date"] = json!(at.to_rfc3339_opts(SecondsFormat::Secs, true));
        let refused = world.post(&operator, Some("book-1"), &booking).await;
        assert_eq!(refused.status, 409, "{refused:?}");
        assert_eq!(refused.body["reason"], "no_channel");

        // The client can be reached now, but a refusal is a final answer too:
        // the key replays it, and a new attempt takes a new key.
        let patched = world.app.patch(&format!("{ADMIN}/users/{}", world.user), &json!({"phone": "+15551234567"})).await;
        assert_eq!(patched.status, 200, "{patched:?}");
        let again = world.post(&operator, Some("book-1"), &booking).await;
        assert_eq!((again.status, &again.raw), (409, &refused.raw));
        assert!(again.replayed);
        assert_eq!(world.total().await, 0);
        let booked = world.post(&operator, Some("book-2"), &booking).await;
        assert_eq!(booked.status, 202, "{booked:?}");
        assert_eq!(booked.body["status"], "booked");
    }

    async fn a_server_error_releases_the_key_for_a_retry(db: &TestDb) {
        let world = World::new(db).await;
        let operator = world.operator();
        db.execute("ALTER TABLE communication_events RENAME TO communication_events_away")
            .unwrap();
        let failed = world.post(&operator, Some("retry-1"), &world.body("Hello")).await;
        assert_eq!(failed.status, 500, "{failed:?}");
        assert_eq!(key_count(db), "0", "the key is released");
        db.execute("ALTER TABLE communication_events_away RENAME TO communication_events")
            .unwrap();
        let retried = world.post(&operator, Some("retry-1"), &world.body("Hello")).await;
        assert_eq!(retried.status, 202, "{retried:?}");
        assert!(!retried.replayed);
        assert_eq!(world.total().await, 1);
    }

    async fn concurrent_duplicates_create_one_communication(db: &TestDb) {
        let world = std::sync::Arc::new(World::new(db).await);
        let body = world.body("Only once");
        let requests: Vec<_> = (0..20)
            .map(|_| {
                let world = world.clone();
                let body = body.clone();
                tokio::spawn(async move {
                    world.post(&world.operator(), Some("race"), &body).await
                })
            })
            .collect();
        let mut accepted = Vec::new();
        let mut in_progress = 0;
        for request in requests {
            let answer = request.await.unwrap();
            match answer.status {
                202 => accepted.push(answer),
                409 => {
                    assert!(answer.body["detail"].as_str().unwrap().contains("in progress"), "{answer:?}");
                    in_progress += 1;
                }
                _ => panic!("neither the answer nor in progress: {answer:?}"),
            }
        }
        assert!(!accepted.is_empty());
        assert_eq!(accepted.len() + in_progress, 20);
        assert_eq!(accepted.iter().filter(|a| !a.replayed).count(), 1, "{accepted:?}");
        assert!(accepted.iter().all(|a| a.raw == accepted[0].raw), "{accepted:?}");
        assert_eq!(world.total().await, 1);
        assert_eq!(key_count(db), "1");
    }

    async fn an_expired_key_runs_again_and_the_clean_up_removes_it(db: &TestDb) {
        let world = World::new(db).await;
        let operator = world.operator();
        let first = world.post(&operator, Some("old"), &world.body("Hello")).await;
        assert_eq!(first.status, 202, "{first:?}");
        world.age_keys(db);

        // Past 24 hours the key is as good as unused, clean-up or not, even
        // with another body.
        let second = world.post(&operator, Some("old"), &world.body("Hello again")).await;
        assert_eq!(second.status, 202, "{second:?}");
        assert!(!second.replayed);
        assert_ne!(second.id(), first.id());
        let third = world.post(&operator, Some("old"), &world.body("Hello again")).await;
        assert_eq!((third.id(), third.replayed), (second.id(), true));
        assert_eq!(world.total().await, 2);

        world.age_keys(db);
        assert_eq!(world.post(&operator, Some("fresh"), &world.body("New")).await.status, 202);
        let keys = omnichannel_server::pipeline::idempotency_keys(&db.store());
        let removed = tokio::task::spawn_blocking(move || keys.delete_expired())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(removed, 1);
        assert_eq!(
            db.texts("SELECT idempotency_key AS value FROM idempotency_keys"),
            ["fresh"]
        );
        assert_eq!(world.total().await, 3);
    }
}

/// The storage port itself, on both backends: what each call answers when
/// another request got there first.
mod port {
    use std::sync::Arc;

    use chrono::{DateTime, SubsecRound, Utc};
    use omnichannel_domain::AdminId;
    use omnichannel_domain::idempotency::{
        Fingerprint, IdempotencyKey, IdempotencyScope, IdempotencyState, Reservation,
        ReservationId, StoredAnswer,
    };
    use omnichannel_domain::ports::{IdempotencyRepository, RepoError};

    use crate::db::{TestDb, both_backends};

    /// Now, to the microsecond, as stored.
    fn now() -> DateTime<Utc> {
        Utc::now().trunc_subsecs(6)
    }

    fn reservation(scope: IdempotencyScope, digit: char, at: DateTime<Utc>) -> Reservation {
        Reservation {
            id: ReservationId::generate(),
            scope,
            key: IdempotencyKey::parse("key-1").unwrap(),
            fingerprint: Fingerprint::parse(digit.to_string().repeat(64)).unwrap(),
            created_at: at,
        }
    }

    fn answer() -> StoredAnswer {
        StoredAnswer {
            status: 202,
            content_type: Some("application/json".to_owned()),
            location: Some("/api/admin/v1/communications/1".to_owned()),
            body: r#"{"id":"1"}"#.to_owned(),
        }
    }

    both_backends! {
        fn a_key_is_reserved_once_then_completed_taken_over_or_released(db: &TestDb) {
            let store = db.store();
            let scope = IdempotencyScope::Operator(AdminId::generate());
            let first = reservation(scope, 'a', now());
            store.reserve(&first).unwrap();
            assert!(matches!(store.reserve(&reservation(scope, 'b', now())), Err(RepoError::Conflict("idempotency_key"))));
            // Another caller's key of the same name is another key.
            store.reserve(&reservation(IdempotencyScope::Operator(AdminId::generate()), 'a', now())).unwrap();

            let found = store.find(scope, &first.key).unwrap().unwrap();
            assert_eq!((&found.reservation, &found.state), (&first, &IdempotencyState::InProgress));
            assert!(store.complete(&first, &answer(), now()).unwrap());
            assert!(!store.complete(&first, &answer(), now()).unwrap(), "done once");
            assert!(!store.release(&first).unwrap(), "a done key is kept");
            let done = store.find(scope, &first.key).unwrap().unwrap();
            assert_eq!(done.state, IdempotencyState::Done(answer()));

            let second = reservation(scope, 'b', now());
            assert!(!store.take_over(ReservationId::generate(), &second).unwrap());
            assert!(store.take_over(first.id, &second).unwrap());
            assert!(!store.take_over(first.id, &reservation(scope, 'c', now())).unwrap(), "taken over once");
            let taken = store.find(scope, &first.key).unwrap().unwrap();
            assert_eq!((&taken.reservation, &taken.state), (&second, &IdempotencyState::InProgress));
            assert!(!store.complete(&first, &answer(), now()).unwrap(), "the first holder lost it");
            assert!(!store.release(&first).unwrap());
            assert!(store.release(&second).unwrap());
            assert!(store.find(scope, &first.key).unwrap().is_none());
        }

        fn concurrent_reservations_of_a_key_let_one_through(db: &TestDb) {
            let store = Arc::new(db.store());
            let scope = IdempotencyScope::ApiKey(omnichannel_domain::ApiKeyId::generate());
            let threads: Vec<_> = (0..8)
                .map(|_| {
                    let store = store.clone();
                    std::thread::spawn(move || store.reserve(&reservation(scope, 'a', now())))
                })
                .collect();
            let results: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
            assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1, "{results:?}");
            assert!(results.iter().all(|r| matches!(r, Ok(()) | Err(RepoError::Conflict(_)))), "{results:?}");
        }

        fn old_keys_are_deleted_oldest_first_in_batches(db: &TestDb) {
            let store = db.store();
            let day = chrono::Duration::days(1);
            for (n, age) in [3, 2, 2, 0].into_iter().enumerate() {
                let mut old = reservation(IdempotencyScope::Operator(AdminId::generate()), 'a', now() - day * age);
                old.key = IdempotencyKey::parse(format!("key-{n}")).unwrap();
                store.reserve(&old).unwrap();
            }
            let cutoff = now() - day;
            assert_eq!(store.delete_created_before(cutoff, 1).unwrap(), 1);
            assert_eq!(db.texts("SELECT idempotency_key AS value FROM idempotency_keys ORDER BY idempotency_key"), ["key-1", "key-2", "key-3"]);
            assert_eq!(store.delete_created_before(cutoff, 10).unwrap(), 2);
            assert_eq!(store.delete_created_before(cutoff, 10).unwrap(), 0);
            assert_eq!(db.texts("SELECT idempotency_key AS value FROM idempotency_keys"), ["key-3"]);
        }
    }
}
