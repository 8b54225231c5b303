//! No secret reaches the log, whatever the level.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use reqwest::Method;
use serde_json::json;

use crate::api::{ADMIN, ADMIN_PASSWORD, Auth, CapturedLog, PUBLIC, TestApp};
use crate::db::{Backend, TestDb};

#[test]
fn passwords_tokens_and_api_secrets_never_reach_the_log() {
    let captured = CapturedLog::install("trace");
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
