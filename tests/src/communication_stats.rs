//! `GET /communications/stats` of the admin API: the communications created
//! over a range by status and by UTC hour, and the dispatch queue now. The
//! channels are on the default `log` provider, so sends end `sent`.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::time::{Duration as StdDuration, Instant};

use chrono::{DateTime, Duration, SecondsFormat, SubsecRound, Timelike, Utc};
use reqwest::Method;
use serde_json::{Value, json};

use crate::api::{ADMIN, Auth, JWT_SECRET, PUBLIC, Reply, TestApp};
use crate::db::{TestDb, both_backends};

const STATUSES: [&str; 7] = [
    "booked",
    "not_sent",
    "sent",
    "delivered",
    "read",
    "failed",
    "cancelled",
];

/// The longest any wait below may take before the test fails.
const PATIENCE: StdDuration = StdDuration::from_secs(15);

/// A service whose workers send on the `log` provider, a department that
/// sends `mass` by sms, and a client with a phone.
struct World {
    app: TestApp,
    department: String,
    user: String,
    mass: String,
}

impl World {
    async fn new(db: &TestDb) -> Self {
        let app = TestApp::spawn_with(
            db,
            &[
                ("OMNICHANNEL_JWT_SECRET", JWT_SECRET),
                ("OMNICHANNEL_WORKER__POLL_INTERVAL_MS", "100"),
            ],
        )
        .await;
        let mass = app.seeded("communication-types", "mass").await;
        let sms = app.seeded("communication-sources", "sms").await;
        let department = app.department_preferring("Sales", &mass, &[&sms]).await;
        let user = app
            .create(
                "users",
                &json!({"first_name": "Ann", "phone": "+15551234567"}),
            )
            .await["id"]
            .as_str()
            .unwrap()
            .to_owned();
        Self {
            app,
            department,
            user,
            mass,
        }
    }

    /// Sends (or books at `at`), asserting `202`; answers the id.
    async fn send(&self, at: Option<DateTime<Utc>>) -> String {
        let mut body = json!({
            "user_id": self.user,
            "department_id": self.department,
            "communication_type_id": self.mass,
            "message": "Hello",
        });
        if let Some(at) = at {
            body["communication_date"] = json!(text(at));
        }
        let reply = self
            .app
            .post(&format!("{ADMIN}/communications"), &body)
            .await;
        assert_eq!(reply.status, 202, "{reply:?}");
        reply.body["id"].as_str().unwrap().to_owned()
    }

    async fn wait_until_sent(&self, id: &str) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let reply = self.app.get(&format!("{ADMIN}/communications/{id}")).await;
            if reply.body["status"] == "sent" {
                return;
            }
            assert!(Instant::now() < deadline, "not sent in time: {reply:?}");
            tokio::time::sleep(StdDuration::from_millis(20)).await;
        }
    }

    async fn stats(&self, query: &str) -> Reply {
        self.app
            .get(&format!("{ADMIN}/communications/stats{query}"))
            .await
    }

    /// `200` stats, checked for their shape.
    async fn stats_ok(&self, query: &str) -> Value {
        let reply = self.stats(query).await;
        assert_eq!(reply.status, 200, "{reply:?}");
        assert_eq!(reply.content_type, "application/json");
        assert_shape(&reply.body);
        reply.body
    }
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

/// `by_status` as numbers, in the order of `STATUSES`.
fn counts(by_status: &Value) -> Vec<u64> {
    STATUSES
        .iter()
        .map(|status| by_status[status].as_u64().unwrap())
        .collect()
}

fn hours(stats: &Value) -> &Vec<Value> {
    stats["hourly"].as_array().unwrap()
}

