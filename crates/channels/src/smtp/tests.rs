//! The `smtp` provider against the fake SMTP server: a real conversation,
//! plain, with STARTTLS or TLS from the first byte.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::time::Duration;

use omnichannel_domain::ids::{CommunicationId, DepartmentId, UserId};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

use super::*;
use crate::fakes::smtp::{FakeSmtp, ReceivedMail, Stage, certificate_pem};
use crate::{ProviderSpec, build};

const PASSWORD: &str = "pa55-w0rd-s3cr3t";
const TEXT: &str = "Привет, мир — café\nVotre rendez-vous est demain à 9 h.";
const WAIT: Duration = Duration::from_secs(5);

fn spec(fake: &FakeSmtp, tls: SmtpTls) -> SmtpSpec {
    SmtpSpec {
        host: fake.host(),
        port: fake.port(),
        tls,
        credentials: None,
        from: "Omnichannel <noreply@example.com>".to_owned(),
        subject: Some("Your appointment".to_owned()),
        timeout: WAIT,
        extra_root_certificates: vec![certificate_pem().to_vec()],
    }
}

fn with_credentials(mut spec: SmtpSpec, user: &str, password: &str) -> SmtpSpec {
    spec.credentials = Some((user.to_owned(), password.to_owned()));
    spec
}

fn outgoing(to: Option<&str>) -> Outgoing {
    Outgoing {
        communication_id: CommunicationId::generate(),
        user_id: UserId::generate(),
        department_id: DepartmentId::generate(),
        communication_type: "reminder".to_owned(),
        communication_type_name: "Rappel — rendez-vous".to_owned(),
        channel: "email".to_owned(),
        to: to.map(str::to_owned),
        message: TEXT.to_owned(),
    }
}

async fn send(spec: &SmtpSpec, message: Outgoing) -> Result<Delivery, ProviderError> {
    SmtpProvider::new(spec).unwrap().send(message).await
}

async fn only_message(fake: &FakeSmtp) -> ReceivedMail {
    let mut messages = fake.wait_for(1, WAIT).await;
    assert_eq!(messages.len(), 1, "{messages:?}");
    messages.remove(0)
}

fn crlf(text: &str) -> String {
    text.replace('\n', "\r\n")
}

fn assert_no_password(text: &str) {
    assert!(!text.contains(PASSWORD), "the password leaked in {text:?}");
}

fn transient(result: Result<Delivery, ProviderError>) -> String {
    match result {
        Err(ProviderError::Transient(text)) => text,
        other => panic!("expected a transient error, got {other:?}"),
    }
}

fn permanent(result: Result<Delivery, ProviderError>) -> String {
    match result {
        Err(ProviderError::Permanent(text)) => text,
        other => panic!("expected a permanent error, got {other:?}"),
    }
}

fn build_error(spec: &SmtpSpec) -> BuildError {
    match SmtpProvider::new(spec) {
        Err(error) => error,
        Ok(provider) => panic!("expected an error, built {provider:?}"),
    }
}

