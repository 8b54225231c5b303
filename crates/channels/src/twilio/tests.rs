//! The `twilio` provider against the fake Twilio.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use omnichannel_domain::ids::{CommunicationId, DepartmentId, UserId};

use std::time::Instant;

use super::*;
use crate::fakes::twilio::FakeTwilio;
use crate::test_logs::capture_logs;

const SID: &str = "AC0123456789abcdef0123456789abcdef";
const TOKEN: &str = "s3cr3t-tw1l10-auth-t0ken";
const FROM: &str = "+15550000000";
const TO: &str = "+33612345678";
const MESSAGE: &str = "Votre rendez-vous est demain à 9 h & 10 % = 100 +1";
const CALLBACK: &str = "https://omni.example.com/api/receipts/twilio";

fn outgoing(to: Option<&str>) -> Outgoing {
    Outgoing {
        communication_id: CommunicationId::generate(),
        user_id: UserId::generate(),
        department_id: DepartmentId::generate(),
        communication_type: "reminder".to_owned(),
        communication_type_name: "Reminder".to_owned(),
        channel: "sms".to_owned(),
        to: to.map(str::to_owned),
        message: MESSAGE.to_owned(),
    }
}

fn spec(base_url: &str) -> TwilioSpec {
    TwilioSpec {
        account_sid: SID.to_owned(),
        auth_token: TOKEN.to_owned(),
        sender: TwilioSender::From(FROM.to_owned()),
        base_url: base_url.to_owned(),
        status_callback: None,
        timeout: Duration::from_secs(2),
    }
}

fn provider(spec: &TwilioSpec) -> TwilioProvider {
    TwilioProvider::new(spec).unwrap()
}

async fn send(fake: &FakeTwilio) -> Result<Delivery, ProviderError> {
    provider(&spec(&fake.base_url()))
        .send(outgoing(Some(TO)))
        .await
}

fn fields(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect()
}

fn build_error(spec: &TwilioSpec) -> BuildError {
    match TwilioProvider::new(spec) {
        Err(error) => error,
        Ok(provider) => panic!("expected an error, built {provider:?}"),
    }
}

#[tokio::test]
async fn posts_the_form_with_basic_auth_and_keeps_the_sid() {
    let fake = FakeTwilio::start(SID, TOKEN).await;

    let delivery = send(&fake).await.unwrap();

    let requests = fake.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.method, "POST");
    assert_eq!(
        request.path,
        format!("/2010-04-01/Accounts/{SID}/Messages.json")
    );
    assert_eq!(
        request.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(
        request.basic_auth(),
        Some((SID.to_owned(), TOKEN.to_owned()))
    );
    assert_eq!(
        request.form,
        fields(&[("To", TO), ("From", FROM), ("Body", MESSAGE)])
    );
    assert_eq!(request.status, 201);
    let sid = request.sid.clone().unwrap();
    assert!(sid.starts_with("SM") && sid.len() == 34, "{sid}");
    assert_eq!(delivery.provider_message_id, Some(sid));
}

#[tokio::test]
async fn sends_the_status_callback_only_when_configured() {
    let fake = FakeTwilio::start(SID, TOKEN).await;
    let mut with_callback = spec(&fake.base_url());
    with_callback.status_callback = Some(CALLBACK.to_owned());

    provider(&with_callback)
        .send(outgoing(Some(TO)))
        .await
        .unwrap();
    send(&fake).await.unwrap();

    let requests = fake.requests();
    assert_eq!(
        requests[0].form,
        fields(&[
            ("To", TO),
            ("From", FROM),
            ("Body", MESSAGE),
            ("StatusCallback", CALLBACK)
        ])
    );
    assert_eq!(requests[1].field("StatusCallback"), None);
}

#[tokio::test]
async fn a_messaging_service_replaces_the_from_number() {
    let fake = FakeTwilio::start(SID, TOKEN).await;
    let mut spec = spec(&fake.base_url());
    spec.sender = TwilioSender::MessagingService("MG0123456789abcdef0123456789abcdef".to_owned());

    let delivery = provider(&spec).send(outgoing(Some(TO))).await.unwrap();

    let request = &fake.requests()[0];
    assert_eq!(
        request.form,
        fields(&[
            ("To", TO),
            ("MessagingServiceSid", "MG0123456789abcdef0123456789abcdef"),
            ("Body", MESSAGE)
        ])
    );
    assert_eq!(delivery.provider_message_id, request.sid);
}

