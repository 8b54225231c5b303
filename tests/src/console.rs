//! The admin console in a real browser (headless Chromium), on both
//! databases: the page, its security headers, and logging in and out.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use fantoccini::Locator;
use serde_json::Value;

use crate::api::{ADMIN, ADMIN_PASSWORD, TestApp};
use crate::browser::Browser;
use crate::db::{TestDb, both_backends};

both_backends! {
    async fn the_console_is_served_with_a_strict_policy(db: &TestDb) {
        let app = TestApp::spawn(db).await;
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let bare = client.get(format!("{}/admin", app.base)).send().await.unwrap();
        assert_eq!(bare.status().as_u16(), 308);
        assert_eq!(bare.headers()["location"], "/admin/");

        let page = client.get(format!("{}/admin/", app.base)).send().await.unwrap();
        assert_eq!(page.status().as_u16(), 200);
        let headers = page.headers().clone();
        let policy = headers["content-security-policy"].to_str().unwrap();
        assert!(policy.contains("script-src 'self'"), "{policy}");
        assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
        assert!(!policy.contains("unsafe-inline"), "{policy}");
        assert_eq!(headers["x-frame-options"], "DENY");
        assert!(headers["content-type"].to_str().unwrap().starts_with("text/html"));
        let etag = headers["etag"].to_str().unwrap().to_owned();
        let html = page.text().await.unwrap();
        assert!(html.contains("/admin/js/main.js"), "{html}");

        let again = client
            .get(format!("{}/admin/", app.base))
            .header("if-none-match", &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status().as_u16(), 304);

        let script = client.get(format!("{}/admin/js/api.js", app.base)).send().await.unwrap();
        assert_eq!(script.status().as_u16(), 200);
        assert!(script.headers()["content-type"].to_str().unwrap().starts_with("text/javascript"));
        for missing in ["/admin/js/nothing.js", "/admin/../Cargo.toml", "/admin/.hidden"] {
            let answer = client.get(format!("{}{missing}", app.base)).send().await.unwrap();
            assert_eq!(answer.status().as_u16(), 404, "{missing}");
        }
    }

    async fn the_console_works_at_a_phone_s_width_and_shows_errors_beside_their_field(db: &TestDb) {
        let app = TestApp::spawn(db).await;
        let browser = Browser::start().await;
        browser.phone().await;
        browser.log_in(&app.base, "admin", ADMIN_PASSWORD).await;

        // The menu folds behind a button that says whether it is open.
        let toggle = browser.wait_for("the menu button", Locator::Css(".menu-toggle")).await;
        assert_eq!(toggle.attr("aria-expanded").await.unwrap().as_deref(), Some("false"));
        toggle.click().await.unwrap();
        assert_eq!(toggle.attr("aria-expanded").await.unwrap().as_deref(), Some("true"));
        browser.click_link("Account").await;
        browser.wait_for_text("Change your password").await;

        browser.fill("Current password", ADMIN_PASSWORD).await;
        browser.fill("New password", "short").await;
        browser.click_button("Change password").await;
        let message = browser.field_error("New password").await;
        assert!(message.contains("at least 12 characters"), "{message}");
        let field = browser.field("New password").await;
        assert_eq!(field.attr("aria-invalid").await.unwrap().as_deref(), Some("true"));
        browser.screenshot("phone-account-error").await;
    }

    async fn an_operator_logs_in_stays_in_across_a_reload_and_logs_out(db: &TestDb) {
        let app = TestApp::spawn(db).await;
        let browser = Browser::start().await;
        browser.goto(&format!("{}/admin/#/account", app.base)).await;

        // Not logged in: the log-in screen, which says what went wrong.
        browser.fill("Username", "admin").await;
        browser.fill("Password", "not-the-password").await;
        browser.click_button("Log in").await;
        browser.wait_for_text("The username or password is wrong.").await;
        browser.screenshot("login-refused").await;

        browser.fill("Password", ADMIN_PASSWORD).await;
        browser.click_button("Log in").await;
        // Back where the operator was going.
        browser.wait_for_text("Signed in as admin").await;
        assert_eq!(browser.route().await, "/account");

        // A reload keeps the session (the refresh token is in the tab's
        // session storage); the access token is not stored anywhere.
        browser.client.refresh().await.unwrap();
        browser.wait_for_text("Signed in as admin").await;
        let stored = browser
            .run("return JSON.stringify({session: {...sessionStorage}, local: {...localStorage}});")
            .await;
        let stored = stored.as_str().unwrap();
        assert!(stored.contains("omnichannel.refresh_token"), "{stored}");
        assert!(!stored.contains("eyJ"), "an access token is stored: {stored}");

        // An access token that went stale is refreshed without losing the page.
        let before = browser.run("return sessionStorage.getItem('omnichannel.refresh_token');").await;
        let me = browser
            .run(
                "const api = await import('/admin/js/api.js'); api.expireAccessToken(); \
                 return (await api.get('/auth/me')).username;",
            )
            .await;
        assert_eq!(me, "admin");
        let after = browser.run("return sessionStorage.getItem('omnichannel.refresh_token');").await;
        assert_ne!(before, after, "the refresh token was not rotated");
        browser.screenshot("account").await;

        browser.click_button("Log out").await;
        browser.wait_for("the log-in form", Locator::Css("form[aria-labelledby='login-title']")).await;
        let stored = browser.run("return JSON.stringify({...sessionStorage});").await;
        assert_eq!(stored, "{}");

        // Logged out for real: the refresh token is dead on the server too.
        browser.goto(&format!("{}/admin/#/account", app.base)).await;
        browser.wait_for_text("Log in to omnichannel").await;
    }

    /// The operator's whole first day, through the console only: a client,
    /// a department with a favourite channel and a rule, a send followed to
    /// `sent`, a booking the rule refuses with the next free slot, an API
    /// key whose secret is shown once, and logging out.
    async fn an_operator_sets_up_a_department_sends_and_logs_out(db: &TestDb) {
        let app = TestApp::spawn(db).await;
        let browser = Browser::start().await;
        browser.log_in(&app.base, "admin", ADMIN_PASSWORD).await;

        // A client.
        browser.click_link("Clients").await;
        browser.click_link("New client").await;
        browser.fill("First name", "Ada").await;
        browser.fill("Last name", "Lovelace").await;
        browser.fill("Phone", "+15551234567").await;
        browser.click_button("Create client").await;
        browser.wait_for_text("Availability").await;

        // A department that prefers SMS for mass communications, at most one a day.
        browser.click_link("Departments").await;
        browser.fill("Department name", "Care").await;
        browser.click_button("Create department").await;
        browser.select("Communication type", "Mass communication").await;
        browser.select("Channel", "SMS (sms)").await;
        browser.click_button("Add channel").await;
        browser.click_button("Save favourite channels").await;
        browser.wait_for_text("The favourite channels are saved.").await;
        browser.fill("Limit per unit", "1").await;
        browser.fill("Units count", "1").await;
        browser.select("Unit", "Day").await;
        browser.click_button("Add rule").await;
        browser.wait_for_text("The rule 1 per day is added.").await;

        // A send, followed in its timeline until it is sent.
        browser.click_link("Send").await;
        browser.fill("Find a client", "Lovelace").await;
        browser.select("Client", "Ada Lovelace · +15551234567").await;
        browser.select("Department", "Care").await;
        browser.select("Type", "Mass communication").await;
        browser.fill("Message", "Welcome to Care").await;
        browser.click_button("Preview").await;
        browser.wait_for_text("Sendable now").await;
        browser.click_button("Send now").await;
        browser.wait_for_text("Sent on SMS").await;
        let sent = app.get(&format!("{ADMIN}/communications?status=sent")).await;
        assert_eq!(sent.body["total"], 1, "{sent:?}");

        // Booked within the day of that send, the rule refuses: the 409 and
        // the client's next free slot are shown; nothing is stored.
        browser.click_link("Send").await;
        browser.fill("Find a client", "Lovelace").await;
        browser.select("Client", "Ada Lovelace · +15551234567").await;
        browser.select("Department", "Care").await;
        browser.select("Type", "Mass communication").await;
        browser.fill("Message", "See you soon").await;
        browser.set_moment("Book for", 3600).await;
        browser.click_button("Preview").await;
        browser.click_button("Book").await;
        browser.wait_for_text("A rule of the department allows this client no more communications then.").await;
        browser.wait_for_text("The client’s next free slot:").await;
        let booked = app.get(&format!("{ADMIN}/communications?status=booked")).await;
        assert_eq!(booked.body["total"], 0, "{booked:?}");

        // An API key: its secret once, never again.
        browser.click_link("API keys").await;
        browser.fill("Key name", "crm").await;
        browser.click_button("Create API key").await;
        browser.wait_for_text("Copy the secret now: it is shown this once.").await;
        let secret = browser.value("Secret (X-Api-Secret)").await;
        assert!(secret.len() >= 16, "{secret}");
        browser.client.refresh().await.unwrap();
        browser.wait_for_text("1 API key").await;
        let source = browser.client.source().await.unwrap();
        assert!(!source.contains(&secret), "the secret is shown again");

        // Log out: the log-in screen, and the session is over on the server.
        browser.click_link("Account").await;
        browser.click_button("Log out").await;
        browser.wait_for_text("Log in to omnichannel").await;
        let stored = browser.run("return JSON.stringify({...sessionStorage});").await;
        assert_eq!(stored, Value::String("{}".to_owned()));
    }
}
