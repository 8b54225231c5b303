//! The `fcm` provider against the fake of Google's token endpoint and FCM.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use omnichannel_domain::ids::{CommunicationId, DepartmentId, UserId};
use serde_json::{Map, Value, json};
use tempfile::TempDir;

use super::*;
use crate::ProviderSpec;
use crate::fakes::fcm::{
    FakeFcm, PRIVATE_KEY_ID, TEST_PRIVATE_KEY_PEM, TEST_PUBLIC_KEY_PEM, TokenRequest,
};

const PROJECT: &str = "omnichannel-test";
const PUSH_TOKEN: &str = "fcm-device-token:APA91bHun4MxP5egoKMwt2KZFBaFUH-1RYqx";

fn outgoing(to: Option<&str>) -> Outgoing {
    Outgoing {
        communication_id: CommunicationId::generate(),
        user_id: UserId::generate(),
        department_id: DepartmentId::generate(),
        communication_type: "reminder".to_owned(),
        communication_type_name: "Rappel".to_owned(),
        channel: "push".to_owned(),
        to: to.map(str::to_owned),
        message: "Votre rendez-vous est demain à 9 h".to_owned(),
    }
}

fn spec(fake: &FakeFcm) -> FcmSpec {
    FcmSpec {
        service_account_file: fake.service_account_file().to_owned(),
        base_url: fake.base_url(),
        token_uri: None,
        timeout: Duration::from_secs(5),
    }
}

fn provider(fake: &FakeFcm) -> FcmProvider {
    FcmProvider::new(&spec(fake)).unwrap()
}

async fn send(provider: &FcmProvider) -> Result<Delivery, ProviderError> {
    provider.send(outgoing(Some(PUSH_TOKEN))).await
}

/// A URL on which nothing listens.
async fn closed_url() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}")
}

/// Writes `json` as a service account file in `dir`.
fn write_account(dir: &TempDir, json: &Value) -> PathBuf {
    let path = dir.path().join("account.json");
    std::fs::write(&path, serde_json::to_vec(json).unwrap()).unwrap();
    path
}

/// The base64 lines of the test key: none may show anywhere.
fn key_lines() -> Vec<&'static str> {
    TEST_PRIVATE_KEY_PEM
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .collect()
}

/// Panics if `text` holds a token, the assertion or the key of `fake`.
fn assert_no_secret(fake: &FakeFcm, text: &str) {
    for request in fake.token_requests() {
        for secret in [request.assertion, request.access_token]
            .into_iter()
            .flatten()
        {
            assert!(!text.contains(&secret), "{secret:?} leaked in {text:?}");
        }
    }
    for line in key_lines() {
        assert!(!text.contains(line), "the key leaked in {text:?}");
    }
}

fn permanent(result: Result<Delivery, ProviderError>) -> String {
    match result {
        Err(ProviderError::Permanent(text)) => text,
        other => panic!("expected a permanent error, got {other:?}"),
    }
}

fn transient(result: Result<Delivery, ProviderError>) -> String {
    match result {
        Err(ProviderError::Transient(text)) => text,
        other => panic!("expected a transient error, got {other:?}"),
    }
}

#[tokio::test]
async fn posts_the_notification_with_the_bearer_token() {
    let fake = FakeFcm::start(PROJECT);
    let message = outgoing(Some(PUSH_TOKEN));

    provider(&fake).send(message.clone()).await.unwrap();

    let messages = fake.messages();
    assert_eq!(messages.len(), 1);
    let received = &messages[0];
    assert_eq!(received.project_id, PROJECT);
    assert_eq!(received.content_type.as_deref(), Some("application/json"));
    assert_eq!(
        received.authorization,
        format!("Bearer {}", fake.issued_tokens()[0])
    );
    assert_eq!(
        received.body,
        json!({
            "message": {
                "token": PUSH_TOKEN,
                "notification": {
                    "title": "Rappel",
                    "body": "Votre rendez-vous est demain à 9 h",
                },
                "data": {"communication_id": message.communication_id.to_string()},
            }
        })
    );
}

