//! `/departments`, their favourite sources and rules, of the admin API.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use serde_json::{Value, json};

use crate::api::{ADMIN, TestApp};
use crate::db::{TestDb, both_backends};

fn favorite(type_id: &str, source_id: &str, priority: i64) -> Value {
    json!({"communication_type_id": type_id, "communication_source_id": source_id, "priority": priority})
}

both_backends! {
    async fn departments_have_the_crud_of_the_conventions(db: &TestDb) {
        let app = TestApp::spawn(db).await;
        let created = app.post(&format!("{ADMIN}/departments"), &json!({"name": "Sales"})).await;
        assert_eq!(created.status, 201);
        let id = created.body["id"].as_str().unwrap();
        assert_eq!(created.location.as_deref(), Some(format!("{ADMIN}/departments/{id}").as_str()));
        let path = format!("{ADMIN}/departments/{id}");
        let renamed = app.patch(&path, &json!({"name": "Retail sales"})).await;
        assert_eq!(renamed.body["name"], "Retail sales");
        assert_eq!(app.get(&path).await.body, renamed.body);
        app.patch(&path, &json!({"name": " "})).await.assert_problem(422);
        let list = app.get(&format!("{ADMIN}/departments")).await;
        assert_eq!(list.body["total"], 1);
        assert_eq!(app.delete(&path).await.status, 204);
        app.get(&path).await.assert_problem(404);
        app.post(&format!("{ADMIN}/departments"), &json!({})).await.assert_problem(422);
    }

    async fn favorite_sources_are_replaced_added_and_removed(db: &TestDb) {
        let app = TestApp::spawn(db).await;
        let dept = app.create("departments", &json!({"name": "Sales"})).await;
        let base = format!("{ADMIN}/departments/{}/favorite-sources", dept["id"].as_str().unwrap());
        let mass = app.seeded("communication-types", "mass").await;
        let sms = app.seeded("communication-sources", "sms").await;
        let email = app.seeded("communication-sources", "email").await;
        let push = app.seeded("communication-sources", "push").await;

        assert_eq!(app.get(&base).await.body, json!({"items": []}));
        let replaced = app
            .put(&base, &json!({"items": [favorite(&mass, &email, 2), favorite(&mass, &sms, 1)]}))
            .await;
        assert_eq!(replaced.status, 200, "{replaced:?}");
        assert_eq!(
            replaced.body,
            json!({"items": [favorite(&mass, &sms, 1), favorite(&mass, &email, 2)]})
        );
        assert_eq!(app.get(&base).await.body, replaced.body);

        let added = app.post(&base, &favorite(&mass, &push, 3)).await;
        assert_eq!(added.status, 201);
        assert_eq!(added.body, favorite(&mass, &push, 3));
        app.post(&base, &favorite(&mass, &push, 4)).await.assert_problem(409);
        assert_eq!(app.get(&base).await.body["items"].as_array().unwrap().len(), 3);

        assert_eq!(app.delete(&format!("{base}/{mass}/{sms}")).await.status, 204);
        app.delete(&format!("{base}/{mass}/{sms}")).await.assert_problem(404);
        let left = app.get(&base).await;
        assert_eq!(left.body, json!({"items": [favorite(&mass, &email, 2), favorite(&mass, &push, 3)]}));

        let emptied = app.put(&base, &json!({"items": []})).await;
        assert_eq!(emptied.body, json!({"items": []}));
    }

    async fn favorite_sources_name_bad_items_by_index(db: &TestDb) {
        let app = TestApp::spawn(db).await;
        let dept = app.create("departments", &json!({"name": "Sales"})).await;
        let base = format!("{ADMIN}/departments/{}/favorite-sources", dept["id"].as_str().unwrap());
        let mass = app.seeded("communication-types", "mass").await;
        let sms = app.seeded("communication-sources", "sms").await;
        let unknown = uuid::Uuid::new_v4().to_string();
        let reply = app
            .put(
                &base,
                &json!({"items": [favorite(&mass, &sms, 1), favorite(&unknown, &sms, -1), favorite(&mass, &sms, 2)]}),
            )
            .await;
        reply.assert_problem(422);
        assert_eq!(
            reply.error_fields(),
            ["items.1.communication_type_id", "items.1.priority", "items.2.communication_source_id"]
        );
        let wrong_type = app
            .put(&base, &json!({"items": [{"communication_type_id": mass, "communication_source_id": sms, "priority": "high"}]}))
            .await;
        wrong_type.assert_problem(422);
        assert_eq!(wrong_type.error_fields(), ["items.0.priority"]);
        // Nothing was stored by the refused requests.
        assert_eq!(app.get(&base).await.body, json!({"items": []}));
        let missing = format!("{ADMIN}/departments/{unknown}/favorite-sources");
        app.get(&missing).await.assert_problem(404);
        app.put(&missing, &json!({"items": []})).await.assert_problem(404);
    }

    async fn rules_have_the_crud_of_the_conventions(db: &TestDb) {
        let app = TestApp::spawn(db).await;
        let dept = app.create("departments", &json!({"name": "Sales"})).await;
        let dept_id = dept["id"].as_str().unwrap();
        let base = format!("{ADMIN}/departments/{dept_id}/rules");
        let mass = app.seeded("communication-types", "mass").await;

        let created = app
            .post(&base, &json!({"limit_per_unit": 3, "unit": "hour", "units_count": 2, "communication_type_id": mass}))
            .await;
        assert_eq!(created.status, 201, "{created:?}");
        let id = created.body["id"].as_str().unwrap();
        assert_eq!(created.location.as_deref(), Some(format!("{base}/{id}").as_str()));
        assert_eq!(created.body["department_id"], dept_id);
        assert_eq!(created.body["communication_type_id"], mass.as_str());
        let path = format!("{base}/{id}");
        assert_eq!(app.get(&path).await.body, created.body);

        let all_types = app.patch(&path, &json!({"communication_type_id": null, "unit": "day"})).await;
        assert_eq!(all_types.status, 200);
        assert_eq!(all_types.body["communication_type_id"], Value::Null);
        assert_eq!(all_types.body["unit"], "day");
        assert_eq!(all_types.body["limit_per_unit"], 3);

        app.post(&base, &json!({"limit_per_unit": 1, "unit": "minute", "units_count": 5})).await;
        let list = app.get(&base).await;
        assert_eq!(list.body["total"], 2);
        assert_eq!(list.body["items"][0]["unit"], "minute");

        assert_eq!(app.delete(&path).await.status, 204);
        app.get(&path).await.assert_problem(404);
        let other = app.create("departments", &json!({"name": "Support"})).await;
        let foreign = format!("{ADMIN}/departments/{}/rules/{id}", other["id"].as_str().unwrap());
        app.get(&foreign).await.assert_problem(404);
    }

    async fn rules_refuse_out_of_range_values(db: &TestDb) {
        let app = TestApp::spawn(db).await;
        let dept = app.create("departments", &json!({"name": "Sales"})).await;
        let base = format!("{ADMIN}/departments/{}/rules", dept["id"].as_str().unwrap());
        let bad = app
            .post(&base, &json!({"limit_per_unit": 0, "unit": "week", "units_count": 0}))
            .await;
        bad.assert_problem(422);
        let mut fields = bad.error_fields();
        fields.sort();
        assert_eq!(fields, ["limit_per_unit", "unit", "units_count"]);
        let unknown_type = app
            .post(&base, &json!({"limit_per_unit": 1, "unit": "day", "units_count": 1, "communication_type_id": uuid::Uuid::new_v4()}))
            .await;
        unknown_type.assert_problem(422);
        assert_eq!(unknown_type.error_fields(), ["communication_type_id"]);
        let too_long = app.post(&base, &json!({"limit_per_unit": 1, "unit": "day", "units_count": 400})).await;
        too_long.assert_problem(422);
        assert_eq!(too_long.error_fields(), ["units_count"]);
        assert_eq!(app.get(&base).await.body["total"], 0);
        app.post(
            &format!("{ADMIN}/departments/{}/rules", uuid::Uuid::new_v4()),
            &json!({"limit_per_unit": 1, "unit": "day", "units_count": 1}),
        )
        .await
        .assert_problem(404);
    }

    async fn deleting_a_department_takes_its_policies(db: &TestDb) {
        let app = TestApp::spawn(db).await;
        let dept = app.create("departments", &json!({"name": "Sales"})).await;
        let dept_id = dept["id"].as_str().unwrap();
        let mass = app.seeded("communication-types", "mass").await;
        let sms = app.seeded("communication-sources", "sms").await;
        app.post(&format!("{ADMIN}/departments/{dept_id}/favorite-sources"), &favorite(&mass, &sms, 1)).await;
        let rule = app
            .post(&format!("{ADMIN}/departments/{dept_id}/rules"), &json!({"limit_per_unit": 1, "unit": "day", "units_count": 1}))
            .await;
        assert_eq!(app.delete(&format!("{ADMIN}/departments/{dept_id}")).await.status, 204);
        let rule_id = rule.body["id"].as_str().unwrap();
        app.get(&format!("{ADMIN}/departments/{dept_id}/rules/{rule_id}")).await.assert_problem(404);
        // The dictionary entries are free again.
        assert_eq!(app.delete(&format!("{ADMIN}/communication-sources/{sms}")).await.status, 204);
    }
}
