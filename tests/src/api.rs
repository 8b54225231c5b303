//! The real service on a free port over a test database, and a small client.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use actix_web::dev::ServerHandle;
use omnichannel_server::config::Config;
use omnichannel_server::startup::{Application, Bootstrap};
use reqwest::Method;
use serde_json::Value;

use crate::db::TestDb;

pub const ADMIN: &str = "/api/admin/v1";
pub const PUBLIC: &str = "/api/public/v1";
/// The password of the first operator, `admin`, of every test app.
pub const ADMIN_PASSWORD: &str = "first-operator-password";
/// The signing key of access tokens in every test app.
pub const JWT_SECRET: &str = "test-signing-key-of-at-least-32-bytes";

/// The credentials a request carries.
#[derive(Debug, Clone)]
pub enum Auth {
    /// None at all.
    Anonymous,
    /// `Authorization: Bearer <token>`.
    Bearer(String),
    /// `X-Api-Key` and `X-Api-Secret`.
    Key { key: String, secret: String },
}

/// The service, started for one test; stopped when dropped.
pub struct TestApp {
    pub base: String,
    client: reqwest::Client,
    handle: ServerHandle,
    /// An access token of the first operator, sent by the helpers below.
    pub token: String,
}

/// An answer, its body parsed as JSON (`Null` when empty or not JSON).
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub content_type: String,
    pub location: Option<String>,
    pub retry_after: Option<String>,
    pub www_authenticate: Option<String>,
    pub allow: Option<String>,
    pub body: Value,
}