#[tokio::test]
async fn the_token_is_asked_for_with_a_signed_jwt_bearer_grant() {
    let fake = FakeFcm::start(PROJECT);

    send(&provider(&fake)).await.unwrap();

    let requests = fake.token_requests();
    assert_eq!(requests.len(), 1);
    let TokenRequest {
        content_type,
        grant_type,
        assertion,
        status,
        ..
    } = &requests[0];
    assert_eq!(*status, 200);
    assert_eq!(
        content_type.as_deref(),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(
        grant_type.as_deref(),
        Some("urn:ietf:params:oauth:grant-type:jwt-bearer")
    );
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&[fake.token_uri()]);
    let key = DecodingKey::from_rsa_pem(TEST_PUBLIC_KEY_PEM.as_bytes()).unwrap();
    let jwt = jsonwebtoken::decode::<Map<String, Value>>(
        assertion.as_deref().unwrap(),
        &key,
        &validation,
    )
    .unwrap();
    assert_eq!(jwt.header.alg, Algorithm::RS256);
    assert_eq!(jwt.header.kid.as_deref(), Some(PRIVATE_KEY_ID));
    let claims = jwt.claims;
    assert_eq!(claims["iss"], fake.client_email());
    assert_eq!(
        claims["scope"],
        "https://www.googleapis.com/auth/firebase.messaging"
    );
    assert_eq!(claims["aud"], fake.token_uri());
    let iat = claims["iat"].as_i64().unwrap();
    assert!((iat - chrono::Utc::now().timestamp()).abs() <= 5, "{iat}");
    assert_eq!(claims["exp"].as_i64().unwrap(), iat + 3600);
}

