//! The directory screens of the admin console in a real browser, on both
//! databases: clients and their availability, departments with their
//! favourite channels and rules, types and channels, operators and API keys.
//! Each test checks through the API that what the browser did is stored.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use fantoccini::Locator;
use fantoccini::elements::Element;
use serde_json::{Value, json};

use crate::api::{ADMIN, ADMIN_PASSWORD, Auth, PUBLIC, TestApp};
use crate::browser::{Browser, PATIENCE};
use crate::db::{TestDb, both_backends};

/// The WebDriver code of the Enter key.
const ENTER: &str = "\u{E007}";

/// The element found by `xpath`, once it is shown.
async fn find(browser: &Browser, what: &str, xpath: &str) -> Element {
    browser.wait_for(what, Locator::XPath(xpath)).await
}

/// Waits until the page's text no longer contains `text`.
async fn wait_for_no_text(browser: &Browser, text: &str) {
    let deadline = Instant::now() + PATIENCE;
    while browser.text().await.contains(text) {
        assert!(
            Instant::now() < deadline,
            "{text:?} is still shown:\n{}",
            browser.text().await
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn items(reply: &crate::api::Reply) -> Vec<Value> {
    reply.body["items"].as_array().unwrap().clone()
}

fn instant(value: &Value) -> DateTime<Utc> {
    value
        .as_str()
        .unwrap_or_else(|| panic!("not a time: {value}"))
        .parse()
        .unwrap()
}

both_backends! {
    async fn clients_are_created_searched_edited_made_unavailable_and_deleted(db: &TestDb) {
        let app = TestApp::spawn(db).await;
        for (first, last, phone, email) in [
            ("Grace", "Hopper", "+15550100001", "grace@example.com"),
            ("Alan", "Turing", "+447700900123", "alan@example.org"),
            ("Katherine", "Johnson", "+15550100003", "kj@example.com"),
            ("Edsger", "Dijkstra", "+31206543210", "ewd@example.nl"),
        ] {
            app.create(
                "users",
                &json!({"first_name": first, "last_name": last, "phone": phone, "email": email}),
            )
            .await;
        }
        let browser = Browser::start().await;
        browser.log_in(&app.base, "admin", ADMIN_PASSWORD).await;

        browser.click_link("Clients").await;
        browser.wait_for_text("Grace Hopper").await;
        browser.click_link("New client").await;
        browser.fill("First name", "Ada").await;
        browser.fill("Last name", "Lovelace").await;
        browser.fill("Phone", "+15551234567").await;
        browser.fill("E-mail", "ada-at-example").await;
        browser.click_button("Create client").await;
        // The API's 422 is shown beside the field, and nothing is stored.
        let message = browser.field_error("E-mail").await;
        assert!(message.contains("valid e-mail"), "{message}");
        let field = browser.field("E-mail").await;
        assert_eq!(field.attr("aria-invalid").await.unwrap().as_deref(), Some("true"));
        assert_eq!(app.get(&format!("{ADMIN}/users?q=lovelace")).await.body["total"], 0);

        browser.fill("E-mail", "ada@example.com").await;
        browser.fill("External id", "crm-1815").await;
        browser.click_button("Create client").await;
        browser.wait_for_text("The client Ada Lovelace is created.").await;
        assert!(browser.route().await.starts_with("/clients/"));
        let found = app.get(&format!("{ADMIN}/users?q=lovelace")).await;
        let ada = items(&found).pop().expect("the client is stored");
        assert_eq!(ada["phone"], "+15551234567");
        assert_eq!(ada["email"], "ada@example.com");
        assert_eq!(ada["external_id"], "crm-1815");
        let id = ada["id"].as_str().unwrap().to_owned();
        assert_eq!(browser.route().await, format!("/clients/{id}"));

        browser.click_link("Clients").await;
        browser.wait_for_text("5 clients").await;
        browser.screenshot("clients").await;

        // The search is in the URL, and a reload keeps it.
        browser.fill("Search clients", "LOVEL").await;
        browser.click_button("Search").await;
        browser.wait_for_text("1 client matching “LOVEL”").await;
        assert_eq!(browser.route().await, "/clients?q=LOVEL");
        let text = browser.text().await;
        assert!(text.contains("Ada Lovelace") && !text.contains("Grace Hopper"), "{text}");
        browser.client.refresh().await.unwrap();
        browser.wait_for_text("1 client matching “LOVEL”").await;
        assert_eq!(browser.value("Search clients").await, "LOVEL");
        browser.click_link("Clear search").await;
        browser.wait_for_text("Grace Hopper").await;
        assert_eq!(browser.route().await, "/clients");
        browser.client.back().await.unwrap();
        browser.wait_for_text("1 client matching “LOVEL”").await;

        // Editing sends what changed; an emptied address is cleared.
        browser.click_link("Ada Lovelace").await;
        browser.wait_for_text("Contact details").await;
        browser.fill("Last name", "King").await;
        browser.fill("Phone", "").await;
        browser.click_button("Save changes").await;
        browser.wait_for_text("Saved.").await;
        let stored = app.get(&format!("{ADMIN}/users/{id}")).await.body;
        assert_eq!(stored["last_name"], "King");
        assert_eq!(stored["phone"], Value::Null);
        assert_eq!(stored["email"], "ada@example.com");
        find(&browser, "the new heading", "//h1[normalize-space()='Ada King']").await;

        // Availability: a period whose end is before its start is refused
        // beside the field, then a block until a moment is stored.
        browser.wait_for_text("The client can be contacted.").await;
        browser.select("Status", "Blocked").await;
        let set = |label: &'static str, value: &'static str| {
            format!(
                "const label = [...document.querySelectorAll('label')]\
                   .find(l => l.textContent === '{label}');\
                 const input = document.getElementById(label.htmlFor);\
                 input.value = '{value}'; input.dispatchEvent(new Event('input', {{bubbles: true}}));\
                 return input.value;"
            )
        };
        assert_eq!(browser.run(&set("Blocked from", "2031-05-02T09:30")).await, "2031-05-02T09:30");
        assert_eq!(browser.run(&set("Blocked to", "2031-05-01T09:30")).await, "2031-05-01T09:30");
        browser.click_button("Save availability").await;
        let message = browser.field_error("Blocked to").await;
        assert!(message.contains("later than blocked_from"), "{message}");
        assert_eq!(
            app.get(&format!("{ADMIN}/users/{id}/availability")).await.body["status"],
            "active"
        );
        browser.run(&set("Blocked from", "")).await;
        browser.click_button("Save availability").await;
        browser.wait_for_text("Availability saved.").await;
        browser.wait_for_text("Blocked since always until").await;
        let availability = app.get(&format!("{ADMIN}/users/{id}/availability")).await.body;
        assert_eq!(availability["status"], "blocked");
        assert_eq!(availability["blocked_from"], Value::Null);
        let expected = browser.run("return new Date('2031-05-01T09:30').toISOString();").await;
        assert_eq!(instant(&availability["blocked_to"]), instant(&expected));
        // A reload shows what is stored.
        browser.client.refresh().await.unwrap();
        browser.wait_for_text("blocked now").await;
        assert_eq!(browser.value("Blocked to").await, "2031-05-01T09:30");
        assert_eq!(browser.value("Status").await, "blocked");
        browser.screenshot("client-detail").await;

        // Deleting asks first.
        browser.click_button("Delete client").await;
        assert!(browser.accept_confirm().await.contains("Delete the client Ada King?"));
        browser.wait_for_text("The client Ada King is deleted.").await;
        assert_eq!(browser.route().await, "/clients");
        assert_eq!(app.get(&format!("{ADMIN}/users/{id}")).await.status, 404);
    }

    async fn a_department_gets_favourite_channels_in_an_order_and_rules(db: &TestDb) {
        let app = TestApp::spawn(db).await;
        let personal = app.seeded("communication-types", "personal").await;
        let sms = app.seeded("communication-sources", "sms").await;
        let email = app.seeded("communication-sources", "email").await;
        let messenger = app.seeded("communication-sources", "messenger").await;
        let browser = Browser::start().await;
        browser.log_in(&app.base, "admin", ADMIN_PASSWORD).await;

        browser.click_link("Departments").await;
        browser.fill("Department name", "   ").await;
        browser.click_button("Create department").await;
        assert!(!browser.field_error("Department name").await.is_empty());
        browser.fill("Department name", "Billing").await;
        browser.click_button("Create department").await;
        browser.wait_for_text("The department Billing is created").await;
        let departments = items(&app.get(&format!("{ADMIN}/departments")).await);
        assert_eq!(departments.len(), 1);
        let department = departments[0]["id"].as_str().unwrap().to_owned();
        assert_eq!(browser.route().await, format!("/departments/{department}"));
        let favorites = format!("{ADMIN}/departments/{department}/favorite-sources");

        // Three channels for one type, in the order added; nothing is stored
        // until the list is saved.
        for channel in ["SMS (sms)", "Messenger (messenger)", "E-mail (email)"] {
            browser.select("Communication type", "Personal communication").await;
            browser.select("Channel", channel).await;
            browser.click_button("Add channel").await;
        }
        browser.select("Channel", "SMS (sms)").await;
        browser.click_button("Add channel").await;
        let message = browser.field_error("Channel").await;
        assert!(message.contains("already a favourite"), "{message}");
        browser.wait_for_text("You have unsaved changes").await;
        assert!(items(&app.get(&favorites).await).is_empty());
        browser.click_button("Save favourite channels").await;
        browser.wait_for_text("The favourite channels are saved.").await;
        let order = |list: Vec<Value>| {
            let mut list: Vec<(i64, String)> = list
                .iter()
                .filter(|item| item["communication_type_id"] == personal.as_str())
                .map(|item| {
                    (
                        item["priority"].as_i64().unwrap(),
                        item["communication_source_id"].as_str().unwrap().to_owned(),
                    )
                })
                .collect();
            list.sort();
            list.into_iter().map(|(_, source)| source).collect::<Vec<_>>()
        };
        assert_eq!(order(items(&app.get(&favorites).await)), [sms.clone(), messenger.clone(), email.clone()]);

        // Reordering with the keyboard: the focus stays on the moved channel.
        let up = find(
            &browser,
            "the Up button of E-mail",
            "//li[.//strong[normalize-space()='E-mail']]//button[normalize-space()='Up']",
        )
        .await;
        up.send_keys(ENTER).await.unwrap();
        let focused = browser.client.active_element().await.unwrap();
        assert_eq!(
            focused.attr("aria-label").await.unwrap().as_deref(),
            Some("Up: try E-mail earlier for Personal communication")
        );
        focused.send_keys(ENTER).await.unwrap();
        // First now: its Up button is disabled, and the focus is on Down.
        let focused = browser.client.active_element().await.unwrap();
        assert_eq!(
            focused.attr("aria-label").await.unwrap().as_deref(),
            Some("Down: try E-mail later for Personal communication")
        );
        find(
            &browser,
            "the Remove button of Messenger",
            "//li[.//strong[normalize-space()='Messenger']]//button[normalize-space()='Remove']",
        )
        .await
        .click()
        .await
        .unwrap();
        browser.click_button("Save favourite channels").await;
        browser.wait_for_text("The favourite channels are saved.").await;
        assert_eq!(order(items(&app.get(&favorites).await)), [email.clone(), sms.clone()]);
        browser.client.refresh().await.unwrap();
        browser.wait_for_text("Favourite channels").await;
        let shown = browser
            .run("return [...document.querySelectorAll('.favorite strong')].map(e => e.textContent);")
            .await;
        assert_eq!(shown, json!(["E-mail", "SMS"]));

        // Rules: the API's 422 beside its field, then a rule for one type.
        browser.fill("Limit per unit", "0").await;
        browser.click_button("Add rule").await;
        assert!(!browser.field_error("Limit per unit").await.is_empty());
        browser.fill("Limit per unit", "3").await;
        browser.fill("Units count", "2").await;
        browser.select("Unit", "Hour").await;
        browser.select("Applies to", "Personal communication").await;
        browser.click_button("Add rule").await;
        browser.wait_for_text("The rule 3 per 2 hours is added.").await;
        let rules = format!("{ADMIN}/departments/{department}/rules");
        let stored = items(&app.get(&rules).await);
        assert_eq!(stored.len(), 1);
        assert_eq!(stored[0]["limit_per_unit"], 3);
        assert_eq!(stored[0]["units_count"], 2);
        assert_eq!(stored[0]["unit"], "hour");
        assert_eq!(stored[0]["communication_type_id"], personal.as_str());

        browser.click_button("Edit").await;
        browser.wait_for_text("Edit the rule 3 per 2 hours").await;
        browser.fill("Limit per unit", "5").await;
        browser.fill("Units count", "1").await;
        browser.select("Unit", "Day").await;
        browser.select("Applies to", "All types").await;
        browser.click_button("Save rule").await;
        browser.wait_for_text("The rule is saved.").await;
        browser.wait_for_text("5 per day").await;
        let stored = items(&app.get(&rules).await);
        assert_eq!(stored[0]["limit_per_unit"], 5);
        assert_eq!(stored[0]["unit"], "day");
        assert_eq!(stored[0]["communication_type_id"], Value::Null);
        browser.fill("Limit per unit", "100").await;
        browser.select("Unit", "Minute").await;
        browser.click_button("Add rule").await;
        browser.wait_for_text("The rule 100 per minute is added.").await;

        browser.fill("Name", "Billing and payments").await;
        browser.click_button("Rename").await;
        browser.wait_for_text("Renamed.").await;
        assert_eq!(
            app.get(&format!("{ADMIN}/departments/{department}")).await.body["name"],
            "Billing and payments"
        );
        find(&browser, "the new heading", "//h1[normalize-space()='Billing and payments']").await;
        browser.run("document.getElementById('favorites-title').scrollIntoView();").await;
        browser.screenshot("department").await;

        find(
            &browser,
            "the Delete button of the rule 100 per minute",
            "//tr[.//strong[normalize-space()='100 per minute']]//button[normalize-space()='Delete']",
        )
        .await
        .click()
        .await
        .unwrap();
        assert!(browser.accept_confirm().await.contains("Delete the rule 100 per minute"));
        browser.wait_for_text("The rule 100 per minute is deleted.").await;
        assert_eq!(items(&app.get(&rules).await).len(), 1);

        browser.click_button("Delete department").await;
        assert!(browser.accept_confirm().await.contains("Delete the department Billing and payments"));
        browser.wait_for_text("The department Billing and payments is deleted.").await;
        assert_eq!(browser.route().await, "/departments");
        assert_eq!(app.get(&format!("{ADMIN}/departments/{department}")).await.status, 404);
    }

    async fn channels_are_blocked_unblocked_renamed_and_a_referenced_one_is_kept(db: &TestDb) {
        let app = TestApp::spawn(db).await;
        let personal = app.seeded("communication-types", "personal").await;
        let sms = app.seeded("communication-sources", "sms").await;
        app.department_preferring("Sales", &personal, &[&sms]).await;
        let browser = Browser::start().await;
        browser.log_in(&app.base, "admin", ADMIN_PASSWORD).await;
        browser.click_link("Types & channels").await;
        browser.wait_for_text("Communication types").await;
        let source = |id: &str| format!("{ADMIN}/communication-sources/{id}");
        let row_button = |code: &str, text: &str| {
            format!("//tr[.//code[normalize-space()='{code}']]//button[normalize-space()='{text}']")
        };

        find(&browser, "Block of sms", &row_button("sms", "Block")).await.click().await.unwrap();
        browser.wait_for_text("SMS is blocked").await;
        assert_eq!(app.get(&source(&sms)).await.body["status"], "blocked");
        // The focus stays on the row's button, which now unblocks.
        let focused = browser.client.active_element().await.unwrap();
        assert_eq!(focused.text().await.unwrap(), "Unblock");
        focused.send_keys(ENTER).await.unwrap();
        browser.wait_for_text("SMS is active again.").await;
        assert_eq!(app.get(&source(&sms)).await.body["status"], "active");

        // A channel a department prefers is kept: the 409 says to block it.
        find(&browser, "Delete of sms", &row_button("sms", "Delete")).await.click().await.unwrap();
        assert!(browser.accept_confirm().await.contains("Delete the channel SMS (sms)?"));
        browser.wait_for_text("SMS cannot be deleted: it is still referenced").await;
        browser.wait_for_text("Block it instead").await;
        assert_eq!(app.get(&source(&sms)).await.status, 200);
        browser.screenshot("dictionaries-refused").await;
        browser.click_button("Block SMS").await;
        browser.wait_for_text("SMS is blocked").await;
        assert_eq!(app.get(&source(&sms)).await.body["status"], "blocked");

        // A new channel: a bad code is refused beside the field.
        browser.fill("Channel code", "Tele Gram").await;
        browser.fill("Channel name", "Telegram").await;
        browser.select("Channel kind", "Messenger (uses the phone)").await;
        browser.click_button("Create channel").await;
        let message = browser.field_error("Channel code").await;
        assert!(message.contains("a-z, 0-9 and _"), "{message}");
        browser.fill("Channel code", "sms").await;
        browser.click_button("Create channel").await;
        let message = browser.field_error("Channel code").await;
        assert!(message.contains("already the code"), "{message}");
        browser.fill("Channel code", "telegram").await;
        browser.click_button("Create channel").await;
        browser.wait_for_text("The channel Telegram (telegram) is created.").await;
        let sources = items(&app.get(&format!("{ADMIN}/communication-sources")).await);
        let telegram = sources.iter().find(|s| s["code"] == "telegram").expect("stored");
        assert_eq!(telegram["kind"], "messenger");
        assert_eq!(telegram["status"], "active");
        let telegram = telegram["id"].as_str().unwrap().to_owned();

        find(&browser, "Rename of telegram", &row_button("telegram", "Rename")).await.click().await.unwrap();
        browser.fill("New name of telegram", "Telegram bot").await;
        browser.click_button("Save name").await;
        browser.wait_for_text("is renamed Telegram bot").await;
        assert_eq!(app.get(&source(&telegram)).await.body["name"], "Telegram bot");

        // A type too.
        browser.fill("Type code", "reminder").await;
        browser.fill("Type name", "Reminder").await;
        browser.click_button("Create type").await;
        browser.wait_for_text("The type Reminder (reminder) is created.").await;
        find(&browser, "Block of reminder", &row_button("reminder", "Block")).await.click().await.unwrap();
        browser.wait_for_text("Reminder is blocked").await;
        let types = items(&app.get(&format!("{ADMIN}/communication-types")).await);
        let reminder = types.iter().find(|t| t["code"] == "reminder").expect("stored");
        assert_eq!(reminder["status"], "blocked");
        browser
            .run("[...document.querySelectorAll('h2')].find(h => h.textContent === 'Channels').scrollIntoView();")
            .await;
        browser.screenshot("dictionaries").await;

        // One nothing refers to is deleted.
        find(&browser, "Delete of telegram", &row_button("telegram", "Delete")).await.click().await.unwrap();
        assert!(browser.accept_confirm().await.contains("Delete the channel Telegram bot"));
        browser.wait_for_text("The channel Telegram bot is deleted.").await;
        assert_eq!(app.get(&source(&telegram)).await.status, 404);
    }

    async fn operators_are_created_and_deleted_but_never_the_last(db: &TestDb) {
        let app = TestApp::spawn(db).await;
        let browser = Browser::start().await;
        browser.log_in(&app.base, "admin", ADMIN_PASSWORD).await;
        browser.click_link("Operators").await;
        browser.wait_for_text("1 operator").await;

        browser.fill("Username", "Dora").await;
        browser.fill("Password", "short").await;
        browser.click_button("Create operator").await;
        let message = browser.field_error("Password").await;
        assert!(message.contains("at least 12 characters"), "{message}");
        browser.fill("Password", "dora-has-a-long-password").await;
        browser.click_button("Create operator").await;
        browser.wait_for_text("The operator dora is created and can log in.").await;
        assert_eq!(app.login("dora", "dora-has-a-long-password").await.status, 200);
        browser.screenshot("operators").await;
        browser.fill("Username", "admin").await;
        browser.fill("Password", "another-long-password").await;
        browser.click_button("Create operator").await;
        let message = browser.field_error("Username").await;
        assert!(message.contains("already taken"), "{message}");

        let delete = |name: &str| {
            format!("//tr[.//strong[normalize-space()='{name}']]//button[normalize-space()='Delete']")
        };
        find(&browser, "Delete of dora", &delete("dora")).await.click().await.unwrap();
        assert!(browser.accept_confirm().await.contains("Delete the operator dora?"));
        browser.wait_for_text("The operator dora is deleted.").await;
        let operators = items(&app.get(&format!("{ADMIN}/admins")).await);
        assert_eq!(operators.len(), 1);
        assert_eq!(app.login("dora", "dora-has-a-long-password").await.status, 401);

        // The last one is refused, plainly; its operator stays logged in.
        find(&browser, "Delete of admin", &delete("admin")).await.click().await.unwrap();
        assert!(browser.accept_confirm().await.contains("Delete your own account admin?"));
        browser.wait_for_text("admin cannot be deleted: it is the last operator").await;
        assert_eq!(items(&app.get(&format!("{ADMIN}/admins")).await).len(), 1);
        assert_eq!(browser.route().await, "/operators");
    }

    async fn an_api_key_s_secret_is_shown_once_and_a_revoked_key_is_refused(db: &TestDb) {
        let app = TestApp::spawn(db).await;
        let browser = Browser::start().await;
        browser.log_in(&app.base, "admin", ADMIN_PASSWORD).await;
        browser.click_link("API keys").await;
        browser.wait_for_text("No API keys").await;

        browser.fill("Key name", "").await;
        browser.click_button("Create API key").await;
        assert!(!browser.field_error("Key name").await.is_empty());
        browser.fill("Key name", "billing service").await;
        browser.click_button("Create API key").await;
        browser.wait_for_text("Copy the secret now: it is shown this once.").await;
        let key = browser.value("API key (X-Api-Key)").await;
        let secret = browser.value("Secret (X-Api-Secret)").await;
        assert!(!key.is_empty() && secret.len() >= 16, "{key} {secret}");
        let field = browser.field("Secret (X-Api-Secret)").await;
        assert!(field.attr("readonly").await.unwrap().is_some());
        browser.screenshot("api-key-created").await;

        // The pair works on the public API.
        let auth = Auth::Key { key: key.clone(), secret: secret.clone() };
        let types = format!("{PUBLIC}/communication-types");
        let call = app.send_as(auth.clone(), reqwest::Method::GET, &types, None).await;
        assert_eq!(call.status, 200, "{call:?}");

        // The secret is kept nowhere: not in the URL, not in storage.
        assert_eq!(browser.route().await, "/api-keys");
        let stored = browser
            .run("return JSON.stringify({...sessionStorage}) + JSON.stringify({...localStorage});")
            .await;
        assert!(!stored.as_str().unwrap().contains(&secret));

        // A reload lists the key, without its secret.
        browser.client.refresh().await.unwrap();
        browser.wait_for_text("1 API key").await;
        let text = browser.text().await;
        assert!(text.contains("billing service") && text.contains(&key), "{text}");
        let source = browser.client.source().await.unwrap();
        assert!(!source.contains(&secret), "the secret is still in the page");
        assert!(!text.contains("Copy the secret now"));

        browser.click_button("Revoke").await;
        assert!(browser.accept_confirm().await.contains("Revoke the API key billing service?"));
        browser.wait_for_text("The API key billing service is revoked").await;
        wait_for_no_text(&browser, &key).await;
        assert!(items(&app.get(&format!("{ADMIN}/api-keys")).await).is_empty());
        let refused = app.send_as(auth, reqwest::Method::GET, &types, None).await;
        assert_eq!(refused.status, 401, "{refused:?}");
    }

    async fn lists_page_through_the_url_at_a_phone_s_width(db: &TestDb) {
        let app = TestApp::spawn(db).await;
        for n in 1..=30 {
            app.create(
                "users",
                &json!({
                    "first_name": "Client",
                    "last_name": format!("{n:02}"),
                    "phone": format!("+1555010{n:04}"),
                }),
            )
            .await;
        }
        let personal = app.seeded("communication-types", "personal").await;
        let sms = app.seeded("communication-sources", "sms").await;
        let push = app.seeded("communication-sources", "push").await;
        let department = app.department_preferring("Support", &personal, &[&push, &sms]).await;
        app.create(
            &format!("departments/{department}/rules"),
            &json!({"limit_per_unit": 2, "unit": "day", "units_count": 1}),
        )
        .await;

        let browser = Browser::start().await;
        browser.phone().await;
        browser.log_in(&app.base, "admin", ADMIN_PASSWORD).await;
        browser.wait_for("the menu button", Locator::Css(".menu-toggle")).await.click().await.unwrap();
        browser.click_link("Clients").await;
        browser.wait_for_text("1–25 of 30").await;
        let (page, window) = browser.widths().await;
        assert!(page <= window, "the client list is wider than a phone");
        browser.screenshot("phone-clients").await;

        browser.click_link("Next").await;
        browser.wait_for_text("26–30 of 30").await;
        assert_eq!(browser.route().await, "/clients?offset=25");
        browser.client.refresh().await.unwrap();
        browser.wait_for_text("26–30 of 30").await;
        browser.client.back().await.unwrap();
        browser.wait_for_text("1–25 of 30").await;

        // The search and the page travel together.
        browser.fill("Search clients", "client").await;
        browser.click_button("Search").await;
        browser.wait_for_text("30 clients matching “client”").await;
        browser.click_link("Next").await;
        browser.wait_for_text("26–30 of 30").await;
        assert_eq!(browser.route().await, "/clients?q=client&offset=25");

        browser.goto(&format!("{}/admin/#/departments/{department}", app.base)).await;
        browser.wait_for_text("2 per day").await;
        browser.run("window.scrollTo(0, 0);").await;
        let (page, window) = browser.widths().await;
        assert!(page <= window, "the department is wider than a phone");
        browser.screenshot("phone-department").await;
        browser.goto(&format!("{}/admin/#/dictionaries", app.base)).await;
        browser.wait_for_text("Channels").await;
        browser.run("window.scrollTo(0, 0);").await;
        let (page, window) = browser.widths().await;
        assert!(page <= window, "the dictionaries are wider than a phone");
        browser.screenshot("phone-dictionaries").await;
    }
}
