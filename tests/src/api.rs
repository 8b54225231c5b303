//! The real service on a free port over a test database, and a small client.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use actix_web::dev::ServerHandle;
use omnichannel_server::config::Config;
use omnichannel_server::startup::Application;
use reqwest::Method;
use serde_json::Value;

use crate::db::TestDb;

pub const ADMIN: &str = "/api/admin/v1";

/// The service, started for one test; stopped when dropped.
pub struct TestApp {
    pub base: String,
    client: reqwest::Client,
    handle: ServerHandle,
}

/// An answer, its body parsed as JSON (`Null` when empty or not JSON).
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub content_type: String,
    pub location: Option<String>,
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
    pub async fn spawn(db: &TestDb) -> Self {
        let config = Config::load_from(
            None,
            [
                ("OMNICHANNEL_DATABASE_URL", db.url()),
                ("OMNICHANNEL_BIND", "127.0.0.1:0"),
            ],
        )
        .expect("the test configuration is valid");
        let application = Application::build(&config)
            .await
            .expect("the application starts");
        let base = format!("http://127.0.0.1:{}", application.port());
        let handle = application.handle();
        tokio::spawn(application.run_until_stopped());
        Self {
            base,
            client: reqwest::Client::new(),
            handle,
        }
    }

    /// Sends raw bytes with an optional content type.
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> Reply {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
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
        let bytes = response.bytes().await.expect("the body is read");
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Reply {
            status,
            content_type,
            location,
            body,
        }
    }

    pub async fn send(&self, method: Method, path: &str, body: Option<&Value>) -> Reply {
        match body {
            Some(body) => {
                let bytes = serde_json::to_vec(body).expect("JSON");
                self.raw(method, path, Some("application/json"), bytes)
                    .await
            }
            None => self.raw(method, path, None, Vec::new()).await,
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