#[tokio::test]
async fn the_answered_name_is_the_provider_message_id() {
    let fake = FakeFcm::start(PROJECT);

    let delivery = send(&provider(&fake)).await.unwrap();

    let name = fake.messages()[0].name.clone();
    assert!(
        name.starts_with(&format!("projects/{PROJECT}/messages/0:")),
        "{name}"
    );
    assert_eq!(delivery.provider_message_id, Some(name));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_sends_at_once_share_one_token_exchange() {
    let fake = FakeFcm::start(PROJECT);
    // Every send starts while the exchange is under way.
    fake.delay_exchanges(Duration::from_millis(200));
    let provider = Arc::new(provider(&fake));

    let sends: Vec<_> = (0..50)
        .map(|_| tokio::spawn(provider.send(outgoing(Some(PUSH_TOKEN)))))
        .collect();
    for send in sends {
        send.await.unwrap().unwrap();
    }

    assert_eq!(fake.exchanges(), 1);
    let messages = fake.messages();
    assert_eq!(messages.len(), 50);
    let bearer = format!("Bearer {}", fake.issued_tokens()[0]);
    assert!(messages.iter().all(|m| m.authorization == bearer));
}

#[tokio::test]
async fn sends_waiting_for_a_failed_exchange_share_its_failure() {
    let fake = FakeFcm::start(PROJECT);
    fake.delay_exchanges(Duration::from_millis(200));
    fake.fail_next_exchange(503, "temporarily_unavailable", "Try again later.");
    let provider = Arc::new(provider(&fake));

    let sends: Vec<_> = (0..20)
        .map(|_| tokio::spawn(provider.send(outgoing(Some(PUSH_TOKEN)))))
        .collect();
    for send in sends {
        let text = transient(send.await.unwrap());
        assert_eq!(
            text,
            "token endpoint: HTTP 503 temporarily_unavailable: Try again later."
        );
    }
    assert_eq!(fake.exchanges(), 1);
    assert_eq!(fake.send_attempts(), 0);

    // The next send tries again.
    send(&provider).await.unwrap();
    assert_eq!(fake.exchanges(), 2);
}

#[tokio::test]
async fn a_token_is_reused_until_a_minute_before_it_expires() {
    let fake = FakeFcm::start(PROJECT);
    let provider = provider(&fake);

    fake.token_lifetime(3600);
    for _ in 0..3 {
        send(&provider).await.unwrap();
    }
    assert_eq!(fake.exchanges(), 1);

    fake.token_lifetime(60);
    fake.revoke_tokens();
    // The 401 drops the long-lived token; each send then needs a new one.
    transient(send(&provider).await);
    for expected in 2..=4 {
        send(&provider).await.unwrap();
        assert_eq!(fake.exchanges(), expected);
    }
}

#[tokio::test]
async fn a_token_of_at_most_a_minute_is_not_reused() {
    for lifetime in [60, 30] {
        let fake = FakeFcm::start(PROJECT);
        fake.token_lifetime(lifetime);
        let provider = provider(&fake);

        for _ in 0..3 {
            send(&provider).await.unwrap();
        }

        assert_eq!(fake.exchanges(), 3, "expires_in {lifetime}");
        let tokens: Vec<_> = fake
            .messages()
            .into_iter()
            .map(|m| m.authorization)
            .collect();
        assert!(
            tokens[0] != tokens[1] && tokens[1] != tokens[2],
            "{tokens:?}"
        );
    }
}

#[tokio::test]
async fn a_revoked_token_is_transient_and_replaced_at_the_next_send() {
    let fake = FakeFcm::start(PROJECT);
    let provider = provider(&fake);
    send(&provider).await.unwrap();

    fake.revoke_tokens();
    let text = transient(send(&provider).await);

    assert!(
        text.starts_with("HTTP 401 UNAUTHENTICATED: Request had invalid authentication"),
        "{text}"
    );
    assert_eq!(fake.exchanges(), 1);
    send(&provider).await.unwrap();
    assert_eq!(fake.exchanges(), 2);
    let messages = fake.messages();
    assert_eq!(messages.len(), 2);
    assert_eq!(
        messages[1].authorization,
        format!("Bearer {}", fake.issued_tokens()[1])
    );
}

#[tokio::test]
async fn fcm_errors_are_classified_by_their_error_code() {
    let fake = FakeFcm::start(PROJECT);
    let provider = provider(&fake);
    let cases = [
        (
            404,
            "UNREGISTERED",
            false,
            "HTTP 404 UNREGISTERED (NOT_FOUND): Requested entity was not found.",
        ),
        (
            400,
            "INVALID_ARGUMENT",
            false,
            "HTTP 400 INVALID_ARGUMENT: The registration token is not a valid FCM registration token",
        ),
        (
            403,
            "SENDER_ID_MISMATCH",
            false,
            "HTTP 403 SENDER_ID_MISMATCH (PERMISSION_DENIED): SenderId mismatch",
        ),
        (
            429,
            "QUOTA_EXCEEDED",
            true,
            "HTTP 429 QUOTA_EXCEEDED (RESOURCE_EXHAUSTED): Quota exceeded for quota metric 'Send requests'.",
        ),
        (
            503,
            "UNAVAILABLE",
            true,
            "HTTP 503 UNAVAILABLE: The service is currently unavailable.",
        ),
        (
            500,
            "INTERNAL",
            true,
            "HTTP 500 INTERNAL: Internal error encountered.",
        ),
        (
            403,
            "THIRD_PARTY_AUTH_ERROR",
            false,
            "HTTP 403 THIRD_PARTY_AUTH_ERROR (PERMISSION_DENIED): The request failed.",
        ),
        (
            404,
            "",
            false,
            "HTTP 404 NOT_FOUND: Requested entity was not found.",
        ),
        (502, "", true, "HTTP 502 UNKNOWN: The request failed."),
    ];
    for (status, code, is_transient, expected) in cases {
        fake.fail_next(status, code);
        let result = send(&provider).await;
        let text = if is_transient {
            transient(result)
        } else {
            permanent(result)
        };
        assert_eq!(text, expected, "{status} {code}");
        assert_no_secret(&fake, &text);
    }
    assert_eq!(fake.exchanges(), 1, "only a 401 drops the token");
    assert!(fake.messages().is_empty());
}

#[test]
fn the_error_code_outweighs_the_status() {
    let answer = |code: &str| {
        json!({"error": {
            "code": 400,
            "message": "m",
            "status": "FAILED_PRECONDITION",
            "details": [
                {"@type": "type.googleapis.com/google.rpc.BadRequest"},
                {"@type": FCM_ERROR_TYPE, "errorCode": code},
            ],
        }})
        .to_string()
    };
    let refused = |status: u16, body: &str| {
        refusal(
            StatusCode::from_u16(status).unwrap(),
            Some(body.as_bytes()),
            &[],
        )
    };
    for code in ["UNAVAILABLE", "INTERNAL", "QUOTA_EXCEEDED"] {
        assert!(
            matches!(refused(400, &answer(code)), ProviderError::Transient(_)),
            "{code}"
        );
    }
    for code in ["UNREGISTERED", "INVALID_ARGUMENT", "SENDER_ID_MISMATCH"] {
        assert!(
            matches!(refused(503, &answer(code)), ProviderError::Permanent(_)),
            "{code}"
        );
    }
    // Without an FcmError detail, the status speaks.
    let body = r#"{"error":{"code":400,"message":"m","status":"UNAVAILABLE"}}"#;
    assert!(matches!(refused(400, body), ProviderError::Transient(_)));
    // Anything else goes by the HTTP status.
    assert_eq!(
        refused(502, "<html>Bad Gateway</html>"),
        ProviderError::Transient("HTTP 502".to_owned())
    );
    assert_eq!(
        refused(410, ""),
        ProviderError::Permanent("HTTP 410".to_owned())
    );
}

#[test]
fn error_texts_hide_the_tokens_and_stay_short() {
    let message = format!(
        "bad token ya29.secret for {PUSH_TOKEN} {}",
        "x".repeat(1000)
    );
    let body = json!({"error": {"code": 400, "message": message, "status": "INVALID_ARGUMENT"}});

    let error = refusal(
        StatusCode::BAD_REQUEST,
        Some(body.to_string().as_bytes()),
        &["ya29.secret", PUSH_TOKEN],
    );

    let text = error.to_string();
    assert!(
        text.starts_with("permanent: HTTP 400 INVALID_ARGUMENT: bad token *** for *** xxx"),
        "{text}"
    );
    assert!(!text.contains("ya29.secret") && !text.contains(PUSH_TOKEN));
    assert!(text.chars().count() < 400, "{text}");
}

#[tokio::test]
async fn nothing_listening_is_transient() {
    let fake = FakeFcm::start(PROJECT);
    let closed = closed_url().await;

    let mut to_fcm = spec(&fake);
    to_fcm.base_url = closed.clone();
    let text = transient(send(&FcmProvider::new(&to_fcm).unwrap()).await);
    assert!(text.starts_with("connection failed"), "{text}");
    assert_eq!(fake.exchanges(), 1);

    let mut to_token = spec(&fake);
    to_token.token_uri = Some(format!("{closed}/token"));
    let text = transient(send(&FcmProvider::new(&to_token).unwrap()).await);
    assert!(
        text.starts_with("token endpoint: connection failed"),
        "{text}"
    );
    assert_eq!(fake.send_attempts(), 0);
}

#[tokio::test]
async fn a_silent_service_times_out_as_transient() {
    let fake = FakeFcm::start(PROJECT);
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_url = format!("http://{}", silent.local_addr().unwrap());
    let accept = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = silent.accept().await {
            held.push(stream);
        }
    });
    let mut spec = spec(&fake);
    spec.timeout = Duration::from_millis(300);

    let mut to_fcm = spec.clone();
    to_fcm.base_url = silent_url.clone();
    let started = Instant::now();
    let text = transient(send(&FcmProvider::new(&to_fcm).unwrap()).await);
    assert_eq!(text, "timed out after 300 ms");
    assert!(started.elapsed() < Duration::from_secs(3));

    fake.delay_exchanges(Duration::from_secs(2));
    let text = transient(send(&FcmProvider::new(&spec).unwrap()).await);
    assert_eq!(text, "token endpoint: timed out after 300 ms");
    accept.abort();
}

