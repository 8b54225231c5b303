//! The `whatsapp` provider against the fake WhatsApp Cloud API.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use omnichannel_domain::ids::{CommunicationId, DepartmentId, UserId};
use serde_json::json;

use std::time::Instant;

use super::*;
use crate::fakes::whatsapp::FakeWhatsapp;
use crate::test_logs::capture_logs;

const PHONE_NUMBER_ID: &str = "106540352242922";
const TOKEN: &str = "EAAs3cr3tWhatsAppAccessT0ken";
const TO: &str = "+33612345678";
const MESSAGE: &str = "Votre rendez-vous est demain à 9 h \"confirmé\"\nÀ bientôt";

fn outgoing(to: Option<&str>) -> Outgoing {
    Outgoing {
        communication_id: CommunicationId::generate(),
        user_id: UserId::generate(),
        department_id: DepartmentId::generate(),
        communication_type: "reminder".to_owned(),
        communication_type_name: "Reminder".to_owned(),
        channel: "messenger".to_owned(),
        to: to.map(str::to_owned),
        message: MESSAGE.to_owned(),
    }
}

fn spec(base_url: &str) -> WhatsappSpec {
    WhatsappSpec {
        phone_number_id: PHONE_NUMBER_ID.to_owned(),
        access_token: TOKEN.to_owned(),
        base_url: base_url.to_owned(),
        timeout: Duration::from_secs(2),
    }
}

fn provider(spec: &WhatsappSpec) -> WhatsappProvider {
    WhatsappProvider::new(spec).unwrap()
}

async fn send(fake: &FakeWhatsapp) -> Result<Delivery, ProviderError> {
    provider(&spec(&fake.base_url()))
        .send(outgoing(Some(TO)))
        .await
}

fn build_error(spec: &WhatsappSpec) -> BuildError {
    match WhatsappProvider::new(spec) {
        Err(error) => error,
        Ok(provider) => panic!("expected an error, built {provider:?}"),
    }
}

#[tokio::test]
async fn posts_a_text_message_without_the_plus_and_keeps_the_wamid() {
    let fake = FakeWhatsapp::start(PHONE_NUMBER_ID, TOKEN).await;

    let delivery = send(&fake).await.unwrap();

    let requests = fake.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, format!("/v21.0/{PHONE_NUMBER_ID}/messages"));
    assert_eq!(
        request.header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(
        request.body,
        json!({
            "messaging_product": "whatsapp",
            "to": "33612345678",
            "type": "text",
            "text": { "body": MESSAGE },
        })
    );
    assert_eq!(request.status, 200);
    let id = request.message_id.clone().unwrap();
    assert!(id.starts_with("wamid."), "{id}");
    assert_eq!(delivery.provider_message_id, Some(id));
}

#[tokio::test]
async fn each_message_gets_its_own_wamid() {
    let fake = FakeWhatsapp::start(PHONE_NUMBER_ID, TOKEN).await;
    let provider = provider(&spec(&fake.base_url()));

    let first = provider.send(outgoing(Some(TO))).await.unwrap();
    let second = provider.send(outgoing(Some("+14155550123"))).await.unwrap();

    assert_ne!(first.provider_message_id, second.provider_message_id);
    assert_eq!(fake.requests()[1].body["to"], "14155550123");
}

#[tokio::test]
async fn outside_the_24_hour_window_is_permanent_with_code_and_message() {
    let fake = FakeWhatsapp::start(PHONE_NUMBER_ID, TOKEN).await;
    fake.fail_next(400, 131047, "Re-engagement message");

    let result = send(&fake).await;

    assert_eq!(
        result,
        Err(ProviderError::Permanent(
            "HTTP 400, WhatsApp error 131047: (#131047) Re-engagement message: Message failed \
             to send because more than 24 hours have passed since the customer last replied \
             to this number."
                .to_owned()
        ))
    );
}

