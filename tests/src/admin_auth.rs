//! Operators, tokens and API keys of the admin API.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::Method;
use serde_json::{Value, json};

use crate::api::{ADMIN, ADMIN_PASSWORD, Auth, JWT_SECRET, PUBLIC, TestApp};
use crate::db::{TestDb, both_backends};

/// An access token signed with the test key, with these claims and header type.
fn forge(claims: &Value, typ: &str, secret: &str) -> String {
    let header = Header {
        typ: Some(typ.to_owned()),
        ..Header::new(Algorithm::HS256)
    };
    jsonwebtoken::encode(
        &header,
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

/// Valid claims for `sub`, issued `age` seconds ago and living `ttl` seconds.
fn claims(sub: &str, age: i64, ttl: i64) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({
        "iss": "omnichannel", "aud": "omnichannel-admin", "sub": sub,
        "iat": now - age, "exp": now - age + ttl, "jti": uuid::Uuid::new_v4().to_string()
    })
}

async fn me(app: &TestApp, token: &str) -> crate::api::Reply {
    app.send_as(
        Auth::Bearer(token.to_owned()),
        Method::GET,
        &format!("{ADMIN}/auth/me"),
        None,
    )
    .await
}

async fn refresh(app: &TestApp, token: &str) -> crate::api::Reply {
    app.send_as(
        Auth::Anonymous,
        Method::POST,
        &format!("{ADMIN}/auth/refresh"),
        Some(&json!({"refresh_token": token})),
    )
    .await
}

both_backends! {
    async fn nothing_of_the_admin_api_answers_without_a_token(db: &TestDb) {
        let app = TestApp::spawn(db).await;
        let id = uuid::Uuid::new_v4();
        let routes = [
            (Method::GET, format!("{ADMIN}/auth/me")),
            (Method::POST, format!("{ADMIN}/auth/password")),
            (Method::GET, format!("{ADMIN}/admins")),
            (Method::POST, format!("{ADMIN}/admins")),
            (Method::DELETE, format!("{ADMIN}/admins/{id}")),
            (Method::GET, format!("{ADMIN}/api-keys")),
            (Method::POST, format!("{ADMIN}/api-keys")),
            (Method::DELETE, format!("{ADMIN}/api-keys/{id}")),
            (Method::GET, format!("{ADMIN}/users")),
            (Method::POST, format!("{ADMIN}/users")),
            (Method::GET, format!("{ADMIN}/users/{id}")),
            (Method::PATCH, format!("{ADMIN}/users/{id}")),
            (Method::DELETE, format!("{ADMIN}/users/{id}")),
            (Method::PUT, format!("{ADMIN}/users/{id}/availability")),
            (Method::GET, format!("{ADMIN}/communication-types")),
            (Method::POST, format!("{ADMIN}/communication-sources")),
            (Method::GET, format!("{ADMIN}/departments")),
            (Method::PUT, format!("{ADMIN}/departments/{id}/favorite-sources")),
            (Method::POST, format!("{ADMIN}/departments/{id}/rules")),
            (Method::GET, format!("{ADMIN}/no-such-route")),
        ];
        for (method, path) in routes {
            for auth in [Auth::Anonymous, Auth::Bearer("not-a-jwt".into())] {
                let reply = app.send_as(auth, method.clone(), &path, Some(&json!({}))).await;
                reply.assert_problem(401);
                assert!(
                    reply.www_authenticate.as_deref().is_some_and(|c| c.starts_with("Bearer")),
                    "{method} {path}: {reply:?}"
                );
            }
        }
        // Health and the OpenAPI document stay open.
        for path in ["/health/live", "/health/ready", "/api/openapi.json"] {
            let reply = app.send_as(Auth::Anonymous, Method::GET, path, None).await;
            assert_eq!(reply.status, 200, "{path}");
        }
    }

    async fn login_answers_a_token_pair_for_the_operator(db: &TestDb) {
        let app = TestApp::spawn(db).await;
        let reply = app.login("admin", ADMIN_PASSWORD).await;
        assert_eq!(reply.status, 200);
        assert_eq!(reply.body["token_type"], "Bearer");
        assert_eq!(reply.body["expires_in"], 900);
        let access = reply.body["access_token"].as_str().unwrap();
        let refresh_token = reply.body["refresh_token"].as_str().unwrap();
        assert!(URL_SAFE_NO_PAD.decode(refresh_token).unwrap().len() >= 32);
        let header: Value = serde_json::from_slice(
            &URL_SAFE_NO_PAD.decode(access.split('.').next().unwrap()).unwrap(),
        )
        .unwrap();
        assert_eq!(header["typ"], "at+jwt");
        assert_eq!(header["alg"], "HS256");
        let claims: Value = serde_json::from_slice(
            &URL_SAFE_NO_PAD.decode(access.split('.').nth(1).unwrap()).unwrap(),
        )
        .unwrap();
        assert_eq!(claims["iss"], "omnichannel");
        assert_eq!(claims["aud"], "omnichannel-admin");
        assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 900);

        let whoami = me(&app, access).await;
        assert_eq!(whoami.status, 200);
        assert_eq!(whoami.body["username"], "admin");
        assert_eq!(whoami.body["id"], claims["sub"]);
        assert!(whoami.body["created_at"].is_string());
        // Usernames are not case-sensitive.
        assert_eq!(app.login("ADMIN", ADMIN_PASSWORD).await.status, 200);
    }

    async fn a_wrong_password_and_an_unknown_user_get_the_same_401(db: &TestDb) {
        let app = TestApp::spawn(db).await;
        let wrong = app.login("admin", "not the password").await;
        let unknown = app.login("nobody", "not the password").await;
        wrong.assert_problem(401);
        unknown.assert_problem(401);
        assert_eq!(wrong.body, unknown.body);
        let malformed = app.login("not a username!", "x").await;
        assert_eq!(malformed.body, wrong.body);
    }

    async fn five_failures_throttle_the_username_even_for_the_right_password(db: &TestDb) {
        let app = TestApp::spawn(db).await;
        app.create("admins", &json!({"username": "other", "password": "another-password"})).await;
        for _ in 0..5 {
            app.login("admin", "not the password").await.assert_problem(401);
        }
        let throttled = app.login("admin", ADMIN_PASSWORD).await;
        throttled.assert_problem(429);
        let wait: u64 = throttled.retry_after.as_deref().unwrap().parse().unwrap();
        assert!((1..=900).contains(&wait), "Retry-After {wait}");
        app.login("Admin", "not the password").await.assert_problem(429);
        // Another username is not affected.
        assert_eq!(app.login("other", "another-password").await.status, 200);
    }

    async fn refresh_rotates_and_a_replay_revokes_the_whole_login(db: &TestDb) {
        let app = TestApp::spawn(db).await;
        let first = app.login("admin", ADMIN_PASSWORD).await.body;
        let other_login = app.login("admin", ADMIN_PASSWORD).await.body;
        let r1 = first["refresh_token"].as_str().unwrap();
        let rotated = refresh(&app, r1).await;
        assert_eq!(rotated.status, 200, "{rotated:?}");
        let r2 = rotated.body["refresh_token"].as_str().unwrap();
        assert_ne!(r1, r2);
        assert_eq!(me(&app, rotated.body["access_token"].as_str().unwrap()).await.status, 200);

        // r1 again: a replay. It fails, and so does r2, its successor.
        refresh(&app, r1).await.assert_problem(401);
        refresh(&app, r2).await.assert_problem(401);
        // Another login of the same operator lives on.
        assert_eq!(refresh(&app, other_login["refresh_token"].as_str().unwrap()).await.status, 200);
        refresh(&app, "made-up-token").await.assert_problem(401);
    }

    async fn logout_ends_the_login(db: &TestDb) {
        let app = TestApp::spawn(db).await;
        let pair = app.login("admin", ADMIN_PASSWORD).await.body;
        let token = pair["refresh_token"].as_str().unwrap();
        let body = json!({"refresh_token": token});
        let logout = app
            .send_as(Auth::Anonymous, Method::POST, &format!("{ADMIN}/auth/logout"), Some(&body))
            .await;
        assert_eq!(logout.status, 204);
        refresh(&app, token).await.assert_problem(401);
        let unknown = app
            .send_as(Auth::Anonymous, Method::POST, &format!("{ADMIN}/auth/logout"), Some(&json!({"refresh_token": "x"})))
            .await;
        assert_eq!(unknown.status, 204);
    }

    async fn only_well_formed_current_access_tokens_pass(db: &TestDb) {
        let app = TestApp::spawn(db).await;
        let admin_id = me(&app, &app.token).await.body["id"].as_str().unwrap().to_owned();
        // The forging itself is right: a token made like the server's passes.
        assert_eq!(me(&app, &forge(&claims(&admin_id, 0, 900), "at+jwt", JWT_SECRET)).await.status, 200);

        let expired = forge(&claims(&admin_id, 920, 900), "at+jwt", JWT_SECRET);
        me(&app, &expired).await.assert_problem(401);
        let other_key = forge(&claims(&admin_id, 0, 900), "at+jwt", "another-signing-key-of-32-bytes-or-more");
        me(&app, &other_key).await.assert_problem(401);
        let mut wrong_aud = claims(&admin_id, 0, 900);
        wrong_aud["aud"] = "omnichannel-public".into();
        me(&app, &forge(&wrong_aud, "at+jwt", JWT_SECRET)).await.assert_problem(401);
        let mut wrong_iss = claims(&admin_id, 0, 900);
        wrong_iss["iss"] = "elsewhere".into();
        me(&app, &forge(&wrong_iss, "at+jwt", JWT_SECRET)).await.assert_problem(401);
        me(&app, &forge(&claims(&admin_id, 0, 900), "JWT", JWT_SECRET)).await.assert_problem(401);

        let parts: Vec<&str> = app.token.split('.').collect();
        let none = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"at+jwt"}"#);
        me(&app, &format!("{none}.{}.", parts[1])).await.assert_problem(401);
        let tampered_claims = URL_SAFE_NO_PAD.encode(
            serde_json::to_vec(&claims(&uuid::Uuid::new_v4().to_string(), 0, 900)).unwrap(),
        );
        me(&app, &format!("{}.{tampered_claims}.{}", parts[0], parts[2])).await.assert_problem(401);
    }

    async fn operators_are_managed_but_the_last_one_stays(db: &TestDb) {
        let app = TestApp::spawn(db).await;
        let short = app.post(&format!("{ADMIN}/admins"), &json!({"username": "ann", "password": "short"})).await;
        short.assert_problem(422);
        assert_eq!(short.error_fields(), ["password"]);
        let created = app
            .post(&format!("{ADMIN}/admins"), &json!({"username": "Ann", "password": "ann-password-1"}))
            .await;
        assert_eq!(created.status, 201);
        assert_eq!(created.body["username"], "ann");
        assert!(created.body.get("password").is_none() && created.body.get("password_hash").is_none());
        app.post(&format!("{ADMIN}/admins"), &json!({"username": "ann", "password": "ann-password-2"}))
            .await
            .assert_problem(409);
        assert_eq!(app.get(&format!("{ADMIN}/admins")).await.body["total"], 2);

        let ann_token = app.login("ann", "ann-password-1").await.body["access_token"].as_str().unwrap().to_owned();
        let admin_id = me(&app, &app.token).await.body["id"].as_str().unwrap().to_owned();
        let ann_id = created.body["id"].as_str().unwrap();
        let deleted = app
            .send_as(Auth::Bearer(ann_token.clone()), Method::DELETE, &format!("{ADMIN}/admins/{admin_id}"), None)
            .await;
        assert_eq!(deleted.status, 204);
        let last = app
            .send_as(Auth::Bearer(ann_token), Method::DELETE, &format!("{ADMIN}/admins/{ann_id}"), None)
            .await;
        last.assert_problem(409);
        app.login("admin", ADMIN_PASSWORD).await.assert_problem(401);
    }

    async fn changing_the_password_ends_every_login(db: &TestDb) {
        let app = TestApp::spawn(db).await;
        let pair = app.login("admin", ADMIN_PASSWORD).await.body;
        let path = format!("{ADMIN}/auth/password");
        let wrong = app.post(&path, &json!({"current_password": "nope", "new_password": "a-new-password"})).await;
        wrong.assert_problem(403);
        let short = app.post(&path, &json!({"current_password": ADMIN_PASSWORD, "new_password": "short"})).await;
        short.assert_problem(422);
        assert_eq!(short.error_fields(), ["new_password"]);
        let changed = app
            .post(&path, &json!({"current_password": ADMIN_PASSWORD, "new_password": "a-new-password"}))
            .await;
        assert_eq!(changed.status, 204);
        refresh(&app, pair["refresh_token"].as_str().unwrap()).await.assert_problem(401);
        app.login("admin", ADMIN_PASSWORD).await.assert_problem(401);
        assert_eq!(app.login("admin", "a-new-password").await.status, 200);
    }

    async fn secrets_are_stored_only_as_hashes(db: &TestDb) {
        let app = TestApp::spawn(db).await;
        let pair = app.login("admin", ADMIN_PASSWORD).await.body;
        let refresh_token = pair["refresh_token"].as_str().unwrap();
        let key = app.post(&format!("{ADMIN}/api-keys"), &json!({"name": "crm"})).await;
        assert_eq!(key.status, 201);
        let secret = key.body["secret_api_key"].as_str().unwrap();
        assert!(URL_SAFE_NO_PAD.decode(secret).unwrap().len() >= 32);

        let stored_secrets = db.texts("SELECT secret_hash AS value FROM api_keys");
        assert_eq!(stored_secrets.len(), 1);
        assert!(!stored_secrets[0].contains(secret));
        let stored_tokens = db.texts("SELECT token_hash AS value FROM refresh_tokens");
        assert!(!stored_tokens.is_empty());
        assert!(stored_tokens.iter().all(|t| !t.contains(refresh_token)));
        let hashes = db.texts("SELECT password_hash AS value FROM admins");
        assert!(hashes.iter().all(|h| h.starts_with("$2") && !h.contains(ADMIN_PASSWORD)));

        // Listed without the secret.
        let list = app.get(&format!("{ADMIN}/api-keys")).await;
        assert_eq!(list.body["total"], 1);
        let listed = &list.body["items"][0];
        assert_eq!(listed["api_key"], key.body["api_key"]);
        assert!(listed.get("secret_api_key").is_none());
        assert!(!list.body.to_string().contains(secret));
    }

    async fn api_keys_open_the_public_api_until_revoked(db: &TestDb) {
        let app = TestApp::spawn(db).await;
        let Auth::Key { key, secret } = app.api_key().await else { unreachable!() };
        let types = format!("{PUBLIC}/communication-types");
        let good = Auth::Key { key: key.clone(), secret: secret.clone() };
        assert_eq!(app.send_as(good.clone(), Method::GET, &types, None).await.status, 200);
        let listed = app.get(&format!("{ADMIN}/api-keys")).await;
        assert!(listed.body["items"][0]["last_used_at"].is_string(), "{listed:?}");

        let wrong = Auth::Key { key: key.clone(), secret: format!("{secret}x") };
        app.send_as(wrong, Method::GET, &types, None).await.assert_problem(401);
        let id = listed.body["items"][0]["id"].as_str().unwrap();
        assert_eq!(app.delete(&format!("{ADMIN}/api-keys/{id}")).await.status, 204);
        app.send_as(good, Method::GET, &types, None).await.assert_problem(401);
        app.delete(&format!("{ADMIN}/api-keys/{id}")).await.assert_problem(404);
        assert_eq!(app.get(&format!("{ADMIN}/api-keys")).await.body["total"], 0);
    }

    async fn a_credential_of_one_api_is_refused_by_the_other(db: &TestDb) {
        let app = TestApp::spawn(db).await;
        let key = app.api_key().await;
        let bearer = Auth::Bearer(app.token.clone());
        app.send_as(bearer, Method::GET, &format!("{PUBLIC}/communication-types"), None)
            .await
            .assert_problem(401);
        app.send_as(key.clone(), Method::GET, &format!("{ADMIN}/communication-types"), None)
            .await
            .assert_problem(401);
        let Auth::Key { secret, .. } = key else { unreachable!() };
        app.send_as(Auth::Bearer(secret), Method::GET, &format!("{ADMIN}/users"), None)
            .await
            .assert_problem(401);
    }

    async fn a_generated_signing_key_survives_a_restart(db: &TestDb) {
        let first = TestApp::spawn_with(db, &[]).await;
        let stored = db.texts("SELECT value FROM settings WHERE name = 'jwt_secret'");
        assert_eq!(stored.len(), 1);
        assert!(stored[0].len() >= 43);
        let second = TestApp::spawn_with(db, &[]).await;
        assert_eq!(me(&second, &first.token).await.status, 200);
        // The configured key of the other test apps is not this one.
        me(&second, &forge(&claims(&uuid::Uuid::new_v4().to_string(), 0, 900), "at+jwt", JWT_SECRET))
            .await
            .assert_problem(401);
    }
}
