//! The sending side's wiring: each channel's provider from `[channels.*]`,
//! the dispatch settings from `[worker]`, and the workers themselves.

use std::sync::Arc;

use anyhow::Context;
use chrono::Duration;
use omnichannel_app::PipelineSettings;
use omnichannel_app::SystemClock;
use omnichannel_app::channels::Channels;
use omnichannel_app::dispatch::{DispatchSettings, Dispatcher};
use omnichannel_channels::ProviderSpec;
use omnichannel_storage::Store;
use tokio::sync::{Notify, watch};

use crate::config::{ChannelConfig, Config};

/// The provider of every configured channel; a channel without a table uses
/// `log`.
pub fn channels(config: &Config) -> anyhow::Result<Channels> {
    let default = omnichannel_channels::build(&ProviderSpec::Log)
        .context("the log provider")?
        .context("the log provider is never switched off")?;
    let mut channels = Channels::new(default);
    for (code, channel) in &config.channels {
        let spec = match channel {
            ChannelConfig::Log => ProviderSpec::Log,
            ChannelConfig::None => ProviderSpec::None,
            ChannelConfig::Http(http) => ProviderSpec::Http {
                url: http.url.clone(),
                timeout: std::time::Duration::from_millis(http.timeout_ms),
                headers: http
                    .headers
                    .iter()
                    .map(|(name, value)| (name.clone(), value.expose().to_owned()))
                    .collect(),
            },
            other => {
                // The configuration accepts every provider of the spec; one
                // that this release cannot call switches its channel off
                // rather than pretending to send.
                tracing::warn!(
                    channel = code,
                    provider = other.provider(),
                    "this release has no {} provider: the channel is switched off",
                    other.provider()
                );
                ProviderSpec::None
            }
        };
        let provider = omnichannel_channels::build(&spec)
            .with_context(|| format!("channels.{code}: cannot set up its provider"))?;
        channels = channels.with(code.clone(), provider);
    }
    Ok(channels)
}

fn chrono(duration: std::time::Duration) -> Duration {
    Duration::from_std(duration).unwrap_or(Duration::MAX)
}

/// What the use cases need to send, with `wake` as the dispatch signal.
pub fn pipeline_settings(config: &Config, wake: Arc<Notify>) -> anyhow::Result<PipelineSettings> {
    Ok(PipelineSettings {
        channels: Arc::new(channels(config)?),
        horizon: chrono(config.worker.defer_horizon()),
        wake,
    })
}

pub fn dispatch_settings(config: &Config) -> DispatchSettings {
    let worker = &config.worker;
    DispatchSettings {
        concurrency: usize::try_from(worker.concurrency).unwrap_or(1),
        poll_interval: worker.poll_interval(),
        lease: chrono(worker.lease()),
        retry_base: chrono(worker.retry_base()),
        max_attempts: worker.max_attempts,
        horizon: chrono(worker.defer_horizon()),
    }
}

/// The idempotency keys on `store`, whose expired keys the workers remove.
pub fn idempotency_keys(store: &Store) -> Arc<omnichannel_app::idempotency::IdempotencyKeys> {
    Arc::new(omnichannel_app::idempotency::IdempotencyKeys::new(
        Arc::new(store.clone()),
        Arc::new(SystemClock),
    ))
}

/// The dispatch workers of one process, running until stopped.
pub struct Workers {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
    /// Removes expired idempotency keys every few minutes.
    idempotency_cleanup: tokio::task::JoinHandle<()>,
    listener: Option<omnichannel_storage::Listener>,
}

impl Workers {
    /// Starts dispatch on the current runtime. On PostgreSQL a listener
    /// wakes it when another instance queues work.
    pub fn start(
        config: &Config,
        store: &Store,
        pipeline: &PipelineSettings,
    ) -> anyhow::Result<Self> {
        let dispatcher = Arc::new(
            Dispatcher::new(
                Arc::new(store.clone()),
                pipeline.channels.clone(),
                Arc::new(SystemClock),
                dispatch_settings(config),
                pipeline.wake.clone(),
            )
            .with_shutdown_grace(config.shutdown_grace()),
        );
        let wake = pipeline.wake.clone();
        let listener = omnichannel_storage::Listener::start(&config.database_url, move || {
            wake.notify_one();
        })
        .context("cannot listen for new work on the database")?;
        let (stop, stopped) = watch::channel(false);
        let idempotency_cleanup = tokio::spawn(idempotency_keys(store).run_cleanup(
            omnichannel_app::idempotency::CLEANUP_PERIOD,
            stopped.clone(),
        ));
        let task = tokio::spawn(dispatcher.run(stopped));
        Ok(Self {
            stop,
            task,
            idempotency_cleanup,
            listener,
        })
    }

    /// Claims no more, waits for the calls in flight and records them; those
    /// still running after `shutdown_grace_secs` are cancelled and their
    /// leases given back.
    pub async fn stop(self) {
        self.stop.send_replace(true);
        if let Err(error) = self.task.await {
            tracing::error!(%error, "the dispatch task failed");
        }
        if let Err(error) = self.idempotency_cleanup.await {
            tracing::error!(%error, "the idempotency clean-up task failed");
        }
        if let Some(listener) = self.listener {
            listener.stop();
        }
    }
}
