//! `/communication-types` and `/communication-sources` of the admin API.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use serde_json::{Value, json};

use crate::api::{ADMIN, TestApp};
use crate::db::{TestDb, both_backends};

fn codes(list: &Value) -> Vec<String> {
    let mut codes: Vec<_> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["code"].as_str().unwrap().to_owned())
        .collect();
    codes.sort();
    codes
}

both_backends! {
    async fn the_seeded_types_and_sources_are_listed(db: &TestDb) {
        let app = TestApp::spawn(db).await;
        let types = app.get(&format!("{ADMIN}/communication-types")).await;
        assert_eq!(types.status, 200);
        assert_eq!(types.body["total"], 6);
        assert_eq!(
            codes(&types.body),
            ["commercial_survey", "informational", "mass", "personal", "service", "survey"]
        );
        let sources = app.get(&format!("{ADMIN}/communication-sources")).await;
        assert_eq!(sources.body["total"], 4);
        assert_eq!(codes(&sources.body), ["email", "messenger", "push", "sms"]);
        let sms = sources.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["code"] == "sms")
            .unwrap();
        assert_eq!(sms["kind"], "sms");
        assert_eq!(sms["status"], "active");
        assert_eq!(sms["name"], "SMS");
    }

    async fn a_type_is_created_read_patched_and_deleted(db: &TestDb) {
        let app = TestApp::spawn(db).await;
        let created = app
            .post(&format!("{ADMIN}/communication-types"), &json!({"code": "reminder", "name": "Reminder"}))
            .await;
        assert_eq!(created.status, 201, "{created:?}");
        assert_eq!(created.body["status"], "active");
        let id = created.body["id"].as_str().unwrap();
        assert_eq!(created.location.as_deref(), Some(format!("{ADMIN}/communication-types/{id}").as_str()));
        let path = format!("{ADMIN}/communication-types/{id}");
        assert_eq!(app.get(&path).await.body, created.body);

        let blocked = app.patch(&path, &json!({"status": "blocked"})).await;
        assert_eq!(blocked.status, 200);
        assert_eq!(blocked.body["status"], "blocked");
        assert_eq!(blocked.body["code"], "reminder");

        assert_eq!(app.delete(&path).await.status, 204);
        app.get(&path).await.assert_problem(404);
    }

    async fn codes_are_slugs_and_unique(db: &TestDb) {
        let app = TestApp::spawn(db).await;
        let bad = app
            .post(&format!("{ADMIN}/communication-types"), &json!({"code": "Bad Code", "name": ""}))
            .await;
        bad.assert_problem(422);
        assert_eq!(bad.error_fields(), ["code", "name"]);
        let taken = app
            .post(&format!("{ADMIN}/communication-types"), &json!({"code": "mass", "name": "Again"}))
            .await;
        taken.assert_problem(409);
        let source_taken = app
            .post(
                &format!("{ADMIN}/communication-sources"),
                &json!({"code": "sms", "name": "SMS 2", "kind": "sms"}),
            )
            .await;
        source_taken.assert_problem(409);
        let missing = app.post(&format!("{ADMIN}/communication-types"), &json!({"name": "No code"})).await;
        missing.assert_problem(422);
        assert_eq!(missing.error_fields(), ["code"]);
    }

    async fn a_source_needs_a_known_kind(db: &TestDb) {
        let app = TestApp::spawn(db).await;
        let fax = app
            .post(&format!("{ADMIN}/communication-sources"), &json!({"code": "fax", "name": "Fax", "kind": "fax"}))
            .await;
        fax.assert_problem(422);
        assert_eq!(fax.error_fields(), ["kind"]);
        let hook = app
            .create("communication-sources", &json!({"code": "crm_hook", "name": "CRM", "kind": "webhook", "status": "blocked"}))
            .await;
        assert_eq!(hook["kind"], "webhook");
        assert_eq!(hook["status"], "blocked");
        let id = hook["id"].as_str().unwrap();
        let changed = app
            .patch(&format!("{ADMIN}/communication-sources/{id}"), &json!({"kind": "push", "name": "CRM push"}))
            .await;
        assert_eq!(changed.status, 200);
        assert_eq!(changed.body["kind"], "push");
        assert_eq!(changed.body["name"], "CRM push");
        let bad = app
            .patch(&format!("{ADMIN}/communication-sources/{id}"), &json!({"status": "gone"}))
            .await;
        bad.assert_problem(422);
        assert_eq!(bad.error_fields(), ["status"]);
    }

    async fn a_referenced_type_or_source_cannot_be_deleted(db: &TestDb) {
        let app = TestApp::spawn(db).await;
        let department = app.create("departments", &json!({"name": "Sales"})).await;
        let dept = department["id"].as_str().unwrap();
        let kind = app.create("communication-types", &json!({"code": "promo", "name": "Promo"})).await;
        let source = app
            .create("communication-sources", &json!({"code": "viber", "name": "Viber", "kind": "messenger"}))
            .await;
        let (type_id, source_id) = (kind["id"].as_str().unwrap(), source["id"].as_str().unwrap());
        let added = app
            .post(
                &format!("{ADMIN}/departments/{dept}/favorite-sources"),
                &json!({"communication_type_id": type_id, "communication_source_id": source_id, "priority": 1}),
            )
            .await;
        assert_eq!(added.status, 201, "{added:?}");
        app.delete(&format!("{ADMIN}/communication-types/{type_id}")).await.assert_problem(409);
        app.delete(&format!("{ADMIN}/communication-sources/{source_id}")).await.assert_problem(409);

        let other = app.create("communication-types", &json!({"code": "promo2", "name": "Promo 2"})).await;
        let other_id = other["id"].as_str().unwrap();
        app.post(
            &format!("{ADMIN}/departments/{dept}/rules"),
            &json!({"limit_per_unit": 1, "unit": "day", "units_count": 1, "communication_type_id": other_id}),
        )
        .await;
        app.delete(&format!("{ADMIN}/communication-types/{other_id}")).await.assert_problem(409);

        // Once nothing refers to them, they go.
        assert_eq!(app.delete(&format!("{ADMIN}/departments/{dept}")).await.status, 204);
        assert_eq!(app.delete(&format!("{ADMIN}/communication-types/{type_id}")).await.status, 204);
        assert_eq!(app.delete(&format!("{ADMIN}/communication-sources/{source_id}")).await.status, 204);
        assert_eq!(app.delete(&format!("{ADMIN}/communication-types/{other_id}")).await.status, 204);
    }
}
