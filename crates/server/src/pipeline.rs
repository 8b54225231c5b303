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
use omnichannel_channels::fcm::FcmSpec;
use omnichannel_channels::smtp::{SmtpSpec, SmtpTls};
use omnichannel_channels::twilio::{TwilioSender, TwilioSpec};
use omnichannel_channels::whatsapp::WhatsappSpec;
use omnichannel_storage::Store;
use tokio::sync::{Notify, watch};

use omnichannel_http::receipts::{TWILIO_RECEIPTS_PATH, TwilioReceipts};

use crate::config::{self, ChannelConfig, Config};

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
                timeout: millis(http.timeout_ms),
                headers: http
                    .headers
                    .iter()
                    .map(|(name, value)| (name.clone(), value.expose().to_owned()))
                    .collect(),
            },
            ChannelConfig::Smtp(smtp) => ProviderSpec::Smtp(SmtpSpec {
                host: smtp.host.clone(),
                port: smtp.port,
                tls: match smtp.tls {
                    config::SmtpTls::None => SmtpTls::None,
                    config::SmtpTls::Starttls => SmtpTls::Starttls,
                    config::SmtpTls::Tls => SmtpTls::Tls,
                },
                credentials: smtp
                    .username
                    .clone()
                    .zip(smtp.password.as_ref().map(|p| p.expose().to_owned())),
                from: smtp.from.clone(),
                subject: smtp.subject.clone(),
                timeout: millis(smtp.timeout_ms),
                extra_root_certificates: Vec::new(),
            }),
            ChannelConfig::Twilio(twilio) => ProviderSpec::Twilio(TwilioSpec {
                account_sid: twilio.account_sid.clone(),
                auth_token: twilio.auth_token.expose().to_owned(),
                sender: match &twilio.sender {
                    config::TwilioSender::From(from) => TwilioSender::From(from.clone()),
                    config::TwilioSender::MessagingService(sid) => {
                        TwilioSender::MessagingService(sid.clone())
                    }
                },
                base_url: twilio.base_url.clone(),
                status_callback: config
                    .public_url
                    .as_ref()
                    .map(|url| format!("{url}{TWILIO_RECEIPTS_PATH}")),
                timeout: millis(twilio.timeout_ms),
            }),
            ChannelConfig::Whatsapp(whatsapp) => ProviderSpec::Whatsapp(WhatsappSpec {
                phone_number_id: whatsapp.phone_number_id.clone(),
                access_token: whatsapp.access_token.expose().to_owned(),
                base_url: whatsapp.base_url.clone(),
                timeout: millis(whatsapp.timeout_ms),
            }),
            ChannelConfig::Fcm(fcm) => ProviderSpec::Fcm(FcmSpec {
                service_account_file: fcm.service_account_file.clone(),
                base_url: fcm.base_url.clone(),
                token_uri: fcm.token_uri.clone(),
                timeout: millis(fcm.timeout_ms),
            }),
        };
        let provider = omnichannel_channels::build(&spec)
            .with_context(|| format!("channels.{code}: cannot set up its provider"))?;
        channels = channels.with(code.clone(), provider);
    }
    Ok(channels)
}

/// Twilio's receipts, when `public_url` is set and a channel uses `twilio`.
pub fn twilio_receipts(config: &Config) -> Option<TwilioReceipts> {
    let public_url = config.public_url.as_ref()?;
    let accounts: Vec<(String, String)> = config
        .channels
        .values()
        .filter_map(|channel| match channel {
            ChannelConfig::Twilio(twilio) => Some((
                twilio.account_sid.clone(),
                twilio.auth_token.expose().to_owned(),
            )),
            _ => None,
        })
        .collect();
    (!accounts.is_empty())
        .then(|| TwilioReceipts::new(format!("{public_url}{TWILIO_RECEIPTS_PATH}"), accounts))
}

fn millis(ms: u64) -> std::time::Duration {
    std::time::Duration::from_millis(ms)
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
        // A task cancelled because the runtime is shutting down did not fail.
        if let Err(error) = self.task.await
            && error.is_panic()
        {
            tracing::error!(%error, "the dispatch task failed");
        }
        if let Err(error) = self.idempotency_cleanup.await
            && error.is_panic()
        {
            tracing::error!(%error, "the idempotency clean-up task failed");
        }
        if let Some(listener) = self.listener {
            listener.stop();
        }
    }
}
