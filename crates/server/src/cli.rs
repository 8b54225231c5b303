//! The command line: `omnichannel [--config FILE] <command>`.

use std::path::PathBuf;

use actix_web::dev::ServerHandle;
use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::config::Config;
use crate::startup::{Application, open_store};

#[derive(Debug, Parser)]
#[command(
    name = "omnichannel",
    version,
    about = "Self-hosted omnichannel communication service"
)]
pub struct Cli {
    /// A TOML configuration file (else `OMNICHANNEL_CONFIG`, else none).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the APIs (migrations are applied first).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
}

impl Cli {
    pub async fn run(self) -> anyhow::Result<()> {
        let config = Config::load(self.config.as_deref())?;
        match self.command {
            Command::Serve => serve(&config).await,
            Command::Migrate => {
                open_store(&config).await?;
                tracing::info!("migrations applied");
                Ok(())
            }
        }
    }
}

async fn serve(config: &Config) -> anyhow::Result<()> {
    tracing::debug!(?config, "configuration");
    let application = Application::build(config).await?;
    let handle = application.handle();
    actix_web::rt::spawn(stop_on_signal(handle));
    application
        .run_until_stopped()
        .await
        .context("the server stopped with an error")?;
    tracing::info!("stopped");
    Ok(())
}

/// `SIGTERM` or `SIGINT`: stop taking connections, finish the requests in flight, exit.
async fn stop_on_signal(handle: ServerHandle) {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => tracing::info!("interrupted, stopping"),
        () = terminate => tracing::info!("terminated, stopping"),
    }
    handle.stop(true).await;
}
