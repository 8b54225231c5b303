//! The provider every channel of every instance posts to: it records each
//! call (which communication, which client, which instance, when) and
//! answers some quickly, some slowly and some with a transient `503`.
//!
//! Whether a call is answered `2xx` is decided, and recorded, when the call
//! arrives: a call whose caller dies before reading the answer still counts
//! as a delivery, as it would at a real provider.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use anyhow::Context;
use serde_json::{Value, json};

use crate::rng::Rng;

/// How the sink answers.
#[derive(Debug, Clone, Copy)]
pub struct Behaviour {
    /// Share of calls answered `503` (transient).
    pub fail: f64,
    /// Share of calls answered after `slow_ms`, the others after `quick_ms`.
    pub slow: f64,
    pub slow_ms: (u64, u64),
    pub quick_ms: (u64, u64),
}

/// One call received.
#[derive(Debug, Clone)]
pub struct Call {
    pub communication: String,
    pub user: String,
    /// The `X-Instance` header: which instance called (0 when missing).
    pub instance: u32,
    pub at: Instant,
    /// Answered `2xx`: the provider took the message.
    pub ok: bool,
}

struct State {
    calls: Vec<Call>,
    rng: Rng,
    behaviour: Behaviour,
}

pub struct Sink {
    pub url: String,
    state: Arc<Mutex<State>>,
    handle: ServerHandle,
}

fn lock(state: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

async fn receive(
    state: web::Data<Arc<Mutex<State>>>,
    request: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let communication = header("idempotency-key");
    let instance = header("x-instance").parse().unwrap_or(0);
    let user = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v["user_id"].as_str().map(str::to_owned))
        .unwrap_or_default();
    let (ok, delay, n) = {
        let mut state = lock(&state);
        let behaviour = state.behaviour;
        let ok = !state.rng.chance(behaviour.fail);
        let (lo, hi) = if state.rng.chance(behaviour.slow) {
            behaviour.slow_ms
        } else {
            behaviour.quick_ms
        };
        let delay = state.rng.between(lo, hi);
        state.calls.push(Call {
            communication,
            user,
            instance,
            at: Instant::now(),
            ok,
        });
        (ok, delay, state.calls.len())
    };
    if delay > 0 {
        actix_web::rt::time::sleep(Duration::from_millis(delay)).await;
    }
    if ok {
        HttpResponse::Ok().json(json!({"provider_message_id": format!("sink-{n}")}))
    } else {
        HttpResponse::ServiceUnavailable().finish()
    }
}

impl Sink {
    /// Starts the sink on a port of its own, in a thread of its own.
    pub fn start(seed: u64, behaviour: Behaviour) -> anyhow::Result<Self> {
        let state = Arc::new(Mutex::new(State {
            calls: Vec::new(),
            rng: Rng::new(seed),
            behaviour,
        }));
        let data = web::Data::new(state.clone());
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("chaos-sink".to_owned())
            .spawn(move || {
                let system = actix_web::rt::System::new();
                system.block_on(async move {
                    let server = HttpServer::new(move || {
                        App::new()
                            .app_data(data.clone())
                            .app_data(web::PayloadConfig::new(1 << 20))
                            .default_service(web::to(receive))
                    })
                    .workers(2)
                    .backlog(4096)
                    .disable_signals()
                    .bind(("127.0.0.1", 0));
                    let server = match server {
                        Ok(server) => server,
                        Err(error) => {
                            drop(tx.send(Err(anyhow::Error::new(error))));
                            return;
                        }
                    };
                    let Some(port) = server.addrs().first().map(|a| a.port()) else {
                        drop(tx.send(Err(anyhow::anyhow!("the sink has no address"))));
                        return;
                    };
                    let running = server.run();
                    drop(tx.send(Ok((port, running.handle()))));
                    if let Err(error) = running.await {
                        eprintln!("chaos: the sink stopped: {error}");
                    }
                });
            })
            .context("cannot start the sink's thread")?;
        let (port, handle) = rx.recv().context("the sink did not start")??;
        Ok(Self {
            url: format!("http://127.0.0.1:{port}"),
            state,
            handle,
        })
    }

    /// Every call so far.
    pub fn calls(&self) -> Vec<Call> {
        lock(&self.state).calls.clone()
    }

    /// The number of calls so far.
    pub fn len(&self) -> usize {
        lock(&self.state).calls.len()
    }

    pub fn stop(&self) {
        drop(self.handle.stop(false));
    }
}

/// Per communication: calls answered `2xx`, and calls in all.
pub fn deliveries(calls: &[Call]) -> HashMap<&str, (u32, u32)> {
    let mut by_id: HashMap<&str, (u32, u32)> = HashMap::new();
    for call in calls {
        let entry = by_id.entry(call.communication.as_str()).or_default();
        entry.1 += 1;
        if call.ok {
            entry.0 += 1;
        }
    }
    by_id
}