#[tokio::test]
async fn a_refused_grant_is_permanent_and_named() {
    let fake = FakeFcm::start(PROJECT);
    let dir = TempDir::new().unwrap();
    let cases = [
        (
            "private_key_id",
            "0000",
            "HTTP 400 invalid_grant: Invalid JWT Signature.",
        ),
        (
            "client_email",
            "someone@else.iam.gserviceaccount.com",
            "HTTP 400 invalid_grant: Invalid grant: account not found",
        ),
    ];
    for (field, value, expected) in cases {
        let mut account = fake.service_account();
        account[field] = json!(value);
        let mut spec = spec(&fake);
        spec.service_account_file = write_account(&dir, &account);

        let text = permanent(send(&FcmProvider::new(&spec).unwrap()).await);

        assert_eq!(text, format!("token endpoint: {expected}"), "{field}");
        assert_no_secret(&fake, &text);
    }
    assert_eq!(fake.send_attempts(), 0);
}

#[tokio::test]
async fn token_endpoint_errors_are_classified_by_status() {
    let fake = FakeFcm::start(PROJECT);
    let provider = provider(&fake);
    let cases = [
        (400, "invalid_grant", "Invalid JWT Signature.", false),
        (
            401,
            "invalid_client",
            "The OAuth client was not found.",
            false,
        ),
        (403, "access_denied", "Denied.", false),
        (429, "rate_limit_exceeded", "Slow down.", true),
        (500, "internal_failure", "Oops.", true),
        (503, "temporarily_unavailable", "Later.", true),
    ];
    for (status, error, description, is_transient) in cases {
        fake.fail_next_exchange(status, error, description);
        let result = send(&provider).await;
        let expected = format!("token endpoint: HTTP {status} {error}: {description}");
        let text = if is_transient {
            transient(result)
        } else {
            permanent(result)
        };
        assert_eq!(text, expected);
    }
    assert_eq!(fake.send_attempts(), 0);
    send(&provider).await.unwrap();
}

