//! The public API, under `/api/public/v1`, with an API key.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use reqwest::Method;
use serde_json::{Value, json};

use crate::api::{ADMIN, Auth, PUBLIC, Reply, TestApp};
use crate::db::{TestDb, both_backends};

struct Client<'a> {
    app: &'a TestApp,
    key: Auth,
}

impl Client<'_> {
    async fn send(&self, method: Method, path: &str, body: Option<&Value>) -> Reply {
        self.app
            .send_as(self.key.clone(), method, &format!("{PUBLIC}{path}"), body)
            .await
    }
}

both_backends! {
    async fn every_public_route_needs_a_valid_key(db: &TestDb) {
        let app = TestApp::spawn(db).await;
        let Auth::Key { key, .. } = app.api_key().await else { unreachable!() };
        let id = uuid::Uuid::new_v4();
        let routes = [
            (Method::POST, "/users".to_owned()),
            (Method::GET, format!("/users/{id}")),
            (Method::PATCH, format!("/users/{id}")),
            (Method::PUT, "/users/by-external-id/crm-1".to_owned()),
            (Method::GET, format!("/users/{id}/availability")),
            (Method::PUT, format!("/users/{id}/availability")),
            (Method::GET, "/communication-types".to_owned()),
            (Method::GET, "/communication-sources".to_owned()),
            (Method::GET, "/departments".to_owned()),
            (Method::GET, "/nothing-here".to_owned()),
        ];
        for (method, path) in routes {
            let path = format!("{PUBLIC}{path}");
            let no_secret = Auth::Key { key: key.clone(), secret: String::new() };
            for auth in [Auth::Anonymous, no_secret] {
                let reply = app.send_as(auth, method.clone(), &path, Some(&json!({}))).await;
                reply.assert_problem(401);
                assert!(reply.www_authenticate.is_some(), "{method} {path}");
            }
        }
    }

    async fn clients_are_created_read_and_patched(db: &TestDb) {
        let app = TestApp::spawn(db).await;
        let client = Client { app: &app, key: app.api_key().await };
        let created = client
            .send(Method::POST, "/users", Some(&json!({"first_name": "Ann", "email": "ann@example.com"})))
            .await;
        assert_eq!(created.status, 201, "{created:?}");
        let id = created.body["id"].as_str().unwrap();
        assert_eq!(created.location.as_deref(), Some(format!("{PUBLIC}/users/{id}").as_str()));
        assert_eq!(client.send(Method::GET, &format!("/users/{id}"), None).await.body, created.body);
        let patched = client
            .send(Method::PATCH, &format!("/users/{id}"), Some(&json!({"email": null, "phone": "+15551234567"})))
            .await;
        assert_eq!(patched.status, 200);
        assert_eq!(patched.body["email"], Value::Null);
        // The admin API sees the same client.
        assert_eq!(app.get(&format!("{ADMIN}/users/{id}")).await.body, patched.body);
        let invalid = client.send(Method::POST, "/users", Some(&json!({"phone": "123"}))).await;
        invalid.assert_problem(422);
        assert_eq!(invalid.error_fields(), ["phone"]);
    }

    async fn upsert_by_external_id_creates_then_replaces(db: &TestDb) {
        let app = TestApp::spawn(db).await;
        let client = Client { app: &app, key: app.api_key().await };
        let path = "/users/by-external-id/crm-42";
        let created = client
            .send(Method::PUT, path, Some(&json!({"first_name": "Ann", "phone": "+15551234567"})))
            .await;
        assert_eq!(created.status, 201, "{created:?}");
        assert_eq!(created.body["external_id"], "crm-42");
        let id = created.body["id"].as_str().unwrap();
        assert_eq!(created.location.as_deref(), Some(format!("{PUBLIC}/users/{id}").as_str()));

        let replaced = client
            .send(Method::PUT, path, Some(&json!({"first_name": "Anna", "email": "anna@example.com"})))
            .await;
        assert_eq!(replaced.status, 200, "{replaced:?}");
        assert_eq!(replaced.body["id"], id);
        assert_eq!(replaced.body["first_name"], "Anna");
        assert_eq!(replaced.body["phone"], Value::Null, "a left-out field is cleared");
        assert_eq!(replaced.body["email"], "anna@example.com");
        assert_eq!(replaced.body["created_at"], created.body["created_at"]);

        let mismatch = client
            .send(Method::PUT, path, Some(&json!({"external_id": "crm-43"})))
            .await;
        mismatch.assert_problem(422);
        assert_eq!(mismatch.error_fields(), ["external_id"]);
        let same = client.send(Method::PUT, path, Some(&json!({"external_id": "crm-42"}))).await;
        assert_eq!(same.status, 200);
        assert_eq!(app.get(&format!("{ADMIN}/users")).await.body["total"], 1);
    }

    async fn availability_and_the_read_only_lists_are_served(db: &TestDb) {
        let app = TestApp::spawn(db).await;
        app.create("departments", &json!({"name": "Sales"})).await;
        let client = Client { app: &app, key: app.api_key().await };
        let user = client.send(Method::POST, "/users", Some(&json!({}))).await;
        let id = user.body["id"].as_str().unwrap();
        let path = format!("/users/{id}/availability");
        assert_eq!(client.send(Method::GET, &path, None).await.body["status"], "active");
        let put = client.send(Method::PUT, &path, Some(&json!({"status": "blocked"}))).await;
        assert_eq!(put.status, 200);
        assert_eq!(client.send(Method::GET, &path, None).await.body["status"], "blocked");

        assert_eq!(client.send(Method::GET, "/communication-types", None).await.body["total"], 6);
        assert_eq!(client.send(Method::GET, "/communication-sources", None).await.body["total"], 4);
        assert_eq!(client.send(Method::GET, "/departments", None).await.body["total"], 1);

        // Only what the public API lists is there.
        for (method, path, status, allow) in [
            (Method::GET, "/users".to_owned(), 405, Some("POST")),
            (Method::DELETE, format!("/users/{id}"), 405, Some("GET, PATCH")),
            (Method::POST, "/departments".to_owned(), 405, Some("GET")),
            (Method::POST, "/communication-types".to_owned(), 405, Some("GET")),
            (Method::GET, "/admins".to_owned(), 404, None),
            (Method::GET, format!("/departments/{id}"), 404, None),
        ] {
            let reply = client.send(method, &path, Some(&json!({}))).await;
            reply.assert_problem(status);
            assert_eq!(reply.allow.as_deref(), allow, "{path}");
        }
    }
}
