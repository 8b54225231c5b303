//! The status life-cycle of a `Communication`.
//!
//! ```text
//! booked ──(due)──> not_sent ──> sent ──> delivered ──> read
//!    │                 │           └──────────┴──> failed   (provider receipt)
//!    └──> cancelled <──┘ ──> failed   (gave up)
//! ```

use chrono::{DateTime, Utc};

use crate::ids::{BatchId, CommunicationId, DepartmentId, SourceId, TypeId, UserId};
use crate::validation::InvalidValue;
use crate::values::Message;

/// One message to one client: sent, on its way, booked or given up on. The
/// system never deletes one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Communication {
    pub id: CommunicationId,
    pub department_id: DepartmentId,
    pub user_id: UserId,
    pub type_id: TypeId,
    /// The channel the caller asked for; dispatch falls back on no other.
    pub requested_source_id: Option<SourceId>,
    /// The channel in use: the requested one, or the one dispatch chose last.
    pub source_id: Option<SourceId>,
    /// When it is to be sent: the moment of the request, or the booked moment.
    pub communication_date: DateTime<Utc>,
    pub status: CommunicationStatus,
    pub status_reason: Option<StatusReason>,
    pub message: Message,
    /// The moment dispatch reserved its slot and handed it to the provider.
    pub sent_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub read_at: Option<DateTime<Utc>>,
    /// Provider calls made, a timeout or a refused connection included.
    pub attempts: u32,
    /// When a waiting `not_sent` communication is tried next.
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub provider_message_id: Option<String>,
    pub batch_id: Option<BatchId>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Communication {
    /// The moment the contact limits count it at, if they do: a booking at its
    /// date, a sent one at `sent_at` (a receipt of failure included: it was
    /// sent). A communication on its way is counted at the moment dispatch
    /// reserved for it, which only dispatch knows.
    pub fn counted_at(&self) -> Option<DateTime<Utc>> {
        match self.status {
            CommunicationStatus::Booked => Some(self.communication_date),
            CommunicationStatus::Sent
            | CommunicationStatus::Delivered
            | CommunicationStatus::Read
            | CommunicationStatus::Failed => self.sent_at,
            CommunicationStatus::NotSent | CommunicationStatus::Cancelled => None,
        }
    }

    /// When dispatch is next to look at it: a booking at its date, a waiting
    /// one at its next attempt; never once it is final or sent.
    pub fn due_at(&self) -> Option<DateTime<Utc>> {
        match self.status {
            CommunicationStatus::Booked => Some(self.communication_date),
            CommunicationStatus::NotSent => {
                Some(self.next_attempt_at.unwrap_or(self.communication_date))
            }
            _ => None,
        }
    }
}

/// Why a communication waits or was given up on (`status_reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatusReason {
    /// Waiting: the client is unavailable until a known moment.
    UserUnavailable,
    /// Waiting for a free slot of the department's rules, or failed: none
    /// within the horizon.
    RateLimited,
    /// Waiting to call the provider again after a transient error.
    Retrying,
    /// Failed: blocked with no end, or beyond the horizon.
    UserBlocked,
    NoChannel,
    ProviderError,
    TypeBlocked,
    /// Failed: the channel the caller asked for is blocked.
    ChannelBlocked,
    /// Failed: a delivery receipt said so.
    Receipt,
}

impl StatusReason {
    pub const ALL: [Self; 9] = [
        Self::UserUnavailable,
        Self::RateLimited,
        Self::Retrying,
        Self::UserBlocked,
        Self::NoChannel,
        Self::ProviderError,
        Self::TypeBlocked,
        Self::ChannelBlocked,
        Self::Receipt,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::UserUnavailable => "user_unavailable",
            Self::RateLimited => "rate_limited",
            Self::Retrying => "retrying",
            Self::UserBlocked => "user_blocked",
            Self::NoChannel => "no_channel",
            Self::ProviderError => "provider_error",
            Self::TypeBlocked => "type_blocked",
            Self::ChannelBlocked => "channel_blocked",
            Self::Receipt => "receipt",
        }
    }

    pub fn parse(value: &str) -> Result<Self, InvalidValue> {
        Self::ALL
            .into_iter()
            .find(|reason| reason.as_str() == value)
            .ok_or_else(|| InvalidValue::new("is not a known status reason"))
    }
}

/// What happened to a communication, in its history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    Created,
    Booked,
    Deferred,
    ChannelChosen,
    AttemptFailed,
    Sent,
    Delivered,
    Read,
    Failed,
    Cancelled,
}

impl EventKind {
    pub const ALL: [Self; 10] = [
        Self::Created,
        Self::Booked,
        Self::Deferred,
        Self::ChannelChosen,
        Self::AttemptFailed,
        Self::Sent,
        Self::Delivered,
        Self::Read,
        Self::Failed,
        Self::Cancelled,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Booked => "booked",
            Self::Deferred => "deferred",
            Self::ChannelChosen => "channel_chosen",
            Self::AttemptFailed => "attempt_failed",
            Self::Sent => "sent",
            Self::Delivered => "delivered",
            Self::Read => "read",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn parse(value: &str) -> Result<Self, InvalidValue> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.as_str() == value)
            .ok_or_else(|| InvalidValue::new("is not a known event kind"))
    }
}

/// One step of a communication's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub communication_id: CommunicationId,
    pub at: DateTime<Utc>,
    pub kind: EventKind,
    /// The code of the channel the step concerns.
    pub channel: Option<String>,
    /// Words for a person: the provider's error, why a channel was chosen, ….
    pub detail: Option<String>,
    /// Until when it waits (`deferred`).
    pub until: Option<DateTime<Utc>>,
    pub reason: Option<StatusReason>,
}