#[tokio::test]
async fn rate_limit_codes_are_transient_whatever_the_status() {
    for (status, code, title) in [
        (400, 130429, "Rate limit hit"),
        (
            400,
            131056,
            "(Business Account, Consumer Account) pair rate limit hit",
        ),
        (400, 4, "Application request limit reached"),
        (429, 4, "Application request limit reached"),
        (400, 80007, "Rate limit issues"),
        (400, 131048, "Spam rate limit hit"),
        (403, 131048, "Spam rate limit hit"),
    ] {
        let fake = FakeWhatsapp::start(PHONE_NUMBER_ID, TOKEN).await;
        fake.fail_next(status, code, title);

        let result = send(&fake).await;

        let Err(ProviderError::Transient(text)) = &result else {
            panic!("{status} {code}: expected a transient error, got {result:?}");
        };
        let expected = format!("HTTP {status}, WhatsApp error {code}: (#{code}) {title}: ");
        assert!(text.starts_with(&expected), "{text}");
    }
}

#[tokio::test]
async fn server_errors_are_transient() {
    for (status, code, title) in [
        (500, 131000, "Something went wrong"),
        (503, 131016, "Service unavailable"),
        (500, 1, "An unknown error occurred"),
    ] {
        let fake = FakeWhatsapp::start(PHONE_NUMBER_ID, TOKEN).await;
        fake.fail_next(status, code, title);

        let result = send(&fake).await;

        let Err(ProviderError::Transient(text)) = &result else {
            panic!("{status} {code}: expected a transient error, got {result:?}");
        };
        assert!(
            text.starts_with(&format!("HTTP {status}, WhatsApp error {code}: ")),
            "{text}"
        );
    }
}

#[tokio::test]
async fn other_errors_are_permanent() {
    for (status, code, title) in [
        (400, 100, "Invalid parameter"),
        (400, 131026, "Message undeliverable"),
        (400, 131051, "Unsupported message type"),
        (403, 10, "Permission denied"),
        (400, 368, "Temporarily blocked for policies violations"),
    ] {
        let fake = FakeWhatsapp::start(PHONE_NUMBER_ID, TOKEN).await;
        fake.fail_next(status, code, title);

        let result = send(&fake).await;

        assert_eq!(
            result,
            Err(ProviderError::Permanent(format!(
                "HTTP {status}, WhatsApp error {code}: (#{code}) {title}: {title}"
            ))),
            "{status} {code}"
        );
    }
}

#[tokio::test]
async fn an_invalid_token_is_permanent() {
    let fake = FakeWhatsapp::start(PHONE_NUMBER_ID, "the-real-token").await;

    let result = send(&fake).await;

    assert_eq!(
        result,
        Err(ProviderError::Permanent(
            "HTTP 401, WhatsApp error 190: Invalid OAuth access token - Cannot parse access token"
                .to_owned()
        ))
    );
    assert_eq!(fake.requests()[0].status, 401);
}

#[tokio::test]
async fn another_phone_number_id_is_refused_by_the_fake() {
    let fake = FakeWhatsapp::start("999999999999999", TOKEN).await;

    let result = send(&fake).await;

    let Err(ProviderError::Permanent(text)) = &result else {
        panic!("expected a permanent error, got {result:?}");
    };
    assert!(text.starts_with("HTTP 400, WhatsApp error 100: "), "{text}");
}

#[tokio::test]
async fn a_closed_port_is_transient() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);

    let result = provider(&spec(&format!("http://{addr}/v21.0")))
        .send(outgoing(Some(TO)))
        .await;

    let Err(ProviderError::Transient(text)) = result else {
        panic!("expected a transient error, got {result:?}");
    };
    assert!(text.starts_with("connection failed"), "{text}");
}

#[tokio::test]
async fn a_slow_answer_times_out_as_transient() {
    let fake = FakeWhatsapp::start(PHONE_NUMBER_ID, TOKEN).await;
    fake.delay_next(Duration::from_secs(5));
    let mut spec = spec(&fake.base_url());
    spec.timeout = Duration::from_millis(200);

    let started = Instant::now();
    let result = provider(&spec).send(outgoing(Some(TO))).await;

    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(
        result,
        Err(ProviderError::Transient(
            "timed out after 200 ms".to_owned()
        ))
    );
    assert_eq!(fake.wait_for(1, Duration::from_secs(1)).await.len(), 1);
}

#[tokio::test]
async fn a_client_without_phone_is_permanent_and_nothing_is_sent() {
    let fake = FakeWhatsapp::start(PHONE_NUMBER_ID, TOKEN).await;
    let provider = provider(&spec(&fake.base_url()));

    for to in [None, Some(""), Some(" "), Some("+")] {
        let result = provider.send(outgoing(to)).await;
        assert_eq!(
            result,
            Err(ProviderError::Permanent(
                "the client has no phone number".to_owned()
            )),
            "{to:?}"
        );
    }
    assert!(fake.requests().is_empty());
}