#[tokio::test]
async fn a_client_without_push_token_is_permanent() {
    let fake = FakeFcm::start(PROJECT);
    let provider = provider(&fake);

    for to in [None, Some(""), Some("  ")] {
        let text = permanent(provider.send(outgoing(to)).await);
        assert_eq!(text, "the client has no push token", "{to:?}");
    }

    assert_eq!(fake.exchanges(), 0);
    assert_eq!(fake.send_attempts(), 0);
}

#[tokio::test]
async fn the_configured_token_uri_overrides_the_files() {
    let fake = FakeFcm::start(PROJECT);
    let dir = TempDir::new().unwrap();
    let mut account = fake.service_account();
    account["token_uri"] = json!(format!("{}/token", closed_url().await));
    let mut spec = spec(&fake);
    spec.service_account_file = write_account(&dir, &account);

    let text = transient(send(&FcmProvider::new(&spec).unwrap()).await);
    assert!(
        text.starts_with("token endpoint: connection failed"),
        "{text}"
    );

    spec.token_uri = Some(fake.token_uri());
    send(&FcmProvider::new(&spec).unwrap()).await.unwrap();
    assert_eq!(fake.exchanges(), 1);

    // The file then needs no token_uri at all.
    account.as_object_mut().unwrap().remove("token_uri");
    spec.service_account_file = write_account(&dir, &account);
    send(&FcmProvider::new(&spec).unwrap()).await.unwrap();
    assert_eq!(fake.exchanges(), 2);
}

/// The build error for `account` written as the service account file.
fn build_error_for(dir: &TempDir, account: &Value) -> (BuildError, PathBuf) {
    let file = write_account(dir, account);
    let spec = FcmSpec {
        service_account_file: file.clone(),
        base_url: "https://fcm.googleapis.com".to_owned(),
        token_uri: None,
        timeout: Duration::from_secs(5),
    };
    match FcmProvider::new(&spec) {
        Err(error) => (error, file),
        Ok(provider) => panic!("expected an error, built {provider:?}"),
    }
}