#[tokio::test]
async fn delivers_a_plain_text_utf8_message() {
    let fake = FakeSmtp::start().await;
    let message = outgoing(Some("client@example.org"));
    let id = message.communication_id;

    let delivery = send(&spec(&fake, SmtpTls::None), message).await.unwrap();

    let message_id = format!("<{id}@example.com>");
    assert_eq!(delivery.provider_message_id.as_deref(), Some(&*message_id));
    let mail = only_message(&fake).await;
    assert_eq!(mail.mail_from, "noreply@example.com");
    assert_eq!(mail.rcpt_to, ["client@example.org"]);
    assert_eq!(
        mail.header("From").as_deref(),
        Some("Omnichannel <noreply@example.com>")
    );
    assert_eq!(mail.header("To").as_deref(), Some("client@example.org"));
    assert_eq!(
        mail.decoded_header("Subject").as_deref(),
        Some("Your appointment")
    );
    assert_eq!(mail.header("Message-ID"), Some(message_id));
    let date = mail.header("Date").expect("a Date header");
    chrono::DateTime::parse_from_rfc2822(&date).expect("an RFC 2822 date");
    assert_eq!(
        mail.header("Content-Type").as_deref(),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(mail.body().trim_end(), crlf(TEXT));
    assert!(!mail.tls);
    assert_eq!(mail.user, None);
}

#[tokio::test]
async fn the_subject_is_the_type_name_when_none_is_configured() {
    let fake = FakeSmtp::start().await;
    let mut spec = spec(&fake, SmtpTls::None);
    spec.subject = None;

    send(&spec, outgoing(Some("client@example.org")))
        .await
        .unwrap();

    let mail = only_message(&fake).await;
    assert_eq!(
        mail.decoded_header("Subject").as_deref(),
        Some("Rappel — rendez-vous")
    );
}

#[tokio::test]
async fn a_type_name_cannot_add_headers() {
    let fake = FakeSmtp::start().await;
    let mut spec = spec(&fake, SmtpTls::None);
    spec.subject = None;
    let mut message = outgoing(Some("client@example.org"));
    message.communication_type_name = "Hello\r\nBcc: intruder@example.net".to_owned();

    send(&spec, message).await.unwrap();

    let mail = only_message(&fake).await;
    assert_eq!(mail.rcpt_to, ["client@example.org"]);
    assert_eq!(mail.header("Bcc"), None);
    assert_eq!(
        mail.decoded_header("Subject").as_deref(),
        Some("Hello  Bcc: intruder@example.net")
    );
}

#[tokio::test]
async fn lines_starting_with_a_dot_arrive_intact() {
    let fake = FakeSmtp::start().await;
    let mut message = outgoing(Some("client@example.org"));
    message.message = ".\n.hidden\n..two dots\nend".to_owned();

    send(&spec(&fake, SmtpTls::None), message).await.unwrap();

    let mail = only_message(&fake).await;
    assert_eq!(
        mail.header("Content-Transfer-Encoding").as_deref(),
        Some("7bit")
    );
    assert_eq!(mail.body().trim_end(), ".\r\n.hidden\r\n..two dots\r\nend");
}

#[tokio::test]
async fn starttls_with_credentials_authenticates_after_the_upgrade() {
    // The fake offers AUTH only once the session is encrypted.
    let fake = FakeSmtp::start_with_starttls()
        .await
        .expect_credentials("mailer", PASSWORD);
    let spec = with_credentials(spec(&fake, SmtpTls::Starttls), "mailer", PASSWORD);

    send(&spec, outgoing(Some("client@example.org")))
        .await
        .unwrap();

    let mail = only_message(&fake).await;
    assert!(mail.tls);
    assert_eq!(mail.user.as_deref(), Some("mailer"));
    assert_eq!(mail.body().trim_end(), crlf(TEXT));
}

#[tokio::test]
async fn implicit_tls_delivers() {
    let fake = FakeSmtp::start_with_tls().await;

    send(
        &spec(&fake, SmtpTls::Tls),
        outgoing(Some("client@example.org")),
    )
    .await
    .unwrap();

    assert!(only_message(&fake).await.tls);
}

#[tokio::test]
async fn a_certificate_not_trusted_is_a_transient_tls_failure() {
    let fake = FakeSmtp::start_with_tls().await;
    let mut spec = spec(&fake, SmtpTls::Tls);
    spec.extra_root_certificates.clear();

    let text = transient(send(&spec, outgoing(Some("client@example.org"))).await);

    assert!(text.starts_with("TLS failed"), "{text}");
    assert!(fake.messages().is_empty());
}

#[tokio::test]
async fn starttls_required_but_not_offered_is_a_transient_error() {
    let fake = FakeSmtp::start().await;

    let text = transient(
        send(
            &spec(&fake, SmtpTls::Starttls),
            outgoing(Some("client@example.org")),
        )
        .await,
    );

    assert!(text.contains("STARTTLS"), "{text}");
    assert!(fake.messages().is_empty());
}

#[tokio::test]
async fn a_5xx_reply_is_permanent_and_named() {
    let fake = FakeSmtp::start().await;
    fake.refuse_next(Stage::RcptTo, 550, "5.1.1 No such user");

    let text = permanent(
        send(
            &spec(&fake, SmtpTls::None),
            outgoing(Some("nobody@example.org")),
        )
        .await,
    );

    assert_eq!(text, "the SMTP server answered 550 5.1.1 No such user");
    assert!(fake.messages().is_empty());
}

#[tokio::test]
async fn a_4xx_reply_is_transient_and_the_next_message_goes_through() {
    let fake = FakeSmtp::start().await;
    fake.refuse_next(Stage::Message, 451, "4.3.0 Try again later");
    let provider = SmtpProvider::new(&spec(&fake, SmtpTls::None)).unwrap();

    let text = transient(provider.send(outgoing(Some("client@example.org"))).await);
    assert_eq!(text, "the SMTP server answered 451 4.3.0 Try again later");
    assert!(fake.messages().is_empty());

    provider
        .send(outgoing(Some("client@example.org")))
        .await
        .unwrap();
    only_message(&fake).await;
}

#[tokio::test]
async fn every_stage_refused_maps_to_its_class() {
    for (stage, code, text, is_permanent) in [
        (Stage::MailFrom, 553, "5.7.1 Sender not allowed", true),
        (Stage::Data, 554, "5.5.1 No valid recipients", true),
        (Stage::MailFrom, 421, "4.7.0 Too many connections", false),
        (Stage::Data, 452, "4.3.1 Insufficient storage", false),
    ] {
        let fake = FakeSmtp::start().await;
        fake.refuse_all(stage, code, text);
        let result = send(
            &spec(&fake, SmtpTls::None),
            outgoing(Some("client@example.org")),
        )
        .await;
        let expected = format!("the SMTP server answered {code} {text}");
        match result {
            Err(ProviderError::Permanent(got)) if is_permanent => assert_eq!(got, expected),
            Err(ProviderError::Transient(got)) if !is_permanent => assert_eq!(got, expected),
            other => panic!("{stage:?} {code}: {other:?}"),
        }
        assert!(fake.messages().is_empty());
    }
}

#[tokio::test]
async fn nothing_listening_is_transient() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let fake = FakeSmtp::start().await;
    let mut spec = spec(&fake, SmtpTls::None);
    spec.port = port;

    let text = transient(send(&spec, outgoing(Some("client@example.org"))).await);

    assert!(text.starts_with("connection failed: "), "{text}");
}

