//! A headless Chromium driven over WebDriver, for the tests of the admin
//! console: each `Browser` starts its own `chromedriver` on a free port with
//! a fresh profile, and ends them both when dropped.
//!
//! ```ignore
//! let browser = Browser::start().await;
//! browser.goto(&format!("{}/admin/", app.base)).await;
//! browser.fill("Username", "admin").await;
//! browser.click_button("Log in").await;
//! browser.wait_for_text("Dashboard").await;
//! browser.screenshot("dashboard").await;
//! ```
//!
//! Elements are found the way a person finds them: a field by its label, a
//! button or link by its text. `chromedriver` and `chromium` are Debian's
//! (`apt-get install chromium chromium-driver`, which `.ci/run` does);
//! `OMNICHANNEL_TEST_CHROMEDRIVER` and `OMNICHANNEL_TEST_CHROMIUM` point at
//! others. Screenshots go to `$CARGO_TARGET_DIR/console-screenshots/`.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use tempfile::TempDir;

/// How long a wait for the page may take before the test fails.
pub const PATIENCE: Duration = Duration::from_secs(15);

/// A desktop window; `phone()` narrows it.
const WIDTH: u32 = 1280;
const HEIGHT: u32 = 900;

pub struct Browser {
    pub client: Client,
    driver: Child,
    _profile: TempDir,
}