fn assert_refused(error: &BuildError, file: &Path, field: &str) {
    let text = error.to_string();
    assert!(
        matches!(error, BuildError::ServiceAccount { .. }),
        "{error:?}"
    );
    assert!(text.contains(&file.display().to_string()), "{text}");
    assert!(text.contains(field), "{field}: {text}");
    for shown in [text, format!("{error:?}")] {
        for line in key_lines() {
            assert!(!shown.contains(line), "the key leaked in {shown}");
        }
    }
}

#[tokio::test]
async fn service_account_problems_are_refused_at_build_without_the_key() {
    let fake = FakeFcm::start(PROJECT);
    let good = fake.service_account();
    let dir = TempDir::new().unwrap();

    for field in [
        "type",
        "project_id",
        "private_key_id",
        "private_key",
        "client_email",
        "token_uri",
    ] {
        let mut account = good.clone();
        account.as_object_mut().unwrap().remove(field);
        let (error, file) = build_error_for(&dir, &account);
        assert_refused(&error, &file, &format!("has no \"{field}\""));

        account[field] = json!(42);
        let (error, file) = build_error_for(&dir, &account);
        assert_refused(&error, &file, &format!("\"{field}\" that is not a string"));

        account[field] = json!("");
        let (error, file) = build_error_for(&dir, &account);
        assert_refused(&error, &file, &format!("empty \"{field}\""));
    }

    let mut account = good.clone();
    account["type"] = json!("authorized_user");
    let (error, file) = build_error_for(&dir, &account);
    assert_refused(&error, &file, "\"type\" of \"authorized_user\"");

    let lines = key_lines();
    let truncated = format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n{}\n-----END PRIVATE KEY-----\n",
        lines[0], lines[1]
    );
    let not_base64 = "-----BEGIN PRIVATE KEY-----\nnot*base64\n-----END PRIVATE KEY-----\n";
    let public = TEST_PUBLIC_KEY_PEM;
    let without_markers = lines.concat();
    for key in [truncated.as_str(), not_base64, public, &without_markers] {
        let mut account = good.clone();
        account["private_key"] = json!(key);
        let (error, file) = build_error_for(&dir, &account);
        assert_refused(&error, &file, "\"private_key\"");
        assert!(!error.to_string().contains("not*base64"), "{error}");
    }

    let mut account = good.clone();
    account["token_uri"] = json!("not a url");
    let (error, file) = build_error_for(&dir, &account);
    assert_refused(&error, &file, "\"token_uri\"");

    let (error, file) = build_error_for(&dir, &json!([good]));
    assert_refused(&error, &file, "JSON object");
}

#[test]
fn an_unreadable_or_invalid_file_is_refused_without_its_content() {
    let dir = TempDir::new().unwrap();
    let missing = dir.path().join("missing.json");
    let spec = |file: &Path| FcmSpec {
        service_account_file: file.to_owned(),
        base_url: "https://fcm.googleapis.com".to_owned(),
        token_uri: None,
        timeout: Duration::from_secs(5),
    };
    let error = FcmProvider::new(&spec(&missing)).unwrap_err();
    assert_refused(&error, &missing, "cannot be read");

    // Cut in the middle of the key.
    let text = serde_json::to_string_pretty(&json!({"private_key": TEST_PRIVATE_KEY_PEM})).unwrap();
    let cut = dir.path().join("cut.json");
    std::fs::write(&cut, &text[..text.len() / 2]).unwrap();
    let error = FcmProvider::new(&spec(&cut)).unwrap_err();
    assert_refused(&error, &cut, "is not valid JSON");
}

