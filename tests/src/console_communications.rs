//! The console's screens of communications in a real browser (headless
//! Chromium), on both databases: the dashboard, the list and its filters,
//! a communication's page and its actions, sending with a preview, a
//! booking the rules refuse, and bulk sends with their progress. Data is
//! set up through the admin API; the browser drives what each test is about.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::time::{Duration as StdDuration, Instant};

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use fantoccini::Locator;
use serde_json::{Value, json};

use crate::api::{ADMIN, ADMIN_PASSWORD, JWT_SECRET, TestApp};
use crate::browser::{Browser, PATIENCE};
use crate::db::{TestDb, both_backends};

/// The service with workers that look for work every 100 ms, so that a
/// send on the default `log` provider is `sent` at once.
async fn spawn(db: &TestDb) -> TestApp {
    TestApp::spawn_with(
        db,
        &[
            ("OMNICHANNEL_JWT_SECRET", JWT_SECRET),
            ("OMNICHANNEL_WORKER__POLL_INTERVAL_MS", "100"),
        ],
    )
    .await
}

/// A browser logged in as the first operator, noting what the page's
/// Content-Security-Policy refuses from now on.
async fn logged_in(app: &TestApp) -> Browser {
    let browser = Browser::start().await;
    browser.log_in(&app.base, "admin", ADMIN_PASSWORD).await;
    browser
        .run(
            "window.refused = []; document.addEventListener('securitypolicyviolation', \
             (e) => window.refused.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`)); \
             return true;",
        )
        .await;
    browser
}

/// Nothing the screens did was refused by the Content-Security-Policy.
async fn assert_no_refusals(browser: &Browser) {
    let refused = browser
        .run("return window.refused || ['the page was reloaded'];")
        .await;
    assert_eq!(refused, json!([]), "the policy refused something");
}

fn id_of(value: &Value) -> String {
    value["id"].as_str().unwrap().to_owned()
}

async fn client(app: &TestApp, body: Value) -> String {
    id_of(&app.create("users", &body).await)
}

/// Sends (or books, with a `communication_date`), asserting `202`.
async fn send(app: &TestApp, body: &Value) -> String {
    let reply = app.post(&format!("{ADMIN}/communications"), body).await;
    assert_eq!(reply.status, 202, "{reply:?}");
    id_of(&reply.body)
}

async fn communication(app: &TestApp, id: &str) -> Value {
    let reply = app.get(&format!("{ADMIN}/communications/{id}")).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    reply.body
}

async fn wait_status(app: &TestApp, id: &str, status: &str) -> Value {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let c = communication(app, id).await;
        if c["status"] == status {
            return c;
        }
        assert!(Instant::now() < deadline, "not {status} in time: {c}");
        tokio::time::sleep(StdDuration::from_millis(50)).await;
    }
}

fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn moment(value: &Value) -> DateTime<Utc> {
    value
        .as_str()
        .unwrap_or_else(|| panic!("{value} is not a moment"))
        .parse()
        .unwrap()
}

/// Waits until the route (the URL's fragment) satisfies `test`.
async fn wait_route(browser: &Browser, what: &str, test: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let route = browser.route().await;
        if test(&route) {
            return route;
        }
        assert!(
            Instant::now() < deadline,
            "the route never was {what}: {route}"
        );
        tokio::time::sleep(StdDuration::from_millis(50)).await;
    }
}

/// Waits until nothing matches `selector`.
async fn wait_gone(browser: &Browser, selector: &str) {
    let deadline = Instant::now() + PATIENCE;
    while browser.client.find(Locator::Css(selector)).await.is_ok() {
        assert!(Instant::now() < deadline, "{selector} stays on the page");
        tokio::time::sleep(StdDuration::from_millis(50)).await;
    }
}

/// The text of the dashboard's card of `status` (or `queue-…`).
async fn card_value(browser: &Browser, selector: &str) -> String {
    browser
        .wait_for(selector, Locator::Css(&format!("{selector} .value")))
        .await
        .text()
        .await
        .unwrap()
}

