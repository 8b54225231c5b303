//! The command line: `omnichannel [--config FILE] <command>`.

use std::io::BufRead;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::config::{Config, MetricsConfig};
use crate::pipeline::{Workers, pipeline_settings};
use crate::startup::{Application, Bootstrap, open_store, services};

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
    /// Serve the APIs and dispatch (migrations are applied first).
    Serve,
    /// Dispatch only, without the APIs (migrations are applied first).
    Worker,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Manage operators (admin accounts).
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Manage keys of the public API.
    #[command(subcommand, name = "api-key")]
    ApiKey(ApiKeyCommand),
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create an operator; the password is read from standard input.
    Create {
        #[arg(long)]
        username: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ApiKeyCommand {
    /// Create an API key and print it with its secret, shown this once.
    Create {
        #[arg(long)]
        name: String,
    },
}

impl Cli {
    /// Reads the configuration, installs the logging it asks for (the
    /// default format when it cannot be read), and runs the command.
    pub async fn run(self) -> anyhow::Result<()> {
        let config = Config::load(self.config.as_deref());
        crate::telemetry::init(config.as_ref().map(|c| c.log.format).unwrap_or_default());
        let mut stdin = std::io::stdin().lock();
        self.execute(&config?, &mut stdin).await
    }

    /// Runs the command; `input` is where a password is read from.
    pub async fn run_with(self, input: &mut dyn BufRead) -> anyhow::Result<()> {
        let config = Config::load(self.config.as_deref())?;
        self.execute(&config, input).await
    }

    async fn execute(self, config: &Config, input: &mut dyn BufRead) -> anyhow::Result<()> {
        let config = config.clone();
        match self.command {
            Command::Serve => serve(&config).await,
            Command::Worker => work(&config).await,
            Command::Migrate => {
                open_store(&config).await?;
                tracing::info!("migrations applied");
                Ok(())
            }
            Command::Admin(AdminCommand::Create { username }) => {
                let password = read_password(input)?;
                let pipeline = pipeline_settings(&config, Default::default())?;
                let services = services(&config, open_store(&config).await?, &pipeline).await?;
                let admin = actix_web::rt::task::spawn_blocking(move || {
                    services.operators.create(&username, password)
                })
                .await??;
                println!(
                    "created operator {} ({})",
                    admin.username.as_str(),
                    admin.id
                );
                Ok(())
            }
            Command::ApiKey(ApiKeyCommand::Create { name }) => {
                let pipeline = pipeline_settings(&config, Default::default())?;
                let services = services(&config, open_store(&config).await?, &pipeline).await?;
                let created =
                    actix_web::rt::task::spawn_blocking(move || services.api_keys.create(name))
                        .await??;
                println!("id:             {}", created.key.id);
                println!("api_key:        {}", created.key.key);
                println!("secret_api_key: {}", created.secret);
                eprintln!(
                    "Keep the secret now: it is stored only as a hash and cannot be shown again."
                );
                Ok(())
            }
        }
    }
}

/// The first line of the input, without its line end.
fn read_password(input: &mut dyn BufRead) -> anyhow::Result<String> {
    let mut line = String::new();
    input
        .read_line(&mut line)
        .context("cannot read the password from standard input")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

async fn serve(config: &Config) -> anyhow::Result<()> {
    tracing::debug!(?config, "configuration");
    let application = Application::build(config, Bootstrap::from_env()).await?;
    application
        .run_until(signalled())
        .await
        .context("the server stopped with an error")?;
    tracing::info!("stopped");
    Ok(())
}

/// Dispatch alone until `SIGTERM` or `SIGINT`, then let the calls in flight
/// end within `shutdown_grace_secs` (the others' leases are given back).
async fn work(config: &Config) -> anyhow::Result<()> {
    tracing::debug!(?config, "configuration");
    let store = open_store(config).await?;
    let pipeline = pipeline_settings(config, Default::default())?;
    // Without the API, the metrics get a listener of their own: `metrics.bind`,
    // else `bind`.
    let metrics = MetricsConfig {
        bind: Some(
            config
                .metrics
                .bind
                .clone()
                .unwrap_or_else(|| config.bind.clone()),
        ),
        ..config.metrics.clone()
    };
    let _metrics = crate::metrics::start(&metrics, &store)?;
    let workers = Workers::start(config, &store, &pipeline)?;
    signalled().await;
    workers.stop().await;
    tracing::info!("stopped");
    Ok(())
}

/// Until `SIGTERM` or `SIGINT` arrives.
async fn signalled() {
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
}
