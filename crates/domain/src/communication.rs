//! The status life-cycle of a `Communication`.
//!
//! ```text
//! booked ──(due)──> not_sent ──> sent ──> delivered ──> read
//!    │                 │           └──────────┴──> failed   (provider receipt)
//!    └──> cancelled <──┘ ──> failed   (gave up)
//! ```

use crate::validation::InvalidValue;

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

    /// Whether the status is counted against the contact limits: it was sent,
    /// is on its way, or holds a booked slot.
    pub const fn counts_against_limits(self) -> bool {
        !matches!(self, Self::Failed | Self::Cancelled)
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
    fn only_failed_and_cancelled_free_their_slot() {
        let counted: Vec<_> = CommunicationStatus::ALL
            .into_iter()
            .filter(|s| s.counts_against_limits())
            .collect();
        assert_eq!(counted, [Booked, NotSent, Sent, Delivered, Read]);
    }
}
