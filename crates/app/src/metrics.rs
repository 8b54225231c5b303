//! What the use cases count, through the `metrics` facade: without an
//! installed recorder (the unit tests, the tools) every call does nothing.
//!
//! Labels carry codes only — channel codes, statuses, reasons, outcome
//! classes — never ids, addresses or messages.

use std::time::Duration;

use chrono::{DateTime, Utc};
use omnichannel_domain::ports::{Outcome, ProviderError, Step};
use omnichannel_domain::{CommunicationStatus, Event, StatusReason};

pub const COMMUNICATIONS_CREATED: &str = "omnichannel_communications_created_total";
pub const COMMUNICATIONS_STATUS: &str = "omnichannel_communications_status_total";
pub const PROVIDER_CALLS: &str = "omnichannel_provider_calls_total";
pub const PROVIDER_CALL_DURATION: &str = "omnichannel_provider_call_duration_seconds";
pub const DISPATCH_LAG: &str = "omnichannel_dispatch_lag_seconds";

/// How a communication came in: `send` or `bulk`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    Send,
    Bulk,
}

impl Via {
    const fn as_str(self) -> &'static str {
        match self {
            Self::Send => "send",
            Self::Bulk => "bulk",
        }
    }
}

/// `count` communications stored with `status` (`not_sent` or `booked`).
pub fn created(via: Via, status: CommunicationStatus, count: usize) {
    if count == 0 {
        return;
    }
    metrics::counter!(
        COMMUNICATIONS_CREATED,
        "via" => via.as_str(),
        "status" => status.as_str(),
    )
    .increment(u64::try_from(count).unwrap_or(u64::MAX));
}

/// One communication moved to `status`; `channel` is the channel's code
/// where it is known (empty otherwise).
pub fn moved(status: CommunicationStatus, channel: &str, reason: Option<StatusReason>) {
    metrics::counter!(
        COMMUNICATIONS_STATUS,
        "status" => status.as_str(),
        "channel" => channel.to_owned(),
        "reason" => reason.map_or("", StatusReason::as_str),
    )
    .increment(1);
}

/// The status moves of the steps a claim writes, counted once its
/// transaction committed: a deferral waits `not_sent` with its reason, a
/// failure is `failed`; a reservation keeps its status until the provider
/// answers.
#[derive(Debug, Default)]
pub struct StepMoves(Vec<(CommunicationStatus, StatusReason)>);

impl StepMoves {
    pub fn of(steps: &[Step]) -> Self {
        Self(
            steps
                .iter()
                .filter_map(|step| match step {
                    Step::Reserve { .. } => None,
                    Step::Defer { reason, .. } => Some((CommunicationStatus::NotSent, *reason)),
                    Step::Fail { reason, .. } => Some((CommunicationStatus::Failed, *reason)),
                })
                .collect(),
        )
    }

    pub fn record(&self) {
        for &(status, reason) in &self.0 {
            moved(status, "", Some(reason));
        }
    }
}

/// The status moves of the provider outcomes written: `sent`, or waiting
/// `not_sent` (`retrying`); a channel given up on is decided again, which
/// counts then.
pub fn outcomes_written(outcomes: &[Outcome]) {
    for outcome in outcomes {
        match outcome {
            Outcome::Sent { events, .. } => {
                moved(CommunicationStatus::Sent, channel_of(events), None);
            }
            Outcome::Retry { events, .. } => moved(
                CommunicationStatus::NotSent,
                channel_of(events),
                Some(StatusReason::Retrying),
            ),
            Outcome::GiveUpChannel { .. } => {}
        }
    }
}

fn channel_of(events: &[Event]) -> &str {
    events
        .iter()
        .find_map(|e| e.channel.as_deref())
        .unwrap_or_default()
}

/// One provider call on `channel` that took `elapsed`, by outcome class:
/// `sent`, `transient` or `permanent`.
pub fn provider_call<T>(channel: &str, result: &Result<T, ProviderError>, elapsed: Duration) {
    let outcome = match result {
        Ok(_) => "sent",
        Err(ProviderError::Transient(_)) => "transient",
        Err(_) => "permanent",
    };
    metrics::counter!(
        PROVIDER_CALLS,
        "channel" => channel.to_owned(),
        "outcome" => outcome,
    )
    .increment(1);
    metrics::histogram!(
        PROVIDER_CALL_DURATION,
        "channel" => channel.to_owned(),
        "outcome" => outcome,
    )
    .record(elapsed.as_secs_f64());
}

/// A communication due at `due` was sent at `sent`.
pub fn dispatch_lag(channel: &str, due: DateTime<Utc>, sent: DateTime<Utc>) {
    let lag = (sent - due).to_std().unwrap_or_default();
    metrics::histogram!(DISPATCH_LAG, "channel" => channel.to_owned()).record(lag.as_secs_f64());
}