#[tokio::test]
async fn a_base_url_with_a_path_keeps_it() {
    let fake = FakeTwilio::start(SID, TOKEN).await;
    // The fake answers 404 (code 20404) to any other path.
    let result = provider(&spec(&format!("{}/", fake.base_url())))
        .send(outgoing(Some(TO)))
        .await;
    assert!(result.is_ok(), "{result:?}");

    let fake_path = FakeTwilio::start(SID, TOKEN).await;
    let result = provider(&spec(&format!("{}/proxy", fake_path.base_url())))
        .send(outgoing(Some(TO)))
        .await;
    assert_eq!(
        fake_path.requests()[0].path,
        format!("/proxy/2010-04-01/Accounts/{SID}/Messages.json")
    );
    assert!(
        matches!(&result, Err(ProviderError::Permanent(text)) if text.starts_with("HTTP 404, Twilio error 20404: ")),
        "{result:?}"
    );
}

#[tokio::test]
async fn a_refused_number_is_permanent_with_twilio_s_code_and_message() {
    let fake = FakeTwilio::start(SID, TOKEN).await;
    fake.fail_next(
        400,
        21211,
        "The 'To' number +1555 is not a valid phone number.",
    );

    let result = send(&fake).await;

    assert_eq!(
        result,
        Err(ProviderError::Permanent(
            "HTTP 400, Twilio error 21211: The 'To' number +1555 is not a valid phone number."
                .to_owned()
        ))
    );
}

#[tokio::test]
async fn bad_credentials_are_permanent_and_never_shown() {
    let fake = FakeTwilio::start(SID, "the-real-token").await;

    let result = send(&fake).await;

    assert_eq!(
        result,
        Err(ProviderError::Permanent(
            "HTTP 401, Twilio error 20003: Authenticate".to_owned()
        ))
    );
    assert_eq!(fake.requests()[0].status, 401);
}

#[tokio::test]
async fn rate_limits_and_server_errors_are_transient() {
    for (status, code, message) in [
        (429, 20429, "Too Many Requests"),
        (503, 20503, "Service Unavailable"),
        (500, 20500, "Internal Server Error"),
    ] {
        let fake = FakeTwilio::start(SID, TOKEN).await;
        fake.fail_next(status, code, message);

        let result = send(&fake).await;

        assert_eq!(
            result,
            Err(ProviderError::Transient(format!(
                "HTTP {status}, Twilio error {code}: {message}"
            )))
        );
    }
}

#[tokio::test]
async fn other_client_errors_are_permanent() {
    for (status, code) in [(400, 21610), (403, 20403), (404, 20404), (413, 21617)] {
        let fake = FakeTwilio::start(SID, TOKEN).await;
        fake.fail_next(status, code, "Refused");

        let result = send(&fake).await;

        assert_eq!(
            result,
            Err(ProviderError::Permanent(format!(
                "HTTP {status}, Twilio error {code}: Refused"
            )))
        );
    }
}

#[tokio::test]
async fn a_scripted_answer_serves_one_request_only() {
    let fake = FakeTwilio::start(SID, TOKEN).await;
    fake.fail_next(503, 20503, "Service Unavailable");
    fake.fail_next(400, 21211, "Invalid");

    assert!(matches!(
        send(&fake).await,
        Err(ProviderError::Transient(_))
    ));
    assert!(matches!(
        send(&fake).await,
        Err(ProviderError::Permanent(_))
    ));
    assert!(send(&fake).await.is_ok());
    let statuses: Vec<u16> = fake
        .wait_for(3, Duration::from_secs(1))
        .await
        .iter()
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, [503, 400, 201]);
}

#[tokio::test]
async fn a_closed_port_is_transient() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);

    let result = provider(&spec(&format!("http://{addr}")))
        .send(outgoing(Some(TO)))
        .await;

    let Err(ProviderError::Transient(text)) = result else {
        panic!("expected a transient error, got {result:?}");
    };
    assert!(text.starts_with("connection failed"), "{text}");
}