#[test]
fn other_settings_are_checked_at_build() {
    let dir = TempDir::new().unwrap();
    let account = json!({
        "type": "service_account",
        "project_id": PROJECT,
        "private_key_id": PRIVATE_KEY_ID,
        "private_key": TEST_PRIVATE_KEY_PEM,
        "client_email": "a@b.iam.gserviceaccount.com",
        "token_uri": "https://oauth2.googleapis.com/token",
    });
    let good = FcmSpec {
        service_account_file: write_account(&dir, &account),
        base_url: "https://fcm.googleapis.com".to_owned(),
        token_uri: None,
        timeout: Duration::from_secs(5),
    };
    let provider = FcmProvider::new(&good).unwrap();
    assert_eq!(
        provider.inner.send_url.as_str(),
        format!("https://fcm.googleapis.com/v1/projects/{PROJECT}/messages:send")
    );

    let mut spec = good.clone();
    spec.timeout = Duration::ZERO;
    assert!(matches!(
        FcmProvider::new(&spec),
        Err(BuildError::ZeroTimeout)
    ));
    let mut spec = good.clone();
    spec.base_url = "ftp://fcm.example.com".to_owned();
    assert!(matches!(
        FcmProvider::new(&spec),
        Err(BuildError::UnsupportedScheme(_))
    ));
    let mut spec = good;
    spec.token_uri = Some("not a url".to_owned());
    assert!(matches!(
        FcmProvider::new(&spec),
        Err(BuildError::InvalidUrl(_))
    ));
}

#[tokio::test]
async fn debug_and_errors_show_no_token_key_or_assertion() {
    let fake = FakeFcm::start(PROJECT);
    let provider = provider(&fake);
    let mut texts = Vec::new();
    send(&provider).await.unwrap();
    fake.revoke_tokens();
    texts.push(send(&provider).await.unwrap_err().to_string());
    fake.fail_next(400, "INVALID_ARGUMENT");
    texts.push(send(&provider).await.unwrap_err().to_string());
    fake.fail_next_exchange(400, "invalid_grant", "Invalid JWT Signature.");
    fake.revoke_tokens();
    send(&provider).await.unwrap_err();
    texts.push(send(&provider).await.unwrap_err().to_string());
    texts.push(format!("{provider:?}"));
    texts.push(format!("{:?}", ProviderSpec::Fcm(spec(&fake))));

    assert!(fake.exchanges() >= 3);
    for text in &texts {
        assert_no_secret(&fake, text);
        assert!(!text.contains(PUSH_TOKEN), "{text}");
    }
    let shown = format!("{provider:?}");
    assert!(shown.contains(fake.client_email()), "{shown}");
    assert!(shown.contains(PROJECT), "{shown}");
}

/// A JWT for the fake's token endpoint with `claims` changed.
fn assertion(fake: &FakeFcm, kid: &str, change: impl FnOnce(&mut Value)) -> String {
    let iat = chrono::Utc::now().timestamp();
    let mut claims = json!({
        "iss": fake.client_email(),
        "scope": "https://www.googleapis.com/auth/firebase.messaging",
        "aud": fake.token_uri(),
        "iat": iat,
        "exp": iat + 3600,
    });
    change(&mut claims);
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.to_owned());
    let key = EncodingKey::from_rsa_pem(TEST_PRIVATE_KEY_PEM.as_bytes()).unwrap();
    jsonwebtoken::encode(&header, &claims, &key).unwrap()
}