impl Browser {
    /// A new headless Chromium at 1280 × 900.
    pub async fn start() -> Self {
        let chromedriver = std::env::var("OMNICHANNEL_TEST_CHROMEDRIVER")
            .unwrap_or_else(|_| "chromedriver".to_owned());
        let chromium = std::env::var("OMNICHANNEL_TEST_CHROMIUM")
            .unwrap_or_else(|_| "/usr/bin/chromium".to_owned());
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        // A process group of its own, so that dropping the `Browser` ends
        // chromedriver and every Chromium process it started, even when a
        // failed test never closes its session.
        let driver = Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "{chromedriver} does not start ({e}): install chromium and chromium-driver \
                     (apt-get install chromium chromium-driver) or set OMNICHANNEL_TEST_CHROMEDRIVER"
                )
            });
        let profile = tempfile::Builder::new()
            .prefix("omnichannel-chromium-")
            .tempdir()
            .expect("a profile directory");
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".to_owned(),
            json!({
                "binary": chromium,
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--no-first-run",
                    "--disable-breakpad",
                    "--disable-crash-reporter",
                    "--lang=en-US",
                    format!("--window-size={WIDTH},{HEIGHT}"),
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            }),
        );
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + PATIENCE;
        let client = loop {
            match ClientBuilder::native()
                .capabilities(capabilities.clone())
                .connect(&url)
                .await
            {
                Ok(client) => break client,
                Err(error) => {
                    assert!(
                        Instant::now() < deadline,
                        "chromedriver did not take a session: {error}"
                    );
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        };
        Self {
            client,
            driver,
            _profile: profile,
        }
    }

    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.expect("the page loads");
    }

    /// The window at a phone's width (390 × 844).
    pub async fn phone(&self) {
        self.client
            .set_window_size(390, 844)
            .await
            .expect("the window is resized");
    }

    /// Runs `script` in the page, awaiting a promise it returns.
    pub async fn run(&self, script: &str) -> Value {
        self.client
            .execute_async(
                &format!(
                    "const done = arguments[arguments.length - 1];\
                     Promise.resolve((async () => {{ {script} }})()).then(done, e => done(String(e)));"
                ),
                vec![],
            )
            .await
            .expect("the script runs")
    }

    /// Waits until `find` finds an element; fails after `PATIENCE`.
    pub async fn wait_for(&self, what: &str, locator: Locator<'_>) -> Element {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Ok(element) = self.client.find(locator).await
                && element.is_displayed().await.unwrap_or(false)
            {
                return element;
            }
            if Instant::now() >= deadline {
                self.screenshot(&format!("failed-{}", slug(what))).await;
                panic!(
                    "{what} did not appear in {PATIENCE:?}; the page says:\n{}",
                    self.text().await
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the page's text contains `text`.
    pub async fn wait_for_text(&self, text: &str) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if self.text().await.contains(text) {
                return;
            }
            if Instant::now() >= deadline {
                self.screenshot(&format!("failed-{}", slug(text))).await;
                panic!(
                    "{text:?} did not appear in {PATIENCE:?}; the page says:\n{}",
                    self.text().await
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The visible text of the page.
    pub async fn text(&self) -> String {
        match self.client.find(Locator::Css("body")).await {
            Ok(body) => body.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    /// The control labelled `label` (by a `<label for>` whose text is `label`).
    pub async fn field(&self, label: &str) -> Element {
        let xpath = format!(
            "//*[@id=//label[normalize-space()={}]/@for]",
            xpath_literal(label)
        );
        self.wait_for(&format!("the field {label:?}"), Locator::XPath(&xpath))
            .await
    }

    /// Types `value` into the field labelled `label`, replacing its value.
    pub async fn fill(&self, label: &str, value: &str) {
        let field = self.field(label).await;
        field.clear().await.expect("the field is cleared");
        field
            .send_keys(value)
            .await
            .expect("the field takes the text");
    }

    /// Picks the option whose text is `option` in the select labelled
    /// `label`, once the option is there (selects are often filled from the
    /// API after the screen shows).
    pub async fn select(&self, label: &str, option: &str) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let select = self.field(label).await;
            if select.select_by_label(option).await.is_ok() {
                return;
            }
            if Instant::now() >= deadline {
                self.screenshot("failed-select").await;
                panic!(
                    "no option {option:?} in {label:?}; the page says:\n{}",
                    self.text().await
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Sets the `datetime-local` field labelled `label` to `seconds` from
    /// now in the browser's time zone, as a person picking it would.
    pub async fn set_moment(&self, label: &str, seconds: i64) {
        let field = self.field(label).await;
        let id = field.attr("id").await.unwrap().unwrap();
        let done = self
            .run(&format!(
                "const input = document.getElementById({id:?});\
                 const d = new Date(Date.now() + {seconds} * 1000);\
                 const pad = (n) => String(n).padStart(2, '0');\
                 input.value = `${{d.getFullYear()}}-${{pad(d.getMonth() + 1)}}-${{pad(d.getDate())}}T${{pad(d.getHours())}}:${{pad(d.getMinutes())}}`;\
                 input.dispatchEvent(new Event('input', {{bubbles: true}}));\
                 input.dispatchEvent(new Event('change', {{bubbles: true}}));\
                 return input.value;"
            ))
            .await;
        assert!(done.as_str().is_some_and(|v| v.contains('T')), "{done}");
    }

    /// The current value of the control labelled `label`.
    pub async fn value(&self, label: &str) -> String {
        self.field(label)
            .await
            .prop("value")
            .await
            .unwrap()
            .unwrap_or_default()
    }

    /// Accepts the `confirm()` the page opened and answers its question.
    pub async fn accept_confirm(&self) -> String {
        let deadline = Instant::now() + PATIENCE;
        let question = loop {
            if let Ok(text) = self.client.get_alert_text().await {
                break text;
            }
            assert!(Instant::now() < deadline, "no confirmation was asked");
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        self.client
            .accept_alert()
            .await
            .expect("the confirmation is accepted");
        question
    }

    /// The page's width and the window's: equal when nothing scrolls sideways.
    pub async fn widths(&self) -> (u64, u64) {
        let sizes = self
            .run("const e = document.documentElement; return [e.scrollWidth, e.clientWidth];")
            .await;
        (sizes[0].as_u64().unwrap(), sizes[1].as_u64().unwrap())
    }

    /// Clicks the button whose text is `text`.
    pub async fn click_button(&self, text: &str) {
        let xpath = format!("//button[normalize-space()={}]", xpath_literal(text));
        self.wait_for(&format!("the button {text:?}"), Locator::XPath(&xpath))
            .await
            .click()
            .await
            .expect("the button is clicked");
    }

    /// Clicks the link whose text is `text`.
    pub async fn click_link(&self, text: &str) {
        let xpath = format!("//a[normalize-space()={}]", xpath_literal(text));
        self.wait_for(&format!("the link {text:?}"), Locator::XPath(&xpath))
            .await
            .click()
            .await
            .expect("the link is clicked");
    }

    /// The message shown beside the field labelled `label`.
    pub async fn field_error(&self, label: &str) -> String {
        let field = self.field(label).await;
        let id = field.attr("id").await.unwrap().unwrap();
        let error = self
            .wait_for(
                &format!("the error of {label:?}"),
                Locator::Id(&format!("{id}-error")),
            )
            .await;
        error.text().await.unwrap()
    }

    /// The fragment of the page's URL (`#/clients?q=x` → `/clients?q=x`).
    pub async fn route(&self) -> String {
        let url = self.client.current_url().await.unwrap();
        url.fragment().unwrap_or_default().to_owned()
    }

    /// Writes a PNG of the window to `$CARGO_TARGET_DIR/console-screenshots/<name>.png`.
    pub async fn screenshot(&self, name: &str) {
        let dir = screenshot_dir();
        if std::fs::create_dir_all(&dir).is_err() {
            return;
        }
        if let Ok(png) = self.client.screenshot().await {
            drop(std::fs::write(dir.join(format!("{name}.png")), png));
        }
    }

    /// Logs in as `username` through the log-in screen at `base`.
    pub async fn log_in(&self, base: &str, username: &str, password: &str) {
        self.goto(&format!("{base}/admin/")).await;
        self.fill("Username", username).await;
        self.fill("Password", password).await;
        self.click_button("Log in").await;
        self.wait_for("the header", Locator::Css("header.top"))
            .await;
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // The whole group: chromedriver, Chromium and its helpers. Chromium
        // outlives a chromedriver killed alone.
        let group = format!("-{}", self.driver.id());
        drop(
            Command::new("kill")
                .args(["-KILL", "--", &group])
                .stderr(Stdio::null())
                .status(),
        );
        drop(self.driver.kill());
        drop(self.driver.wait());
    }
}

fn screenshot_dir() -> PathBuf {
    let target = std::env::var("CARGO_TARGET_DIR").map_or_else(
        |_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"),
        PathBuf::from,
    );
    target.join("console-screenshots")
}

fn slug(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect()
}

/// `text` as an XPath string literal, whatever quotes it holds.
fn xpath_literal(text: &str) -> String {
    if !text.contains('\'') {
        format!("'{text}'")
    } else if !text.contains('"') {
        format!("\"{text}\"")
    } else {
        let parts: Vec<String> = text.split('\'').map(|p| format!("'{p}'")).collect();
        format!("concat({})", parts.join(", \"'\", "))
    }
}
