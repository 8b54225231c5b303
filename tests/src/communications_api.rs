//! `/communications` of both APIs: send, book, follow, reschedule, cancel and
//! receipts, with the workers switched off so that nothing is dispatched.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use chrono::{DateTime, Duration, SecondsFormat, SubsecRound, Utc};
use reqwest::Method;
use serde_json::{Value, json};

use crate::api::{ADMIN, Auth, JWT_SECRET, PUBLIC, Reply, TestApp};
use crate::db::{TestDb, both_backends};

/// Every member of a communication's body, `events` aside.
const MEMBERS: [&str; 18] = [
    "id",
    "department_id",
    "user_id",
    "communication_type_id",
    "communication_source_id",
    "communication_date",
    "status",
    "status_reason",
    "message",
    "sent_at",
    "delivered_at",
    "read_at",
    "attempts",
    "next_attempt_at",
    "provider_message_id",
    "batch_id",
    "created_at",
    "updated_at",
];

/// A service without workers, the seeded `mass` type and `sms` channel, a
/// department that sends `mass` by sms, and a client with a phone.
struct World {
    app: TestApp,
    department: String,
    user: String,
    mass: String,
    sms: String,
}

fn id_of(value: &Value) -> String {
    value["id"].as_str().unwrap().to_owned()
}

/// A whole second `offset` from now, so that it reads back unchanged.
fn from_now(offset: Duration) -> DateTime<Utc> {
    Utc::now().trunc_subsecs(0) + offset
}