#[tokio::test]
async fn the_fake_checks_token_requests_as_google_does() {
    let fake = FakeFcm::start(PROJECT);
    let client = reqwest::Client::new();
    let exchange = |grant_type: &'static str, assertion: String| {
        let request = client
            .post(fake.token_uri())
            .form(&[("grant_type", grant_type), ("assertion", &assertion)]);
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.unwrap())
        }
    };
    let grant = "urn:ietf:params:oauth:grant-type:jwt-bearer";

    let good = assertion(&fake, PRIVATE_KEY_ID, |_| {});
    let (status, answer) = exchange(grant, good.clone()).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["expires_in"], 3599);
    assert_eq!(answer["token_type"], "Bearer");
    assert!(
        answer["access_token"]
            .as_str()
            .unwrap()
            .starts_with("ya29.")
    );

    // The good JWT's signature over other, otherwise valid, claims.
    let other = assertion(&fake, PRIVATE_KEY_ID, |c| {
        c["iat"] = json!(c["iat"].as_i64().unwrap() - 1);
    });
    let good_parts: Vec<&str> = good.split('.').collect();
    let other_parts: Vec<&str> = other.split('.').collect();
    let forged = format!("{}.{}.{}", good_parts[0], other_parts[1], good_parts[2]);

    let cases = [
        ("client_credentials", good.clone(), "unsupported_grant_type"),
        (grant, forged, "invalid_grant"),
        (
            grant,
            assertion(&fake, "other-kid", |_| {}),
            "invalid_grant",
        ),
        (
            grant,
            assertion(&fake, PRIVATE_KEY_ID, |c| {
                c["aud"] = json!("https://oauth2.googleapis.com/token")
            }),
            "invalid_grant",
        ),
        (
            grant,
            assertion(&fake, PRIVATE_KEY_ID, |c| c["iss"] = json!("x@y.z")),
            "invalid_grant",
        ),
        (
            grant,
            assertion(&fake, PRIVATE_KEY_ID, |c| {
                c["exp"] = json!(c["iat"].as_i64().unwrap() + 7200);
            }),
            "invalid_grant",
        ),
        (
            grant,
            assertion(&fake, PRIVATE_KEY_ID, |c| {
                c["iat"] = json!(c["iat"].as_i64().unwrap() - 7200);
                c["exp"] = json!(c["iat"].as_i64().unwrap() + 3600);
            }),
            "invalid_grant",
        ),
        (
            grant,
            assertion(&fake, PRIVATE_KEY_ID, |c| {
                c.as_object_mut().unwrap().remove("scope");
            }),
            "invalid_scope",
        ),
        (
            grant,
            assertion(&fake, PRIVATE_KEY_ID, |c| {
                c["scope"] = json!("https://www.googleapis.com/auth/cloud-platform");
            }),
            "invalid_scope",
        ),
    ];
    for (grant_type, jwt, error) in cases {
        let (status, answer) = exchange(grant_type, jwt).await;
        assert_eq!(
            (status, answer["error"].as_str()),
            (400, Some(error)),
            "{answer}"
        );
    }
    assert_eq!(fake.issued_tokens().len(), 1);
}

#[tokio::test]
async fn the_fake_checks_sends_as_fcm_does() {
    let fake = FakeFcm::start(PROJECT);
    send(&provider(&fake)).await.unwrap();
    let bearer = fake.messages()[0].authorization.clone();
    let client = reqwest::Client::new();
    let good = json!({"message": {"token": "t", "notification": {"title": "a", "body": "b"}}});
    let post = |project: &str, bearer: &str, body: &Value| {
        let request = client
            .post(format!(
                "{}/v1/projects/{project}/messages:send",
                fake.base_url()
            ))
            .header("authorization", bearer)
            .json(body);
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.unwrap())
        }
    };

    let (status, answer) = post(PROJECT, "Bearer ya29.unknown", &good).await;
    assert_eq!(
        (status, &answer["error"]["status"]),
        (401, &json!("UNAUTHENTICATED"))
    );
    let (status, answer) = post("another-project", &bearer, &good).await;
    assert_eq!(
        (status, &answer["error"]["status"]),
        (403, &json!("PERMISSION_DENIED"))
    );
    for body in [
        json!({"message": {"notification": {"title": "a"}}}),
        json!({"message": {"token": "t", "extra": 1}}),
        json!({"message": {"token": "t", "data": {"n": 1}}}),
        json!({"message": {"token": "t"}, "validate_only": true}),
    ] {
        let (status, answer) = post(PROJECT, &bearer, &body).await;
        assert_eq!(
            (status, &answer["error"]["status"]),
            (400, &json!("INVALID_ARGUMENT")),
            "{body}"
        );
    }
    let (status, answer) = post(PROJECT, &bearer, &good).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(fake.wait_for(2, Duration::from_secs(1)).await.len(), 2);
}
