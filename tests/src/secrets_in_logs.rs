//! No secret reaches the log, whatever the level.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::io::Write;
use std::sync::{Arc, Mutex};

use reqwest::Method;
use serde_json::json;

use crate::api::{ADMIN, ADMIN_PASSWORD, Auth, PUBLIC, TestApp};
use crate::db::{Backend, TestDb};

/// Everything the service logs, kept in memory.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

#[test]
fn passwords_tokens_and_api_secrets_never_reach_the_log() {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .with_env_filter("trace")
        .with_writer(move || writer.clone())
        .try_init()
        .expect("this test is the only one that installs a subscriber");
    let db = TestDb::new(Backend::Sqlite);
    crate::db::runtime().block_on(async {
        let app = TestApp::spawn(&db).await;
        let pair = app.login("admin", ADMIN_PASSWORD).await.body;
        let refresh_token = pair["refresh_token"].as_str().unwrap().to_owned();
        let access_token = pair["access_token"].as_str().unwrap().to_owned();
        app.send_as(
            Auth::Anonymous,
            Method::POST,
            &format!("{ADMIN}/auth/refresh"),
            Some(&json!({"refresh_token": refresh_token})),
        )
        .await;
        // A replay, logged as such, without the token.
        app.send_as(
            Auth::Anonymous,
            Method::POST,
            &format!("{ADMIN}/auth/refresh"),
            Some(&json!({"refresh_token": refresh_token})),
        )
        .await;
        app.login("admin", "a-wrong-password-to-log").await;
        app.post(
            &format!("{ADMIN}/admins"),
            &json!({"username": "ann", "password": "ann-secret-password"}),
        )
        .await;
        let key = app.api_key().await;
        app.send_as(
            key.clone(),
            Method::GET,
            &format!("{PUBLIC}/departments"),
            None,
        )
        .await;
        let Auth::Key { secret, .. } = key else {
            unreachable!()
        };

        let log = captured.text();
        assert!(
            log.contains("operator logged in"),
            "the capture works: {log}"
        );
        assert!(log.contains("refresh token was presented again"), "{log}");
        for secret in [
            ADMIN_PASSWORD,
            "a-wrong-password-to-log",
            "ann-secret-password",
            &refresh_token,
            &access_token,
            &secret,
        ] {
            assert!(!log.contains(secret), "{secret} is in the log");
        }
    });
}