#[tokio::test]
async fn a_silent_server_times_out_transiently() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let silent = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((mut stream, _)) = listener.accept().await {
            // Greets, then reads nothing and answers nothing.
            let _ = stream.write_all(b"220 silent ESMTP\r\n").await;
            open.push(stream);
        }
    });
    let fake = FakeSmtp::start().await;
    let mut spec = spec(&fake, SmtpTls::None);
    spec.port = port;
    spec.timeout = Duration::from_millis(300);

    let started = Instant::now();
    let text = transient(send(&spec, outgoing(Some("client@example.org"))).await);

    assert_eq!(text, "the SMTP conversation did not end within 300 ms");
    assert!(started.elapsed() < Duration::from_secs(3));
    silent.abort();
}

#[tokio::test]
async fn a_conversation_cut_short_leaves_no_connection_in_the_pool() {
    for cut_by_the_caller in [false, true] {
        let fake = FakeSmtp::start().await;
        let mut spec = spec(&fake, SmtpTls::None);
        spec.timeout = Duration::from_millis(300);
        let provider = SmtpProvider::new(&spec).unwrap();
        // The reply to the first message comes after the next one starts.
        fake.delay_next(Stage::Message, Duration::from_millis(800));

        let first = provider.send(outgoing(Some("first@example.org")));
        if cut_by_the_caller {
            tokio::time::timeout(Duration::from_millis(100), first)
                .await
                .unwrap_err();
        } else {
            let text = transient(first.await);
            assert_eq!(text, "the SMTP conversation did not end within 300 ms");
        }
        // lettre gives the connection back in a task of its own.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let second = outgoing(Some("second@example.org"));
        let id = second.communication_id;
        let delivery = provider.send(second).await.unwrap();

        assert_eq!(
            delivery.provider_message_id,
            Some(format!("<{id}@example.com>"))
        );
        let messages = fake.wait_for(2, WAIT).await;
        let second = messages
            .iter()
            .find(|m| m.rcpt_to == ["second@example.org"])
            .expect("the second message");
        assert_eq!(second.header("Message-ID"), delivery.provider_message_id);
        assert_eq!(
            fake.connections(),
            2,
            "cut by the caller: {cut_by_the_caller}"
        );
    }
}

