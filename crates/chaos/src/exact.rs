//! Scenario 3: exactness across instances. A fresh client, `burst`
//! concurrent sends to it spread over three instances (which instance gets
//! which request is shuffled by the repetition's seed), a rule of 3 per
//! minute: exactly 3 are sent in the first window and the rest are deferred
//! to the next one; then the rest are cancelled. Repeated `repetitions`
//! times.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use anyhow::Context;
use futures_util::StreamExt;
use serde_json::json;

use crate::Ctx;
use crate::api::{Admin, RuleSpec, Sent, Unit};
use crate::instance::{Settings, Three, blocking, start_three};
use crate::load::Reconnecting;
use crate::probe::{Probe, SENT};
use crate::report::Scenario;
use crate::rng::Rng;
use crate::sink::{Behaviour, Sink};

/// Every call answered at once and `2xx`: a released reservation (after a
/// transient error) would let a later send take its place, which is right
/// but makes "the first window" harder to state.
const EXACT_SINK: Behaviour = Behaviour {
    fail: 0.0,
    slow: 0.0,
    slow_ms: (0, 0),
    quick_ms: (0, 20),
};

const RULE: RuleSpec = RuleSpec {
    limit: 3,
    count: 1,
    unit: Unit::Minute,
};

pub async fn run(ctx: &Ctx, seed: u64) -> anyhow::Result<Scenario> {
    let mut report = Scenario::new("3. exactness across instances");
    let mut rng = Rng::new(seed);
    let args = &ctx.args;
    let sink = Sink::start(rng.next_u64(), EXACT_SINK)?;
    let settings = Settings {
        sink_url: sink.url.clone(),
        concurrency: args.concurrency,
        lease_ms: args.lease_ms,
        poll_interval_ms: 200,
        retry_base_ms: 200,
        provider_timeout_ms: 3_000,
    };
    let Three {
        url,
        mut instances,
        bases,
    } = start_three(ctx, "exact", &settings).await?;
    let first = bases.first().context("no instance")?;
    let admin = Admin::login(&ctx.http, first).await?;
    let mass = admin.mass_type(first).await?;
    let department = admin.department(first, "Exact", &mass, &[RULE]).await?;
    report.figure("instances", "3 `omnichannel serve` on one PostgreSQL");
    report.figure("rule", RULE);
    report.figure(
        "repetitions × concurrent sends to one fresh client",
        format!("{} × {}", args.repetitions, args.burst),
    );
    let mut probe = Reconnecting::new(&url);
    let patience = Duration::from_secs(30);
    let mut sent_per_rep = Vec::new();
    let mut passed = 0;
    for rep in 0..args.repetitions {
        let rep_seed = rng.next_u64();
        let mut rep_rng = Rng::new(rep_seed);
        let client = admin
            .clients(&bases, rep..rep + 1, "exact")
            .await?
            .into_iter()
            .next()
            .context("no client")?;
        let mut targets: Vec<usize> = (0..args.burst).map(|i| i % bases.len()).collect();
        rep_rng.shuffle(&mut targets);
        let sends = targets.iter().enumerate().map(|(i, &k)| {
            let base = bases.get(k).cloned().unwrap_or_default();
            let body = json!({
                "user_id": client,
                "department_id": department,
                "communication_type_id": mass,
                "message": format!("exact {rep} message {i}"),
            });
            let admin = &admin;
            async move { admin.send(&base, &body).await }
        });
        let answers = futures_util::future::join_all(sends).await;
        let accepted = answers
            .iter()
            .filter(|a| matches!(a, Sent::Accepted(_)))
            .count();
        let mut failures = Vec::new();
        if accepted != args.burst {
            failures.push(format!(
                "{} of {} sends accepted: {:?}",
                accepted,
                args.burst,
                answers.iter().find(|a| !matches!(a, Sent::Accepted(_)))
            ));
        }

        // Until exactly `limit` are sent and the rest deferred, or more are sent.
        let filter = format!("WHERE user_id = '{client}'");
        let started = Instant::now();
        let rows = loop {
            let rows = blocking(|| probe.with(patience, |p: &mut Probe| p.rows(&filter)))?;
            let sent = rows
                .iter()
                .filter(|r| SENT.contains(&r.status.as_str()))
                .count();
            let deferred = rows
                .iter()
                .filter(|r| {
                    r.status == "not_sent"
                        && r.status_reason.as_deref() == Some("rate_limited")
                        && r.next_attempt_at.is_some()
                })
                .count();
            let settled = sent + deferred == accepted;
            if sent > RULE.limit as usize || settled || started.elapsed() > patience {
                break rows;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let sent: Vec<_> = rows
            .iter()
            .filter(|r| SENT.contains(&r.status.as_str()))
            .collect();
        let deferred: Vec<_> = rows
            .iter()
            .filter(|r| {
                r.status == "not_sent" && r.status_reason.as_deref() == Some("rate_limited")
            })
            .collect();
        sent_per_rep.push(sent.len());
        if sent.len() != RULE.limit as usize {
            failures.push(format!("{} sent in the first window", sent.len()));
        }
        if sent.len() + deferred.len() != accepted {
            failures.push(format!(
                "{} neither sent nor deferred for the rate limit",
                accepted - sent.len().min(accepted) - deferred.len().min(accepted)
            ));
        }
        let first_sent = sent.iter().filter_map(|r| r.sent_at).min();
        let earliest_next = deferred.iter().filter_map(|r| r.next_attempt_at).min();
        if let (Some(a), Some(next)) = (first_sent, earliest_next)
            && next < a + RULE.window()
        {
            failures.push(format!(
                "a deferred one is due at {next}, before the next window at {}",
                a + RULE.window()
            ));
        }
        let calls = sink.calls();
        let delivered: Vec<_> = calls.iter().filter(|c| c.user == client && c.ok).collect();
        let distinct: HashSet<&str> = delivered.iter().map(|c| c.communication.as_str()).collect();
        if delivered.len() != RULE.limit as usize || distinct.len() != RULE.limit as usize {
            failures.push(format!(
                "the sink received {} calls for {} communications of the client",
                delivered.len(),
                distinct.len()
            ));
        }
        let by_instance: Vec<u32> = delivered.iter().map(|c| c.instance).collect();

        // Cancel the rest so that the run need not wait for the next window.
        let cancels: Vec<anyhow::Result<serde_json::Value>> =
            futures_util::stream::iter(deferred.iter().enumerate())
                .map(|(i, row)| {
                    let base = bases.get(i % bases.len()).cloned().unwrap_or_default();
                    let admin = &admin;
                    async move { admin.cancel(&base, &row.id).await }
                })
                .buffer_unordered(16)
                .collect()
                .await;
        let cancelled = cancels
            .iter()
            .filter(|c| matches!(c, Ok(v) if v["status"] == "cancelled"))
            .count();
        if cancelled != deferred.len() {
            failures.push(format!(
                "{cancelled} of {} cancels succeeded",
                deferred.len()
            ));
        }
        let line = format!(
            "seed {rep_seed}: {} sent (by instances {:?}), {} deferred{}",
            sent.len(),
            by_instance,
            deferred.len(),
            match (first_sent, earliest_next) {
                (Some(a), Some(next)) => format!(
                    " to +{:.3} s",
                    (next - a).num_milliseconds() as f64 / 1000.0
                ),
                _ => String::new(),
            }
        );
        if failures.is_empty() {
            passed += 1;
        } else {
            report.fail(format!(
                "repetition {rep} ({line}): {}",
                failures.join("; ")
            ));
        }
        if rep == 0 {
            report.figure("first repetition", line);
        }
    }
    report.figure(
        "sent in the first window, per repetition",
        sent_per_rep
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(" "),
    );
    report.figure(
        "repetitions passed",
        format!("{passed} of {}", args.repetitions),
    );
    for instance in &mut instances {
        if let Some(status) = instance.exited()? {
            report.fail(format!(
                "instance {} exited by itself ({status})",
                instance.number
            ));
        }
        instance.terminate().await?;
    }
    sink.stop();
    Ok(report)
}
