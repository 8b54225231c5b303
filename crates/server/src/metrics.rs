//! `GET /metrics`, in the Prometheus text format: the process's recorder
//! (installed once per process), the route, its own listener when
//! `metrics.bind` is set, and a task that samples the queue and the pool.
//!
//! The use cases record through the `metrics` facade
//! (`omnichannel_app::metrics`), the HTTP requests through
//! `omnichannel_http::metrics`; this module only installs, samples and
//! renders.

use std::net::TcpListener;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use actix_web::web::{self, Data, ServiceConfig};
use actix_web::{App, HttpResponse, HttpServer};
use anyhow::Context;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use omnichannel_domain::ports::QueueGauges;
use omnichannel_storage::Store;

use crate::config::MetricsConfig;

/// The content type of the Prometheus text format.
pub const CONTENT_TYPE_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

pub const QUEUE: &str = "omnichannel_queue_communications";
pub const DB_POOL: &str = "omnichannel_db_pool_connections";

/// How often the queue and the pool are sampled.
const SAMPLE_PERIOD: Duration = Duration::from_secs(5);

/// Upper bounds of the latency buckets, in seconds.
const LATENCY_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];
/// Upper bounds of the dispatch lag buckets, in seconds.
const LAG_BUCKETS: [f64; 12] = [
    0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 15.0, 60.0, 300.0, 3600.0,
];

/// The process's recorder and its process collector.
struct Exporter {
    handle: PrometheusHandle,
    process: metrics_process::Collector,
}

static EXPORTER: OnceLock<Exporter> = OnceLock::new();

/// The handle of the process's Prometheus recorder, installed on the first
/// call (several applications in one process share it). Should another
/// global recorder be installed already, the metrics render empty.
fn exporter() -> &'static Exporter {
    EXPORTER.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_duration_seconds".to_owned()), &LATENCY_BUCKETS)
            .and_then(|b| {
                b.set_buckets_for_metric(
                    Matcher::Full(omnichannel_app::metrics::DISPATCH_LAG.to_owned()),
                    &LAG_BUCKETS,
                )
            });
        let builder = match builder {
            Ok(builder) => builder,
            Err(error) => {
                tracing::error!(%error, "the metrics buckets are invalid: histograms render as summaries");
                PrometheusBuilder::new()
            }
        };
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        if let Err(error) = metrics::set_global_recorder(recorder) {
            tracing::error!(%error, "another metrics recorder is installed: /metrics will be empty");
        }
        describe();
        let process = metrics_process::Collector::default();
        process.describe();
        Exporter { handle, process }
    })
}

fn describe() {
    use omnichannel_app::metrics as app;
    metrics::describe_counter!(
        omnichannel_http::metrics::REQUESTS,
        "HTTP requests answered, by route template, method and status."
    );
    metrics::describe_histogram!(
        omnichannel_http::metrics::REQUEST_DURATION,
        metrics::Unit::Seconds,
        "How long HTTP requests took, by route template and method."
    );
    metrics::describe_counter!(
        app::COMMUNICATIONS_CREATED,
        "Communications stored, by how they came (send, bulk) and their first status."
    );
    metrics::describe_counter!(
        app::COMMUNICATIONS_STATUS,
        "Communications moved to a status, by channel code (empty when none applies) and reason."
    );
    metrics::describe_counter!(
        app::PROVIDER_CALLS,
        "Provider calls, by channel code and outcome class (sent, transient, permanent)."
    );
    metrics::describe_histogram!(
        app::PROVIDER_CALL_DURATION,
        metrics::Unit::Seconds,
        "How long provider calls took, by channel code and outcome class."
    );
    metrics::describe_histogram!(
        app::DISPATCH_LAG,
        metrics::Unit::Seconds,
        "From the moment a communication was due to its successful provider call."
    );
    metrics::describe_gauge!(
        QUEUE,
        "Communications in the dispatch queue: due now, deferred (waiting, retrying or in flight), booked."
    );
    metrics::describe_gauge!(
        DB_POOL,
        "The database pool: open, idle and in-use connections, the most it opens, and the callers waiting for one."
    );
}

/// Serves `GET /metrics`, reading the pool and the process on each scrape.
#[derive(Clone)]
pub struct Metrics {
    store: Store,
}

impl Metrics {
    /// Installs the process's recorder, once.
    pub fn install(store: Store) -> Self {
        exporter();
        Self { store }
    }

