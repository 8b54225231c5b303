//! The sliding-window contact limit.
//!
//! A rule allows at most `limit` communications in any half-open window
//! `[s, s + window)`. The moments already counted for a client include both the
//! past (sent) and the future (booked), so a booking can hold back an earlier send.

use chrono::{DateTime, Duration, Utc};

use crate::department::RuleLimit;

/// One rule's bound: at most `limit` in any window of length `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowLimit {
    pub limit: u32,
    pub window: Duration,
}

impl From<&RuleLimit> for WindowLimit {
    fn from(rule: &RuleLimit) -> Self {
        Self {
            limit: rule.limit_per_unit(),
            window: rule.window(),
        }
    }
}

/// One rule with the moments it counts for one client.
#[derive(Debug, Clone, Copy)]
pub struct RuleLoad<'a> {
    pub limit: WindowLimit,
    pub counted: &'a [DateTime<Utc>],
}

impl WindowLimit {
    /// Whether one more communication at `at` keeps every window within the limit.
    ///
    /// Only windows that contain `at` change, and among those the fullest one
    /// starts at `at` or at a counted moment in `(at - window, at]`.
    pub fn allows(&self, counted: &[DateTime<Utc>], at: DateTime<Utc>) -> bool {
        let earliest_start = at - self.window;
        let starts = counted
            .iter()
            .copied()
            .filter(|&x| earliest_start < x && x <= at)
            .chain(std::iter::once(at));
        let limit = usize::try_from(self.limit).unwrap_or(usize::MAX);
        starts.into_iter().all(|start| {
            let end = start + self.window;
            let in_window = counted.iter().filter(|&&x| start <= x && x < end).count();
            in_window < limit
        })
    }

    /// The earliest moment at or after `at` when [`Self::allows`] holds.
    ///
    /// Permission only turns on at `at` itself or when a counted moment `x`
    /// leaves the windows, at `x + window`; so those are the only candidates.
    pub fn earliest_allowed(&self, counted: &[DateTime<Utc>], at: DateTime<Utc>) -> DateTime<Utc> {
        let mut candidates: Vec<_> = counted
            .iter()
            .map(|&x| x + self.window)
            .filter(|&c| c > at)
            .collect();
        candidates.sort_unstable();
        std::iter::once(at)
            .chain(candidates)
            .find(|&c| self.allows(counted, c))
            .unwrap_or(at)
    }
}

/// The earliest moment at or after `at` when every rule allows one more.
pub fn earliest_slot(loads: &[RuleLoad<'_>], at: DateTime<Utc>) -> DateTime<Utc> {
    let mut candidate = at;
    loop {
        let next = loads
            .iter()
            .map(|load| load.limit.earliest_allowed(load.counted, candidate))
            .max()
            .unwrap_or(candidate);
        if next == candidate {
            return candidate;
        }
        candidate = next;
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn t(minute: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
            .single()
            .unwrap_or_default()
            + Duration::minutes(minute)
    }

    fn per_hour(limit: u32) -> WindowLimit {
        WindowLimit {
            limit,
            window: Duration::hours(1),
        }
    }

    #[test]
    fn allows_until_the_limit_is_reached() {
        let rule = per_hour(2);
        assert!(rule.allows(&[], t(0)));
        assert!(rule.allows(&[t(0)], t(10)));
        assert!(!rule.allows(&[t(0), t(10)], t(20)));
    }

    #[test]
    fn a_moment_leaves_the_window_exactly_at_its_end() {
        let rule = per_hour(1);
        assert!(!rule.allows(&[t(0)], t(60) - Duration::microseconds(1)));
        assert!(rule.allows(&[t(0)], t(60)));
        assert_eq!(rule.earliest_allowed(&[t(0)], t(30)), t(60));
    }

    #[test]
    fn a_future_booking_blocks_an_earlier_send() {
        let rule = per_hour(1);
        // Booked at 100: anything in (40, 160) would share a window with it.
        assert!(!rule.allows(&[t(100)], t(41)));
        assert!(rule.allows(&[t(100)], t(40)));
        assert!(rule.allows(&[t(100)], t(160)));
        assert_eq!(rule.earliest_allowed(&[t(100)], t(50)), t(160));
    }

    #[test]
    fn the_slot_must_fit_between_past_and_booked_moments() {
        let rule = per_hour(2);
        // Two in the past hour and two booked later: the gap must hold both sides.
        let counted = [t(0), t(30), t(150), t(170)];
        // At 60 the window [30, 90) holds 30 only: allowed, and [60,120) holds none.
        assert!(rule.allows(&counted, t(60)));
        assert!(!rule.allows(&counted, t(45)));
        assert_eq!(rule.earliest_allowed(&counted, t(45)), t(60));
        // At 120, [120,180) would hold 150 and 170 and the new one.
        assert!(!rule.allows(&counted, t(120)));
        // 150 leaves at 210, and from then on only 170 shares a window.
        assert_eq!(rule.earliest_allowed(&counted, t(111)), t(210));
    }

    #[test]
    fn counts_in_any_window_not_only_aligned_ones() {
        let rule = per_hour(2);
        // [10, 70) would hold 10, 50 and the new one at 65.
        assert!(!rule.allows(&[t(10), t(50)], t(65)));
        assert_eq!(rule.earliest_allowed(&[t(10), t(50)], t(65)), t(70));
    }

    #[test]
    fn every_rule_must_hold_at_the_slot() {
        let hourly = per_hour(1);
        let daily = WindowLimit {
            limit: 2,
            window: Duration::days(1),
        };
        let past = [t(0)];
        let loads = [
            RuleLoad {
                limit: hourly,
                counted: &past,
            },
            RuleLoad {
                limit: daily,
                counted: &past,
            },
        ];
        assert_eq!(earliest_slot(&loads, t(5)), t(60));

        let busy_day = [t(0), t(90)];
        let loads = [
            RuleLoad {
                limit: hourly,
                counted: &busy_day,
            },
            RuleLoad {
                limit: daily,
                counted: &busy_day,
            },
        ];
        assert_eq!(earliest_slot(&loads, t(100)), t(24 * 60));
        assert_eq!(earliest_slot(&[], t(100)), t(100));
    }

    #[test]
    fn slot_search_agrees_with_a_minute_by_minute_scan() {
        let rule = WindowLimit {
            limit: 3,
            window: Duration::minutes(45),
        };
        let counted = [t(3), t(20), t(21), t(40), t(95), t(100), t(131), t(170)];
        for start in 0..240 {
            let expected = (start..400)
                .map(t)
                .find(|&c| rule.allows(&counted, c))
                .unwrap_or_default();
            assert_eq!(
                rule.earliest_allowed(&counted, t(start)),
                expected,
                "from {start}"
            );
        }
    }
}