fn text(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn moment(value: &Value) -> DateTime<Utc> {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("{value} is not a moment"));
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

fn kinds(detail: &Value) -> Vec<&str> {
    detail["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect()
}

fn ids(list: &Reply) -> Vec<String> {
    list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(id_of)
        .collect()
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
        let department = app.department_preferring("Sales", &mass, &[&sms]).await;
        let user = id_of(
            &app.create(
                "users",
                &json!({"first_name": "Ann", "phone": "+15551234567"}),
            )
            .await,
        );
        Self {
            app,
            department,
            user,
            mass,
            sms,
        }
    }

    /// A send body for the client and the department.
    fn body(&self, message: &str) -> Value {
        json!({
            "user_id": self.user,
            "department_id": self.department,
            "communication_type_id": self.mass,
            "message": message,
        })
    }

    /// The same body, booked at `at`.
    fn booking(&self, at: DateTime<Utc>) -> Value {
        let mut body = self.body("See you then");
        body["communication_date"] = json!(text(at));
        body
    }

    async fn post(&self, body: &Value) -> Reply {
        self.app
            .post(&format!("{ADMIN}/communications"), body)
            .await
    }

    /// Books `at`, asserting `202 booked`, and answers the communication.
    async fn book(&self, at: DateTime<Utc>) -> Value {
        let reply = self.post(&self.booking(at)).await;
        assert_eq!(reply.status, 202, "booking {at}: {reply:?}");
        assert_eq!(reply.body["status"], "booked", "{reply:?}");
        assert_eq!(moment(&reply.body["communication_date"]), at);
        reply.body
    }

    async fn detail(&self, id: &str) -> Value {
        let reply = self.app.get(&format!("{ADMIN}/communications/{id}")).await;
        assert_eq!(reply.status, 200, "{reply:?}");
        reply.body
    }

    async fn patch(&self, id: &str, body: &Value) -> Reply {
        self.app
            .patch(&format!("{ADMIN}/communications/{id}"), body)
            .await
    }

    /// `POST …/cancel` without a body.
    async fn cancel(&self, id: &str) -> Reply {
        self.app
            .send(
                Method::POST,
                &format!("{ADMIN}/communications/{id}/cancel"),
                None,
            )
            .await
    }

    /// One rule for the department: `limit` per `count` `unit`s, every type.
    async fn rule(&self, limit: u32, unit: &str, count: u32) {
        let reply = self
            .app
            .post(
                &format!("{ADMIN}/departments/{}/rules", self.department),
                &json!({"limit_per_unit": limit, "unit": unit, "units_count": count}),
            )
            .await;
        assert_eq!(reply.status, 201, "{reply:?}");
    }

    async fn list(&self, query: &str) -> Reply {
        self.app
            .get(&format!("{ADMIN}/communications?{query}"))
            .await
    }
}

/// Asserts a refused booking: `409` with why and when.
#[track_caller]
fn assert_refused(reply: &Reply, reason: &str, next_available_at: DateTime<Utc>) {
    reply.assert_problem(409);
    assert_eq!(reply.body["reason"], reason, "{reply:?}");
    assert_eq!(
        moment(&reply.body["next_available_at"]),
        next_available_at,
        "{reply:?}"
    );
}

both_backends! {
    async fn a_send_is_accepted_as_not_sent_with_its_location_and_history(db: &TestDb) {
        let world = World::new(db).await;
        let reply = world.post(&world.body("Hello")).await;
        assert_eq!(reply.status, 202, "{reply:?}");
        assert_eq!(reply.content_type, "application/json");
        let sent = &reply.body;
        let id = id_of(sent);
        assert_eq!(reply.location.as_deref(), Some(format!("{ADMIN}/communications/{id}").as_str()));
        let members: Vec<&str> = sent.as_object().unwrap().keys().map(String::as_str).collect();
        let mut expected = MEMBERS.to_vec();
        expected.sort_unstable();
        let mut members = members;
        members.sort_unstable();
        assert_eq!(members, expected);
        assert_eq!(sent["status"], "not_sent");
        assert_eq!(sent["status_reason"], Value::Null);
        assert_eq!(sent["user_id"], world.user.as_str());
        assert_eq!(sent["department_id"], world.department.as_str());
        assert_eq!(sent["communication_type_id"], world.mass.as_str());
        assert_eq!(sent["communication_source_id"], Value::Null);
        assert_eq!(sent["message"], "Hello");
        assert_eq!(sent["attempts"], 0);
        assert_eq!(sent["batch_id"], Value::Null);
        assert_eq!(sent["sent_at"], Value::Null);
        let age = Utc::now() - moment(&sent["communication_date"]);
        assert!(age >= Duration::zero() && age < Duration::minutes(1), "{sent}");
        assert_eq!(sent["created_at"], sent["updated_at"]);

        let mut detail = world.detail(&id).await;
        let events = detail.as_object_mut().unwrap().remove("events").unwrap();
        assert_eq!(&detail, sent, "the answer is the stored communication");
        assert_eq!(events.as_array().unwrap().len(), 1, "{events}");
        let created = &events[0];
        assert_eq!(
            created,
            &json!({"at": sent["created_at"], "kind": "created", "channel": null, "detail": null})
        );

        // A present or past date sends now; the caller's channel is kept.
        let mut body = world.body("Now");
        body["communication_date"] = json!(text(from_now(-Duration::days(1))));
        body["communication_source_id"] = json!(world.sms);
        let past = world.post(&body).await;
        assert_eq!(past.status, 202, "{past:?}");
        assert_eq!(past.body["status"], "not_sent");
        assert_eq!(past.body["communication_source_id"], world.sms.as_str());
        assert!(moment(&past.body["communication_date"]) > from_now(-Duration::minutes(1)));

        world.app.get(&format!("{ADMIN}/communications/{}", uuid::Uuid::new_v4())).await.assert_problem(404);
        world.app.get(&format!("{ADMIN}/communications/not-a-uuid")).await.assert_problem(404);
    }

    async fn the_public_api_sends_and_follows_with_an_api_key(db: &TestDb) {
        let world = World::new(db).await;
        let key = world.app.api_key().await;
        let reply = world
            .app
            .send_as(key.clone(), Method::POST, &format!("{PUBLIC}/communications"), Some(&world.body("Hi")))
            .await;
        assert_eq!(reply.status, 202, "{reply:?}");
        assert_eq!(reply.body["status"], "not_sent");
        let id = id_of(&reply.body);
        let location = format!("{PUBLIC}/communications/{id}");
        assert_eq!(reply.location.as_deref(), Some(location.as_str()));

        let detail = world.app.send_as(key.clone(), Method::GET, &location, None).await;
        assert_eq!(detail.status, 200, "{detail:?}");
        assert_eq!(kinds(&detail.body), ["created"]);
        let list = world
            .app
            .send_as(key.clone(), Method::GET, &format!("{PUBLIC}/communications?user_id={}", world.user), None)
            .await;
        assert_eq!(list.body["total"], 1, "{list:?}");
        assert_eq!(ids(&list), std::slice::from_ref(&id));

        let booked = world
            .app
            .send_as(key.clone(), Method::POST, &format!("{PUBLIC}/communications"), Some(&world.booking(from_now(Duration::hours(1)))))
            .await;
        assert_eq!(booked.body["status"], "booked", "{booked:?}");
        let booked_id = id_of(&booked.body);
        let cancelled = world
            .app
            .send_as(key.clone(), Method::POST, &format!("{PUBLIC}/communications/{booked_id}/cancel"), None)
            .await;
        assert_eq!(cancelled.status, 200, "{cancelled:?}");
        assert_eq!(cancelled.body["status"], "cancelled");
        let receipt = world
            .app
            .send_as(key.clone(), Method::POST, &format!("{location}/status"), Some(&json!({"status": "delivered"})))
            .await;
        receipt.assert_problem(409);

        // The operator's token is no key of the public API.
        world
            .app
            .send_as(Auth::Bearer(world.app.token.clone()), Method::GET, &location, None)
            .await
            .assert_problem(401);
        world.app.send_as(Auth::Anonymous, Method::POST, &format!("{PUBLIC}/communications"), Some(&world.body("Hi")))
            .await
            .assert_problem(401);
    }

    async fn a_send_names_each_invalid_field(db: &TestDb) {
        let world = World::new(db).await;
        let unknown = uuid::Uuid::new_v4().to_string();
        for field in ["user_id", "department_id", "communication_type_id", "communication_source_id"] {
            let mut body = world.body("Hello");
            body[field] = json!(unknown);
            let reply = world.post(&body).await;
            reply.assert_problem(422);
            assert_eq!(reply.error_fields(), [field], "{reply:?}");
        }
        let mut everything = json!({
            "user_id": unknown,
            "department_id": unknown,
            "communication_type_id": unknown,
            "communication_source_id": unknown,
            "message": " ",
        });
        let reply = world.post(&everything).await;
        reply.assert_problem(422);
        let mut fields = reply.error_fields();
        fields.sort_unstable();
        assert_eq!(
            fields,
            ["communication_source_id", "communication_type_id", "department_id", "message", "user_id"]
        );
        everything["message"] = json!("x".repeat(10_001));
        assert!(world.post(&everything).await.error_fields().contains(&"message".to_owned()));

        let cases = [
            ("message", json!("")),
            ("message", json!(null)),
            ("priority", json!(1)),
            ("communication_date", json!("tomorrow")),
            ("communication_date", json!("2030-13-01T00:00:00Z")),
            ("user_id", json!("not-a-uuid")),
        ];
        for (field, value) in cases {
            let mut body = world.body("Hello");
            body[field] = value.clone();
            let reply = world.post(&body).await;
            reply.assert_problem(422);
            assert_eq!(reply.error_fields(), [field], "{field} = {value}: {reply:?}");
        }
        let mut missing = world.body("Hello");
        missing.as_object_mut().unwrap().remove("message");
        assert_eq!(world.post(&missing).await.error_fields(), ["message"]);
        world
            .app
            .raw(Method::POST, &format!("{ADMIN}/communications"), Some("application/json"), b"{".to_vec())
            .await
            .assert_problem(400);

        // Nothing was stored by the refused requests.
        assert_eq!(world.list("").await.body["total"], 0);
    }

    async fn concurrent_sends_are_stored_together_and_a_bad_one_is_refused_alone(db: &TestDb) {
        let world = World::new(db).await;
        let unknown = uuid::Uuid::new_v4().to_string();
        let bodies: Vec<(bool, Value)> = (0..40)
            .map(|n| {
                let mut body = world.body(&format!("Hello {n}"));
                let good = n % 5 != 0;
                if !good {
                    body["user_id"] = json!(unknown);
                }
                (good, body)
            })
            .collect();
        let replies = futures_util::future::join_all(bodies.iter().map(|(_, body)| world.post(body))).await;
        let mut stored = Vec::new();
        for ((good, body), reply) in bodies.iter().zip(&replies) {
            if *good {
                assert_eq!(reply.status, 202, "{reply:?}");
                assert_eq!(reply.body["message"], body["message"]);
                stored.push(id_of(&reply.body));
            } else {
                reply.assert_problem(422);
                assert_eq!(reply.error_fields(), ["user_id"], "{reply:?}");
            }
        }
        assert_eq!(world.list("limit=100").await.body["total"], 32);
        for id in &stored {
            let detail = world.detail(id).await;
            assert_eq!(kinds(&detail), ["created"], "{detail}");
            assert_eq!(detail["status"], "not_sent");
        }
    }

    async fn a_revoked_key_stops_sends_at_once_on_every_instance(db: &TestDb) {
        let world = World::new(db).await;
        // A second instance of the service on the same database.
        let other = TestApp::spawn_with(db, &[("OMNICHANNEL_WORKER__ENABLED", "false")]).await;
        let key = world.app.api_key().await;
        let send = format!("{PUBLIC}/communications");
        let types = format!("{PUBLIC}/communication-types");
        // The other instance verifies the key once, then remembers it.
        for n in 0..3 {
            let reply = other.send_as(key.clone(), Method::POST, &send, Some(&world.body(&format!("Hi {n}")))).await;
            assert_eq!(reply.status, 202, "{reply:?}");
        }
        assert_eq!(other.send_as(key.clone(), Method::GET, &types, None).await.status, 200);
        let Auth::Key { key: public, secret } = key.clone() else { unreachable!() };
        let wrong = Auth::Key { key: public, secret: format!("{secret}x") };
        other.send_as(wrong, Method::POST, &send, Some(&world.body("Wrong"))).await.assert_problem(401);

        let listed = world.app.get(&format!("{ADMIN}/api-keys")).await;
        let id = listed.body["items"][0]["id"].as_str().unwrap().to_owned();
        assert_eq!(world.app.delete(&format!("{ADMIN}/api-keys/{id}")).await.status, 204);

        // Refused by the instance that remembered it, on the send and elsewhere.
        other.send_as(key.clone(), Method::POST, &send, Some(&world.body("After"))).await.assert_problem(401);
        other.send_as(key.clone(), Method::GET, &types, None).await.assert_problem(401);
        world.app.send_as(key.clone(), Method::POST, &send, Some(&world.body("After"))).await.assert_problem(401);
        assert_eq!(world.list("").await.body["total"], 3, "nothing was stored after the revocation");
    }

    async fn a_booking_is_stored_booked_with_its_history(db: &TestDb) {
        let world = World::new(db).await;
        let at = from_now(Duration::hours(1));
        let booked = world.book(at).await;
        assert_eq!(booked["status_reason"], Value::Null);
        assert_eq!(booked["next_attempt_at"], Value::Null);
        let detail = world.detail(&id_of(&booked)).await;
        assert_eq!(kinds(&detail), ["created", "booked"]);
        for event in detail["events"].as_array().unwrap() {
            assert_eq!(event["at"], booked["created_at"], "{event}");
            assert!(event.get("reason").is_none(), "{event}");
            assert_eq!(event["channel"], Value::Null);
        }
        // The booked event tells the moment booked.
        assert!(detail["events"][0].get("until").is_none());
        assert_eq!(detail["events"][1]["until"], booked["communication_date"]);
    }

    async fn a_booking_over_a_rule_is_refused_with_the_next_free_moment(db: &TestDb) {
        let world = World::new(db).await;
        world.rule(1, "day", 1).await;
        let first = from_now(Duration::hours(1));
        world.book(first).await;
        let second = world.post(&world.booking(from_now(Duration::hours(2)))).await;
        assert_refused(&second, "rate_limited", first + Duration::days(1));
        // A send now is accepted all the same: dispatch defers it.
        let now = world.post(&world.body("Now")).await;
        assert_eq!(now.status, 202, "{now:?}");
        // The next free moment is free indeed.
        world.book(first + Duration::days(1)).await;
        let total = world.list("status=booked").await.body["total"].clone();
        assert_eq!(total, 2);
    }

    async fn a_booking_no_channel_could_send_is_refused_without_a_next_moment(db: &TestDb) {
        let world = World::new(db).await;
        let patched = world
            .app
            .patch(&format!("{ADMIN}/users/{}", world.user), &json!({"phone": null}))
            .await;
        assert_eq!(patched.status, 200, "{patched:?}");
        let refused = world.post(&world.booking(from_now(Duration::hours(1)))).await;
        refused.assert_problem(409);
        assert_eq!(refused.body["reason"], "no_channel", "{refused:?}");
        assert_eq!(refused.body["next_available_at"], Value::Null, "{refused:?}");
        assert_eq!(world.list("").await.body["total"], 0);
    }

    async fn a_booking_while_the_client_is_blocked_is_refused_until_the_block_ends(db: &TestDb) {
        let world = World::new(db).await;
        let blocked_to = from_now(Duration::hours(3));
        let put = world
            .app
            .put(
                &format!("{ADMIN}/users/{}/availability", world.user),
                &json!({"status": "blocked", "blocked_to": text(blocked_to)}),
            )
            .await;
        assert_eq!(put.status, 200, "{put:?}");
        let refused = world.post(&world.booking(from_now(Duration::hours(1)))).await;
        assert_refused(&refused, "user_unavailable", blocked_to);
        assert!(refused.body["detail"].is_string());
        world.book(blocked_to).await;
    }

    async fn a_patch_edits_the_message_and_checks_a_new_date_again(db: &TestDb) {
        let world = World::new(db).await;
        world.rule(1, "day", 1).await;
        let first_at = from_now(Duration::hours(1));
        let first = id_of(&world.book(first_at).await);
        let second = id_of(&world.book(first_at + Duration::days(2)).await);

        let edited = world.patch(&first, &json!({"message": "Changed"})).await;
        assert_eq!(edited.status, 200, "{edited:?}");
        assert_eq!(edited.body["message"], "Changed");
        assert_eq!(edited.body["status"], "booked");
        assert_eq!(moment(&edited.body["communication_date"]), first_at);
        assert_eq!(world.detail(&first).await["message"], "Changed");
        let empty = world.patch(&first, &json!({"message": ""})).await;
        empty.assert_problem(422);
        assert_eq!(empty.error_fields(), ["message"]);
        assert_eq!(world.patch(&first, &json!({"status": "sent"})).await.error_fields(), ["status"]);
        assert_eq!(
            world.patch(&first, &json!({"communication_date": "soon"})).await.error_fields(),
            ["communication_date"]
        );
        world
            .patch(&uuid::Uuid::new_v4().to_string(), &json!({"message": "x"}))
            .await
            .assert_problem(404);

        // Next to the first booking: refused, and nothing changes.
        let crowded = world
            .patch(&second, &json!({"communication_date": text(first_at + Duration::hours(2))}))
            .await;
        assert_refused(&crowded, "rate_limited", first_at + Duration::days(1));
        let unchanged = world.detail(&second).await;
        assert_eq!(moment(&unchanged["communication_date"]), first_at + Duration::days(2));

        // Its own slot does not count against it.
        let moved_at = first_at + Duration::minutes(1);
        let moved = world.patch(&first, &json!({"communication_date": text(moved_at)})).await;
        assert_eq!(moved.status, 200, "{moved:?}");
        assert_eq!(moved.body["status"], "booked");
        assert_eq!(moment(&moved.body["communication_date"]), moved_at);
        assert_eq!(moved.body["message"], "Changed");
        let detail = world.detail(&first).await;
        assert_eq!(kinds(&detail), ["created", "booked", "booked"]);
        assert_eq!(detail["events"][2]["detail"], "rescheduled");

        // A date that is not ahead sends it now.
        let now = world
            .patch(&second, &json!({"communication_date": text(from_now(-Duration::hours(1)))}))
            .await;
        assert_eq!(now.status, 200, "{now:?}");
        assert_eq!(now.body["status"], "not_sent");
        assert!(moment(&now.body["communication_date"]) > from_now(-Duration::minutes(1)));
    }

    async fn a_cancelled_communication_stays_cancelled_and_frees_its_slot(db: &TestDb) {
        let world = World::new(db).await;
        world.rule(1, "day", 1).await;
        let at = from_now(Duration::hours(1));
        let booked = id_of(&world.book(at).await);

        let cancelled = world.cancel(&booked).await;
        assert_eq!(cancelled.status, 200, "{cancelled:?}");
        assert_eq!(cancelled.body["status"], "cancelled");
        assert_eq!(cancelled.body["id"], booked.as_str());
        assert_eq!(kinds(&world.detail(&booked).await), ["created", "booked", "cancelled"]);
        world.patch(&booked, &json!({"message": "Changed"})).await.assert_problem(409);
        world
            .patch(&booked, &json!({"communication_date": text(at + Duration::hours(1))}))
            .await
            .assert_problem(409);
        let again = world.cancel(&booked).await;
        assert_eq!(again.status, 200, "{again:?}");
        assert_eq!(again.body, cancelled.body);
        assert_eq!(kinds(&world.detail(&booked).await), ["created", "booked", "cancelled"]);

        // Its slot is free again.
        world.book(at).await;

        // A waiting send is cancelled too, with an empty JSON body as well.
        let sent = id_of(&world.post(&world.body("Now")).await.body);
        let reply = world
            .app
            .post(&format!("{ADMIN}/communications/{sent}/cancel"), &json!({}))
            .await;
        assert_eq!(reply.status, 200, "{reply:?}");
        assert_eq!(reply.body["status"], "cancelled");

        world.cancel(&uuid::Uuid::new_v4().to_string()).await.assert_problem(404);
        world.cancel("not-a-uuid").await.assert_problem(404);
    }

    async fn a_receipt_needs_a_sent_communication_and_a_receipt_status(db: &TestDb) {
        let world = World::new(db).await;
        let id = id_of(&world.post(&world.body("Hello")).await.body);
        let path = format!("{ADMIN}/communications/{id}/status");
        let conflict = world.app.post(&path, &json!({"status": "delivered", "detail": "ok"})).await;
        conflict.assert_problem(409);
        assert!(conflict.body.get("reason").is_none(), "{conflict:?}");
        for status in ["sent", "cancelled", "bogus"] {
            let reply = world.app.post(&path, &json!({"status": status})).await;
            reply.assert_problem(422);
            assert_eq!(reply.error_fields(), ["status"], "{status}: {reply:?}");
        }
        let long = world
            .app
            .post(&path, &json!({"status": "read", "detail": "x".repeat(1_001)}))
            .await;
        assert_eq!(long.error_fields(), ["detail"]);
        assert_eq!(world.app.post(&path, &json!({})).await.error_fields(), ["status"]);
        assert_eq!(
            world.app.post(&path, &json!({"status": "read", "at": "now"})).await.error_fields(),
            ["at"]
        );
        world
            .app
            .post(
                &format!("{ADMIN}/communications/{}/status", uuid::Uuid::new_v4()),
                &json!({"status": "read"}),
            )
            .await
            .assert_problem(404);
        assert_eq!(world.detail(&id).await["status"], "not_sent");
    }

    async fn the_list_filters_and_pages(db: &TestDb) {
        let world = World::new(db).await;
        let other_user = id_of(
            &world.app.create("users", &json!({"first_name": "Bob", "phone": "+15557654321"})).await,
        );
        let other_department = world.app.department_preferring("Support", &world.mass, &[&world.sms]).await;

        let mut body = world.body("Now");
        body["communication_source_id"] = json!(world.sms);
        let now = id_of(&world.post(&body).await.body);
        let mut body = world.booking(from_now(Duration::hours(1)));
        body["user_id"] = json!(other_user);
        let soon_reply = world.post(&body).await;
        assert_eq!(soon_reply.status, 202, "{soon_reply:?}");
        let soon = id_of(&soon_reply.body);
        let mut body = world.booking(from_now(Duration::days(2)));
        body["department_id"] = json!(other_department);
        let later = id_of(&world.post(&body).await.body);

        let all = world.list("").await;
        assert_eq!(all.status, 200, "{all:?}");
        assert_eq!(all.body["total"], 3);
        assert_eq!(all.body["limit"], 50);
        assert_eq!(all.body["offset"], 0);
        assert_eq!(ids(&all), [later.clone(), soon.clone(), now.clone()]);
        assert!(all.body["items"][0].get("events").is_none());

        let cases = [
            ("status=booked".to_owned(), vec![&later, &soon]),
            ("status=not_sent".to_owned(), vec![&now]),
            ("status=sent".to_owned(), vec![]),
            (format!("user_id={}", world.user), vec![&later, &now]),
            (format!("department_id={other_department}"), vec![&later]),
            (format!("communication_type_id={}", world.mass), vec![&later, &soon, &now]),
            (format!("communication_source_id={}", world.sms), vec![&now]),
            (format!("batch_id={}", uuid::Uuid::new_v4()), vec![]),
            (format!("from={}", text(from_now(Duration::minutes(30)))), vec![&later, &soon]),
            (format!("to={}", text(from_now(Duration::hours(3)))), vec![&soon, &now]),
            (
                format!(
                    "from={}&to={}",
                    text(from_now(Duration::minutes(30))),
                    text(from_now(Duration::hours(3)))
                ),
                vec![&soon],
            ),
            (format!("status=booked&user_id={}", world.user), vec![&later]),
        ];
        for (query, expected) in cases {
            let reply = world.list(&query).await;
            assert_eq!(reply.status, 200, "{query}: {reply:?}");
            let expected: Vec<String> = expected.into_iter().cloned().collect();
            assert_eq!(ids(&reply), expected, "{query}");
            assert_eq!(reply.body["total"], expected.len(), "{query}");
        }

        let page = world.list("limit=1&offset=1").await;
        assert_eq!(page.body["total"], 3);
        assert_eq!(page.body["limit"], 1);
        assert_eq!(page.body["offset"], 1);
        assert_eq!(ids(&page), std::slice::from_ref(&soon));
        assert_eq!(world.list("limit=1000").await.body["limit"], 500);

        for (query, field) in [
            ("status=bogus", "status"),
            ("user_id=x", "user_id"),
            ("department_id=1", "department_id"),
            ("batch_id=", "batch_id"),
            ("from=yesterday", "from"),
            ("to=2030-01-01", "to"),
            ("limit=0", "limit"),
            ("offset=-1", "offset"),
        ] {
            let reply = world.list(query).await;
            reply.assert_problem(422);
            assert_eq!(reply.error_fields(), [field], "{query}: {reply:?}");
        }
    }

    async fn what_communications_refer_to_cannot_be_deleted(db: &TestDb) {
        let world = World::new(db).await;
        let mut body = world.body("Hello");
        body["communication_source_id"] = json!(world.sms);
        let reply = world.post(&body).await;
        assert_eq!(reply.status, 202, "{reply:?}");
        let paths = [
            format!("{ADMIN}/users/{}", world.user),
            format!("{ADMIN}/departments/{}", world.department),
            format!("{ADMIN}/communication-types/{}", world.mass),
            format!("{ADMIN}/communication-sources/{}", world.sms),
        ];
        for path in &paths {
            world.app.delete(path).await.assert_problem(409);
            assert_eq!(world.app.get(path).await.status, 200, "{path} is kept");
        }
        assert_eq!(world.detail(&id_of(&reply.body)).await["status"], "not_sent");
    }
}

// ---- seeing ahead: preview and next slot ------------------------------------

impl World {
    async fn preview(&self, body: &Value) -> Reply {
        self.app
            .post(&format!("{ADMIN}/communications/preview"), body)
            .await
    }

    async fn next_slot(&self, query: &str) -> Reply {
        self.app
            .get(&format!("{ADMIN}/users/{}/next-slot?{query}", self.user))
            .await
    }

    async fn block(&self, until: Option<DateTime<Utc>>) {
        let reply = self
            .app
            .put(
                &format!("{ADMIN}/users/{}/availability", self.user),
                &json!({"status": "blocked", "blocked_to": until.map(text)}),
            )
            .await;
        assert_eq!(reply.status, 200, "{reply:?}");
    }
}

both_backends! {
    /// Both databases store and compare the years 0001 to 9999 alike; a
    /// moment outside them is a field error, never a database error.
    async fn moments_outside_the_years_1_to_9999_are_refused_as_fields(db: &TestDb) {
        let world = World::new(db).await;
        for (query, field) in [
            ("from=-5000-01-01T00:00:00Z", "from"),
            ("to=%2B20000-01-01T00:00:00Z", "to"),
        ] {
            let reply = world.app.get(&format!("{ADMIN}/communications?{query}")).await;
            reply.assert_problem(422);
            assert_eq!(reply.error_fields(), vec![field.to_owned()], "{reply:?}");
        }
        let mut body = world.body("Far away");
        body["communication_date"] = json!("-5000-01-01T00:00:00Z");
        let reply = world.app.post(&format!("{ADMIN}/communications"), &body).await;
        reply.assert_problem(422);
        assert_eq!(reply.error_fields(), vec!["communication_date".to_owned()], "{reply:?}");
        let reply = world
            .app
            .put(
                &format!("{ADMIN}/users/{}/availability", world.user),
                &json!({"status": "blocked", "blocked_to": "+20000-01-01T00:00:00Z"}),
            )
            .await;
        reply.assert_problem(422);
        assert_eq!(reply.error_fields(), vec!["blocked_to".to_owned()], "{reply:?}");
        let reply = world
            .app
            .get(&format!(
                "{ADMIN}/users/{}/next-slot?department_id={}&after=-5000-01-01T00:00:00Z",
                world.user, world.department
            ))
            .await;
        reply.assert_problem(422);
    }

    async fn a_preview_answers_the_decision_and_stores_nothing(db: &TestDb) {
        let world = World::new(db).await;
        let send = world.preview(&world.body("Hello")).await;
        assert_eq!(send.status, 200, "{send:?}");
        assert_eq!(
            send.body,
            json!({
                "action": "send",
                "channel": {"id": world.sms, "code": "sms"},
                "to": "+15551234567",
                "not_before": null,
                "reason": null,
            })
        );

        // A booking in an hour holds the daily slot: a send now would wait a day after it.
        world.rule(1, "day", 1).await;
        let booked = from_now(Duration::hours(1));
        world.book(booked).await;
        let defer = world.preview(&world.body("Hello")).await;
        assert_eq!(defer.body["action"], "defer", "{defer:?}");
        assert_eq!(defer.body["reason"], "rate_limited");
        assert_eq!(moment(&defer.body["not_before"]), booked + Duration::days(1));
        assert_eq!(defer.body["channel"], Value::Null);
        // A booking is previewed at its moment.
        let later = world.preview(&world.booking(booked + Duration::days(1))).await;
        assert_eq!(later.body["action"], "send", "{later:?}");

        world.block(None).await;
        let fail = world.preview(&world.body("Hello")).await;
        assert_eq!(fail.body["action"], "fail", "{fail:?}");
        assert_eq!(fail.body["reason"], "user_blocked");

        // Nothing but the one booking was stored.
        assert_eq!(world.list("").await.body["total"], 1);
        let mut unknown = world.body("Hello");
        unknown["department_id"] = json!(uuid::Uuid::new_v4());
        let refused = world.preview(&unknown).await;
        refused.assert_problem(422);
        assert_eq!(refused.error_fields(), ["department_id"]);
    }

    async fn a_preview_without_a_usable_channel_fails_and_works_on_the_public_api(db: &TestDb) {
        let world = World::new(db).await;
        let patched = world
            .app
            .patch(&format!("{ADMIN}/users/{}", world.user), &json!({"phone": null}))
            .await;
        assert_eq!(patched.status, 200);
        let key = world.app.api_key().await;
        let reply = world
            .app
            .send_as(key, Method::POST, &format!("{PUBLIC}/communications/preview"), Some(&world.body("Hi")))
            .await;
        assert_eq!(reply.status, 200, "{reply:?}");
        assert_eq!(reply.body["action"], "fail");
        assert_eq!(reply.body["reason"], "no_channel");
    }

    async fn the_next_slot_passes_blocks_rules_and_bookings(db: &TestDb) {
        let world = World::new(db).await;
        let dept = format!("department_id={}", world.department);
        // No rule, no block: free at once, or at `after`.
        let before = Utc::now().trunc_subsecs(6);
        let now = world.next_slot(&dept).await;
        assert_eq!(now.status, 200, "{now:?}");
        assert!(moment(&now.body["available_at"]) >= before);
        assert!(now.body.get("reason").is_none());
        let after = from_now(Duration::hours(5));
        let later = world.next_slot(&format!("{dept}&after={}", text(after))).await;
        assert_eq!(moment(&later.body["available_at"]), after);

        // A booking in an hour under a daily rule: the next slot is a day after it.
        world.rule(1, "day", 1).await;
        let booked = from_now(Duration::hours(1));
        world.book(booked).await;
        let slot = world.next_slot(&dept).await;
        assert_eq!(moment(&slot.body["available_at"]), booked + Duration::days(1));

        // Blocked until the day after that: the block's end.
        let until = booked + Duration::days(2);
        world.block(Some(until)).await;
        assert_eq!(moment(&world.next_slot(&dept).await.body["available_at"]), until);
        // Blocked for good: none, and why.
        world.block(None).await;
        let none = world.next_slot(&dept).await;
        assert_eq!(none.body, json!({"available_at": null, "reason": "user_blocked"}));

        world.app.get(&format!("{ADMIN}/users/{}/next-slot?{dept}", uuid::Uuid::new_v4())).await.assert_problem(404);
        let unknown = world.next_slot(&format!("department_id={}", uuid::Uuid::new_v4())).await;
        unknown.assert_problem(422);
        assert_eq!(unknown.error_fields(), ["department_id"]);
        world.next_slot("").await.assert_problem(422);
        world.next_slot(&format!("{dept}&after=tomorrow")).await.assert_problem(422);
    }

    async fn the_next_slot_beyond_the_horizon_is_none_for_the_rules(db: &TestDb) {
        let world = World::new(db).await;
        world.rule(1, "day", 30).await;
        world.book(from_now(Duration::hours(1))).await;
        let none = world.next_slot(&format!("department_id={}", world.department)).await;
        assert_eq!(none.body, json!({"available_at": null, "reason": "rate_limited"}));
        let key = world.app.api_key().await;
        let public = world
            .app
            .send_as(
                key,
                Method::GET,
                &format!("{PUBLIC}/users/{}/next-slot?department_id={}", world.user, world.department),
                None,
            )
            .await;
        assert_eq!(public.body, none.body);
    }
}
