//! The real providers end to end: the service configured with `smtp`,
//! `twilio`, `whatsapp` and `fcm` channels pointed at local fakes of their
//! services, and Twilio's signed delivery receipts.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::time::{Duration, Instant};

use omnichannel_channels::fakes::fcm::FakeFcm;
use omnichannel_channels::fakes::smtp::{FakeSmtp, Stage};
use omnichannel_channels::fakes::twilio::FakeTwilio;
use omnichannel_channels::fakes::whatsapp::FakeWhatsapp;
use omnichannel_http::receipts::twilio_signature;
use serde_json::{Value, json};

use crate::api::{ADMIN, JWT_SECRET, TestApp};
use crate::db::{TestDb, both_backends};

const PATIENCE: Duration = Duration::from_secs(15);
const ACCOUNT_SID: &str = "AC0123456789abcdef0123456789abcdef";
const AUTH_TOKEN: &str = "twilio-auth-token-e2e";
const PUBLIC_URL: &str = "https://omni.example.com";
const RECEIPTS_URL: &str = "https://omni.example.com/api/receipts/twilio";
const PHONE: &str = "+15551234567";

/// The variables of a service whose `sms` channel is on the fake Twilio,
/// with receipts at `PUBLIC_URL`, and `extra` besides.
fn twilio_env(twilio: &FakeTwilio, extra: &[(&str, String)]) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = vec![
        ("OMNICHANNEL_JWT_SECRET".into(), JWT_SECRET.into()),
        ("OMNICHANNEL_WORKER__POLL_INTERVAL_MS".into(), "100".into()),
        ("OMNICHANNEL_WORKER__RETRY_BASE_MS".into(), "50".into()),
        (
            "OMNICHANNEL_CHANNELS__SMS__PROVIDER".into(),
            "twilio".into(),
        ),
        (
            "OMNICHANNEL_CHANNELS__SMS__ACCOUNT_SID".into(),
            ACCOUNT_SID.into(),
        ),
        (
            "OMNICHANNEL_CHANNELS__SMS__AUTH_TOKEN".into(),
            AUTH_TOKEN.into(),
        ),
        (
            "OMNICHANNEL_CHANNELS__SMS__FROM".into(),
            "+15550000000".into(),
        ),
        (
            "OMNICHANNEL_CHANNELS__SMS__BASE_URL".into(),
            twilio.base_url(),
        ),
        ("OMNICHANNEL_PUBLIC_URL".into(), PUBLIC_URL.into()),
    ];
    env.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
    env
}

async fn spawn(db: &TestDb, env: &[(String, String)]) -> TestApp {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    TestApp::spawn_with(db, &env).await
}

/// A client with every address, and a department that prefers `channels`
/// (codes, in order) for the `mass` type.
struct Audience {
    user: String,
    department: String,
    mass: String,
}

impl Audience {
    async fn new(app: &TestApp, channels: &[&str]) -> Self {
        let mass = app.seeded("communication-types", "mass").await;
        let mut sources = Vec::new();
        for code in channels {
            sources.push(app.seeded("communication-sources", code).await);
        }
        let sources: Vec<&str> = sources.iter().map(String::as_str).collect();
        let department = app.department_preferring("Sales", &mass, &sources).await;
        let user = app
            .create(
                "users",
                &json!({
                    "first_name": "Zoé",
                    "phone": PHONE,
                    "email": "zoe@example.com",
                    "push_token": "fcm-device-token-1",
                }),
            )
            .await["id"]
            .as_str()
            .unwrap()
            .to_owned();
        Self {
            user,
            department,
            mass,
        }
    }

    async fn send(&self, app: &TestApp, message: &str, channel: Option<&str>) -> String {
        let mut body = json!({
            "user_id": self.user,
            "department_id": self.department,
            "communication_type_id": self.mass,
            "message": message,
        });
        if let Some(channel) = channel {
            body["communication_source_id"] =
                json!(app.seeded("communication-sources", channel).await);
        }
        let reply = app.post(&format!("{ADMIN}/communications"), &body).await;
        assert_eq!(reply.status, 202, "{reply:?}");
        reply.body["id"].as_str().unwrap().to_owned()
    }
}

async fn get(app: &TestApp, id: &str) -> Value {
    let reply = app.get(&format!("{ADMIN}/communications/{id}")).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    reply.body
}

