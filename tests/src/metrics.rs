//! `GET /metrics`: the Prometheus text format, beside the API or on its own
//! listener, or switched off. Each test runs in its own process (nextest),
//! so the process's recorder and its counters start at zero.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::time::{Duration, Instant};

use serde_json::json;

use crate::api::{ADMIN, JWT_SECRET, TestApp};
use crate::db::{TestDb, both_backends};

const PATIENCE: Duration = Duration::from_secs(15);

/// `GET url`: the status, the content type and the body.
async fn scrape(url: &str) -> (u16, String, String) {
    let response = reqwest::get(url).await.expect("the request is answered");
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (status, content_type, response.text().await.unwrap())
}

/// The value of the sample whose line starts with `name{` and carries each
/// of `labels` (`key="value"`), summed over the matching lines.
fn sample(text: &str, name: &str, labels: &[&str]) -> f64 {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter(|line| {
            line.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
        })
        .filter(|line| labels.iter().all(|label| line.contains(label)))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Whether a label value in the text looks like a UUID.
fn has_uuid_label(text: &str) -> Option<String> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| Some(line.split_once('{')?.1.rsplit_once('}')?.0.to_owned()))
        .find(|labels| {
            labels.split('"').any(|value| {
                let parts: Vec<&str> = value.split('-').collect();
                parts.len() == 5
                    && parts
                        .iter()
                        .zip([8, 4, 4, 4, 12])
                        .all(|(p, n)| p.len() == n && p.chars().all(|c| c.is_ascii_hexdigit()))
            })
        })
}

/// Scrapes until `done` holds of the text; fails after `PATIENCE`.
async fn scrape_until(url: &str, done: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let (status, _, text) = scrape(url).await;
        assert_eq!(status, 200, "{text}");
        if done(&text) {
            return text;
        }
        assert!(Instant::now() < deadline, "not in time: {text}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A client, a department that prefers sms for `mass`: what a send needs.
async fn send_one(app: &TestApp) -> String {
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
    let reply = app
        .post(
            &format!("{ADMIN}/communications"),
            &json!({
                "user_id": user,
                "department_id": department,
                "communication_type_id": mass,
                "message": "Your order has shipped",
            }),
        )
        .await;
    assert_eq!(reply.status, 202, "{reply:?}");
    reply.body["id"].as_str().unwrap().to_owned()
}

async fn wait_until_sent(app: &TestApp, id: &str) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let reply = app.get(&format!("{ADMIN}/communications/{id}")).await;
        if reply.body["status"] == "sent" {
            return;
        }
        assert!(Instant::now() < deadline, "not sent in time: {reply:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A port free a moment ago.
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

both_backends! {
    async fn a_send_moves_the_counters_and_no_id_is_a_label(db: &TestDb) {
        let app = TestApp::spawn(db).await;
        let url = format!("{}/metrics", app.base);
        let (status, content_type, before) = scrape(&url).await;
        assert_eq!(status, 200, "{before}");
        assert!(content_type.starts_with("text/plain"), "{content_type}");
        assert!(content_type.contains("version=0.0.4"), "{content_type}");
        assert_eq!(
            sample(&before, "omnichannel_communications_created_total", &[]),
            0.0
        );

        let id = send_one(&app).await;
        wait_until_sent(&app, &id).await;
        // The outcome is counted just after it is written, which the read
        // above saw: wait for the count.
        let after = scrape_until(&url, |text| {
            sample(text, "omnichannel_communications_status_total", &["status=\"sent\""]) >= 1.0
        })
        .await;
        assert_eq!(
            sample(
                &after,
                "omnichannel_communications_created_total",
                &["via=\"send\"", "status=\"not_sent\""]
            ),
            1.0,
            "{after}"
        );
        assert_eq!(
            sample(
                &after,
                "omnichannel_communications_status_total",
                &["status=\"sent\"", "channel=\"sms\""]
            ),
            1.0,
            "{after}"
        );
        assert_eq!(
            sample(
                &after,
                "omnichannel_provider_calls_total",
                &["channel=\"sms\"", "outcome=\"sent\""]
            ),
            1.0,
            "{after}"
        );
        assert!(
            sample(&after, "omnichannel_provider_call_duration_seconds_count", &["channel=\"sms\""]) >= 1.0,
            "{after}"
        );
        assert!(
            sample(&after, "omnichannel_dispatch_lag_seconds_count", &[]) >= 1.0,
            "{after}"
        );
        assert!(
            sample(
                &after,
                "omnichannel_http_requests_total",
                &[
                    "route=\"/api/admin/v1/communications\"",
                    "method=\"POST\"",
                    "status=\"202\""
                ]
            ) >= 1.0,
            "{after}"
        );
        assert!(
            sample(
                &after,
                "omnichannel_http_requests_total",
                &["route=\"/api/admin/v1/communications/{id}\"", "method=\"GET\""]
            ) >= 1.0,
            "{after}"
        );
        assert!(
            after.contains("omnichannel_http_request_duration_seconds_bucket"),
            "{after}"
        );
        assert!(after.contains("omnichannel_db_pool_connections{state=\"max\"}"), "{after}");
        assert!(after.contains("omnichannel_db_pool_connections{state=\"waiting\"}"), "{after}");
        assert!(after.contains("process_"), "the process's own metrics: {after}");
        assert_eq!(has_uuid_label(&after), None, "{after}");
        assert!(!after.contains(&id));
    }

    async fn the_queue_gauges_are_sampled(db: &TestDb) {
        let app = TestApp::spawn(db).await;
        let url = format!("{}/metrics", app.base);
        scrape_until(&url, |text| {
            ["due", "deferred", "booked"].iter().all(|state| {
                text.contains(&format!(
                    "omnichannel_queue_communications{{state=\"{state}\"}} 0"
                ))
            })
        })
        .await;
    }
}

#[test]
fn switched_off_there_is_no_route() {
    crate::db::runtime().block_on(async {
        let db = TestDb::new(crate::db::Backend::Sqlite);
        let app = TestApp::spawn_with(
            &db,
            &[
                ("OMNICHANNEL_JWT_SECRET", JWT_SECRET),
                ("OMNICHANNEL_METRICS__ENABLED", "false"),
            ],
        )
        .await;
        let (status, _, body) = scrape(&format!("{}/metrics", app.base)).await;
        assert_eq!(status, 404, "{body}");
    });
}

#[test]
fn bound_elsewhere_they_are_served_there_only() {
    crate::db::runtime().block_on(async {
        let db = TestDb::new(crate::db::Backend::Sqlite);
        let port = free_port();
        let bind = format!("127.0.0.1:{port}");
        let app = TestApp::spawn_with(
            &db,
            &[
                ("OMNICHANNEL_JWT_SECRET", JWT_SECRET),
                ("OMNICHANNEL_METRICS__BIND", &bind),
            ],
        )
        .await;
        let (status, _, body) = scrape(&format!("{}/metrics", app.base)).await;
        assert_eq!(status, 404, "not on the main listener: {body}");
        let (status, content_type, body) = scrape(&format!("http://{bind}/metrics")).await;
        assert_eq!(status, 200, "{body}");
        assert!(content_type.starts_with("text/plain"), "{content_type}");
        assert!(body.contains("omnichannel_http_requests_total"), "{body}");
        let (status, _, _) = scrape(&format!("http://{bind}/api/admin/v1/communications")).await;
        assert_eq!(status, 404, "only /metrics there");
    });
}
