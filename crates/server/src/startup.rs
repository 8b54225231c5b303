//! Wiring: storage, use cases and the HTTP server, from one configuration.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::{Server, ServerHandle};
use actix_web::middleware::Logger;
use actix_web::web::Data;
use actix_web::{App, HttpServer};
use anyhow::Context;
use omnichannel_app::{Services, SystemClock};
use omnichannel_storage::{PoolOptions, Store};
use tracing_actix_web::TracingLogger;

use crate::config::Config;

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

/// A bound, not yet running, HTTP server.
pub struct Application {
    server: Server,
    port: u16,
}

impl Application {
    pub async fn build(config: &Config) -> anyhow::Result<Self> {
        let store = open_store(config).await?;
        let listener = TcpListener::bind(&config.bind)
            .with_context(|| format!("cannot listen on {}", config.bind))?;
        let port = listener.local_addr()?.port();
        let services = Data::new(Services::new(Arc::new(store), Arc::new(SystemClock)));
        let server = HttpServer::new(move || {
            App::new()
                .wrap(omnichannel_http::problem_fallback())
                // One line a request, inside the request's span.
                .wrap(Logger::new("%r %s %b bytes %D ms"))
                .wrap(TracingLogger::default())
                .configure(omnichannel_http::configure(services.clone()))
        })
        .listen(listener)?
        .disable_signals()
        .shutdown_timeout(30)
        .run();
        tracing::info!(address = %config.bind, port, "listening");
        Ok(Self { server, port })
    }

    /// The port the server listens on (useful when the configuration asked for port 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until the handle stops the server.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}
