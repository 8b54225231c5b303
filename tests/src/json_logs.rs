//! `log.format = "json"`: the server's own subscriber, writing to memory,
//! through a request, a dispatch and a malformed request.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::io::{Read, Write};
use std::time::Duration;

use omnichannel_server::config::LogFormat;
use omnichannel_server::telemetry;
use serde_json::Value;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::util::SubscriberInitExt;

use crate::api::{ADMIN, CapturedLog, TestApp};
use crate::db::{Backend, TestDb, runtime};
use crate::dispatch::sink_env;
use crate::shutdown::fixtures;
use crate::sink::Sink;

/// The value of `field` in the event's current span or any span it is in.
fn span_field<'a>(line: &'a Value, field: &str) -> Option<&'a Value> {
    let current = line["span"].get(field);
    let listed = line["spans"]
        .as_array()
        .into_iter()
        .flatten()
        .find_map(|span| span.get(field));
    current.or(listed)
}

#[test]
fn json_lines_carry_the_request_id_and_the_communication_id_and_no_error_for_a_malformed_request() {
    let log = CapturedLog::default();
    let writer = log.clone();
    telemetry::subscriber(
        LogFormat::Json,
        EnvFilter::new("info,omnichannel_app=debug,omnichannel_server=debug"),
        move || writer.clone(),
    )
    .try_init()
    .expect("this test is the only one that installs a subscriber");

    let db = TestDb::new(Backend::Sqlite);
    let id = runtime().block_on(async {
        let sink = Sink::start().await;
        let env = sink_env(&sink, &[]);
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let app = TestApp::spawn_with(&db, &env).await;
        let body = fixtures(&app).await;
        let sent = app.post(&format!("{ADMIN}/communications"), &body).await;
        assert_eq!(sent.status, 202, "{sent:?}");
        let id = sent.body["id"].as_str().unwrap().to_owned();
        sink.wait_for(1, Duration::from_secs(15)).await;

        // A request actix-http cannot parse: answered 400.
        let address = app.base.trim_start_matches("http://").to_owned();
        let answer = tokio::task::spawn_blocking(move || {
            let mut stream = std::net::TcpStream::connect(address).unwrap();
            stream
                .set_read_timeout(Some(Duration::from_secs(5)))
                .unwrap();
            stream.write_all(b"GARBAGE\r\n\r\n").unwrap();
            let mut answer = Vec::new();
            drop(stream.read_to_end(&mut answer));
            String::from_utf8_lossy(&answer).into_owned()
        })
        .await
        .unwrap();
        assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
        // Let the dispatcher record the outcome and the server log the rest.
        tokio::time::sleep(Duration::from_millis(300)).await;
        id
    });

    let text = log.text();
    let lines: Vec<Value> = text
        .lines()
        .map(|line| {
            serde_json::from_str::<Value>(line)
                .unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"))
        })
        .collect();
    assert!(!lines.is_empty());
    for line in &lines {
        assert!(line.is_object(), "{line}");
        assert!(line["timestamp"].is_string(), "{line}");
        assert!(line["level"].is_string(), "{line}");
        assert!(line["target"].is_string(), "{line}");
        assert!(line["fields"].is_object(), "{line}");
    }
    assert!(
        lines
            .iter()
            .all(|line| line["fields"]["message"].is_string()),
        "every line has its message"
    );

    // The access log line of the send carries its request's id.
    let access = lines
        .iter()
        .find(|line| {
            let message = line["fields"]["message"].as_str().unwrap_or_default();
            message == format!("POST {ADMIN}/communications 202")
        })
        .unwrap_or_else(|| panic!("no access line of the send in\n{text}"));
    let request_id = span_field(access, "request_id").unwrap_or_else(|| panic!("{access}"));
    assert!(!request_id.as_str().unwrap().is_empty(), "{access}");

    // The dispatcher's lines about the call carry the communication's id.
    let dispatch: Vec<&Value> = lines
        .iter()
        .filter(|line| span_field(line, "communication.id").and_then(Value::as_str) == Some(&id))
        .collect();
    assert!(
        !dispatch.is_empty(),
        "no line with communication.id {id} in\n{text}"
    );

    // The malformed request is logged, at DEBUG, and nothing at ERROR.
    let errors: Vec<&Value> = lines
        .iter()
        .filter(|line| line["level"] == "ERROR")
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    assert!(
        lines.iter().any(
            |line| line["target"] == "omnichannel_server::malformed_request"
                && line["level"] == "DEBUG"
        ),
        "the malformed request is logged at DEBUG:\n{text}"
    );
}
