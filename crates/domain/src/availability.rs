//! When a client may be contacted (`UserCommunications` in the design notes).

use chrono::{DateTime, Utc};

use crate::ids::UserId;
use crate::validation::InvalidValue;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AvailabilityStatus {
    Active,
    Blocked,
}

impl AvailabilityStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Blocked => "blocked",
        }
    }

    pub fn parse(value: &str) -> Result<Self, InvalidValue> {
        match value {
            "active" => Ok(Self::Active),
            "blocked" => Ok(Self::Blocked),
            _ => Err(InvalidValue::new("must be one of: active, blocked")),
        }
    }
}

/// A client's availability. A client without one is available.
///
/// A client is unavailable at `t` when the status is `blocked` and
/// `blocked_from <= t < blocked_to`, a missing bound being open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Availability {
    user_id: UserId,
    status: AvailabilityStatus,
    blocked_from: Option<DateTime<Utc>>,
    blocked_to: Option<DateTime<Utc>>,
}

impl Availability {
    /// Refuses a period that ends before or when it starts.
    pub fn new(
        user_id: UserId,
        status: AvailabilityStatus,
        blocked_from: Option<DateTime<Utc>>,
        blocked_to: Option<DateTime<Utc>>,
    ) -> Result<Self, InvalidValue> {
        if let (Some(from), Some(to)) = (blocked_from, blocked_to)
            && to <= from
        {
            return Err(InvalidValue::new("must be later than blocked_from"));
        }
        Ok(Self {
            user_id,
            status,
            blocked_from,
            blocked_to,
        })
    }

    /// The availability of a client who has none stored.
    pub const fn always(user_id: UserId) -> Self {
        Self {
            user_id,
            status: AvailabilityStatus::Active,
            blocked_from: None,
            blocked_to: None,
        }
    }

    pub const fn user_id(&self) -> UserId {
        self.user_id
    }

    pub const fn status(&self) -> AvailabilityStatus {
        self.status
    }

    pub const fn blocked_from(&self) -> Option<DateTime<Utc>> {
        self.blocked_from
    }

    pub const fn blocked_to(&self) -> Option<DateTime<Utc>> {
        self.blocked_to
    }

    pub fn is_unavailable_at(&self, at: DateTime<Utc>) -> bool {
        self.status == AvailabilityStatus::Blocked
            && self.blocked_from.is_none_or(|from| from <= at)
            && self.blocked_to.is_none_or(|to| at < to)
    }

    /// The first moment at or after `at` when the client may be contacted;
    /// `None` when blocked from then on with no end.
    pub fn available_from(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if self.is_unavailable_at(at) {
            self.blocked_to
        } else {
            Some(at)
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};

    use super::*;

    fn t(hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, hour, 0, 0)
            .single()
            .unwrap_or_default()
    }

    fn blocked(from: Option<u32>, to: Option<u32>) -> Availability {
        Availability::new(
            UserId::generate(),
            AvailabilityStatus::Blocked,
            from.map(t),
            to.map(t),
        )
        .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn blocked_period_includes_its_start_and_excludes_its_end() {
        let a = blocked(Some(10), Some(12));
        assert!(!a.is_unavailable_at(t(10) - Duration::microseconds(1)));
        assert!(a.is_unavailable_at(t(10)));
        assert!(a.is_unavailable_at(t(12) - Duration::microseconds(1)));
        assert!(!a.is_unavailable_at(t(12)));
    }

    #[test]
    fn missing_bounds_are_open() {
        assert!(blocked(None, None).is_unavailable_at(t(0)));
        assert!(blocked(None, Some(5)).is_unavailable_at(t(0)));
        assert!(!blocked(None, Some(5)).is_unavailable_at(t(5)));
        assert!(!blocked(Some(5), None).is_unavailable_at(t(4)));
        assert!(blocked(Some(5), None).is_unavailable_at(t(23)));
    }

    #[test]
    fn active_status_ignores_the_period() {
        let a = Availability::new(
            UserId::generate(),
            AvailabilityStatus::Active,
            Some(t(1)),
            Some(t(5)),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(!a.is_unavailable_at(t(2)));
        assert_eq!(a.available_from(t(2)), Some(t(2)));
        assert!(!Availability::always(UserId::generate()).is_unavailable_at(t(2)));
    }

    #[test]
    fn available_from_is_the_end_of_the_block_or_never() {
        assert_eq!(blocked(Some(1), Some(5)).available_from(t(2)), Some(t(5)));
        assert_eq!(blocked(Some(1), Some(5)).available_from(t(0)), Some(t(0)));
        assert_eq!(blocked(Some(1), None).available_from(t(2)), None);
    }

    #[test]
    fn period_must_end_after_it_starts() {
        let user = UserId::generate();
        let status = AvailabilityStatus::Blocked;
        assert!(Availability::new(user, status, Some(t(5)), Some(t(5))).is_err());
        assert!(Availability::new(user, status, Some(t(6)), Some(t(5))).is_err());
        assert!(Availability::new(user, status, Some(t(4)), Some(t(5))).is_ok());
    }
}
