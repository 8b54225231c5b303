//! A local HTTP sink that stands in for a webhook or a provider's service: it
//! records every request and answers as a test tells it to.
//!
//! ```ignore
//! let sink = Sink::start().await;
//! // One sink may serve several channels: the path tells them apart.
//! let sms = sink.url("/sms");
//! let email = sink.url("/email");
//! sink.respond_with_at("/sms", vec![503, 503]); // then the default answer
//! sink.delay_answers(Duration::from_millis(300));
//! // … configure the service with `sms` and `email`, send …
//! let calls = sink.wait_for_at("/sms", 3, Duration::from_secs(5)).await;
//! assert_eq!(calls[2].header("idempotency-key"), Some(id.as_str()));
//! assert_eq!(calls[2].body["to"], "+33612345678");
//! ```
//!
//! By default each request gets `200` with `{"provider_message_id": "sink-<n>"}`,
//! `n` counting the sink's requests from 1 on all paths. A scripted status is
//! used once, in order; the scripts of a path come before those of the whole
//! sink. A request is recorded as it arrives, before any delay, so a test can
//! see a request whose answer its client gave up waiting for.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::dev::ServerHandle;
use actix_web::http::StatusCode;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use serde_json::{Value, json};

/// One request as the sink received it.
#[derive(Debug, Clone)]
pub struct SinkRequest {
    pub method: String,
    pub path: String,
    /// Without the `?`; empty when there is none.
    pub query: String,
    /// In the order received, names in lower case.
    pub headers: Vec<(String, String)>,
    /// The body as JSON; `Null` when empty or not JSON (see `text`).
    pub body: Value,
    /// The body as text (lossy UTF-8), for form-encoded or other bodies.
    pub text: String,
    /// The status the sink answered (or will answer, while delayed).
    pub status: u16,
    /// When it arrived; its answer leaves no sooner than the delay after.
    pub at: std::time::Instant,
}

impl SinkRequest {
    /// The first value of the header `name` (in any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct Script {
    requests: Vec<SinkRequest>,
    /// Statuses for any path.
    statuses: VecDeque<u16>,
    /// Statuses for one path, used before `statuses`.
    statuses_at: HashMap<String, VecDeque<u16>>,
    delay: Duration,
}

type Shared = web::Data<Mutex<Script>>;

/// A running sink on 127.0.0.1; stopped when dropped.
pub struct Sink {
    base: String,
    script: Shared,
    handle: ServerHandle,
}