#[tokio::test]
async fn a_client_without_a_valid_address_is_permanent() {
    let fake = FakeSmtp::start().await;
    let spec = spec(&fake, SmtpTls::None);

    let text = permanent(send(&spec, outgoing(None)).await);
    assert_eq!(text, "the client has no e-mail address");
    permanent(send(&spec, outgoing(Some("  "))).await);
    for address in ["not an address", "client@", "Client <client@example.org>"] {
        let text = permanent(send(&spec, outgoing(Some(address))).await);
        assert!(
            text.starts_with("the client's e-mail address is invalid"),
            "{text}"
        );
    }

    assert_eq!(fake.connections(), 0);
}

#[tokio::test]
async fn a_wrong_password_is_refused_without_showing_it() {
    let fake = FakeSmtp::start_with_starttls()
        .await
        .expect_credentials("mailer", "the-right-one");
    let spec = with_credentials(spec(&fake, SmtpTls::Starttls), "mailer", PASSWORD);
    let provider = SmtpProvider::new(&spec).unwrap();

    let result = provider.send(outgoing(Some("client@example.org"))).await;

    let error = result.as_ref().unwrap_err().clone();
    let text = permanent(result);
    assert!(text.contains("535"), "{text}");
    assert_no_password(&text);
    assert_no_password(&error.to_string());
    assert_no_password(&format!("{error:?}"));
    assert_no_password(&format!("{provider:?}"));
    assert!(fake.messages().is_empty());
}

#[tokio::test]
async fn a_password_repeated_by_the_server_is_hidden() {
    let fake = FakeSmtp::start()
        .await
        .expect_credentials("mailer", PASSWORD);
    fake.refuse_next(Stage::MailFrom, 550, &format!("5.7.1 {PASSWORD} is wrong"));
    let spec = with_credentials(spec(&fake, SmtpTls::None), "mailer", PASSWORD);

    let text = permanent(send(&spec, outgoing(Some("client@example.org"))).await);

    assert_eq!(text, "the SMTP server answered 550 5.7.1 *** is wrong");
}

#[test]
fn an_invalid_from_is_refused_at_build() {
    let spec = SmtpSpec {
        host: "127.0.0.1".to_owned(),
        port: 25,
        tls: SmtpTls::None,
        credentials: None,
        from: String::new(),
        subject: None,
        timeout: WAIT,
        extra_root_certificates: Vec::new(),
    };
    for from in [
        "",
        "noreply",
        "noreply@",
        "@example.com",
        "Name <>",
        "Name <noreply@example.com",
        "noreply@example.com, other@example.com",
        "noreply@example.com trailing",
    ] {
        let spec = SmtpSpec {
            from: from.to_owned(),
            ..spec.clone()
        };
        let error = build_error(&spec);
        assert!(
            matches!(&error, BuildError::InvalidAddress { address, .. } if address == from),
            "{from:?}: {error:?}"
        );
    }
    for from in ["noreply@example.com", "Omnichannel <noreply@example.com>"] {
        let spec = SmtpSpec {
            from: from.to_owned(),
            ..spec.clone()
        };
        SmtpProvider::new(&spec).unwrap();
    }
}

#[test]
fn other_invalid_settings_are_refused_at_build() {
    let spec = SmtpSpec {
        host: "127.0.0.1".to_owned(),
        port: 25,
        tls: SmtpTls::Starttls,
        credentials: None,
        from: "noreply@example.com".to_owned(),
        subject: None,
        timeout: WAIT,
        extra_root_certificates: vec![certificate_pem().to_vec()],
    };
    let error = build_error(&SmtpSpec {
        timeout: Duration::ZERO,
        ..spec.clone()
    });
    assert!(matches!(error, BuildError::ZeroTimeout), "{error:?}");
    let error = build_error(&SmtpSpec {
        host: " ".to_owned(),
        ..spec.clone()
    });
    assert!(
        matches!(
            error,
            BuildError::InvalidSetting {
                setting: "host",
                ..
            }
        ),
        "{error:?}"
    );
    for pem in [
        b"not a certificate".to_vec(),
        b"-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n"
            .to_vec(),
    ] {
        let error = build_error(&SmtpSpec {
            extra_root_certificates: vec![certificate_pem().to_vec(), pem],
            ..spec.clone()
        });
        assert!(
            matches!(&error, BuildError::Tls(text) if text.contains("#2")),
            "{error:?}"
        );
    }
}