impl Reply {
    /// The `field` of each `errors` entry of a problem answer.
    pub fn error_fields(&self) -> Vec<String> {
        self.body["errors"]
            .as_array()
            .map(|errors| {
                errors
                    .iter()
                    .map(|e| e["field"].as_str().unwrap_or_default().to_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Asserts a problem answer with this status.
    #[track_caller]
    pub fn assert_problem(&self, status: u16) {
        assert_eq!(self.status, status, "unexpected answer: {self:?}");
        assert_eq!(self.content_type, "application/problem+json", "{self:?}");
        assert_eq!(self.body["status"], status, "{self:?}");
        assert!(self.body["title"].is_string(), "{self:?}");
        assert!(self.body["detail"].is_string(), "{self:?}");
        assert!(self.body["type"].is_string(), "{self:?}");
    }
}

impl TestApp {
    /// The service on `db` with the test signing key and the operator `admin`,
    /// logged in.
    pub async fn spawn(db: &TestDb) -> Self {
        Self::spawn_with(db, &[("OMNICHANNEL_JWT_SECRET", JWT_SECRET)]).await
    }

    /// The service with more (or other) configuration variables.
    pub async fn spawn_with(db: &TestDb, env: &[(&str, &str)]) -> Self {
        let mut vars = vec![
            ("OMNICHANNEL_DATABASE_URL", db.url()),
            ("OMNICHANNEL_BIND", "127.0.0.1:0"),
        ];
        vars.extend_from_slice(env);
        let config = Config::load_from(None, vars).expect("the test configuration is valid");
        let bootstrap = Bootstrap {
            admin_password: Some(ADMIN_PASSWORD.to_owned()),
        };
        let application = Application::build(&config, bootstrap)
            .await
            .expect("the application starts");
        let base = format!("http://127.0.0.1:{}", application.port());
        let handle = application.handle();
        tokio::spawn(application.run_until_stopped());
        let mut app = Self {
            base,
            client: reqwest::Client::new(),
            handle,
            token: String::new(),
        };
        let login = app.login("admin", ADMIN_PASSWORD).await;
        assert_eq!(login.status, 200, "the first operator logs in: {login:?}");
        app.token = login.body["access_token"].as_str().unwrap().to_owned();
        app
    }

    /// `POST /auth/login`.
    pub async fn login(&self, username: &str, password: &str) -> Reply {
        let body = serde_json::json!({"username": username, "password": password});
        self.send_as(
            Auth::Anonymous,
            Method::POST,
            &format!("{ADMIN}/auth/login"),
            Some(&body),
        )
        .await
    }

    /// An API key of the public API, made through the admin API.
    pub async fn api_key(&self) -> Auth {
        let created = self
            .create("api-keys", &serde_json::json!({"name": "tests"}))
            .await;
        Auth::Key {
            key: created["api_key"].as_str().unwrap().to_owned(),
            secret: created["secret_api_key"].as_str().unwrap().to_owned(),
        }
    }

    /// Sends raw bytes with an optional content type, as the first operator.
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> Reply {
        let auth = Auth::Bearer(self.token.clone());
        self.raw_as(auth, method, path, content_type, body).await
    }

    /// Sends raw bytes with the given credentials.
    pub async fn raw_as(
        &self,
        auth: Auth,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> Reply {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        request = match auth {
            Auth::Anonymous => request,
            Auth::Bearer(token) => request.bearer_auth(token),
            Auth::Key { key, secret } => request
                .header("x-api-key", key)
                .header("x-api-secret", secret),
        };
        let response = request.body(body).send().await.expect("the server answers");
        let status = response.status().as_u16();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let content_type = header("content-type").unwrap_or_default();
        let location = header("location");
        let retry_after = header("retry-after");
        let www_authenticate = header("www-authenticate");
        let allow = header("allow");
        let bytes = response.bytes().await.expect("the body is read");
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Reply {
            status,
            content_type,
            location,
            retry_after,
            www_authenticate,
            allow,
            body,
        }
    }

    pub async fn send(&self, method: Method, path: &str, body: Option<&Value>) -> Reply {
        self.send_as(Auth::Bearer(self.token.clone()), method, path, body)
            .await
    }

    pub async fn send_as(
        &self,
        auth: Auth,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Reply {
        match body {
            Some(body) => {
                let bytes = serde_json::to_vec(body).expect("JSON");
                self.raw_as(auth, method, path, Some("application/json"), bytes)
                    .await
            }
            None => self.raw_as(auth, method, path, None, Vec::new()).await,
        }
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Reply {
        self.send(Method::POST, path, Some(body)).await
    }

    pub async fn put(&self, path: &str, body: &Value) -> Reply {
        self.send(Method::PUT, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: &Value) -> Reply {
        self.send(Method::PATCH, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.send(Method::DELETE, path, None).await
    }

    /// The id of a seeded dictionary entry (`communication-types` or
    /// `communication-sources`) by its code.
    pub async fn seeded(&self, collection: &str, code: &str) -> String {
        let list = self.get(&format!("{ADMIN}/{collection}")).await;
        list.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|item| item["code"] == code)
            .and_then(|item| item["id"].as_str())
            .unwrap_or_else(|| panic!("no {code} in {collection}"))
            .to_owned()
    }

    /// A new department that prefers `sources`, in that order, for the type
    /// `type_id`; answers its id.
    pub async fn department_preferring(
        &self,
        name: &str,
        type_id: &str,
        sources: &[&str],
    ) -> String {
        let department = self
            .create("departments", &serde_json::json!({"name": name}))
            .await["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let items: Vec<Value> = sources
            .iter()
            .zip(1..)
            .map(|(source, priority)| {
                serde_json::json!({
                    "communication_type_id": type_id,
                    "communication_source_id": source,
                    "priority": priority,
                })
            })
            .collect();
        let put = self
            .put(
                &format!("{ADMIN}/departments/{department}/favorite-sources"),
                &serde_json::json!({"items": items}),
            )
            .await;
        assert_eq!(put.status, 200, "{put:?}");
        department
    }

    /// Creates through the admin API and answers the new object, asserting `201`.
    pub async fn create(&self, collection: &str, body: &Value) -> Value {
        let reply = self.post(&format!("{ADMIN}/{collection}"), body).await;
        assert_eq!(reply.status, 201, "creating in {collection}: {reply:?}");
        reply.body
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // Stop taking connections; the runtime ends with the test.
        drop(self.handle.stop(false));
    }
}

/// Everything the process logs from now on, kept in memory: the test that
/// installs it must be the only one of its process that does (nextest runs
/// each test in a process of its own).
#[derive(Clone, Default)]
pub struct CapturedLog(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl CapturedLog {
    /// Installs the global subscriber with `filter` (`info`, `trace`, …).
    pub fn install(filter: &str) -> Self {
        let captured = Self::default();
        let writer = captured.clone();
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(move || writer.clone())
            .try_init()
            .expect("this test is the only one that installs a subscriber");
        captured
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl std::io::Write for CapturedLog {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