async fn wait_for_status(app: &TestApp, id: &str, status: &str) -> Value {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let communication = get(app, id).await;
        if communication["status"] == status {
            return communication;
        }
        assert!(
            Instant::now() < deadline,
            "the communication did not become {status} in time: {communication:#}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn events_of<'a>(communication: &'a Value, kind: &str) -> Vec<&'a Value> {
    communication["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == kind)
        .collect()
}

/// Posts a Twilio status callback, signed with `token` unless `None`.
async fn receipt(app: &TestApp, form: &[(&str, &str)], token: Option<&str>) -> (u16, Value) {
    let params: Vec<(String, String)> = form
        .iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect();
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form.iter())
        .finish();
    let mut request = reqwest::Client::new()
        .post(format!("{}/api/receipts/twilio", app.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body);
    if let Some(token) = token {
        request = request.header(
            "x-twilio-signature",
            twilio_signature(token, RECEIPTS_URL, &params),
        );
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let body = response.json::<Value>().await.unwrap_or(Value::Null);
    (status, body)
}

/// What Twilio posts when a message's status changes.
fn callback<'a>(sid: &'a str, status: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("AccountSid", ACCOUNT_SID),
        ("ApiVersion", "2010-04-01"),
        ("From", "+15550000000"),
        ("MessageSid", sid),
        ("MessageStatus", status),
        ("SmsSid", sid),
        ("SmsStatus", status),
        ("To", PHONE),
    ]
}

both_backends! {
    async fn email_falls_back_to_sms_when_the_smtp_server_refuses_for_good(db: &TestDb) {
        let smtp = FakeSmtp::start().await;
        smtp.refuse_all(Stage::RcptTo, 550, "5.1.1 <zoe@example.com>: Recipient address rejected");
        let twilio = FakeTwilio::start(ACCOUNT_SID, AUTH_TOKEN).await;
        let env = twilio_env(&twilio, &[
            ("OMNICHANNEL_CHANNELS__EMAIL__PROVIDER", "smtp".into()),
            ("OMNICHANNEL_CHANNELS__EMAIL__HOST", smtp.host()),
            ("OMNICHANNEL_CHANNELS__EMAIL__PORT", smtp.port().to_string()),
            ("OMNICHANNEL_CHANNELS__EMAIL__TLS", "none".into()),
            ("OMNICHANNEL_CHANNELS__EMAIL__FROM", "Omni <noreply@example.com>".into()),
        ]);
        let app = spawn(db, &env).await;
        let audience = Audience::new(&app, &["email", "sms"]).await;

        let id = audience.send(&app, "Your parcel is on its way", None).await;

        let sent = wait_for_status(&app, &id, "sent").await;
        let calls = twilio.wait_for(1, PATIENCE).await;
        assert_eq!(calls.len(), 1, "{calls:?}");
        let call = &calls[0];
        assert_eq!(call.field("To"), Some(PHONE));
        assert_eq!(call.field("Body"), Some("Your parcel is on its way"));
        assert_eq!(call.field("StatusCallback"), Some(RECEIPTS_URL));
        assert_eq!(sent["provider_message_id"].as_str(), call.sid.as_deref());
        assert_eq!(
            sent["communication_source_id"],
            json!(app.seeded("communication-sources", "sms").await)
        );
        // One refused attempt on e-mail, permanent: no retry on that channel.
        let failed = events_of(&sent, "attempt_failed");
        assert_eq!(failed.len(), 1, "{sent:#}");
        assert_eq!(failed[0]["channel"], "email");
        let detail = failed[0]["detail"].as_str().unwrap();
        assert!(detail.contains("permanent") && detail.contains("550"), "{detail}");
        assert!(smtp.messages().is_empty());
        let chosen: Vec<&Value> = events_of(&sent, "channel_chosen");
        assert_eq!(chosen.last().unwrap()["channel"], "sms", "{sent:#}");
    }

    async fn a_signed_twilio_receipt_moves_the_communication(db: &TestDb) {
        let twilio = FakeTwilio::start(ACCOUNT_SID, AUTH_TOKEN).await;
        let app = spawn(db, &twilio_env(&twilio, &[])).await;
        let audience = Audience::new(&app, &["sms"]).await;
        let id = audience.send(&app, "Your code is 1234", None).await;
        let sent = wait_for_status(&app, &id, "sent").await;
        let sid = sent["provider_message_id"].as_str().unwrap().to_owned();
        assert!(sid.starts_with("SM"), "{sid}");

        // Unsigned, signed by another token, or signed over other values: 403.
        let delivered = callback(&sid, "delivered");
        let (status, body) = receipt(&app, &delivered, None).await;
        assert_eq!(status, 403, "{body}");
        let (status, _) = receipt(&app, &delivered, Some("another-token")).await;
        assert_eq!(status, 403);
        let params: Vec<(String, String)> = callback(&sid, "sent")
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect();
        let forged = reqwest::Client::new()
            .post(format!("{}/api/receipts/twilio", app.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-twilio-signature", twilio_signature(AUTH_TOKEN, RECEIPTS_URL, &params))
            .body(
                form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(delivered.iter())
                    .finish(),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(forged.status().as_u16(), 403);
        assert_eq!(get(&app, &id).await["status"], "sent");

        // A status the life-cycle does not follow changes nothing.
        let (status, _) = receipt(&app, &callback(&sid, "sent"), Some(AUTH_TOKEN)).await;
        assert_eq!(status, 204);
        assert_eq!(get(&app, &id).await["status"], "sent");

        let (status, body) = receipt(&app, &delivered, Some(AUTH_TOKEN)).await;
        assert_eq!(status, 204, "{body}");
        let communication = get(&app, &id).await;
        assert_eq!(communication["status"], "delivered", "{communication:#}");
        assert!(communication["delivered_at"].is_string());
        let event = events_of(&communication, "delivered");
        assert_eq!(event.len(), 1);
        assert_eq!(event[0]["detail"], "twilio: delivered");
        // Twilio may post the same status twice.
        let (status, _) = receipt(&app, &delivered, Some(AUTH_TOKEN)).await;
        assert_eq!(status, 204);
        let (status, _) = receipt(&app, &callback(&sid, "read"), Some(AUTH_TOKEN)).await;
        assert_eq!(status, 204);
        assert_eq!(get(&app, &id).await["status"], "read");

        // An undelivered message fails, with Twilio's error code.
        let other = audience.send(&app, "Second message", None).await;
        let other_sid = wait_for_status(&app, &other, "sent").await["provider_message_id"]
            .as_str()
            .unwrap()
            .to_owned();
        let mut undelivered = callback(&other_sid, "undelivered");
        undelivered.push(("ErrorCode", "30003"));
        let (status, _) = receipt(&app, &undelivered, Some(AUTH_TOKEN)).await;
        assert_eq!(status, 204);
        let failed = get(&app, &other).await;
        assert_eq!(failed["status"], "failed");
        assert_eq!(failed["status_reason"], "receipt");
        assert_eq!(
            events_of(&failed, "failed")[0]["detail"],
            "twilio: undelivered, error 30003"
        );

        // Unknown message, missing fields, another body type.
        let (status, body) = receipt(&app, &callback("SMunknown", "delivered"), Some(AUTH_TOKEN)).await;
        assert_eq!(status, 404, "{body}");
        let (status, body) = receipt(&app, &[("AccountSid", ACCOUNT_SID)], Some(AUTH_TOKEN)).await;
        assert_eq!(status, 422, "{body}");
        let reply = app
            .raw(
                reqwest::Method::POST,
                "/api/receipts/twilio",
                Some("application/json"),
                b"{}".to_vec(),
            )
            .await;
        reply.assert_problem(415);
    }

    /// Each real provider, configured from the environment as an operator
    /// would, sends through its service: the configuration reaches it whole.
    async fn every_real_provider_sends_as_configured(db: &TestDb) {
        let smtp = FakeSmtp::start().await;
        let twilio = FakeTwilio::start(ACCOUNT_SID, AUTH_TOKEN).await;
        let whatsapp = FakeWhatsapp::start("106540352242922", "whatsapp-token-e2e").await;
        let fcm = FakeFcm::start("omni-e2e");
        let env = twilio_env(&twilio, &[
            ("OMNICHANNEL_CHANNELS__EMAIL__PROVIDER", "smtp".into()),
            ("OMNICHANNEL_CHANNELS__EMAIL__HOST", smtp.host()),
            ("OMNICHANNEL_CHANNELS__EMAIL__PORT", smtp.port().to_string()),
            ("OMNICHANNEL_CHANNELS__EMAIL__TLS", "none".into()),
            ("OMNICHANNEL_CHANNELS__EMAIL__FROM", "noreply@example.com".into()),
            ("OMNICHANNEL_CHANNELS__EMAIL__SUBJECT", "News from Omni".into()),
            ("OMNICHANNEL_CHANNELS__MESSENGER__PROVIDER", "whatsapp".into()),
            ("OMNICHANNEL_CHANNELS__MESSENGER__PHONE_NUMBER_ID", "106540352242922".into()),
            ("OMNICHANNEL_CHANNELS__MESSENGER__ACCESS_TOKEN", "whatsapp-token-e2e".into()),
            ("OMNICHANNEL_CHANNELS__MESSENGER__BASE_URL", whatsapp.base_url()),
            ("OMNICHANNEL_CHANNELS__PUSH__PROVIDER", "fcm".into()),
            (
                "OMNICHANNEL_CHANNELS__PUSH__SERVICE_ACCOUNT_FILE",
                fcm.service_account_file().display().to_string(),
            ),
            ("OMNICHANNEL_CHANNELS__PUSH__BASE_URL", fcm.base_url()),
        ]);
        let app = spawn(db, &env).await;
        let audience = Audience::new(&app, &["sms", "email", "messenger", "push"]).await;

        let mut ids = Vec::new();
        for channel in ["email", "sms", "messenger", "push"] {
            ids.push(audience.send(&app, &format!("Hello on {channel}"), Some(channel)).await);
        }
        let mut answered = Vec::new();
        for id in &ids {
            let sent = wait_for_status(&app, id, "sent").await;
            answered.push(sent["provider_message_id"].as_str().unwrap().to_owned());
        }

        let mail = &smtp.wait_for(1, PATIENCE).await[0];
        assert_eq!(mail.rcpt_to, vec!["zoe@example.com".to_owned()]);
        assert_eq!(mail.decoded_header("Subject").as_deref(), Some("News from Omni"));
        assert!(mail.body().contains("Hello on email"), "{}", mail.body());
        assert_eq!(mail.header("Message-ID").as_deref(), Some(answered[0].as_str()));
        assert!(answered[0].contains(&ids[0]), "{}", answered[0]);

        let sms = &twilio.wait_for(1, PATIENCE).await[0];
        assert_eq!(sms.field("Body"), Some("Hello on sms"));
        assert_eq!(sms.sid.as_deref(), Some(answered[1].as_str()));

        let chat = &whatsapp.wait_for(1, PATIENCE).await[0];
        assert_eq!(chat.body["to"], PHONE.trim_start_matches('+'));
        assert_eq!(chat.body["text"]["body"], "Hello on messenger");
        assert_eq!(chat.message_id.as_deref(), Some(answered[2].as_str()));

        let push = &fcm.wait_for(1, PATIENCE).await[0];
        assert_eq!(push.push_token(), "fcm-device-token-1");
        assert_eq!(push.body["message"]["notification"]["body"], "Hello on push");
        assert_eq!(push.body["message"]["data"]["communication_id"], ids[3].as_str());
        assert_eq!(push.name, answered[3]);
        assert_eq!(fcm.exchanges(), 1);
    }

    async fn receipts_are_not_taken_without_a_public_url(db: &TestDb) {
        let twilio = FakeTwilio::start(ACCOUNT_SID, AUTH_TOKEN).await;
        let mut env = twilio_env(&twilio, &[]);
        env.retain(|(k, _)| k != "OMNICHANNEL_PUBLIC_URL");
        let app = spawn(db, &env).await;
        let audience = Audience::new(&app, &["sms"]).await;
        let id = audience.send(&app, "No receipts", None).await;
        let sent = wait_for_status(&app, &id, "sent").await;
        let calls = twilio.wait_for(1, PATIENCE).await;
        assert_eq!(calls[0].field("StatusCallback"), None);
        let sid = sent["provider_message_id"].as_str().unwrap();
        let (status, body) = receipt(&app, &callback(sid, "delivered"), Some(AUTH_TOKEN)).await;
        assert_eq!(status, 404, "{body}");
        assert_eq!(get(&app, &id).await["status"], "sent");
    }
}