    /// Mounts `GET /metrics`.
    pub fn routes(&self) -> impl Fn(&mut ServiceConfig) + Clone + 'static {
        let this = Data::new(self.clone());
        move |cfg| {
            cfg.service(
                web::resource("/metrics")
                    .app_data(this.clone())
                    .route(web::get().to(scrape)),
            );
        }
    }

    fn render(&self) -> String {
        let exporter = exporter();
        exporter.process.collect();
        record_pool(&self.store);
        exporter.handle.render()
    }
}

async fn scrape(metrics: Data<Metrics>) -> HttpResponse {
    let metrics = metrics.into_inner();
    match actix_web::rt::task::spawn_blocking(move || metrics.render()).await {
        Ok(text) => HttpResponse::Ok()
            .insert_header((CONTENT_TYPE, CONTENT_TYPE_TEXT))
            .insert_header((CACHE_CONTROL, "no-store"))
            .body(text),
        Err(error) => {
            tracing::error!(%error, "rendering the metrics failed");
            HttpResponse::InternalServerError().finish()
        }
    }
}

fn record_pool(store: &Store) {
    let pool = store.pool_state();
    let in_use = pool.connections.saturating_sub(pool.idle);
    for (state, value) in [
        ("open", pool.connections),
        ("idle", pool.idle),
        ("in_use", in_use),
        ("max", pool.max_size),
        ("waiting", pool.waiting),
    ] {
        metrics::gauge!(DB_POOL, "state" => state).set(f64::from(value));
    }
}

/// Samples the queue (through its partial `due_at` index) and the pool,
/// and runs the recorder's upkeep.
async fn sample(store: Store) {
    let mut ticks = tokio::time::interval(SAMPLE_PERIOD);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let store = store.clone();
        let sampled = tokio::task::spawn_blocking(move || {
            record_pool(&store);
            exporter().handle.run_upkeep();
            store.queue_counts(chrono::Utc::now())
        })
        .await;
        match sampled {
            Ok(Ok(counts)) => {
                for (state, value) in [
                    ("due", counts.due),
                    ("deferred", counts.deferred),
                    ("booked", counts.booked),
                ] {
                    // A gauge is a float; the counts are far below 2^53.
                    metrics::gauge!(QUEUE, "state" => state).set(value as f64);
                }
            }
            Ok(Err(error)) => {
                tracing::warn!(
                    error = format!("{error:#}"),
                    "reading the queue's size failed"
                );
            }
            Err(error) => tracing::warn!(%error, "the queue sampling task failed"),
        }
    }
}

/// What runs for the metrics beside the API: the sampling task and, when
/// `metrics.bind` is set, the metrics' own server. Stopped when dropped.
pub struct Running {
    sampler: tokio::task::JoinHandle<()>,
    server: Option<ServerHandle>,
}

impl Running {
    /// Starts sampling and, when `config.bind` is set, serves `/metrics`
    /// there. Answers the routes to mount on the main listener, if any.
    pub fn start(
        config: &MetricsConfig,
        metrics: &Metrics,
    ) -> anyhow::Result<(Self, Option<Metrics>)> {
        let sampler = tokio::spawn(sample(metrics.store.clone()));
        let mut running = Self {
            sampler,
            server: None,
        };
        let Some(bind) = &config.bind else {
            return Ok((running, Some(metrics.clone())));
        };
        let listener = TcpListener::bind(bind)
            .with_context(|| format!("cannot listen for the metrics on {bind}"))?;
        let port = listener.local_addr()?.port();
        let routes = Arc::new(metrics.routes());
        let server = HttpServer::new(move || {
            let routes = routes.clone();
            App::new()
                .configure(move |cfg| routes(cfg))
                .default_service(web::to(HttpResponse::NotFound))
        })
        .workers(1)
        .listen(listener)?
        .disable_signals()
        .shutdown_timeout(1)
        .run();
        running.server = Some(server.handle());
        tokio::spawn(server);
        tracing::info!(address = %bind, port, "serving the metrics");
        Ok((running, None))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.sampler.abort();
        if let Some(server) = &self.server {
            // The stop command is sent at once; its completion is not awaited.
            drop(server.stop(false));
        }
    }
}

/// Per `[metrics]`: nothing when switched off; else installs the recorder,
/// starts sampling and, when `bind` is set, the metrics' own listener.
/// Answers what runs and the metrics to mount on the main listener (none
/// when they have their own).
pub fn start(
    config: &MetricsConfig,
    store: &Store,
) -> anyhow::Result<(Option<Running>, Option<Metrics>)> {
    if !config.enabled {
        return Ok((None, None));
    }
    let metrics = Metrics::install(store.clone());
    let (running, on_main) = Running::start(config, &metrics)?;
    Ok((Some(running), on_main))
}
