//! The communications created over a time range, by status and by UTC hour,
//! with the dispatch queue as it is now: what the operators' dashboard shows.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Datelike, Duration, Timelike, Utc};
use omnichannel_domain::ports::{Clock, CommunicationStats, QueueCounts, QueueGauges};
use omnichannel_domain::{CommunicationStatus, ValidationErrors};

use crate::error::ListError;

/// The range when `from` is left out: this long before `to`.
pub const DEFAULT_RANGE: Duration = Duration::hours(24);
/// The longest range.
pub const MAX_RANGE: Duration = Duration::days(31);
/// The years a bound may name: what both databases store and compare.
const YEARS: std::ops::RangeInclusive<i32> = 1..=9999;

/// The range asked for: `from` defaults to `to` minus [`DEFAULT_RANGE`], `to`
/// to now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatsRange {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

/// How many communications have each status; every status counted, 0 when
/// none has it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatusCounts([u64; CommunicationStatus::ALL.len()]);

impl StatusCounts {
    pub fn count(&self, status: CommunicationStatus) -> u64 {
        self.0[status as usize]
    }

    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }

    fn add(&mut self, status: CommunicationStatus, count: u64) {
        self.0[status as usize] += count;
    }
}

/// The communications created within one UTC hour (and within the range).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HourCounts {
    /// The start of the hour.
    pub hour: DateTime<Utc>,
    pub by_status: StatusCounts,
}

/// The communications created at or after `from` and before `to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommunicationStatistics {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// By current status.
    pub by_status: StatusCounts,
    /// Every UTC hour the range meets, oldest first, even those with none.
    pub hourly: Vec<HourCounts>,
    /// The dispatch queue now, whatever the range.
    pub queue: QueueCounts,
}

pub struct Stats {
    counts: Arc<dyn CommunicationStats>,
    queue: Arc<dyn QueueGauges>,
    clock: Arc<dyn Clock>,
}

impl Stats {
    pub fn new(
        counts: Arc<dyn CommunicationStats>,
        queue: Arc<dyn QueueGauges>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            counts,
            queue,
            clock,
        }
    }

    /// `from` must be before `to`, at most [`MAX_RANGE`] before it; an
    /// invalid bound is named (`from` for the range itself).
    pub fn communications(&self, range: StatsRange) -> Result<CommunicationStatistics, ListError> {
        let now = self.clock.now();
        let (from, to) = resolve(range, now).map_err(ListError::Invalid)?;
        let mut hourly: BTreeMap<DateTime<Utc>, StatusCounts> = hours(from, to)
            .map(|hour| (hour, StatusCounts::default()))
            .collect();
        let mut by_status = StatusCounts::default();
        for group in self.counts.hourly_counts(from, to)? {
            let counts = hourly.get_mut(&group.hour).ok_or_else(|| {
                ListError::Unexpected(anyhow::anyhow!(
                    "the store counted the hour {}, outside {from} – {to}",
                    group.hour
                ))
            })?;
            counts.add(group.status, group.count);
            by_status.add(group.status, group.count);
        }
        let queue = self.queue.queue_counts(now)?;
        Ok(CommunicationStatistics {
            from,
            to,
            by_status,
            hourly: hourly
                .into_iter()
                .map(|(hour, by_status)| HourCounts { hour, by_status })
                .collect(),
            queue,
        })
    }
}