both_backends! {
    async fn a_send_is_previewed_then_sent_and_its_history_says_which_channel_and_why(db: &TestDb) {
        let app = spawn(db).await;
        let mass = app.seeded("communication-types", "mass").await;
        let sms = app.seeded("communication-sources", "sms").await;
        let email = app.seeded("communication-sources", "email").await;
        // E-mail first, but the client has only a phone: sms it is.
        app.department_preferring("Customer care", &mass, &[&email, &sms]).await;
        let ada = client(&app, json!({"first_name": "Ada", "last_name": "Lovelace", "phone": "+442071234567"})).await;
        client(&app, json!({"first_name": "Charles", "last_name": "Babbage", "email": "charles@example.com"})).await;

        let browser = logged_in(&app).await;
        browser.click_link("Send").await;
        browser.wait_for_text("Send a communication").await;
        browser.fill("Find a client", "Lovelace").await;
        browser.select("Client", "Ada Lovelace · +442071234567").await;
        browser.select("Department", "Customer care").await;
        browser.select("Type", "Mass communication").await;

        // The API's 422 is shown beside its field.
        browser.click_button("Preview").await;
        let message = browser.field_error("Message").await;
        assert!(!message.is_empty(), "no message beside the message");
        assert_eq!(browser.field("Message").await.attr("aria-invalid").await.unwrap().as_deref(), Some("true"));

        browser.fill("Message", "Your order 1042 has shipped and arrives on Friday.").await;
        browser.click_button("Preview").await;
        // What would happen, and when the client is next free, before sending.
        browser.wait_for_text("Sendable now. It would be sent on SMS to +442071234567.").await;
        browser.wait_for_text("The client’s next free slot in Customer care").await;
        assert_eq!(app.get(&format!("{ADMIN}/communications")).await.body["total"], 0, "a preview stored something");
        browser.screenshot("send-preview").await;

        // A change makes the preview stale: no sending until it is done again.
        browser.fill("Message", "Your order 1042 has shipped and arrives on Friday!").await;
        browser.wait_for_text("The form has changed since this preview").await;
        let confirm = browser.client.find(Locator::XPath("//button[normalize-space()='Send now']")).await.unwrap();
        assert!(!confirm.is_displayed().await.unwrap(), "a stale preview can be confirmed");
        browser.click_button("Preview").await;
        browser.click_button("Send now").await;

        let route = wait_route(&browser, "a communication's page", |r| r.starts_with("/communications/")).await;
        let id = route.trim_start_matches("/communications/").to_owned();
        browser.wait_for_text("Accepted: it is in the queue").await;
        // The page follows it until it is sent, and says why this channel.
        browser.wait_for_text("Sent on SMS").await;
        browser.wait_for_text("Channel chosen: SMS").await;
        browser.wait_for_text("Why: the department's first usable favourite for the type; passed over: email (no address).").await;
        browser.wait_for_text("Communication to Ada Lovelace").await;
        let stored = communication(&app, &id).await;
        assert_eq!(stored["status"], "sent", "{stored}");
        assert_eq!(stored["user_id"], ada.as_str());
        assert_eq!(stored["message"], "Your order 1042 has shipped and arrives on Friday!");
        // Sent, there is a status to report rather than a date to change.
        browser.wait_for_text("Update the status").await;
        browser.screenshot("communication-detail").await;
        assert_no_refusals(&browser).await;
    }

    async fn a_booking_a_rule_forbids_says_why_and_books_the_next_free_slot(db: &TestDb) {
        let app = spawn(db).await;
        let mass = app.seeded("communication-types", "mass").await;
        let sms = app.seeded("communication-sources", "sms").await;
        let department = app.department_preferring("Billing", &mass, &[&sms]).await;
        app.create(
            &format!("departments/{department}/rules"),
            &json!({"limit_per_unit": 1, "unit": "day", "units_count": 1}),
        )
        .await;
        let grace = client(&app, json!({"first_name": "Grace", "last_name": "Hopper", "phone": "+12025550143"})).await;
        let first = send(&app, &json!({
            "user_id": grace, "department_id": department, "communication_type_id": mass,
            "message": "Your invoice is ready.",
        }))
        .await;
        let sent_at = moment(&wait_status(&app, &first, "sent").await["sent_at"]);

        let browser = logged_in(&app).await;
        browser.goto(&format!("{}/admin/#/send", app.base)).await;
        browser.select("Client", "Grace Hopper · +12025550143").await;
        browser.select("Department", "Billing").await;
        browser.select("Type", "Mass communication").await;
        browser.fill("Message", "A reminder: your invoice is due next week.").await;
        // In two hours: within the day of the message sent.
        browser.set_moment("Book for", 2 * 3600).await;
        browser.click_button("Preview").await;
        browser.wait_for_text("It would wait until").await;
        browser.wait_for_text("A booking at this moment would be refused.").await;
        browser.click_button("Book").await;

        // The 409: why, and the client's next free slot, a day after the send.
        browser.wait_for_text("is refused. A rule of the department allows this client no more communications then.").await;
        browser.wait_for_text("The client’s next free slot:").await;
        browser.screenshot("booking-refused").await;
        let shown = browser
            .wait_for("the next free slot", Locator::Css(".refusal .next-slot time"))
            .await
            .attr("datetime")
            .await
            .unwrap()
            .unwrap();
        let next: DateTime<Utc> = shown.parse().unwrap();
        assert!((next - (sent_at + Duration::days(1))).num_seconds().abs() <= 1, "{next} is not a day after {sent_at}");
        let listed = app.get(&format!("{ADMIN}/communications?status=booked")).await;
        assert_eq!(listed.body["total"], 0, "the refused booking was stored: {listed:?}");

        browser.click_button("Book at the next free slot").await;
        let route = wait_route(&browser, "a communication's page", |r| r.starts_with("/communications/")).await;
        browser.wait_for_text("Booked for").await;
        browser.wait_for_text("the client’s slot is reserved").await;
        let id = route.trim_start_matches("/communications/");
        let booked = communication(&app, id).await;
        assert_eq!(booked["status"], "booked", "{booked}");
        assert_eq!(moment(&booked["communication_date"]), next, "{booked}");
        // Booked, it can still be rescheduled or cancelled.
        browser.wait_for_text("Reschedule or edit").await;
        browser.wait_for("the cancel button", Locator::XPath("//button[normalize-space()='Cancel communication']")).await;
    }

    async fn the_list_keeps_its_filters_and_page_in_the_url(db: &TestDb) {
        let app = spawn(db).await;
        let mass = app.seeded("communication-types", "mass").await;
        let service = app.seeded("communication-types", "service").await;
        let sms = app.seeded("communication-sources", "sms").await;
        let north = app.department_preferring("North", &mass, &[&sms]).await;
        // South sends only the service type: its mass sends fail.
        let south = app.department_preferring("South", &service, &[&sms]).await;
        let alan = client(&app, json!({"first_name": "Alan", "last_name": "Turing", "phone": "+441632960001"})).await;
        let joan = client(&app, json!({"first_name": "Joan", "last_name": "Clarke", "phone": "+441632960002"})).await;
        for n in 0..12 {
            let user = if n % 2 == 0 { &alan } else { &joan };
            send(&app, &json!({
                "user_id": user, "department_id": north, "communication_type_id": mass,
                "message": format!("North notice {n}"),
            }))
            .await;
        }
        for n in 0..3 {
            send(&app, &json!({
                "user_id": alan, "department_id": south, "communication_type_id": mass,
                "message": format!("South notice {n}"),
            }))
            .await;
        }
        let tomorrow = rfc3339(Utc::now() + Duration::days(1));
        send(&app, &json!({
            "user_id": joan, "department_id": south, "communication_type_id": service,
            "message": "Your appointment is confirmed.", "communication_date": tomorrow,
        }))
        .await;

        let browser = logged_in(&app).await;
        browser.click_link("Communications").await;
        browser.wait_for_text("1–16 of 16").await;
        browser.wait_for_text("Joan Clarke").await;
        browser.screenshot("communications").await;

        browser.select("Department", "North").await;
        browser.select("Per page", "10").await;
        browser.click_button("Apply filters").await;
        browser.wait_for_text("1–10 of 12").await;
        let route = browser.route().await;
        assert!(route.starts_with("/communications?"), "{route}");
        assert!(route.contains(&format!("department_id={north}")), "{route}");
        assert!(route.contains("limit=10"), "{route}");
        assert!(!browser.text().await.contains("South notice"));

        browser.click_link("Next").await;
        browser.wait_for_text("11–12 of 12").await;
        let route = browser.route().await;
        assert!(route.contains("offset=10") && route.contains(&format!("department_id={north}")), "{route}");

        // A reload keeps the page and the filters, in the form too.
        browser.client.refresh().await.unwrap();
        browser.wait_for_text("11–12 of 12").await;
        assert_eq!(browser.value("Department").await, north);
        assert_eq!(browser.value("Per page").await, "10");

        // Back returns to the first page.
        browser.client.back().await.unwrap();
        browser.wait_for_text("1–10 of 12").await;

        // Another filter: by client, picked by name; the page starts again.
        browser.select("Client", "Joan Clarke · +441632960002").await;
        browser.click_button("Apply filters").await;
        browser.wait_for_text("1–6 of 6").await;
        let route = browser.route().await;
        assert!(route.contains(&format!("user_id={joan}")) && !route.contains("offset="), "{route}");

        // And by status, from the status select, with the other filters cleared.
        browser.click_link("Clear filters").await;
        browser.wait_for_text("1–16 of 16").await;
        browser.select("Status", "Booked").await;
        browser.select("Type", "Service communication").await;
        browser.click_button("Apply filters").await;
        browser.wait_for_text("1–1 of 1").await;
        browser.wait_for_text("Your appointment is confirmed.").await;
        assert!(browser.route().await.contains("status=booked"));
        browser.click_link("Your appointment is confirmed.").await;
        browser.wait_for_text("Communication to Joan Clarke").await;
    }

    async fn a_communication_is_rescheduled_cancelled_and_its_status_updated_from_its_page(db: &TestDb) {
        let app = spawn(db).await;
        let mass = app.seeded("communication-types", "mass").await;
        let sms = app.seeded("communication-sources", "sms").await;
        let department = app.department_preferring("Reminders", &mass, &[&sms]).await;
        app.create(
            &format!("departments/{department}/rules"),
            &json!({"limit_per_unit": 1, "unit": "day", "units_count": 1}),
        )
        .await;
        let user = client(&app, json!({"first_name": "Katherine", "last_name": "Johnson", "phone": "+17575550100"})).await;
        let booked = send(&app, &json!({
            "user_id": user, "department_id": department, "communication_type_id": mass,
            "message": "See you on Tuesday.",
            "communication_date": rfc3339(Utc::now() + Duration::days(2)),
        }))
        .await;
        let sent = send(&app, &json!({
            "user_id": user, "department_id": department, "communication_type_id": mass,
            "message": "Your code is 4417.",
        }))
        .await;
        let sent_at = moment(&wait_status(&app, &sent, "sent").await["sent_at"]);

        let browser = logged_in(&app).await;
        browser.goto(&format!("{}/admin/#/communications/{booked}", app.base)).await;
        browser.wait_for_text("Reschedule or edit").await;
        browser.set_moment("New date", 3 * 86400).await;
        browser.fill("Message", "See you on Wednesday.").await;
        browser.click_button("Save changes").await;
        browser.wait_for_text("Rescheduled for").await;
        let moved = communication(&app, &booked).await;
        let date = moment(&moved["communication_date"]);
        assert!((date - (Utc::now() + Duration::days(3))).num_minutes().abs() <= 2, "{moved}");
        assert_eq!(moved["message"], "See you on Wednesday.");
        assert_eq!(moved["status"], "booked");

        // Sooner, within the day of the message sent: refused, with why and
        // the next free slot, which one click takes.
        browser.set_moment("New date", 2 * 3600).await;
        browser.click_button("Save changes").await;
        browser.wait_for_text("The new date is refused. A rule of the department allows this client no more communications then.").await;
        browser.click_button("Reschedule to the next free slot").await;
        // The page is drawn again, the refusal gone.
        wait_gone(&browser, ".refusal").await;
        browser.wait_for_text("Rescheduled for").await;
        let moved = communication(&app, &booked).await;
        let date = moment(&moved["communication_date"]);
        assert!((date - (sent_at + Duration::days(1))).num_seconds().abs() <= 1, "{moved}");

        browser.click_button("Cancel communication").await;
        browser.accept_confirm().await;
        browser.wait_for_text("Cancelled: it will not be sent.").await;
        browser.wait_for("the cancelled step", Locator::Css(".history li[data-kind='cancelled']")).await;
        browser.wait_for_text("is final: nothing can be changed").await;
        assert_eq!(communication(&app, &booked).await["status"], "cancelled");

        browser.goto(&format!("{}/admin/#/communications/{sent}", app.base)).await;
        browser.wait_for_text("Update the status").await;
        browser.select("New status", "Delivered").await;
        browser.fill("Detail", "The handset confirmed it").await;
        browser.click_button("Update status").await;
        browser.wait_for_text("Marked delivered.").await;
        browser.wait_for_text("The handset confirmed it").await;
        browser.wait_for("the delivered step", Locator::Css(".history li[data-kind='delivered']")).await;
        let delivered = communication(&app, &sent).await;
        assert_eq!(delivered["status"], "delivered", "{delivered}");
        assert!(delivered["delivered_at"].is_string());

        // Delivered, it can still be read or fail, not be delivered again.
        let options = browser.field("New status").await.text().await.unwrap();
        assert!(options.contains("Read") && options.contains("Failed") && !options.contains("Delivered"), "{options}");
        browser.select("New status", "Failed").await;
        browser.fill("Detail", "").await;
        browser.click_button("Update status").await;
        browser.wait_for_text("A status update reported it failed.").await;
        assert_eq!(communication(&app, &sent).await["status_reason"], "receipt");
    }

    async fn a_bulk_send_shows_its_progress_and_a_bulk_booking_its_refusals(db: &TestDb) {
        let app = spawn(db).await;
        let mass = app.seeded("communication-types", "mass").await;
        let sms = app.seeded("communication-sources", "sms").await;
        let department = app.department_preferring("Newsletter", &mass, &[&sms]).await;
        let mut readers = Vec::new();
        for (n, name) in ["One", "Two", "Three"].iter().enumerate() {
            readers.push(client(&app, json!({"first_name": "Reader", "last_name": name, "phone": format!("+3361234567{n}")})).await);
        }
        let other = client(&app, json!({"first_name": "Margaret", "last_name": "Hamilton", "phone": "+16175550199"})).await;

        let browser = logged_in(&app).await;
        browser.click_link("Bulk").await;
        browser.wait_for_text("One message to many clients").await;
        browser.select("Department", "Newsletter").await;
        browser.select("Type", "Mass communication").await;
        browser.fill("Message", "Our spring catalogue is out.").await;

        // No client chosen: the API's 422 is shown beside the clients.
        browser.click_button("Send to 0 clients").await;
        let error = browser.wait_for("the clients' error", Locator::Css("fieldset.recipients > .field-error")).await;
        assert!(error.text().await.unwrap().contains("1 to 10000"), "{}", error.text().await.unwrap());

        browser.fill("Find clients", "Reader").await;
        browser.wait_for_text("3 clients found.").await;
        browser.click_button("Choose all found").await;
        browser.click_button("Send to 3 clients").await;

        let route = wait_route(&browser, "a batch's page", |r| r.starts_with("/batches/")).await;
        let batch = route.trim_start_matches("/batches/").to_owned();
        browser.wait_for_text("3 communications accepted").await;
        browser.wait_for_text("Sent: 3 of 3").await;
        browser.wait_for_text("Nothing is pending: 3 sent.").await;
        browser.wait_for_text("No client was refused.").await;
        browser.screenshot("bulk-progress").await;
        let progress = app.get(&format!("{ADMIN}/batches/{batch}")).await;
        assert_eq!(progress.body["counts"]["sent"], 3, "{progress:?}");
        let others = app.get(&format!("{ADMIN}/communications?user_id={other}")).await;
        assert_eq!(others.body["total"], 0, "{others:?}");

        // Its communications, from the batch's page.
        browser.click_link("Its communications").await;
        browser.wait_for_text("1–3 of 3").await;
        assert!(browser.route().await.contains(&format!("batch_id={batch}")));

        // A bulk booking for everyone, with one a day at most: the readers,
        // sent to today, are refused with their next free slot.
        app.create(
            &format!("departments/{department}/rules"),
            &json!({"limit_per_unit": 1, "unit": "day", "units_count": 1}),
        )
        .await;
        browser.click_link("Bulk").await;
        browser.wait_for_text("One message to many clients").await;
        browser.select("Department", "Newsletter").await;
        browser.select("Type", "Mass communication").await;
        browser.fill("Message", "Last days of the spring sale.").await;
        browser.set_moment("Book for", 3 * 3600).await;
        browser.field("All clients").await.click().await.unwrap();
        browser.click_button("Book to every client").await;
        wait_route(&browser, "another batch's page", |r| r.starts_with("/batches/") && !r.ends_with(&batch)).await;
        browser.wait_for_text("1 communication accepted, 3 clients refused").await;
        browser.wait_for_text("Booked: 1 of 1").await;
        browser.wait_for_text("3 clients refused").await;
        browser.wait_for_text("Reader Two").await;
        browser.wait_for_text("A rule of the department allows this client no more communications then.").await;
        browser.screenshot("bulk-refused").await;
        assert_no_refusals(&browser).await;
        let booked = app.get(&format!("{ADMIN}/communications?status=booked")).await;
        assert_eq!(booked.body["total"], 1, "{booked:?}");
        assert_eq!(booked.body["items"][0]["user_id"], other.as_str());
        assert!(readers.iter().all(|r| r != &other));
    }

    async fn the_dashboard_counts_today_s_communications_and_draws_the_day(db: &TestDb) {
        let app = spawn(db).await;
        let mass = app.seeded("communication-types", "mass").await;
        let sms = app.seeded("communication-sources", "sms").await;
        let department = app.department_preferring("Marketing", &mass, &[&sms]).await;
        let phone = client(&app, json!({"first_name": "Hedy", "last_name": "Lamarr", "phone": "+13105550123"})).await;
        let no_address = client(&app, json!({"first_name": "No", "last_name": "Address"})).await;
        let body = |user: &str, date: Option<DateTime<Utc>>| {
            let mut body = json!({
                "user_id": user, "department_id": department, "communication_type_id": mass,
                "message": "Spring offers",
            });
            if let Some(date) = date {
                body["communication_date"] = json!(rfc3339(date));
            }
            body
        };
        let mut sent = Vec::new();
        for _ in 0..3 {
            sent.push(send(&app, &body(&phone, None)).await);
        }
        let failed = send(&app, &body(&no_address, None)).await;
        send(&app, &body(&phone, Some(Utc::now() + Duration::days(1)))).await;
        let cancelled = send(&app, &body(&phone, Some(Utc::now() + Duration::days(2)))).await;
        let reply = app.post(&format!("{ADMIN}/communications/{cancelled}/cancel"), &json!({})).await;
        assert_eq!(reply.status, 200, "{reply:?}");
        for id in &sent {
            wait_status(&app, id, "sent").await;
        }
        wait_status(&app, &failed, "failed").await;

        let browser = logged_in(&app).await;
        browser.wait_for_text("Today: 6 communications").await;
        assert_eq!(card_value(&browser, ".stat[data-status='sent']").await, "3");
        assert_eq!(card_value(&browser, ".stat[data-status='failed']").await, "1");
        assert_eq!(card_value(&browser, ".stat[data-status='booked']").await, "1");
        assert_eq!(card_value(&browser, ".stat[data-status='cancelled']").await, "1");
        assert_eq!(card_value(&browser, ".stat[data-status='not_sent']").await, "0");
        assert_eq!(card_value(&browser, ".stat[data-queue='booked']").await, "1");
        assert_eq!(card_value(&browser, ".stat[data-queue='due']").await, "0");

        // The chart: a bar for this hour with every status in its title, a
        // summary for screen readers, and the numbers in a table.
        let titles = browser
            .run("return [...document.querySelectorAll('svg.chart .bar > title')].map(t => t.textContent).join('\\n');")
            .await;
        let titles = titles.as_str().unwrap();
        assert!(titles.contains("1 booked, 3 sent, 1 failed, 1 cancelled"), "{titles}");
        assert_eq!(
            browser.run("return document.querySelectorAll('svg.chart rect.seg').length;").await,
            4,
            "one segment per status of the hour"
        );
        let label = browser
            .run("const svg = document.querySelector('svg.chart'); return svg.getAttribute('aria-labelledby').split(' ').map(id => document.getElementById(id).textContent).join(' ');")
            .await;
        assert!(label.as_str().unwrap().contains("6 communications created in the last 24 hours"), "{label}");
        browser.screenshot("dashboard").await;
        browser.client.find(Locator::Css(".chart-numbers summary")).await.unwrap().click().await.unwrap();
        let numbers = browser.wait_for("the numbers", Locator::Css(".chart-numbers table")).await.text().await.unwrap();
        assert!(numbers.contains("0 3 0 0 1 1 6"), "{numbers}");

        // A card leads to the list of those communications.
        browser.client.find(Locator::Css(".stat[data-status='sent']")).await.unwrap().click().await.unwrap();
        browser.wait_for_text("1–3 of 3").await;
        assert!(browser.route().await.contains("status=sent"));
        assert_no_refusals(&browser).await;

        browser.phone().await;
        browser.goto(&format!("{}/admin/#/", app.base)).await;
        browser.wait_for_text("Today: 6 communications").await;
        let (page, window) = browser.widths().await;
        assert!(page <= window, "the dashboard is {page} px wide in a {window} px window");
        browser.run("window.scrollTo(0, 0); return true;").await;
        browser.screenshot("dashboard-phone").await;
        browser.run("document.querySelector('svg.chart').scrollIntoView(); return true;").await;
        browser.screenshot("dashboard-phone-chart").await;
    }

    async fn the_screens_of_communications_fit_a_phone(db: &TestDb) {
        let app = spawn(db).await;
        let mass = app.seeded("communication-types", "mass").await;
        let sms = app.seeded("communication-sources", "sms").await;
        let department = app.department_preferring("Front desk", &mass, &[&sms]).await;
        let user = client(&app, json!({"first_name": "Radia", "last_name": "Perlman", "phone": "+14155550188"})).await;
        let mut last = String::new();
        for n in 0..4 {
            last = send(&app, &json!({
                "user_id": user, "department_id": department, "communication_type_id": mass,
                "message": format!("Your table for {n} is ready: please come to the front desk within the next fifteen minutes."),
            }))
            .await;
        }
        wait_status(&app, &last, "sent").await;

        let browser = Browser::start().await;
        browser.phone().await;
        browser.log_in(&app.base, "admin", ADMIN_PASSWORD).await;
        browser.goto(&format!("{}/admin/#/communications", app.base)).await;
        browser.wait_for_text("1–4 of 4").await;
        browser.wait_for_text("Radia Perlman").await;
        let (page, window) = browser.widths().await;
        assert!(page <= window, "the list is {page} px wide in a {window} px window");
        browser.screenshot("phone-communications").await;
        // The filters fold away on a phone, and open on demand.
        let status = Locator::XPath("//*[@id=//label[normalize-space()='Status']/@for]");
        assert!(!browser.client.find(status).await.unwrap().is_displayed().await.unwrap());
        browser.client.find(Locator::Css(".filters-box summary")).await.unwrap().click().await.unwrap();
        assert!(browser.field("Status").await.is_displayed().await.unwrap());

        browser.goto(&format!("{}/admin/#/communications/{last}", app.base)).await;
        browser.wait_for_text("Sent on SMS").await;
        let (page, window) = browser.widths().await;
        assert!(page <= window, "a communication is {page} px wide in a {window} px window");
        browser.screenshot("phone-communication-detail").await;

        browser.goto(&format!("{}/admin/#/send", app.base)).await;
        browser.select("Client", "Radia Perlman · +14155550188").await;
        browser.select("Department", "Front desk").await;
        browser.select("Type", "Mass communication").await;
        browser.fill("Message", "Your table is ready.").await;
        browser.click_button("Preview").await;
        browser.wait_for_text("Sendable now.").await;
        let (page, window) = browser.widths().await;
        assert!(page <= window, "the send form is {page} px wide in a {window} px window");
        browser.screenshot("phone-send-preview").await;
    }
}