#[test]
fn rate_limit_codes_are_the_spec_s() {
    let transient =
        |status: u16, code| is_transient_error(StatusCode::from_u16(status).unwrap(), Some(code));
    for code in [4, 80007, 130429, 131048, 131056] {
        assert!(transient(400, code), "{code}");
    }
    for code in [0, 100, 131047, 131026, 190, 368] {
        assert!(!transient(400, code), "{code}");
    }
    assert!(transient(429, 0));
    assert!(transient(502, 131047));
    assert!(!transient(401, 190));
    assert!(!is_transient_error(StatusCode::BAD_REQUEST, None));
    assert!(is_transient_error(StatusCode::SERVICE_UNAVAILABLE, None));
}

#[tokio::test]
async fn the_token_never_shows_in_errors_debug_or_logs() {
    let (logs, _guard) = capture_logs();
    let fake = FakeWhatsapp::start(PHONE_NUMBER_ID, TOKEN).await;
    // Even a service that echoes the token does not get it into a text.
    fake.fail_next(400, 100, &format!("Bad token {TOKEN}"));
    let provider = provider(&spec(&fake.base_url()));

    let error = provider.send(outgoing(Some(TO))).await.unwrap_err();
    provider.send(outgoing(Some(TO))).await.unwrap();

    assert_eq!(
        error,
        ProviderError::Permanent(
            "HTTP 400, WhatsApp error 100: (#100) Bad token ***: Bad token ***".to_owned()
        )
    );
    let shown = [
        error.to_string(),
        format!("{provider:?}"),
        format!("{:?}", spec(&fake.base_url())),
        logs.text(),
    ];
    for text in &shown {
        assert!(!text.contains(TOKEN), "the token leaked in {text:?}");
    }
    let logs = logs.text();
    assert!(logs.contains("WhatsApp did not take the message"), "{logs}");
    assert!(logs.contains("WhatsApp took the message"), "{logs}");
    assert!(logs.contains("provider_message_id=\"wamid."), "{logs}");
    assert!(format!("{provider:?}").contains(&format!("/v21.0/{PHONE_NUMBER_ID}/messages")));
}

#[test]
fn bad_settings_are_refused() {
    for url in ["", "not a url", "/v21.0", "http://"] {
        let error = build_error(&spec(url));
        assert!(
            matches!(error, BuildError::InvalidUrl(_)),
            "{url:?}: {error:?}"
        );
    }
    let error = build_error(&spec("file:///v21.0"));
    assert!(matches!(error, BuildError::UnsupportedScheme(ref s) if s == "file"));
    for url in [
        "https://user:pass@graph.facebook.com/v21.0",
        "https://graph.facebook.com/v21.0?access_token=x",
        "https://graph.facebook.com/v21.0#x",
    ] {
        let error = build_error(&spec(url));
        assert!(
            matches!(error, BuildError::InvalidUrl(_)),
            "{url:?}: {error:?}"
        );
    }

    let good = spec("https://graph.facebook.com/v21.0");
    for id in ["", " ", "+33612345678", "1065/../x", "106?x"] {
        let spec = WhatsappSpec {
            phone_number_id: id.to_owned(),
            ..good.clone()
        };
        let error = build_error(&spec);
        assert!(
            matches!(
                error,
                BuildError::InvalidSetting {
                    setting: "phone_number_id",
                    ..
                }
            ),
            "{id:?}: {error:?}"
        );
    }
    for token in ["", "with space", "line\nbreak"] {
        let spec = WhatsappSpec {
            access_token: token.to_owned(),
            ..good.clone()
        };
        let error = build_error(&spec);
        assert!(
            matches!(
                error,
                BuildError::InvalidSetting {
                    setting: "access_token",
                    ..
                }
            ),
            "{error:?}"
        );
        if !token.is_empty() {
            assert!(!error.to_string().contains(token), "{error}");
        }
    }
    let spec = WhatsappSpec {
        timeout: Duration::ZERO,
        ..good.clone()
    };
    assert!(matches!(build_error(&spec), BuildError::ZeroTimeout));

    assert!(WhatsappProvider::new(&good).is_ok());
}
