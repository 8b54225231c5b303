//! The `http` provider against a tiny HTTP/1.1 sink on 127.0.0.1.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use omnichannel_domain::ids::{CommunicationId, DepartmentId, UserId};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use super::*;
use crate::web::redact_url;

const SECRET: &str = "Bearer s3cr3t-header-value";
const QUERY_SECRET: &str = "qu3ry-s3cr3t";
const PASSWORD: &str = "us3rinfo-s3cr3t";

/// One request as the sink read it; header names in lower case.
#[derive(Debug, Clone)]
struct Recorded {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Recorded {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("the body is JSON")
    }
}

/// How the sink answers every request.
#[derive(Debug, Clone)]
enum Reply {
    Status(u16, &'static str),
    /// Reads the request and never answers.
    Silent,
}

struct Sink {
    addr: SocketAddr,
    requests: Arc<Mutex<Vec<Recorded>>>,
    accept: JoinHandle<()>,
}

impl Sink {
    async fn start(reply: Reply) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let recorded = Arc::clone(&requests);
        let accept = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, reply.clone(), Arc::clone(&recorded)));
            }
        });
        Self {
            addr,
            requests,
            accept,
        }
    }

    fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// Reads one request, records it and answers it, closing the connection.
async fn serve(mut stream: TcpStream, reply: Reply, recorded: Arc<Mutex<Vec<Recorded>>>) {
    let mut buffer = Vec::new();
    let head_end = loop {
        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        if !read_more(&mut stream, &mut buffer).await {
            return;
        }
    };
    let head = String::from_utf8(buffer[..head_end].to_vec()).unwrap();
    let mut lines = head.split("\r\n").filter(|line| !line.is_empty());
    let mut request_line = lines.next().unwrap().split(' ');
    let method = request_line.next().unwrap().to_owned();
    let path = request_line.next().unwrap().to_owned();
    let headers: Vec<(String, String)> = lines
        .map(|line| {
            let (name, value) = line.split_once(':').unwrap();
            (name.to_ascii_lowercase(), value.trim().to_owned())
        })
        .collect();
    let length: usize = headers
        .iter()
        .find(|(name, _)| name == "content-length")
        .map_or(0, |(_, value)| value.parse().unwrap());
    while buffer.len() < head_end + length {
        if !read_more(&mut stream, &mut buffer).await {
            return;
        }
    }
    recorded.lock().unwrap().push(Recorded {
        method,
        path,
        headers,
        body: buffer[head_end..head_end + length].to_vec(),
    });
    match reply {
        Reply::Silent => std::future::pending().await,
        Reply::Status(status, body) => {
            let answer = format!(
                "HTTP/1.1 {status} Sink\r\ncontent-type: application/json\r\n\
                 content-length: {}\r\nlocation: /elsewhere\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            stream.write_all(answer.as_bytes()).await.unwrap();
            stream.shutdown().await.unwrap();
        }
    }
}

async fn read_more(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> bool {
    let mut chunk = [0; 4096];
    match stream.read(&mut chunk).await {
        Ok(0) | Err(_) => false,
        Ok(n) => {
            buffer.extend_from_slice(&chunk[..n]);
            true
        }
    }
}

fn outgoing(to: Option<&str>) -> Outgoing {
    Outgoing {
        communication_id: CommunicationId::generate(),
        user_id: UserId::generate(),
        department_id: DepartmentId::generate(),
        communication_type: "reminder".to_owned(),
        communication_type_name: "Reminder".to_owned(),
        channel: "sms".to_owned(),
        to: to.map(str::to_owned),
        message: "Votre rendez-vous est demain à 9 h".to_owned(),
    }
}

fn provider(url: &str, timeout: Duration) -> HttpProvider {
    let headers = [
        ("Authorization".to_owned(), SECRET.to_owned()),
        ("X-Tenant".to_owned(), "acme".to_owned()),
    ];
    HttpProvider::new(url, timeout, &headers).unwrap()
}

async fn send_to(reply: Reply) -> (Result<Delivery, ProviderError>, Vec<Recorded>) {
    let sink = Sink::start(reply).await;
    let result = provider(&sink.url(), Duration::from_secs(1))
        .send(outgoing(Some("+33612345678")))
        .await;
    (result, sink.requests())
}

fn assert_no_secret(text: &str) {
    for secret in [SECRET, "s3cr3t-header-value", QUERY_SECRET, PASSWORD] {
        assert!(!text.contains(secret), "{secret:?} leaked in {text:?}");
    }
}

#[tokio::test]
async fn posts_the_message_with_its_idempotency_key_and_the_configured_headers() {
    let sink = Sink::start(Reply::Status(200, "")).await;
    let message = outgoing(Some("+33612345678"));

    provider(&sink.url(), Duration::from_secs(1))
        .send(message.clone())
        .await
        .unwrap();

    let requests = sink.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, "/hook");
    let id = message.communication_id.to_string();
    assert_eq!(request.header("idempotency-key"), Some(id.as_str()));
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(request.header("authorization"), Some(SECRET));
    assert_eq!(request.header("x-tenant"), Some("acme"));
    assert_eq!(
        request.json(),
        json!({
            "communication_id": id,
            "user_id": message.user_id.to_string(),
            "department_id": message.department_id.to_string(),
            "communication_type": "reminder",
            "channel": "sms",
            "to": "+33612345678",
            "message": "Votre rendez-vous est demain à 9 h",
        })
    );
}

#[tokio::test]
async fn a_message_without_address_is_sent_with_a_null_to() {
    let sink = Sink::start(Reply::Status(200, "")).await;

    provider(&sink.url(), Duration::from_secs(1))
        .send(outgoing(None))
        .await
        .unwrap();

    let body = sink.requests()[0].json();
    assert_eq!(body.get("to"), Some(&Value::Null));
}

#[tokio::test]
async fn a_2xx_is_sent_with_the_answered_message_id() {
    let (result, _) = send_to(Reply::Status(200, r#"{"provider_message_id":"abc"}"#)).await;
    assert_eq!(
        result,
        Ok(Delivery {
            provider_message_id: Some("abc".to_owned())
        })
    );

    let (result, _) = send_to(Reply::Status(202, r#"{"provider_message_id":"x-1","n":2}"#)).await;
    assert_eq!(result.unwrap().provider_message_id.as_deref(), Some("x-1"));
}

#[tokio::test]
async fn a_2xx_with_any_other_answer_is_sent_without_an_id() {
    for (status, body) in [
        (200, ""),
        (200, "OK"),
        (200, "{}"),
        (200, r#"{"id":"abc"}"#),
        (200, r#"{"provider_message_id":42}"#),
        (200, r#"{"provider_message_id":""}"#),
        (201, "[]"),
        (204, ""),
    ] {
        let (result, _) = send_to(Reply::Status(status, body)).await;
        assert_eq!(result, Ok(Delivery::default()), "{status} {body:?}");
    }
}

#[tokio::test]
async fn timeouts_rate_limits_and_server_errors_are_transient() {
    for status in [500, 502, 503, 408, 429] {
        let (result, _) = send_to(Reply::Status(status, r#"{"error":"later"}"#)).await;
        assert_eq!(
            result,
            Err(ProviderError::Transient(format!("HTTP {status}"))),
            "{status}"
        );
    }
}

#[tokio::test]
async fn other_statuses_are_permanent_and_redirects_are_not_followed() {
    for status in [400, 401, 404, 410, 422, 301, 302, 307] {
        let (result, requests) = send_to(Reply::Status(status, "")).await;
        assert_eq!(
            result,
            Err(ProviderError::Permanent(format!("HTTP {status}"))),
            "{status}"
        );
        assert_eq!(requests.len(), 1, "{status}: {requests:?}");
    }
}

#[tokio::test]
async fn a_sink_that_never_answers_times_out_as_transient() {
    let sink = Sink::start(Reply::Silent).await;
    let url = format!("{}?token={QUERY_SECRET}", sink.url());
    let started = Instant::now();

    let result = provider(&url, Duration::from_millis(200))
        .send(outgoing(Some("+33612345678")))
        .await;

    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_millis(900), "{elapsed:?}");
    let Err(ProviderError::Transient(text)) = result else {
        panic!("expected a transient error, got {result:?}");
    };
    assert_eq!(text, "timed out after 200 ms");
    assert_eq!(sink.requests().len(), 1);
}

#[tokio::test]
async fn a_closed_port_is_transient() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let url = format!("http://user:{PASSWORD}@{addr}/hook?token={QUERY_SECRET}");

    let result = provider(&url, Duration::from_secs(1))
        .send(outgoing(Some("+33612345678")))
        .await;

    let Err(ProviderError::Transient(text)) = result else {
        panic!("expected a transient error, got {result:?}");
    };
    assert!(text.starts_with("connection failed"), "{text}");
    assert_no_secret(&text);
}

#[tokio::test]
async fn error_texts_hold_no_secret() {
    let sink = Sink::start(Reply::Status(503, SECRET)).await;
    let url = format!(
        "http://user:{PASSWORD}@{}/hook?token={QUERY_SECRET}",
        sink.addr
    );
    let provider = provider(&url, Duration::from_secs(1));

    let error = provider
        .send(outgoing(Some("+33612345678")))
        .await
        .unwrap_err();

    assert_eq!(error, ProviderError::Transient("HTTP 503".to_owned()));
    assert_no_secret(&error.to_string());
    assert_no_secret(&format!("{error:?}"));
    let shown = format!("{provider:?}");
    assert_no_secret(&shown);
    assert!(
        shown.contains(&format!("http://{}/hook", sink.addr)),
        "{shown}"
    );
    assert!(shown.contains("Authorization"), "{shown}");
}

#[tokio::test]
async fn one_provider_sends_many_messages_at_once() {
    let sink = Sink::start(Reply::Status(200, r#"{"provider_message_id":"same"}"#)).await;
    let provider = Arc::new(provider(&sink.url(), Duration::from_secs(1)));

    let sends: Vec<_> = (0..8)
        .map(|_| tokio::spawn(provider.send(outgoing(Some("+33612345678")))))
        .collect();
    for send in sends {
        assert!(send.await.unwrap().is_ok());
    }

    let mut keys: Vec<_> = sink
        .requests()
        .iter()
        .map(|r| r.header("idempotency-key").unwrap().to_owned())
        .collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), 8);
}

#[test]
fn endpoints_drop_credentials_query_and_fragment() {
    let url = Url::parse("https://u:p@hooks.example.com:8443/a/b?token=x#f").unwrap();
    assert_eq!(endpoint(&url), "https://hooks.example.com:8443/a/b");
    assert_eq!(redact_url("not a url"), "<invalid URL>");
}