impl Sink {
    /// Listens on a free port of 127.0.0.1, serving from the current tokio runtime.
    pub async fn start() -> Self {
        let script: Shared = web::Data::new(Mutex::new(Script::default()));
        let listener =
            std::net::TcpListener::bind("127.0.0.1:0").expect("the sink binds a free port");
        let port = listener.local_addr().unwrap().port();
        let data = script.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .app_data(web::PayloadConfig::new(4 * 1024 * 1024))
                .default_service(web::to(answer))
        })
        .workers(1)
        .listen(listener)
        .expect("the sink listens")
        .disable_signals()
        .shutdown_timeout(0)
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        Self {
            base: format!("http://127.0.0.1:{port}"),
            script,
            handle,
        }
    }

    /// The sink's URL for `path` (`/sms` or `sms`).
    pub fn url(&self, path: &str) -> String {
        format!("{}/{}", self.base, path.trim_start_matches('/'))
    }

    /// Answers the next requests with `statuses`, in order, then as before.
    pub fn respond_with(&self, statuses: Vec<u16>) {
        check_statuses(&statuses);
        self.lock().statuses.extend(statuses);
    }

    /// As `respond_with`, for requests to `path` only.
    pub fn respond_with_at(&self, path: &str, statuses: Vec<u16>) {
        check_statuses(&statuses);
        self.lock()
            .statuses_at
            .entry(normalize(path))
            .or_default()
            .extend(statuses);
    }

    /// Waits `delay` before each answer from now on; `Duration::ZERO` stops.
    pub fn delay_answers(&self, delay: Duration) {
        self.lock().delay = delay;
    }

    /// Every request so far, oldest first.
    pub fn requests(&self) -> Vec<SinkRequest> {
        self.lock().requests.clone()
    }

    /// The requests so far to `path`, oldest first.
    pub fn requests_at(&self, path: &str) -> Vec<SinkRequest> {
        let path = normalize(path);
        self.lock()
            .requests
            .iter()
            .filter(|request| request.path == path)
            .cloned()
            .collect()
    }

    /// Waits until at least `n` requests arrived and answers them all; panics
    /// after `timeout`.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<SinkRequest> {
        self.poll(n, timeout, "", || self.requests()).await
    }

    /// As `wait_for`, counting the requests to `path` only.
    pub async fn wait_for_at(&self, path: &str, n: usize, timeout: Duration) -> Vec<SinkRequest> {
        let on = format!(" to {}", normalize(path));
        self.poll(n, timeout, &on, || self.requests_at(path)).await
    }

    async fn poll(
        &self,
        n: usize,
        timeout: Duration,
        on: &str,
        requests: impl Fn() -> Vec<SinkRequest>,
    ) -> Vec<SinkRequest> {
        let deadline = Instant::now() + timeout;
        loop {
            let seen = requests();
            if seen.len() >= n {
                return seen;
            }
            if Instant::now() >= deadline {
                let paths: Vec<_> = self
                    .requests()
                    .iter()
                    .map(|r| format!("{} {} -> {}", r.method, r.path, r.status))
                    .collect();
                panic!(
                    "the sink expected {n} request(s){on} within {timeout:?} but got {}; \
                     all requests: {paths:?}",
                    seen.len()
                );
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Script> {
        self.script.lock().unwrap()
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        // Stop taking connections; the runtime ends with the test.
        drop(self.handle.stop(false));
    }
}

fn check_statuses(statuses: &[u16]) {
    for &status in statuses {
        assert!(
            StatusCode::from_u16(status).is_ok_and(|s| !s.is_informational()),
            "the sink cannot answer status {status}"
        );
    }
}

fn normalize(path: &str) -> String {
    format!("/{}", path.trim_start_matches('/'))
}

async fn answer(request: HttpRequest, body: web::Bytes, script: Shared) -> HttpResponse {
    let (status, n, delay) = {
        let mut script = script.lock().unwrap();
        let path = request.path().to_owned();
        let status = script
            .statuses_at
            .get_mut(&path)
            .and_then(VecDeque::pop_front)
            .or_else(|| script.statuses.pop_front())
            .unwrap_or(200);
        script.requests.push(SinkRequest {
            method: request.method().to_string(),
            path,
            query: request.query_string().to_owned(),
            headers: request
                .headers()
                .iter()
                .map(|(name, value)| {
                    let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
                    (name.as_str().to_ascii_lowercase(), value)
                })
                .collect(),
            body: serde_json::from_slice(&body).unwrap_or(Value::Null),
            text: String::from_utf8_lossy(&body).into_owned(),
            status,
            at: std::time::Instant::now(),
        });
        (status, script.requests.len(), script.delay)
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let status = StatusCode::from_u16(status).unwrap();
    let body = if status.is_success() {
        json!({ "provider_message_id": format!("sink-{n}") })
    } else {
        json!({ "error": format!("scripted {}", status.as_u16()) })
    };
    HttpResponse::build(status).json(body)
}

mod tests {
    use super::*;

    async fn post(url: &str, body: Value) -> (u16, Value) {
        let response = reqwest::Client::new()
            .post(url)
            .header("Idempotency-Key", "key-1")
            .header("X-Custom", "Value")
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap())
    }

    #[tokio::test]
    async fn sink_records_requests_and_answers_with_message_ids() {
        let sink = Sink::start().await;

        let first = post(&sink.url("/sms"), json!({"to": "+33612345678"})).await;
        let second = post(&sink.url("email"), json!({"to": "a@example.com"})).await;

        assert_eq!(first, (200, json!({"provider_message_id": "sink-1"})));
        assert_eq!(second, (200, json!({"provider_message_id": "sink-2"})));
        let requests = sink.wait_for(2, Duration::from_secs(1)).await;
        assert_eq!(requests.len(), 2);
        let sms = &sink.requests_at("sms")[..];
        assert_eq!(sms.len(), 1);
        assert_eq!(sms[0].method, "POST");
        assert_eq!(sms[0].path, "/sms");
        assert_eq!(sms[0].query, "");
        assert_eq!(sms[0].header("idempotency-key"), Some("key-1"));
        assert_eq!(sms[0].header("X-CUSTOM"), Some("Value"));
        assert!(sms[0].headers.iter().any(|(name, _)| name == "x-custom"));
        assert_eq!(sms[0].header("content-type"), Some("application/json"));
        assert_eq!(sms[0].body, json!({"to": "+33612345678"}));
        assert_eq!(sms[0].text, r#"{"to":"+33612345678"}"#);
        assert_eq!(sms[0].status, 200);
        assert_eq!(sink.requests()[1].path, "/email");
    }

    #[tokio::test]
    async fn sink_follows_its_scripts_then_answers_200() {
        let sink = Sink::start().await;
        sink.respond_with(vec![503, 503, 200]);
        sink.respond_with_at("/push", vec![400]);

        let mut statuses = Vec::new();
        for path in ["/sms", "/push", "/sms", "/sms", "/sms", "/push"] {
            statuses.push(post(&sink.url(path), json!({})).await.0);
        }

        assert_eq!(statuses, [503, 400, 503, 200, 200, 200]);
        let push = sink.wait_for_at("/push", 2, Duration::from_secs(1)).await;
        assert_eq!(
            push.iter().map(|r| r.status).collect::<Vec<_>>(),
            [400, 200]
        );
        let (status, body) = post(&sink.url("/sms"), json!({})).await;
        assert_eq!(
            (status, body),
            (200, json!({"provider_message_id": "sink-7"}))
        );
    }

    #[tokio::test]
    async fn sink_records_a_delayed_request_before_answering() {
        let sink = Sink::start().await;
        sink.delay_answers(Duration::from_millis(300));
        let client = reqwest::Client::builder()
            .timeout(Duration::from_millis(100))
            .build()
            .unwrap();

        let error = client.post(sink.url("/slow")).send().await.unwrap_err();

        assert!(error.is_timeout(), "{error}");
        let requests = sink.wait_for(1, Duration::from_secs(1)).await;
        assert_eq!(requests[0].body, Value::Null);
        sink.delay_answers(Duration::ZERO);
        assert_eq!(post(&sink.url("/slow"), json!({})).await.0, 200);
    }

    #[tokio::test]
    #[should_panic(expected = "the sink expected 1 request(s) to /none within 50ms but got 0")]
    async fn sink_wait_for_panics_after_its_timeout() {
        let sink = Sink::start().await;
        sink.wait_for_at("none", 1, Duration::from_millis(50)).await;
    }
}