#[test]
fn a_bundle_of_certificates_is_read_whole() {
    let pem = certificate_pem();
    let mut bundle = b"# a private CA\n".to_vec();
    bundle.extend_from_slice(pem);
    bundle.extend_from_slice(pem);

    assert_eq!(
        pem_certificates(&bundle),
        [pem.trim_ascii_end(), pem.trim_ascii_end()]
    );
    assert!(pem_certificates(b"no certificate").is_empty());
}

#[test]
fn debug_hides_the_password() {
    let spec = SmtpSpec {
        host: "smtp.example.com".to_owned(),
        port: 587,
        tls: SmtpTls::Starttls,
        credentials: Some(("mailer".to_owned(), PASSWORD.to_owned())),
        from: "noreply@example.com".to_owned(),
        subject: None,
        timeout: WAIT,
        extra_root_certificates: Vec::new(),
    };

    for shown in [
        format!("{spec:?}"),
        format!("{:?}", ProviderSpec::Smtp(spec.clone())),
        format!("{:?}", SmtpProvider::new(&spec).unwrap()),
    ] {
        assert_no_password(&shown);
        assert!(shown.contains("smtp.example.com"), "{shown}");
    }
    assert!(format!("{spec:?}").contains("mailer"));
}

#[test]
fn is_built_and_dropped_outside_a_runtime() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let fake = runtime.block_on(FakeSmtp::start());
    let spec = spec(&fake, SmtpTls::None);
    let provider = build(&ProviderSpec::Smtp(spec))
        .unwrap()
        .expect("an smtp provider");

    runtime
        .block_on(provider.send(outgoing(Some("client@example.org"))))
        .unwrap();

    drop(fake);
    drop(runtime);
    drop(provider);
}

#[tokio::test]
async fn the_pool_keeps_one_connection_between_messages() {
    let fake = FakeSmtp::start().await;
    let provider = SmtpProvider::new(&spec(&fake, SmtpTls::None)).unwrap();

    for _ in 0..3 {
        provider
            .send(outgoing(Some("client@example.org")))
            .await
            .unwrap();
        // lettre gives the connection back to the pool in a task of its own.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    assert_eq!(fake.wait_for(3, WAIT).await.len(), 3);
    assert_eq!(fake.connections(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_messages_all_arrive() {
    let fake = FakeSmtp::start_with_starttls()
        .await
        .expect_credentials("mailer", PASSWORD);
    let spec = with_credentials(spec(&fake, SmtpTls::Starttls), "mailer", PASSWORD);
    let provider = Arc::new(SmtpProvider::new(&spec).unwrap());

    let mut sends = tokio::task::JoinSet::new();
    for n in 0..12 {
        let provider = Arc::clone(&provider);
        sends.spawn(async move {
            provider
                .send(outgoing(Some(&format!("client{n}@example.org"))))
                .await
        });
    }
    let mut ids = BTreeSet::new();
    while let Some(result) = sends.join_next().await {
        ids.insert(result.unwrap().unwrap().provider_message_id.unwrap());
    }

    let messages = fake.wait_for(12, WAIT).await;
    assert_eq!(messages.len(), 12);
    assert_eq!(ids.len(), 12);
    let recipients: BTreeSet<String> = messages.iter().flat_map(|m| m.rcpt_to.clone()).collect();
    let expected: BTreeSet<String> = (0..12).map(|n| format!("client{n}@example.org")).collect();
    assert_eq!(recipients, expected);
    let received: BTreeSet<String> = messages
        .iter()
        .map(|m| m.header("Message-ID").unwrap())
        .collect();
    assert_eq!(received, ids);
    assert!(
        messages
            .iter()
            .all(|m| m.tls && m.user.as_deref() == Some("mailer"))
    );
}