/// The bounds of the range, defaults applied, or what is wrong with them.
fn resolve(
    range: StatsRange,
    now: DateTime<Utc>,
) -> Result<(DateTime<Utc>, DateTime<Utc>), ValidationErrors> {
    let mut errors = ValidationErrors::new();
    for (field, bound) in [("from", range.from), ("to", range.to)] {
        if bound.is_some_and(|at| !YEARS.contains(&at.year())) {
            errors.add(field, "must be within the years 0001 to 9999");
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let to = range.to.unwrap_or(now);
    let from = match range.from {
        Some(from) => from,
        // A `to` in the year 1 is the only one without 24 hours before it.
        None => to
            .checked_sub_signed(DEFAULT_RANGE)
            .ok_or_else(|| ValidationErrors::single("to", "is too early"))?,
    };
    if from >= to {
        errors.add("from", "must be before `to`");
    } else if to - from > MAX_RANGE {
        errors.add("from", "must be at most 31 days before `to`");
    }
    errors.into_result((from, to))
}

/// The start of each UTC hour that `[from, to)` meets, oldest first.
fn hours(from: DateTime<Utc>, to: DateTime<Utc>) -> impl Iterator<Item = DateTime<Utc>> {
    std::iter::successors(Some(start_of_hour(from)), |hour| {
        hour.checked_add_signed(Duration::hours(1))
    })
    .take_while(move |hour| *hour < to)
}

fn start_of_hour(at: DateTime<Utc>) -> DateTime<Utc> {
    at.with_minute(0)
        .and_then(|at| at.with_second(0))
        .and_then(|at| at.with_nanosecond(0))
        .unwrap_or(at)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use mockall::predicate::eq;
    use omnichannel_domain::ports::{
        HourlyCount, MockClock, MockCommunicationStats, MockQueueGauges,
    };

    use super::*;

    fn t(hour: u32, minute: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 4, hour, minute, 0).unwrap()
    }

    const NOW: (u32, u32) = (18, 30);

    fn clock() -> Arc<MockClock> {
        let mut clock = MockClock::new();
        clock.expect_now().return_const(t(NOW.0, NOW.1));
        Arc::new(clock)
    }

    fn queue() -> Arc<MockQueueGauges> {
        let mut queue = MockQueueGauges::new();
        queue
            .expect_queue_counts()
            .with(eq(t(NOW.0, NOW.1)))
            .returning(|_| {
                Ok(QueueCounts {
                    due: 1,
                    deferred: 2,
                    booked: 3,
                })
            });
        Arc::new(queue)
    }

    fn stats(counts: MockCommunicationStats) -> Stats {
        Stats::new(Arc::new(counts), queue(), clock())
    }

    fn refused(range: StatsRange) -> Vec<String> {
        let mut counts = MockCommunicationStats::new();
        counts.expect_hourly_counts().never();
        match stats(counts).communications(range) {
            Err(ListError::Invalid(errors)) => {
                errors.errors().iter().map(|e| e.field.clone()).collect()
            }
            other => panic!("not refused: {other:?}"),
        }
    }

    #[test]
    fn counts_every_hour_the_range_meets_and_sums_them_by_status() {
        let (from, to) = (t(15, 20), t(18, 10));
        let mut counts = MockCommunicationStats::new();
        counts
            .expect_hourly_counts()
            .with(eq(from), eq(to))
            .returning(move |_, _| {
                Ok(vec![
                    HourlyCount {
                        hour: t(18, 0),
                        status: CommunicationStatus::Sent,
                        count: 4,
                    },
                    HourlyCount {
                        hour: t(15, 0),
                        status: CommunicationStatus::Sent,
                        count: 2,
                    },
                    HourlyCount {
                        hour: t(15, 0),
                        status: CommunicationStatus::Failed,
                        count: 1,
                    },
                ])
            });
        let answer = stats(counts)
            .communications(StatsRange {
                from: Some(from),
                to: Some(to),
            })
            .unwrap();
        assert_eq!((answer.from, answer.to), (from, to));
        let hours: Vec<_> = answer.hourly.iter().map(|h| h.hour).collect();
        assert_eq!(hours, [t(15, 0), t(16, 0), t(17, 0), t(18, 0)]);
        let sent: Vec<_> = answer
            .hourly
            .iter()
            .map(|h| h.by_status.count(CommunicationStatus::Sent))
            .collect();
        assert_eq!(sent, [2, 0, 0, 4]);
        assert_eq!(answer.hourly[0].by_status.total(), 3);
        assert_eq!(answer.by_status.count(CommunicationStatus::Sent), 6);
        assert_eq!(answer.by_status.count(CommunicationStatus::Failed), 1);
        assert_eq!(answer.by_status.total(), 7);
        assert_eq!(answer.queue.booked, 3);
    }

    #[test]
    fn defaults_to_the_last_24_hours_and_an_hour_boundary_ends_the_hours() {
        let mut counts = MockCommunicationStats::new();
        counts
            .expect_hourly_counts()
            .with(eq(t(NOW.0, NOW.1) - DEFAULT_RANGE), eq(t(NOW.0, NOW.1)))
            .returning(|_, _| Ok(vec![]));
        let answer = stats(counts).communications(StatsRange::default()).unwrap();
        assert_eq!(answer.hourly.len(), 25, "18:30 yesterday to 18:30 today");
        assert_eq!(answer.by_status, StatusCounts::default());

        let mut counts = MockCommunicationStats::new();
        counts.expect_hourly_counts().returning(|_, _| Ok(vec![]));
        let answer = stats(counts)
            .communications(StatsRange {
                from: None,
                to: Some(t(18, 0)),
            })
            .unwrap();
        assert_eq!(answer.from, t(18, 0) - DEFAULT_RANGE);
        assert_eq!(answer.hourly.len(), 24);
        assert_eq!(answer.hourly.last().map(|h| h.hour), Some(t(17, 0)));
    }

    #[test]
    fn each_status_has_a_count_of_its_own() {
        let mut counts = StatusCounts::default();
        for (n, status) in (1..).zip(CommunicationStatus::ALL) {
            counts.add(status, n);
        }
        for (n, status) in (1..).zip(CommunicationStatus::ALL) {
            assert_eq!(counts.count(status), n, "{status:?}");
        }
        assert_eq!(counts.total(), 28);
    }

    #[test]
    fn the_longest_range_has_745_hours() {
        let to = t(18, 10);
        let mut counts = MockCommunicationStats::new();
        counts.expect_hourly_counts().returning(|_, _| Ok(vec![]));
        let answer = stats(counts)
            .communications(StatsRange {
                from: Some(to - MAX_RANGE),
                to: Some(to),
            })
            .unwrap();
        assert_eq!(answer.hourly.len(), 745);
    }

    #[test]
    fn refuses_an_empty_reversed_too_long_or_unstorable_range() {
        let at = |h| Some(t(h, 0));
        assert_eq!(
            refused(StatsRange {
                from: at(12),
                to: at(12)
            }),
            ["from"]
        );
        assert_eq!(
            refused(StatsRange {
                from: at(13),
                to: at(12)
            }),
            ["from"]
        );
        // `to` defaults to now.
        assert_eq!(
            refused(StatsRange {
                from: at(19),
                to: None
            }),
            ["from"]
        );
        let to = t(12, 0);
        let too_long = StatsRange {
            from: Some(to - MAX_RANGE - Duration::microseconds(1)),
            to: Some(to),
        };
        assert_eq!(refused(too_long), ["from"]);
        let far = Utc.with_ymd_and_hms(10_000, 1, 1, 0, 0, 0).unwrap();
        let before = Utc.with_ymd_and_hms(-5000, 1, 1, 0, 0, 0).unwrap();
        assert_eq!(
            refused(StatsRange {
                from: Some(before),
                to: Some(far)
            }),
            ["from", "to"]
        );
    }

    #[test]
    fn an_hour_outside_the_range_is_unexpected() {
        let mut counts = MockCommunicationStats::new();
        counts.expect_hourly_counts().returning(|_, _| {
            Ok(vec![HourlyCount {
                hour: t(3, 0) - Duration::days(2),
                status: CommunicationStatus::Sent,
                count: 1,
            }])
        });
        let answer = stats(counts).communications(StatsRange::default());
        assert!(
            matches!(answer, Err(ListError::Unexpected(_))),
            "{answer:?}"
        );
    }
}
