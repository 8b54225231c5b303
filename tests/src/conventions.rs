//! The conventions every route shares: problem answers, limits, health, OpenAPI.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use reqwest::Method;
use serde_json::json;

use crate::api::{ADMIN, TestApp};
use crate::db::{Backend, TestDb, both_backends};

both_backends! {
    async fn malformed_json_is_400(db: &TestDb) {
        let app = TestApp::spawn(db).await;
        for body in [&b"{\"name\": "[..], b"{name: 1}", b"", b"{\"name\": \"a\"} trailing"] {
            let reply = app
                .raw(Method::POST, &format!("{ADMIN}/departments"), Some("application/json"), body.to_vec())
                .await;
            reply.assert_problem(400);
        }
    }

    async fn a_body_that_is_not_json_is_415(db: &TestDb) {
        let app = TestApp::spawn(db).await;
        let form = app
            .raw(Method::POST, &format!("{ADMIN}/departments"), Some("application/x-www-form-urlencoded"), b"name=Sales".to_vec())
            .await;
        form.assert_problem(415);
        let none = app
            .raw(Method::POST, &format!("{ADMIN}/departments"), None, br#"{"name":"Sales"}"#.to_vec())
            .await;
        none.assert_problem(415);
        let charset = app
            .raw(Method::POST, &format!("{ADMIN}/departments"), Some("application/json; charset=utf-8"), br#"{"name":"Sales"}"#.to_vec())
            .await;
        assert_eq!(charset.status, 201);
    }

    async fn a_body_over_one_mebibyte_is_413(db: &TestDb) {
        let app = TestApp::spawn(db).await;
        let name = "x".repeat(1024 * 1024 + 1);
        let body = serde_json::to_vec(&json!({ "name": name })).unwrap();
        let reply = app
            .raw(Method::POST, &format!("{ADMIN}/departments"), Some("application/json"), body)
            .await;
        reply.assert_problem(413);
    }

    async fn unknown_routes_and_ids_are_404_problems(db: &TestDb) {
        let app = TestApp::spawn(db).await;
        app.get("/api/admin/v1/nothing-here").await.assert_problem(404);
        app.get("/nowhere").await.assert_problem(404);
        app.get(&format!("{ADMIN}/users/not-a-uuid")).await.assert_problem(404);
        app.get(&format!("{ADMIN}/users/{}", uuid::Uuid::new_v4())).await.assert_problem(404);
        app.patch(&format!("{ADMIN}/departments/123"), &json!({"name": "x"})).await.assert_problem(404);
        app.delete(&format!("{ADMIN}/departments/{}/favorite-sources/x/y", uuid::Uuid::new_v4()))
            .await
            .assert_problem(404);
    }

    async fn a_method_the_route_lacks_is_405_with_allow(db: &TestDb) {
        let app = TestApp::spawn(db).await;
        let reply = app.send(Method::PUT, &format!("{ADMIN}/departments"), Some(&json!({}))).await;
        reply.assert_problem(405);
        assert_eq!(reply.allow.as_deref(), Some("GET, POST"));
        let id = uuid::Uuid::new_v4();
        let post = app.send(Method::POST, &format!("{ADMIN}/users/{id}"), Some(&json!({}))).await;
        post.assert_problem(405);
        assert_eq!(post.allow.as_deref(), Some("DELETE, GET, PATCH"));
        let trace = app.send(Method::TRACE, "/health/ready", None).await;
        trace.assert_problem(405);
        assert_eq!(trace.allow.as_deref(), Some("GET"));
        app.send(Method::PUT, &format!("{ADMIN}/no-such/{id}"), Some(&json!({})))
            .await
            .assert_problem(404);
    }

    async fn health_answers_live_and_ready(db: &TestDb) {
        let app = TestApp::spawn(db).await;
        let live = app.get("/health/live").await;
        assert_eq!(live.status, 200);
        assert_eq!(live.body["status"], "ok");
        let ready = app.get("/health/ready").await;
        assert_eq!(ready.status, 200);
    }

    async fn the_openapi_document_lists_every_route(db: &TestDb) {
        let app = TestApp::spawn(db).await;
        let doc = app.get("/api/openapi.json").await;
        assert_eq!(doc.status, 200);
        assert!(doc.body["openapi"].as_str().unwrap().starts_with("3."));
        let paths = doc.body["paths"].as_object().unwrap();
        let expected = [
            ("/api/admin/v1/users", vec!["get", "post"]),
            ("/api/admin/v1/users/{id}", vec!["get", "patch", "delete"]),
            ("/api/admin/v1/users/{id}/availability", vec!["get", "put"]),
            ("/api/admin/v1/communication-types", vec!["get", "post"]),
            ("/api/admin/v1/communication-types/{id}", vec!["get", "patch", "delete"]),
            ("/api/admin/v1/communication-sources", vec!["get", "post"]),
            ("/api/admin/v1/communication-sources/{id}", vec!["get", "patch", "delete"]),
            ("/api/admin/v1/departments", vec!["get", "post"]),
            ("/api/admin/v1/departments/{id}", vec!["get", "patch", "delete"]),
            ("/api/admin/v1/departments/{id}/favorite-sources", vec!["get", "put", "post"]),
            ("/api/admin/v1/departments/{id}/favorite-sources/{type_id}/{source_id}", vec!["delete"]),
            ("/api/admin/v1/departments/{id}/rules", vec!["get", "post"]),
            ("/api/admin/v1/departments/{id}/rules/{rule_id}", vec!["get", "patch", "delete"]),
            ("/api/admin/v1/auth/login", vec!["post"]),
            ("/api/admin/v1/auth/refresh", vec!["post"]),
            ("/api/admin/v1/auth/logout", vec!["post"]),
            ("/api/admin/v1/auth/me", vec!["get"]),
            ("/api/admin/v1/auth/password", vec!["post"]),
            ("/api/admin/v1/admins", vec!["get", "post"]),
            ("/api/admin/v1/admins/{id}", vec!["delete"]),
            ("/api/admin/v1/api-keys", vec!["get", "post"]),
            ("/api/admin/v1/api-keys/{id}", vec!["delete"]),
            ("/api/public/v1/users", vec!["post"]),
            ("/api/public/v1/users/{id}", vec!["get", "patch"]),
            ("/api/public/v1/users/by-external-id/{external_id}", vec!["put"]),
            ("/api/public/v1/users/{id}/availability", vec!["get", "put"]),
            ("/api/public/v1/communication-types", vec!["get"]),
            ("/api/public/v1/communication-sources", vec!["get"]),
            ("/api/public/v1/departments", vec!["get"]),
            ("/health/live", vec!["get"]),
            ("/health/ready", vec!["get"]),
        ];
        for (path, methods) in expected {
            let item = paths.get(path).unwrap_or_else(|| panic!("{path} is not documented"));
            for method in methods {
                assert!(item.get(method).is_some(), "{method} {path} is not documented");
            }
        }
        let schemas = doc.body["components"]["schemas"].as_object().unwrap();
        for schema in ["UserBody", "CreateUser", "PatchUser", "Problem", "FavoriteList", "CreateRule"] {
            assert!(schemas.contains_key(schema), "schema {schema} is missing");
        }
        let create_user = &paths["/api/admin/v1/users"]["post"];
        assert!(create_user["requestBody"]["content"]["application/json"].is_object());
        assert!(create_user["responses"]["201"].is_object());

        // The problem answers every route of a kind can give.
        for status in ["400", "401", "413", "415", "422"] {
            assert!(create_user["responses"][status].is_object(), "POST /users {status}");
        }
        assert!(paths["/api/admin/v1/users/{id}"]["get"]["responses"]["404"].is_object());
        assert!(paths["/api/admin/v1/users"]["get"]["responses"]["422"].is_object());
        assert!(paths["/api/admin/v1/auth/login"]["post"]["responses"]["401"].is_object());
        assert!(paths["/health/live"]["get"]["responses"]["401"].is_null());

        // Both security schemes, and which routes use which.
        let schemes = &doc.body["components"]["securitySchemes"];
        assert_eq!(schemes["bearer"]["scheme"], "bearer");
        assert_eq!(schemes["api_key"]["name"], "X-Api-Key");
        assert_eq!(schemes["api_secret"]["name"], "X-Api-Secret");
        let security = |path: &str, method: &str| paths[path][method]["security"].clone();
        assert_eq!(security("/api/admin/v1/users", "get"), json!([{"bearer": []}]));
        assert_eq!(security("/api/admin/v1/auth/me", "get"), json!([{"bearer": []}]));
        assert_eq!(
            security("/api/public/v1/users", "post"),
            json!([{"api_key": [], "api_secret": []}])
        );
        for open in ["/api/admin/v1/auth/login", "/api/admin/v1/auth/refresh", "/api/admin/v1/auth/logout"] {
            assert!(security(open, "post").is_null(), "{open} must be open");
        }
        assert!(security("/health/ready", "get").is_null());
    }
}

/// With the database gone, readiness answers `503` while liveness stays `200`.
#[test]
fn ready_is_503_when_the_database_is_unreachable() {
    let db = TestDb::new(Backend::Postgres);
    crate::db::runtime().block_on(async {
        let app = TestApp::spawn(&db).await;
        assert_eq!(app.get("/health/ready").await.status, 200);
        let name = db.url().rsplit('/').next().unwrap().to_owned();
        crate::db::drop_postgres_database(&name);
        let ready = app.get("/health/ready").await;
        ready.assert_problem(503);
        assert_eq!(app.get("/health/live").await.status, 200);
    });
}
