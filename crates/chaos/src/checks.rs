//! The end checks of a run under load: nothing lost, every communication
//! final and delivered, duplicates within the in-flight bound, and no rule
//! exceeded for any client, counted from `sent_at` as the product counts.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDateTime;

use crate::api::RuleSpec;
use crate::probe::{FINAL, Row, SENT};
use crate::report::Scenario;
use crate::sink::{Call, deliveries};

/// What the run sent and what its faults may have duplicated.
pub struct Expected<'a> {
    /// The text of every logical message: each must be stored exactly once.
    pub messages: &'a [String],
    /// The ids the API answered `202` with.
    pub accepted: &'a HashSet<String>,
    /// Per communication, in how many faults it was in flight (called, the
    /// call not yet recorded): how often it may have been sent twice.
    pub in_flight: &'a HashMap<String, u32>,
    pub rules: &'a [RuleSpec],
}

/// The most communications of one client in any window `[s, s + window)`,
/// with the window's start: the windows that matter start at a counted moment.
pub fn fullest_window(
    sorted: &[NaiveDateTime],
    window: chrono::Duration,
) -> Option<(usize, NaiveDateTime)> {
    let mut best: Option<(usize, NaiveDateTime)> = None;
    let mut end = 0;
    for (i, &start) in sorted.iter().enumerate() {
        end = end.max(i);
        while end < sorted.len() && sorted.get(end).is_some_and(|&t| t < start + window) {
            end += 1;
        }
        let n = end - i;
        if best.is_none_or(|(most, _)| n > most) {
            best = Some((n, start));
        }
    }
    best
}

pub fn check_load(report: &mut Scenario, rows: &[Row], calls: &[Call], expected: &Expected<'_>) {
    // Nothing lost, nothing created twice.
    let mut by_text: HashMap<&str, u32> = HashMap::new();
    for row in rows {
        *by_text.entry(row.message.as_str()).or_default() += 1;
    }
    let missing = expected
        .messages
        .iter()
        .filter(|m| !by_text.contains_key(m.as_str()))
        .count();
    let doubled = by_text.values().filter(|&&n| n > 1).count();
    report.figure("communications stored", rows.len());
    report.check(missing == 0, || {
        format!(
            "{missing} of {} messages are not stored",
            expected.messages.len()
        )
    });
    report.check(doubled == 0, || {
        format!("{doubled} messages are stored more than once")
    });
    report.check(rows.len() == expected.messages.len(), || {
        format!(
            "{} communications stored for {} messages",
            rows.len(),
            expected.messages.len()
        )
    });
    let stored: HashSet<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    let lost = expected
        .accepted
        .iter()
        .filter(|id| !stored.contains(id.as_str()))
        .count();
    report.check(lost == 0, || {
        format!("{lost} communications answered 202 are not in the database")
    });

    // Every one final, and sent.
    let mut by_status: HashMap<String, usize> = HashMap::new();
    for row in rows {
        let key = match &row.status_reason {
            Some(reason) if row.status != "sent" => format!("{} ({reason})", row.status),
            _ => row.status.clone(),
        };
        *by_status.entry(key).or_default() += 1;
    }
    let mut statuses: Vec<_> = by_status.into_iter().collect();
    statuses.sort();
    report.figure(
        "final statuses",
        statuses
            .iter()
            .map(|(s, n)| format!("{s}: {n}"))
            .collect::<Vec<_>>()
            .join(", "),
    );
    let not_final = rows
        .iter()
        .filter(|r| !FINAL.contains(&r.status.as_str()))
        .count();
    let not_sent = rows
        .iter()
        .filter(|r| !SENT.contains(&r.status.as_str()))
        .count();
    report.check(not_final == 0, || {
        format!("{not_final} communications are not final")
    });
    report.check(not_sent == 0, || {
        format!("{not_sent} communications did not end sent")
    });

    // Delivered at least once; duplicates within the bound.
    let delivered = deliveries(calls);
    let undelivered = rows
        .iter()
        .filter(|r| SENT.contains(&r.status.as_str()))
        .filter(|r| delivered.get(r.id.as_str()).is_none_or(|&(ok, _)| ok == 0))
        .count();
    report.check(undelivered == 0, || {
        format!("{undelivered} communications recorded as sent never reached the sink")
    });
    let unknown = delivered.keys().filter(|id| !stored.contains(**id)).count();
    report.check(unknown == 0, || {
        format!("the sink received {unknown} communications the database does not hold")
    });
    let failed_calls = calls.iter().filter(|c| !c.ok).count();
    report.figure(
        "provider calls (answered 503)",
        format!("{} ({failed_calls})", calls.len()),
    );
    let duplicates: u32 = delivered
        .values()
        .map(|&(ok, _)| ok.saturating_sub(1))
        .sum();
    let bound: u32 = expected.in_flight.values().sum();
    report.figure("duplicate deliveries", duplicates);
    report.figure("in-flight bound (calls not recorded at the faults)", bound);
    report.check(duplicates <= bound, || {
        format!("{duplicates} duplicate deliveries exceed the in-flight bound {bound}")
    });
    let beyond: Vec<&str> = delivered
        .iter()
        .filter(|(id, (ok, _))| {
            ok.saturating_sub(1) > expected.in_flight.get(**id).copied().unwrap_or(0)
        })
        .map(|(id, _)| *id)
        .collect();
    report.check(beyond.is_empty(), || {
        format!(
            "{} communications were delivered more often than the faults they were in flight at \
             allow, e.g. {}",
            beyond.len(),
            beyond
                .iter()
                .take(5)
                .copied()
                .collect::<Vec<_>>()
                .join(", ")
        )
    });

    // No rule exceeded, from sent_at.
    let mut sent_at: HashMap<&str, Vec<NaiveDateTime>> = HashMap::new();
    for row in rows {
        if SENT.contains(&row.status.as_str())
            && let Some(at) = row.sent_at
        {
            sent_at.entry(row.user_id.as_str()).or_default().push(at);
        }
    }
    for moments in sent_at.values_mut() {
        moments.sort_unstable();
    }
    for rule in expected.rules {
        let mut violations = 0;
        let mut fullest = 0;
        let mut example = None;
        for (user, moments) in &sent_at {
            if let Some((n, start)) = fullest_window(moments, rule.window()) {
                fullest = fullest.max(n);
                if n > rule.limit as usize {
                    violations += 1;
                    example.get_or_insert_with(|| format!("client {user}: {n} from {start}"));
                }
            }
        }
        report.figure(
            &format!("rule {rule}: fullest window / clients over"),
            format!("{fullest} / {violations}"),
        );
        report.check(violations == 0, || {
            format!(
                "rule {rule} exceeded for {violations} clients, e.g. {}",
                example.unwrap_or_default()
            )
        });
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, NaiveDate};

    use super::fullest_window;

    #[test]
    fn windows_are_half_open_and_start_anywhere() {
        let t0 = NaiveDate::from_ymd_opt(2026, 1, 1)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .unwrap_or_default();
        let at = |s: i64| t0 + Duration::seconds(s);
        let minute = Duration::minutes(1);
        // A moment leaves the window exactly at its end.
        assert_eq!(fullest_window(&[at(0), at(60)], minute), Some((1, at(0))));
        assert_eq!(
            fullest_window(&[at(0), at(30), at(59), at(80)], minute),
            Some((3, at(0)))
        );
        assert_eq!(
            fullest_window(&[at(0), at(50), at(70), at(100)], minute),
            Some((3, at(50)))
        );
        assert_eq!(fullest_window(&[], minute), None);
    }
}
