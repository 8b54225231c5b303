//! `/users` and `/users/{id}/availability` of the admin API.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use serde_json::json;

use crate::api::{ADMIN, TestApp};
use crate::db::{TestDb, both_backends};

both_backends! {
    async fn create_answers_201_with_location_and_get_reads_it_back(db: &TestDb) {
        let app = TestApp::spawn(db).await;
        let reply = app
            .post(
                &format!("{ADMIN}/users"),
                &json!({
                    "first_name": "Ann",
                    "last_name": "Lee",
                    "phone": "+15551234567",
                    "email": "ann@example.com",
                    "push_token": "tok-1",
                    "external_id": "crm-1"
                }),
            )
            .await;
        assert_eq!(reply.status, 201, "{reply:?}");
        let id = reply.body["id"].as_str().unwrap().to_owned();
        assert_eq!(
            reply.location.as_deref(),
            Some(format!("{ADMIN}/users/{id}").as_str())
        );
        let fetched = app.get(&format!("{ADMIN}/users/{id}")).await;
        assert_eq!(fetched.status, 200);
        assert_eq!(fetched.body, reply.body);
        assert_eq!(fetched.body["phone"], "+15551234567");
        assert_eq!(fetched.body["external_id"], "crm-1");
        assert_eq!(fetched.body["created_at"], fetched.body["updated_at"]);
    }

    async fn invalid_fields_are_422_naming_each(db: &TestDb) {
        let app = TestApp::spawn(db).await;
        let reply = app
            .post(
                &format!("{ADMIN}/users"),
                &json!({"first_name": "x".repeat(201), "phone": "12345", "email": ""}),
            )
            .await;
        reply.assert_problem(422);
        assert_eq!(reply.error_fields(), ["first_name", "phone", "email"]);

        let wrong_type = app.post(&format!("{ADMIN}/users"), &json!({"phone": 15551234567_u64})).await;
        wrong_type.assert_problem(422);
        assert_eq!(wrong_type.error_fields(), ["phone"]);

        let unknown = app.post(&format!("{ADMIN}/users"), &json!({"nickname": "a"})).await;
        unknown.assert_problem(422);
        assert_eq!(unknown.error_fields(), ["nickname"]);
    }

    async fn external_id_is_unique(db: &TestDb) {
        let app = TestApp::spawn(db).await;
        app.create("users", &json!({"external_id": "crm-7"})).await;
        let clash = app.post(&format!("{ADMIN}/users"), &json!({"external_id": "crm-7"})).await;
        clash.assert_problem(409);
        let other = app.create("users", &json!({"external_id": "crm-8"})).await;
        let id = other["id"].as_str().unwrap();
        let patch_clash = app
            .patch(&format!("{ADMIN}/users/{id}"), &json!({"external_id": "crm-7"}))
            .await;
        patch_clash.assert_problem(409);
    }

    async fn patch_keeps_absent_fields_and_null_clears(db: &TestDb) {
        let app = TestApp::spawn(db).await;
        let user = app
            .create(
                "users",
                &json!({"first_name": "Ann", "phone": "+15551234567", "email": "ann@example.com"}),
            )
            .await;
        let id = user["id"].as_str().unwrap();
        let reply = app
            .patch(&format!("{ADMIN}/users/{id}"), &json!({"phone": null, "last_name": "Park"}))
            .await;
        assert_eq!(reply.status, 200, "{reply:?}");
        assert_eq!(reply.body["first_name"], "Ann");
        assert_eq!(reply.body["last_name"], "Park");
        assert_eq!(reply.body["phone"], serde_json::Value::Null);
        assert_eq!(reply.body["email"], "ann@example.com");
        assert_eq!(app.get(&format!("{ADMIN}/users/{id}")).await.body, reply.body);

        let positional = app.patch(&format!("{ADMIN}/users/{id}"), &json!([null, null])).await;
        positional.assert_problem(422);
        assert_eq!(positional.error_fields(), ["body"]);

        let empty_email = app.patch(&format!("{ADMIN}/users/{id}"), &json!({"email": ""})).await;
        empty_email.assert_problem(422);
        assert_eq!(empty_email.error_fields(), ["email"]);
    }

    async fn list_pages_newest_first_and_filters_with_q(db: &TestDb) {
        let app = TestApp::spawn(db).await;
        for (name, email) in [("Ann", "ann@example.com"), ("Bob", "bob@example.com"), ("Anna", "x@example.org")] {
            app.create("users", &json!({"first_name": name, "email": email})).await;
        }
        let page = app.get(&format!("{ADMIN}/users?limit=2")).await;
        assert_eq!(page.status, 200);
        assert_eq!(page.body["total"], 3);
        assert_eq!(page.body["limit"], 2);
        assert_eq!(page.body["offset"], 0);
        let names: Vec<_> = page.body["items"].as_array().unwrap().iter().map(|u| u["first_name"].clone()).collect();
        assert_eq!(names, [json!("Anna"), json!("Bob")]);
        let rest = app.get(&format!("{ADMIN}/users?limit=2&offset=2")).await;
        assert_eq!(rest.body["items"][0]["first_name"], "Ann");

        let found = app.get(&format!("{ADMIN}/users?q=ANN")).await;
        assert_eq!(found.body["total"], 2);
        let by_email = app.get(&format!("{ADMIN}/users?q=bob%40example")).await;
        assert_eq!(by_email.body["total"], 1);
        let literal = app.get(&format!("{ADMIN}/users?q=%25")).await;
        assert_eq!(literal.body["total"], 0);
    }

    async fn list_bounds_are_checked(db: &TestDb) {
        let app = TestApp::spawn(db).await;
        let capped = app.get(&format!("{ADMIN}/users?limit=100000")).await;
        assert_eq!(capped.body["limit"], 500);
        let zero = app.get(&format!("{ADMIN}/users?limit=0")).await;
        zero.assert_problem(422);
        assert_eq!(zero.error_fields(), ["limit"]);
        let negative = app.get(&format!("{ADMIN}/users?offset=-1")).await;
        negative.assert_problem(422);
        assert_eq!(negative.error_fields(), ["offset"]);
        let not_a_number = app.get(&format!("{ADMIN}/users?limit=ten")).await;
        not_a_number.assert_problem(422);
        assert_eq!(not_a_number.error_fields(), ["limit"]);
    }

    async fn delete_answers_204_then_404(db: &TestDb) {
        let app = TestApp::spawn(db).await;
        let user = app.create("users", &json!({})).await;
        let id = user["id"].as_str().unwrap();
        app.put(&format!("{ADMIN}/users/{id}/availability"), &json!({"status": "blocked"})).await;
        assert_eq!(app.delete(&format!("{ADMIN}/users/{id}")).await.status, 204);
        app.get(&format!("{ADMIN}/users/{id}")).await.assert_problem(404);
        app.delete(&format!("{ADMIN}/users/{id}")).await.assert_problem(404);
        app.get(&format!("{ADMIN}/users/{id}/availability")).await.assert_problem(404);
    }

    async fn availability_defaults_to_active_and_is_replaced_by_put(db: &TestDb) {
        let app = TestApp::spawn(db).await;
        let user = app.create("users", &json!({})).await;
        let id = user["id"].as_str().unwrap();
        let path = format!("{ADMIN}/users/{id}/availability");
        let initial = app.get(&path).await;
        assert_eq!(initial.status, 200);
        assert_eq!(
            initial.body,
            json!({"user_id": id, "status": "active", "blocked_from": null, "blocked_to": null})
        );
        let put = app
            .put(
                &path,
                &json!({"status": "blocked", "blocked_from": "2026-01-01T00:00:00Z", "blocked_to": "2026-01-02T12:30:00.5Z"}),
            )
            .await;
        assert_eq!(put.status, 200, "{put:?}");
        assert_eq!(put.body["status"], "blocked");
        assert_eq!(app.get(&path).await.body, put.body);
        let replaced = app.put(&path, &json!({"status": "active"})).await;
        assert_eq!(replaced.body["blocked_from"], serde_json::Value::Null);
        assert_eq!(app.get(&path).await.body["status"], "active");
    }

    async fn availability_refuses_bad_input(db: &TestDb) {
        let app = TestApp::spawn(db).await;
        let user = app.create("users", &json!({})).await;
        let id = user["id"].as_str().unwrap();
        let path = format!("{ADMIN}/users/{id}/availability");
        let status = app.put(&path, &json!({"status": "paused"})).await;
        status.assert_problem(422);
        assert_eq!(status.error_fields(), ["status"]);
        let reversed = app
            .put(
                &path,
                &json!({"status": "blocked", "blocked_from": "2026-01-02T00:00:00Z", "blocked_to": "2026-01-01T00:00:00Z"}),
            )
            .await;
        reversed.assert_problem(422);
        assert_eq!(reversed.error_fields(), ["blocked_to"]);
        let bad_date = app.put(&path, &json!({"status": "blocked", "blocked_to": "tomorrow"})).await;
        bad_date.assert_problem(422);
        assert_eq!(bad_date.error_fields(), ["blocked_to"]);
        let missing = app.put(&path, &json!({})).await;
        missing.assert_problem(422);
        assert_eq!(missing.error_fields(), ["status"]);
        let unknown_user = app
            .put(&format!("{ADMIN}/users/{}/availability", uuid::Uuid::new_v4()), &json!({"status": "active"}))
            .await;
        unknown_user.assert_problem(404);
    }
}
