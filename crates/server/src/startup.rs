//! Wiring: storage, use cases and the HTTP server, from one configuration.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::{Server, ServerHandle};
use actix_web::web::Data;
use actix_web::{App, HttpServer};
use anyhow::Context;
use chrono::Duration;
use omnichannel_app::auth::crypto::{PasswordHasher, random_token};
use omnichannel_app::{AuthSettings, PipelineSettings, Services, SystemClock};
use omnichannel_domain::ports::SettingRepository;
use omnichannel_storage::{PoolOptions, Store};
use tracing_actix_web::TracingLogger;

use crate::config::Config;
use crate::pipeline::Workers;

/// The settings row that keeps a generated signing key of access tokens.
const JWT_SECRET_SETTING: &str = "jwt_secret";

/// Connects to the database and applies pending migrations, off the async threads.
pub async fn open_store(config: &Config) -> anyhow::Result<Store> {
    let url = config.database_url.clone();
    actix_web::rt::task::spawn_blocking(move || -> anyhow::Result<Store> {
        let store = Store::connect(&url, &PoolOptions::default())?;
        store.run_migrations()?;
        Ok(store)
    })
    .await
    .context("the database set-up task failed")?
}

/// The signing key of access tokens: the configured one, else one generated
/// once and kept in the database, so that it survives restarts and every
/// instance on the database agrees.
fn auth_settings(config: &Config, store: &Store) -> anyhow::Result<AuthSettings> {
    let jwt_secret = match &config.auth.jwt_secret {
        Some(secret) => secret.expose().as_bytes().to_vec(),
        None => store
            .get_or_insert(JWT_SECRET_SETTING, &random_token(48)?)
            .context("cannot read or keep the generated JWT secret")?
            .into_bytes(),
    };
    let seconds =
        |d: std::time::Duration| Duration::seconds(i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    Ok(AuthSettings {
        jwt_secret,
        issuer: config.auth.issuer.clone(),
        access_ttl: seconds(config.auth.access_ttl()),
        refresh_ttl: seconds(config.auth.refresh_ttl()),
        bcrypt_cost: PasswordHasher::DEFAULT_COST,
    })
}

/// Every use case over the store.
pub async fn services(
    config: &Config,
    store: Store,
    pipeline: &PipelineSettings,
) -> anyhow::Result<Services> {
    let config = config.clone();
    let pipeline = pipeline.clone();
    actix_web::rt::task::spawn_blocking(move || -> anyhow::Result<Services> {
        let auth = auth_settings(&config, &store)?;
        Ok(Services::new(
            Arc::new(store),
            Arc::new(SystemClock),
            &auth,
            &pipeline,
        ))
    })
    .await
    .context("the set-up task failed")?
}

/// What a start does beyond the configuration.
#[derive(Debug, Clone, Default)]
pub struct Bootstrap {
    /// The password of the first operator `admin`, made when there is none;
    /// generated and logged once when unset.
    pub admin_password: Option<String>,
}

impl Bootstrap {
    /// From `OMNICHANNEL_ADMIN_PASSWORD`.
    pub fn from_env() -> Self {
        Self {
            admin_password: std::env::var(crate::config::ADMIN_PASSWORD_ENV)
                .ok()
                .filter(|password| !password.is_empty()),
        }
    }
}

/// A bound, not yet running, HTTP server, and the dispatch workers unless
/// `worker.enabled` is false.
pub struct Application {
    server: Server,
    port: u16,
    workers: Option<Workers>,
    /// The metrics' sampling and own listener, stopped when dropped.
    _metrics: Option<crate::metrics::Running>,
}

impl Application {
    pub async fn build(config: &Config, bootstrap: Bootstrap) -> anyhow::Result<Self> {
        let store = open_store(config).await?;
        let pipeline = crate::pipeline::pipeline_settings(config, Arc::default())?;
        let services = Data::new(services(config, store.clone(), &pipeline).await?);
        let first = services.clone();
        let first = actix_web::rt::task::spawn_blocking(move || {
            first.operators.ensure_first(bootstrap.admin_password)
        })
        .await
        .context("the set-up task failed")??;
        if let Some(first) = first {
            match first.generated_password {
                Some(password) => tracing::warn!(
                    username = first.username,
                    password,
                    "created the first operator with a generated password, shown this once: log in and change it"
                ),
                None => tracing::info!(
                    username = first.username,
                    "created the first operator with the password of OMNICHANNEL_ADMIN_PASSWORD"
                ),
            }
        }
        let listener = TcpListener::bind(&config.bind)
            .with_context(|| format!("cannot listen on {}", config.bind))?;
        let port = listener.local_addr()?.port();
        let (running_metrics, metrics) = crate::metrics::start(&config.metrics, &store)?;
        let receipts = crate::pipeline::twilio_receipts(config).map(Data::new);
        let server = HttpServer::new(move || {
            let metrics = metrics.clone();
            let receipts = receipts.clone();
            App::new()
                .configure(move |cfg| {
                    if let Some(receipts) = receipts {
                        cfg.app_data(receipts);
                    }
                })
                .configure(move |cfg| {
                    if let Some(metrics) = metrics {
                        metrics.routes()(cfg);
                    }
                })
                .wrap(omnichannel_http::problem_fallback())
                .wrap(actix_web::middleware::from_fn(
                    omnichannel_http::metrics::record,
                ))
                // One line a request, inside the request's span.
                .wrap(TracingLogger::<crate::request_log::RequestLog>::new())
                .configure(omnichannel_http::configure(services.clone()))
        })
        .listen(listener)?
        .disable_signals()
        .shutdown_timeout(config.shutdown_grace_secs)
        .run();
        tracing::info!(address = %config.bind, port, "listening");
        let workers = if config.worker.enabled {
            Some(Workers::start(config, &store, &pipeline)?)
        } else {
            None
        };
        Ok(Self {
            server,
            port,
            workers,
            _metrics: running_metrics,
        })
    }

    /// The port the server listens on (useful when the configuration asked for port 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until `stop` ends, then stops the HTTP server (which finishes
    /// the requests in flight) and the workers at once, each within
    /// `shutdown_grace_secs`. A server stopped otherwise stops the workers.
    pub async fn run_until(self, stop: impl Future<Output = ()>) -> std::io::Result<()> {
        let handle = self.server.handle();
        let mut server = self.server;
        tokio::select! {
            served = &mut server => {
                if let Some(workers) = self.workers {
                    workers.stop().await;
                }
                return served;
            }
            () = stop => {}
        }
        let workers = async {
            if let Some(workers) = self.workers {
                workers.stop().await;
            }
        };
        let ((), (), served) = tokio::join!(handle.stop(true), workers, server);
        served
    }

    /// Serves until the handle stops the server, then stops the workers.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let served = self.server.await;
        if let Some(workers) = self.workers {
            workers.stop().await;
        }
        served
    }
}