/// Every member is there, every status counted in all and in each hour, the
/// hours are consecutive from the one of `from` to the last before `to`, and
/// they add up to `by_status`.
#[track_caller]
fn assert_shape(stats: &Value) {
    let mut members: Vec<&str> = stats
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    members.sort_unstable();
    assert_eq!(
        members,
        ["by_status", "from", "hourly", "queue", "to"],
        "{stats}"
    );
    let mut queue: Vec<&str> = stats["queue"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    queue.sort_unstable();
    assert_eq!(queue, ["booked", "deferred", "due"], "{stats}");
    let every_status = |by_status: &Value| {
        let mut keys: Vec<&str> = by_status
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        let mut expected = STATUSES.to_vec();
        expected.sort_unstable();
        assert_eq!(keys, expected, "{stats}");
    };
    every_status(&stats["by_status"]);
    let (from, to) = (moment(&stats["from"]), moment(&stats["to"]));
    let mut expected_hour = from
        .with_minute(0)
        .unwrap()
        .with_second(0)
        .unwrap()
        .with_nanosecond(0)
        .unwrap();
    let mut sums = vec![0; STATUSES.len()];
    for hour in hours(stats) {
        assert_eq!(moment(&hour["hour"]), expected_hour, "{stats}");
        every_status(&hour["by_status"]);
        for (sum, count) in sums.iter_mut().zip(counts(&hour["by_status"])) {
            *sum += count;
        }
        expected_hour += Duration::hours(1);
    }
    assert!(
        expected_hour >= to && expected_hour - Duration::hours(1) < to,
        "{stats}"
    );
    assert_eq!(
        sums,
        counts(&stats["by_status"]),
        "the hours add up: {stats}"
    );
}

both_backends! {
    async fn the_communications_of_the_last_day_are_counted_by_status_and_hour(db: &TestDb) {
        let world = World::new(db).await;
        let before = Utc::now();
        let empty = world.stats_ok("").await;
        assert_eq!(counts(&empty["by_status"]), [0; 7]);
        assert_eq!(empty["queue"], json!({"due": 0, "deferred": 0, "booked": 0}));

        let sent: Vec<String> = [world.send(None).await, world.send(None).await, world.send(None).await].into();
        for id in &sent {
            world.wait_until_sent(id).await;
        }
        let receipt = world
            .app
            .post(&format!("{ADMIN}/communications/{}/status", sent[0]), &json!({"status": "delivered"}))
            .await;
        assert_eq!(receipt.status, 200, "{receipt:?}");
        world.send(Some(Utc::now() + Duration::hours(2))).await;
        let cancelled = world.send(Some(Utc::now() + Duration::hours(3))).await;
        let cancel = world
            .app
            .send(Method::POST, &format!("{ADMIN}/communications/{cancelled}/cancel"), None)
            .await;
        assert_eq!(cancel.status, 200, "{cancel:?}");

        let stats = world.stats_ok("").await;
        let after = Utc::now();
        // booked, not_sent, sent, delivered, read, failed, cancelled
        assert_eq!(counts(&stats["by_status"]), [1, 0, 2, 1, 0, 0, 1], "{stats}");
        assert_eq!(stats["queue"], json!({"due": 0, "deferred": 0, "booked": 1}), "{stats}");
        // The last 24 hours up to now: 25 hours, 24 when now is a whole hour.
        let (from, to) = (moment(&stats["from"]), moment(&stats["to"]));
        assert!(before <= to && to <= after, "{stats}");
        assert_eq!(to - from, Duration::hours(24));
        let hourly = hours(&stats);
        assert!(hourly.len() == 25 || (hourly.len() == 24 && to == to.with_minute(0).unwrap().with_second(0).unwrap().with_nanosecond(0).unwrap()), "{stats}");
        // Everything was created within the last hour or two of the range.
        let earlier: u64 = hourly[..hourly.len() - 2].iter().map(|h| counts(&h["by_status"]).iter().sum::<u64>()).sum();
        assert_eq!(earlier, 0, "{stats}");

        // Only `to` given: the 24 hours before it.
        let later = (to + Duration::hours(1)).trunc_subsecs(0);
        let until = world.stats_ok(&format!("?to={}", text(later))).await;
        assert_eq!(moment(&until["to"]), later);
        assert_eq!(moment(&until["from"]), later - Duration::hours(24));
        assert_eq!(counts(&until["by_status"]), [1, 0, 2, 1, 0, 0, 1], "{until}");
    }

    async fn a_chosen_range_counts_only_what_was_created_within_it(db: &TestDb) {
        let world = World::new(db).await;
        let id = world.send(None).await;
        world.wait_until_sent(&id).await;
        world.send(Some(Utc::now() + Duration::hours(2))).await;

        // A past day, off the hours: every hour listed, all empty; the queue
        // is the one of now whatever the range.
        let past = world.stats_ok("?from=2026-01-01T00:30:00Z&to=2026-01-02T00:00:00Z").await;
        assert_eq!(past["from"], "2026-01-01T00:30:00Z");
        assert_eq!(past["to"], "2026-01-02T00:00:00Z");
        let hourly = hours(&past);
        assert_eq!(hourly.len(), 24);
        assert_eq!(hourly[0]["hour"], "2026-01-01T00:00:00Z");
        assert_eq!(hourly[23]["hour"], "2026-01-01T23:00:00Z");
        assert!(hourly.iter().all(|h| counts(&h["by_status"]) == [0; 7]), "{past}");
        assert_eq!(counts(&past["by_status"]), [0; 7]);
        assert_eq!(past["queue"], json!({"due": 0, "deferred": 0, "booked": 1}), "{past}");

        // An offset other than `Z` is the same moment.
        let now = Utc::now();
        let around = world
            .stats_ok(&format!(
                "?from={}&to={}",
                text(now - Duration::hours(1)).replace('Z', "%2B00:00"),
                text(now + Duration::hours(1))
            ))
            .await;
        assert_eq!(counts(&around["by_status"]), [1, 0, 1, 0, 0, 0, 0], "{around}");
        assert_eq!(hours(&around).len(), 2 + usize::from(now.minute() != 0 || now.second() != 0));

        // The longest range, 31 days: 745 hours when it starts off the hour.
        let longest = world
            .stats_ok(&format!("?from=2026-01-01T00:30:00Z&to={}", text(moment(&json!("2026-01-01T00:30:00Z")) + Duration::days(31))))
            .await;
        assert_eq!(hours(&longest).len(), 745);
    }

    async fn a_bad_range_is_refused_naming_the_field(db: &TestDb) {
        let world = World::new(db).await;
        let refused = |query: &'static str, field: &'static str| {
            let world = &world;
            async move {
                let reply = world.stats(query).await;
                reply.assert_problem(422);
                assert_eq!(reply.error_fields(), [field], "{query}: {reply:?}");
            }
        };
        refused("?from=2026-01-02T00:00:00Z&to=2026-01-02T00:00:00Z", "from").await;
        refused("?from=2026-01-03T00:00:00Z&to=2026-01-02T00:00:00Z", "from").await;
        refused("?from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:01Z", "from").await;
        // `to` defaults to now.
        refused("?from=2999-01-01T00:00:00Z", "from").await;
        refused("?from=2000-01-01T00:00:00Z", "from").await;
        refused("?from=yesterday", "from").await;
        refused("?from=2026-01-01", "from").await;
        refused("?to=2026-13-01T00:00:00Z", "to").await;
        refused("?to=", "to").await;
        // Beyond what the databases store.
        refused("?from=-5000-01-01T00:00:00Z", "from").await;
        refused("?to=%2B20000-01-01T00:00:00Z", "to").await;
    }

    async fn the_stats_need_an_operators_token(db: &TestDb) {
        let world = World::new(db).await;
        let path = format!("{ADMIN}/communications/stats");
        world.app.send_as(Auth::Anonymous, Method::GET, &path, None).await.assert_problem(401);
        world
            .app
            .send_as(Auth::Bearer("not-a-token".to_owned()), Method::GET, &path, None)
            .await
            .assert_problem(401);
        let key = world.app.api_key().await;
        world.app.send_as(key.clone(), Method::GET, &path, None).await.assert_problem(401);
        // The public API has no statistics: `stats` is no communication id.
        world
            .app
            .send_as(key, Method::GET, &format!("{PUBLIC}/communications/stats"), None)
            .await
            .assert_problem(404);
    }

    async fn the_openapi_document_lists_the_route(db: &TestDb) {
        let app = TestApp::spawn(db).await;
        let doc = app.get("/api/openapi.json").await;
        assert_eq!(doc.status, 200);
        let stats = &doc.body["paths"]["/api/admin/v1/communications/stats"]["get"];
        assert!(stats.is_object(), "the route is not documented");
        assert_eq!(stats["security"], json!([{"bearer": []}]));
        let mut parameters: Vec<&str> = stats["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        parameters.sort_unstable();
        assert_eq!(parameters, ["from", "to"]);
        for status in ["200", "401", "422"] {
            assert!(stats["responses"][status].is_object(), "{status}: {stats}");
        }
        let schemas = &doc.body["components"]["schemas"];
        for schema in ["CommunicationStatsBody", "StatusCounts", "HourStats", "QueueBody"] {
            assert!(schemas[schema].is_object(), "schema {schema} is missing");
        }
        let counts = schemas["StatusCounts"]["properties"].as_object().unwrap();
        assert_eq!(counts.len(), STATUSES.len());
    }
}
