//! The admin API as the harness uses it: log in, set up clients and a
//! department, send, cancel.

use std::time::Duration;

use anyhow::{Context, bail};
use futures_util::StreamExt;
use reqwest::Method;
use serde_json::{Value, json};

use crate::instance::ADMIN_PASSWORD;

/// A department rule: at most `limit` in any window of `count × unit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuleSpec {
    pub limit: u32,
    pub count: u32,
    pub unit: Unit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Second,
    Minute,
    Hour,
    Day,
}

impl Unit {
    fn name(self) -> &'static str {
        match self {
            Self::Second => "second",
            Self::Minute => "minute",
            Self::Hour => "hour",
            Self::Day => "day",
        }
    }

    fn seconds(self) -> i64 {
        match self {
            Self::Second => 1,
            Self::Minute => 60,
            Self::Hour => 3600,
            Self::Day => 86_400,
        }
    }
}

impl RuleSpec {
    /// `LIMIT/COUNT/UNIT`, e.g. `3/1/minute`.
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let parts: Vec<&str> = text.split('/').collect();
        let [limit, count, unit] = parts.as_slice() else {
            bail!("a rule is LIMIT/COUNT/UNIT, e.g. 3/1/minute: {text}");
        };
        let unit = match *unit {
            "second" => Unit::Second,
            "minute" => Unit::Minute,
            "hour" => Unit::Hour,
            "day" => Unit::Day,
            other => bail!("unknown unit {other}"),
        };
        Ok(Self {
            limit: limit.parse()?,
            count: count.parse()?,
            unit,
        })
    }

    /// The window, as the product reads a rule: `units_count × unit`.
    pub fn window(&self) -> chrono::Duration {
        chrono::Duration::seconds(self.unit.seconds() * i64::from(self.count))
    }
}

impl std::fmt::Display for RuleSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.count == 1 {
            write!(f, "{} per {}", self.limit, self.unit.name())
        } else {
            write!(f, "{} per {} {}s", self.limit, self.count, self.unit.name())
        }
    }
}

#[derive(Clone)]
pub struct Admin {
    pub http: reqwest::Client,
    token: String,
}

/// What became of one send.
#[derive(Debug)]
pub enum Sent {
    /// `202`: the communication's id.
    Accepted(String),
    /// The connection was refused: the request reached no instance.
    Refused,
    /// The request may or may not have been stored (connection lost, `5xx`,
    /// `408`, `429`): the database tells.
    Uncertain(String),
    /// Refused by the API (`4xx`): a harness or product bug.
    Rejected(String),
}

impl Admin {
    pub async fn login(http: &reqwest::Client, base: &str) -> anyhow::Result<Self> {
        let response = http
            .post(format!("{base}/api/admin/v1/auth/login"))
            .json(&json!({"username": "admin", "password": ADMIN_PASSWORD}))
            .send()
            .await?;
        let status = response.status();
        let pair: Value = response.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            bail!("login: {status} {pair}");
        }
        let token = pair["access_token"]
            .as_str()
            .context("no access token")?
            .to_owned();
        Ok(Self {
            http: http.clone(),
            token,
        })
    }

    pub async fn call(
        &self,
        base: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let mut request = self
            .http
            .request(method, format!("{base}/api/admin/v1{path}"))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            bail!("{path}: {status} {body}");
        }
        Ok(body)
    }

    /// One send through `base`.
    pub async fn send(&self, base: &str, body: &Value) -> Sent {
        let answer = self
            .http
            .post(format!("{base}/api/admin/v1/communications"))
            .bearer_auth(&self.token)
            .json(body)
            .timeout(Duration::from_secs(60))
            .send()
            .await;
        let response = match answer {
            Ok(response) => response,
            Err(error) if error.is_connect() => return Sent::Refused,
            Err(error) => return Sent::Uncertain(format!("{error}")),
        };
        let status = response.status();
        let value: Value = match response.json().await {
            Ok(value) => value,
            Err(error) => return Sent::Uncertain(format!("{status}, body unread: {error}")),
        };
        if status.as_u16() == 202 {
            match value["id"].as_str() {
                Some(id) => Sent::Accepted(id.to_owned()),
                None => Sent::Rejected(format!("202 without an id: {value}")),
            }
        } else if status.is_server_error() || status.as_u16() == 408 || status.as_u16() == 429 {
            Sent::Uncertain(format!("{status} {value}"))
        } else {
            Sent::Rejected(format!("{status} {value}"))
        }
    }

    /// The seeded `mass` type: its id.
    pub async fn mass_type(&self, base: &str) -> anyhow::Result<String> {
        let types = self
            .call(base, Method::GET, "/communication-types", None)
            .await?;
        find_code(&types, "mass")
    }

    /// A department that prefers sms, then email, for `mass`, with `rules`.
    pub async fn department(
        &self,
        base: &str,
        name: &str,
        mass: &str,
        rules: &[RuleSpec],
    ) -> anyhow::Result<String> {
        let sources = self
            .call(base, Method::GET, "/communication-sources", None)
            .await?;
        let sms = find_code(&sources, "sms")?;
        let email = find_code(&sources, "email")?;
        let department = self
            .call(
                base,
                Method::POST,
                "/departments",
                Some(json!({"name": name})),
            )
            .await?;
        let department = department["id"]
            .as_str()
            .context("no department id")?
            .to_owned();
        self.call(
            base,
            Method::PUT,
            &format!("/departments/{department}/favorite-sources"),
            Some(json!({"items": [
                {"communication_type_id": mass, "communication_source_id": sms, "priority": 1},
                {"communication_type_id": mass, "communication_source_id": email, "priority": 2},
            ]})),
        )
        .await?;
        for rule in rules {
            self.call(
                base,
                Method::POST,
                &format!("/departments/{department}/rules"),
                Some(json!({
                    "limit_per_unit": rule.limit,
                    "unit": rule.unit.name(),
                    "units_count": rule.count,
                })),
            )
            .await?;
        }
        Ok(department)
    }

    /// Clients numbered `numbers`, each with a phone and an e-mail, created
    /// through the instances in turn.
    pub async fn clients(
        &self,
        bases: &[String],
        numbers: std::ops::Range<usize>,
        tag: &str,
    ) -> anyhow::Result<Vec<String>> {
        futures_util::stream::iter(numbers)
            .map(|i| {
                let base = bases
                    .get(i % bases.len().max(1))
                    .cloned()
                    .unwrap_or_default();
                let body = json!({
                    "first_name": format!("Client {i}"),
                    "last_name": tag,
                    "phone": format!("+1555{i:07}"),
                    "email": format!("client{i}.{tag}@example.com"),
                });
                async move {
                    let user = self.call(&base, Method::POST, "/users", Some(body)).await?;
                    Ok(user["id"].as_str().context("no user id")?.to_owned())
                }
            })
            .buffered(16)
            .collect::<Vec<anyhow::Result<String>>>()
            .await
            .into_iter()
            .collect()
    }

    /// Cancels a communication: `200` expected.
    pub async fn cancel(&self, base: &str, id: &str) -> anyhow::Result<Value> {
        self.call(
            base,
            Method::POST,
            &format!("/communications/{id}/cancel"),
            None,
        )
        .await
    }
}

fn find_code(list: &Value, code: &str) -> anyhow::Result<String> {
    list["items"]
        .as_array()
        .and_then(|items| items.iter().find(|i| i["code"] == code))
        .and_then(|i| i["id"].as_str())
        .map(str::to_owned)
        .with_context(|| format!("the seeded entry {code} is missing"))
}