impl Event {
    /// An event with neither channel, detail, until nor reason.
    pub fn new(communication_id: CommunicationId, at: DateTime<Utc>, kind: EventKind) -> Self {
        Self {
            communication_id,
            at,
            kind,
            channel: None,
            detail: None,
            until: None,
            reason: None,
        }
    }

    pub fn with_channel(mut self, code: impl Into<String>) -> Self {
        self.channel = Some(code.into());
        self
    }

    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    pub fn with_reason(mut self, reason: StatusReason) -> Self {
        self.reason = Some(reason);
        self
    }

    /// A `deferred` event: it waits until `until` because of `reason`.
    pub fn deferred(
        communication_id: CommunicationId,
        at: DateTime<Utc>,
        until: DateTime<Utc>,
        reason: StatusReason,
    ) -> Self {
        Self {
            until: Some(until),
            reason: Some(reason),
            ..Self::new(communication_id, at, EventKind::Deferred)
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CommunicationStatus {
    Booked,
    NotSent,
    Sent,
    Delivered,
    Read,
    Failed,
    Cancelled,
}

/// What a requested move does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// The status changes.
    Moved,
    /// The communication already has that status: nothing to do.
    Unchanged,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a communication cannot go from {} to {}", from.as_str(), to.as_str())]
pub struct InvalidTransition {
    pub from: CommunicationStatus,
    pub to: CommunicationStatus,
}

impl CommunicationStatus {
    pub const ALL: [Self; 7] = [
        Self::Booked,
        Self::NotSent,
        Self::Sent,
        Self::Delivered,
        Self::Read,
        Self::Failed,
        Self::Cancelled,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Booked => "booked",
            Self::NotSent => "not_sent",
            Self::Sent => "sent",
            Self::Delivered => "delivered",
            Self::Read => "read",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn parse(value: &str) -> Result<Self, InvalidValue> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == value)
            .ok_or_else(|| {
                InvalidValue::new(
                    "must be one of: booked, not_sent, sent, delivered, read, failed, cancelled",
                )
            })
    }

    /// Whether the life-cycle has an arrow from `self` to `to`.
    pub const fn can_move_to(self, to: Self) -> bool {
        use CommunicationStatus::*;
        matches!(
            (self, to),
            (Booked, NotSent | Cancelled)
                | (NotSent, Sent | Failed | Cancelled)
                | (Sent, Delivered | Read | Failed)
                | (Delivered, Read | Failed)
        )
    }

    /// A delivery receipt: only `delivered`, `read` and `failed` may be reported,
    /// only for a communication that was sent; the current status again is a no-op.
    pub fn apply_receipt(self, to: Self) -> Result<Transition, InvalidTransition> {
        let receipt = matches!(to, Self::Delivered | Self::Read | Self::Failed);
        let was_sent = matches!(
            self,
            Self::Sent | Self::Delivered | Self::Read | Self::Failed
        );
        if receipt && was_sent && self == to {
            return Ok(Transition::Unchanged);
        }
        if receipt && matches!(self, Self::Sent | Self::Delivered) && self.can_move_to(to) {
            return Ok(Transition::Moved);
        }
        Err(InvalidTransition { from: self, to })
    }

    /// Whether the communication may still be edited, rescheduled or cancelled.
    pub const fn is_pending(self) -> bool {
        matches!(self, Self::Booked | Self::NotSent)
    }
}

#[cfg(test)]
mod tests {
    use super::CommunicationStatus::*;
    use super::*;

    #[test]
    fn statuses_round_trip_through_their_names() {
        for status in CommunicationStatus::ALL {
            assert_eq!(CommunicationStatus::parse(status.as_str()), Ok(status));
        }
        assert!(CommunicationStatus::parse("Sent").is_err());
    }

    #[test]
    fn receipts_follow_the_arrows() {
        let allowed = [
            (Sent, Delivered),
            (Sent, Read),
            (Delivered, Read),
            (Sent, Failed),
            (Delivered, Failed),
        ];
        for from in CommunicationStatus::ALL {
            for to in CommunicationStatus::ALL {
                let result = from.apply_receipt(to);
                if allowed.contains(&(from, to)) {
                    assert_eq!(result, Ok(Transition::Moved), "{from:?} -> {to:?}");
                } else if from == to && matches!(to, Delivered | Read | Failed) {
                    assert_eq!(result, Ok(Transition::Unchanged), "{from:?} -> {to:?}");
                } else {
                    assert_eq!(
                        result,
                        Err(InvalidTransition { from, to }),
                        "{from:?} -> {to:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn read_and_cancelled_are_final() {
        for to in CommunicationStatus::ALL {
            assert!(!Read.can_move_to(to));
            assert!(!Cancelled.can_move_to(to));
            assert!(!Failed.can_move_to(to));
        }
        assert!(Booked.can_move_to(NotSent));
        assert!(!Booked.can_move_to(Sent));
    }

    #[test]
    fn reasons_and_event_kinds_round_trip_through_their_names() {
        for reason in StatusReason::ALL {
            assert_eq!(StatusReason::parse(reason.as_str()), Ok(reason));
        }
        for kind in EventKind::ALL {
            assert_eq!(EventKind::parse(kind.as_str()), Ok(kind));
        }
        assert!(StatusReason::parse("later").is_err());
        assert!(EventKind::parse("Sent").is_err());
    }
}