#[tokio::test]
async fn a_slow_answer_times_out_as_transient() {
    let fake = FakeTwilio::start(SID, TOKEN).await;
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
    let fake = FakeTwilio::start(SID, TOKEN).await;
    let provider = provider(&spec(&fake.base_url()));

    for to in [None, Some(""), Some("  ")] {
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

#[tokio::test]
async fn the_token_never_shows_in_errors_debug_or_logs() {
    let (logs, _guard) = capture_logs();
    let fake = FakeTwilio::start(SID, TOKEN).await;
    // Even a service that echoes the token does not get it into a text.
    fake.fail_next(400, 21211, &format!("Bad request with token {TOKEN}"));
    let provider = provider(&spec(&fake.base_url()));

    let error = provider.send(outgoing(Some(TO))).await.unwrap_err();
    provider.send(outgoing(Some(TO))).await.unwrap();

    assert_eq!(
        error,
        ProviderError::Permanent(
            "HTTP 400, Twilio error 21211: Bad request with token ***".to_owned()
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
        let credentials = BASE64.encode(format!("{SID}:{TOKEN}"));
        assert!(
            !text.contains(&credentials),
            "the credentials leaked in {text:?}"
        );
    }
    let logs = logs.text();
    assert!(logs.contains("Twilio did not take the SMS"), "{logs}");
    assert!(logs.contains("Twilio took the SMS"), "{logs}");
    assert!(logs.contains("provider_message_id=\"SM"), "{logs}");
    assert!(format!("{provider:?}").contains(&format!("/Accounts/{SID}/Messages.json")));
}

#[test]
fn bad_settings_are_refused() {
    for url in ["", "not a url", "/relative", "http://"] {
        let error = build_error(&spec(url));
        assert!(
            matches!(error, BuildError::InvalidUrl(_)),
            "{url:?}: {error:?}"
        );
    }
    let error = build_error(&spec("ftp://api.twilio.com"));
    assert!(matches!(error, BuildError::UnsupportedScheme(ref s) if s == "ftp"));
    for url in [
        "https://user:pass@api.twilio.com",
        "https://api.twilio.com?x=1",
        "https://api.twilio.com#x",
    ] {
        let error = build_error(&spec(url));
        assert!(
            matches!(error, BuildError::InvalidUrl(_)),
            "{url:?}: {error:?}"
        );
    }

    let setting = |spec: &TwilioSpec| match build_error(spec) {
        BuildError::InvalidSetting { setting, .. } => setting,
        other => panic!("expected an invalid setting, got {other:?}"),
    };
    let good = spec("https://api.twilio.com");
    for sid in ["", "  ", "AC/../x", "AC:x"] {
        let spec = TwilioSpec {
            account_sid: sid.to_owned(),
            ..good.clone()
        };
        assert_eq!(setting(&spec), "account_sid", "{sid:?}");
    }
    for token in ["", "with space", "line\nbreak", "caf\u{e9}"] {
        let spec = TwilioSpec {
            auth_token: token.to_owned(),
            ..good.clone()
        };
        let error = build_error(&spec);
        assert!(
            matches!(
                error,
                BuildError::InvalidSetting {
                    setting: "auth_token",
                    ..
                }
            ),
            "{error:?}"
        );
        if !token.is_empty() {
            assert!(!error.to_string().contains(token), "{error}");
        }
    }
    let spec = TwilioSpec {
        sender: TwilioSender::From(" ".to_owned()),
        ..good.clone()
    };
    assert_eq!(setting(&spec), "from");
    let spec = TwilioSpec {
        sender: TwilioSender::MessagingService(String::new()),
        ..good.clone()
    };
    assert_eq!(setting(&spec), "messaging_service_sid");
    let spec = TwilioSpec {
        status_callback: Some("/api/receipts/twilio".to_owned()),
        ..good.clone()
    };
    assert_eq!(setting(&spec), "status_callback");
    let spec = TwilioSpec {
        timeout: Duration::ZERO,
        ..good.clone()
    };
    assert!(matches!(build_error(&spec), BuildError::ZeroTimeout));

    assert!(TwilioProvider::new(&good).is_ok());
}
