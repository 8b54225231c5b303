use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use omnichannel_domain::ports::Clock;

/// The wall clock, to the microsecond: the precision both databases keep, so a
/// stored time reads back equal to the one answered.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        let now = Utc::now();
        now.duration_trunc(TimeDelta::microseconds(1))
            .unwrap_or(now)
    }
}
