//! Scenarios 1 and 2: three instances on one PostgreSQL, `messages`
//! communications to `clients` clients under the department's rules, sent
//! through the instances in turn; meanwhile either instances are killed with
//! `SIGKILL` and started again (`kill`), or every server connection is ended
//! once and PostgreSQL is stopped immediately and started again
//! (`database`).
//!
//! The in-flight bound: right after a fault, the communications that a
//! provider took (the sink answered `2xx`) but the database does not record
//! as sent are the only ones that can be sent twice. For a kill, those the
//! killed instance called in its life; for a database fault, those called
//! before the database was back and not recorded as sent before the fault.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio::sync::watch;

use crate::Ctx;
use crate::api::{Admin, Sent};
use crate::checks::{Expected, check_load};
use crate::instance::{Instance, Settings, Three, blocking, start_three, wait_ready};
use crate::probe::Probe;
use crate::report::{Scenario, seconds};
use crate::rng::Rng;
use crate::sink::{Behaviour, Call, Sink};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Faults {
    Kills,
    Database,
}

/// How the sink answers under load: mostly quick, some slow, some `503`.
pub const LOAD_SINK: Behaviour = Behaviour {
    fail: 0.03,
    slow: 0.05,
    slow_ms: (300, 1_000),
    quick_ms: (0, 30),
};

/// A probe connection that opens itself again after the database went away.
pub struct Reconnecting {
    url: String,
    conn: Option<Probe>,
}

impl Reconnecting {
    pub fn new(url: &str) -> Self {
        Self {
            url: url.to_owned(),
            conn: None,
        }
    }

    /// Runs `query`, reconnecting and trying again for up to `patience`.
    pub fn with<T>(
        &mut self,
        patience: Duration,
        mut query: impl FnMut(&mut Probe) -> anyhow::Result<T>,
    ) -> anyhow::Result<T> {
        let started = Instant::now();
        loop {
            let result = match &mut self.conn {
                Some(conn) => query(conn),
                None => Probe::pg(&self.url).and_then(|mut conn| {
                    let result = query(&mut conn);
                    self.conn = Some(conn);
                    result
                }),
            };
            match result {
                Ok(value) => return Ok(value),
                Err(error) => {
                    self.conn = None;
                    if started.elapsed() > patience {
                        return Err(error);
                    }
                    std::thread::sleep(Duration::from_millis(200));
                }
            }
        }
    }
}

const PROBE_PATIENCE: Duration = Duration::from_secs(60);
/// While the faults run in the same task: a query that fails is tried again
/// on the next round rather than blocking the faults for long.
const PROBE_BRIEF: Duration = Duration::from_secs(2);

/// The sends of a run.
#[derive(Default)]
struct SendLog {
    accepted: HashMap<usize, String>,
    uncertain: Vec<usize>,
    rejected: Vec<String>,
    /// Sends that found an instance down and went to another.
    refused: u64,
    /// Sends whose fate was unknown (connection lost, `5xx`) and were
    /// checked in the database.
    uncertain_total: u64,
    /// Of those, sent again because they were not stored.
    resent: u64,
    /// Why some fates were unknown.
    reasons: Vec<String>,
}

/// Sends `indices` of `bodies`, the first at `start`, one every `every`,
/// each through an instance chosen by the seed, another one if it is down.
async fn send_all(
    admin: &Admin,
    bases: &[String],
    bodies: &[Value],
    indices: Vec<usize>,
    start: Instant,
    every: Duration,
    seed: u64,
) -> SendLog {
    let outcomes: Vec<(usize, Sent, u64)> = futures_util::stream::iter(indices)
        .enumerate()
        .map(|(n, i)| async move {
            let at = start + every.saturating_mul(u32::try_from(n).unwrap_or(u32::MAX));
            tokio::time::sleep_until(at.into()).await;
            let Some(body) = bodies.get(i) else {
                return (i, Sent::Rejected(format!("no message {i}")), 0);
            };
            let first =
                usize::try_from(Rng::new(seed ^ (i as u64)).below(bases.len() as u64)).unwrap_or(0);
            let mut refused = 0;
            let deadline = Instant::now() + Duration::from_secs(120);
            loop {
                for k in 0..bases.len() {
                    let base = bases
                        .get((first + k) % bases.len())
                        .map_or("", String::as_str);
                    match admin.send(base, body).await {
                        Sent::Refused => refused += 1,
                        other => return (i, other, refused),
                    }
                }
                if Instant::now() > deadline {
                    return (i, Sent::Uncertain("every instance refused".into()), refused);
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
        .buffer_unordered(64)
        .collect()
        .await;
    let mut log = SendLog::default();
    for (i, sent, refused) in outcomes {
        log.refused += refused;
        match sent {
            Sent::Accepted(id) => {
                log.accepted.insert(i, id);
            }
            Sent::Uncertain(why) => {
                log.uncertain.push(i);
                log.uncertain_total += 1;
                if log.reasons.len() < 3 {
                    log.reasons.push(why);
                }
            }
            Sent::Refused => {
                log.uncertain.push(i);
                log.uncertain_total += 1;
            }
            Sent::Rejected(why) => log.rejected.push(why),
        }
    }
    log
}

/// What the faults did, for the report and the checks.
#[derive(Default)]
struct FaultLog {
    /// Per communication: in how many faults it was in flight.
    in_flight: HashMap<String, u32>,
    kills: u32,
    /// In flight at each fault.
    bounds: Vec<u32>,
    /// Instances that exited by themselves.
    exits: Vec<String>,
    /// `database`: when connections were ended; when the server went down,
    /// and when it was back.
    terminated_at: Option<Instant>,
    terminated: i64,
    down_at: Option<Instant>,
    back_at: Option<Instant>,
}

impl FaultLog {
    fn add_in_flight(&mut self, ids: impl IntoIterator<Item = String>) -> u32 {
        let mut n = 0;
        for id in ids {
            *self.in_flight.entry(id).or_default() += 1;
            n += 1;
        }
        self.bounds.push(n);
        n
    }
}

/// Restarts any instance that exited by itself, noting it.
fn revive(instances: &mut [Instance], log: &mut FaultLog) -> anyhow::Result<()> {
    for instance in instances.iter_mut() {
        if let Some(status) = instance.exited()? {
            log.exits.push(format!(
                "instance {} exited by itself ({status}); see {}",
                instance.number,
                instance.log_path().display()
            ));
            instance.forget();
            instance.spawn()?;
        }
    }
    Ok(())
}

/// The communications with a `2xx` call matching `filter`.
fn taken(calls: &[Call], filter: impl Fn(&Call) -> bool) -> Vec<String> {
    let set: HashSet<&str> = calls
        .iter()
        .filter(|c| c.ok && filter(c))
        .map(|c| c.communication.as_str())
        .collect();
    set.into_iter().map(str::to_owned).collect()
}

/// Every few seconds, one instance chosen at random: `SIGKILL`, count what it
/// had in flight, start it again.
async fn kill_loop(
    args: crate::Args,
    mut instances: Vec<Instance>,
    sink: Arc<Sink>,
    mut probe: Reconnecting,
    mut rng: Rng,
    mut done: watch::Receiver<bool>,
) -> anyhow::Result<(Vec<Instance>, FaultLog)> {
    let mut log = FaultLog::default();
    let n = instances.len() as u64;
    loop {
        let pause = rng.between(args.kill_min_ms, args.kill_max_ms);
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(pause)) => {}
            _ = done.changed() => break,
        }
        if *done.borrow() {
            break;
        }
        revive(&mut instances, &mut log)?;
        let k = usize::try_from(rng.below(n)).unwrap_or(0);
        let Some(instance) = instances.get_mut(k) else {
            continue;
        };
        let life = instance.started;
        instance.kill9().await?;
        // What it wrote to its sockets before dying reaches the sink now.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let number = instance.number;
        let called = taken(&sink.calls(), |c| c.instance == number && c.at >= life);
        let sent = blocking(|| probe.with(PROBE_PATIENCE, |p| p.sent_among(&called)))?;
        let in_flight = log.add_in_flight(called.into_iter().filter(|id| !sent.contains(id)));
        log.kills += 1;
        eprintln!(
            "chaos: kill {} of instance {number}: {in_flight} in flight",
            log.kills
        );
        instance.spawn()?;
    }
    revive(&mut instances, &mut log)?;
    Ok((instances, log))
}

/// At a third of the sends every connection to the database is ended; at
/// two thirds the server is stopped at once, kept down, and started.
/// Where and when the database faults happen.
struct Outage {
    cluster: crate::cluster::Cluster,
    database: String,
    /// The send phase: the faults fall at a third and two thirds of it.
    sends: Duration,
    /// How long the server stays down.
    down: Duration,
}

async fn database_faults(
    outage: Outage,
    mut instances: Vec<Instance>,
    sink: Arc<Sink>,
    mut probe: Reconnecting,
    start: Instant,
    mut done: watch::Receiver<bool>,
) -> anyhow::Result<(Vec<Instance>, FaultLog)> {
    let mut log = FaultLog::default();
    let Outage {
        cluster,
        database,
        sends,
        down,
    } = outage;

    tokio::time::sleep_until((start + sends / 3).into()).await;
    let before = blocking(|| probe.with(PROBE_PATIENCE, Probe::all_sent))?;
    let ended = blocking(|| cluster.terminate_backends(&database))?;
    let after = Instant::now();
    let in_flight = log.add_in_flight(
        taken(&sink.calls(), |c| c.at < after)
            .into_iter()
            .filter(|id| !before.contains(id)),
    );
    log.terminated_at = Some(after);
    log.terminated = ended;
    eprintln!("chaos: pg_terminate_backend ended {ended} connections; {in_flight} in flight");

    tokio::time::sleep_until((start + sends * 2 / 3).into()).await;
    let before = blocking(|| probe.with(PROBE_PATIENCE, Probe::all_sent))?;
    log.down_at = Some(Instant::now());
    if down.is_zero() {
        blocking(|| cluster.restart_immediate())?;
    } else {
        blocking(|| cluster.stop_immediate())?;
        eprintln!("chaos: PostgreSQL stopped (immediate); down for {down:?}");
        tokio::time::sleep(down).await;
        blocking(|| cluster.start())?;
    }
    let back = Instant::now();
    log.back_at = Some(back);
    let in_flight = log.add_in_flight(
        taken(&sink.calls(), |c| c.at < back)
            .into_iter()
            .filter(|id| !before.contains(id)),
    );
    eprintln!("chaos: PostgreSQL back; {in_flight} in flight");

    loop {
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(500)) => {}
            _ = done.changed() => break,
        }
        if *done.borrow() {
            break;
        }
        for instance in instances.iter_mut() {
            if let Some(status) = instance.exited()? {
                log.exits.push(format!(
                    "instance {} exited by itself ({status}); see {}",
                    instance.number,
                    instance.log_path().display()
                ));
                instance.forget();
                instance.spawn()?;
            }
        }
    }
    Ok((instances, log))
}

/// One answer of `/health/ready`.
#[derive(Debug, Clone, Copy)]
struct Poll {
    start: Instant,
    end: Instant,
    /// 0: no answer.
    status: u16,
}

/// Polls `/health/ready` of `base` until `done`.
async fn poll_ready(
    http: reqwest::Client,
    base: String,
    mut done: watch::Receiver<bool>,
) -> Vec<Poll> {
    let mut polls = Vec::new();
    while !*done.borrow() {
        let start = Instant::now();
        let status = http
            .get(format!("{base}/health/ready"))
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .map_or(0, |r| r.status().as_u16());
        polls.push(Poll {
            start,
            end: Instant::now(),
            status,
        });
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(100)) => {}
            _ = done.changed() => {}
        }
    }
    polls
}

pub async fn run(ctx: &Ctx, faults: Faults, seed: u64) -> anyhow::Result<Scenario> {
    let (name, title) = match faults {
        Faults::Kills => ("kill", "1. kill -9 under load"),
        Faults::Database => ("database", "2. the database goes away"),
    };
    let mut report = Scenario::new(title);
    let mut rng = Rng::new(seed);
    let args = &ctx.args;
    let database = format!("omnichannel_chaos_{name}");
    let sink = Sink::start(rng.next_u64(), LOAD_SINK)?;
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
        instances,
        bases,
    } = start_three(ctx, name, &settings).await?;
    let first = bases.first().context("no instance")?;
    let admin = Admin::login(&ctx.http, first).await?;
    let mass = admin.mass_type(first).await?;
    let department = admin.department(first, "Chaos", &mass, &ctx.rules).await?;
    let clients = admin.clients(&bases, 0..args.clients, name).await?;
    report.figure("instances", "3 `omnichannel serve` on one PostgreSQL");
    report.figure(
        "messages / clients",
        format!("{} / {}", args.messages, args.clients),
    );
    report.figure(
        "rules",
        ctx.rules
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", "),
    );
    report.figure(
        "worker",
        format!(
            "concurrency {}, lease {} ms, provider timeout 3000 ms",
            args.concurrency, args.lease_ms
        ),
    );
    report.figure(
        "sink",
        format!(
            "{:.0}% answered 503, {:.0}% slow ({}–{} ms), others {}–{} ms",
            LOAD_SINK.fail * 100.0,
            LOAD_SINK.slow * 100.0,
            LOAD_SINK.slow_ms.0,
            LOAD_SINK.slow_ms.1,
            LOAD_SINK.quick_ms.0,
            LOAD_SINK.quick_ms.1
        ),
    );

    let texts: Vec<String> = (0..args.messages)
        .map(|i| format!("chaos {name} message {i:05}"))
        .collect();
    // Each client's messages go out together, the clients one after the
    // other over the send phase: their windows are staggered, so that some
    // communications fall due at every moment of the run, and each client's
    // messages race each other through different instances.
    let per_client = args.messages.div_ceil(clients.len().max(1)).max(1);
    let bodies: Vec<Value> = texts
        .iter()
        .enumerate()
        .map(|(i, text)| {
            json!({
                "user_id": clients.get((i / per_client).min(clients.len().saturating_sub(1))),
                "department_id": department,
                "communication_type_id": mass,
                "message": text,
            })
        })
        .collect();

    let (done_tx, done) = watch::channel(false);
    let start = Instant::now() + Duration::from_millis(500);
    let every = Duration::from_secs(args.send_secs) / u32::try_from(args.messages.max(1))?;
    let fault_rng = rng.fork();
    let send_seed = rng.next_u64();
    let pollers: Vec<_> = if faults == Faults::Database {
        bases
            .iter()
            .map(|base| tokio::spawn(poll_ready(ctx.http.clone(), base.clone(), done.clone())))
            .collect()
    } else {
        Vec::new()
    };
    let fault_probe = Reconnecting::new(&url);
    let mut probe = Reconnecting::new(&url);

    // The faults run in a task of their own: their blocking work (a kill's
    // count, pg_ctlcluster) never holds up the sends.
    let sink = Arc::new(sink);
    let faulting = match faults {
        Faults::Kills => tokio::spawn(kill_loop(
            args.clone(),
            instances,
            sink.clone(),
            fault_probe,
            fault_rng,
            done.clone(),
        )),
        Faults::Database => tokio::spawn(database_faults(
            Outage {
                cluster: ctx.cluster.clone(),
                database: database.clone(),
                sends: Duration::from_secs(args.send_secs),
                down: Duration::from_secs(args.pg_down_secs),
            },
            instances,
            sink.clone(),
            fault_probe,
            start,
            done.clone(),
        )),
    };
    let sending = async {
        let sends = Sends {
            admin: &admin,
            bases: &bases,
            bodies: &bodies,
            texts: &texts,
            sink: &sink,
            start,
            every,
            seed: send_seed,
            messages: args.messages,
            patience: Duration::from_secs(args.patience_secs),
            name,
        };
        let outcome = send_and_wait(&sends, &mut probe).await;
        // The faults stop however the sends ended.
        done_tx.send_replace(true);
        outcome
    };
    let sent = sending.await;
    let (mut instances, fault_log) = faulting.await??;
    let (send_log, sent_in, finished) = sent?;

    // Every instance still running, then stopped with SIGTERM.
    let mut polls = Vec::new();
    for poller in pollers {
        polls.push(poller.await?);
    }
    for instance in &mut instances {
        if let Some(status) = instance.exited()? {
            report.fail(format!(
                "instance {} had exited by itself at the end ({status})",
                instance.number
            ));
        }
    }
    let mut listener_reconnects = Vec::new();
    for instance in &mut instances {
        // One started again by the last kill may still be starting: it
        // takes SIGTERM once it serves.
        if let Err(error) =
            wait_ready(&ctx.http, &instance.base_url(), Duration::from_secs(60)).await
        {
            report.fail(format!(
                "instance {} does not serve at the end: {error:#}",
                instance.number
            ));
        }
        match instance.terminate().await {
            Ok(Some(status)) if status.success() => {}
            Ok(Some(status)) => report.fail(format!(
                "instance {} exited with {status} after SIGTERM",
                instance.number
            )),
            Ok(None) => {}
            Err(error) => report.fail(format!("{error:#}")),
        }
        listener_reconnects.push(instance.log_lines_with("listening for queued work again"));
    }
    let calls = sink.calls();
    sink.stop();

    report.figure(
        "sends",
        format!(
            "{} accepted (202) in {}; {} found an instance down and went to another; \
             {} of unknown fate (connection lost or 5xx), of which {} were not stored and sent again",
            send_log.accepted.len(),
            seconds(sent_in),
            send_log.refused,
            send_log.uncertain_total,
            send_log.resent
        ),
    );
    if !send_log.reasons.is_empty() {
        report.figure("unknown fates, e.g.", send_log.reasons.join("; "));
    }
    report.check(send_log.rejected.is_empty(), || {
        format!(
            "{} sends were refused with a 4xx: {}",
            send_log.rejected.len(),
            send_log
                .rejected
                .iter()
                .take(3)
                .cloned()
                .collect::<Vec<_>>()
                .join("; ")
        )
    });
    report.check(send_log.uncertain.is_empty(), || {
        format!("{} sends could not be settled", send_log.uncertain.len())
    });
    match finished {
        Some(at) => report.figure(
            "all final after",
            format!("{} from the first send", seconds(at)),
        ),
        None => report.fail(format!(
            "not every communication was final within {} s",
            args.patience_secs
        )),
    }
    match faults {
        Faults::Kills => {
            report.figure("kills (SIGKILL) and restarts", fault_log.kills);
            report.figure(
                "starts per instance",
                instances
                    .iter()
                    .map(|i| format!("#{}: {}", i.number, i.starts))
                    .collect::<Vec<_>>()
                    .join(", "),
            );
            let max = fault_log.bounds.iter().max().copied().unwrap_or(0);
            report.figure("most in flight at one kill", max);
        }
        Faults::Database => {
            report.figure(
                "instances restarted",
                if fault_log.exits.is_empty() {
                    "none: each ran from start to end".to_owned()
                } else {
                    fault_log.exits.len().to_string()
                },
            );
            database_report(&mut report, &fault_log, &polls, &calls, ctx);
            report.figure(
                "listener reconnections per instance",
                listener_reconnects
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
            );
        }
    }
    for exit in &fault_log.exits {
        report.fail(exit.clone());
    }

    let rows = blocking(|| probe.with(PROBE_PATIENCE, |p| p.rows("")))?;
    let accepted: HashSet<String> = send_log.accepted.values().cloned().collect();
    check_load(
        &mut report,
        &rows,
        &calls,
        &Expected {
            messages: &texts,
            accepted: &accepted,
            in_flight: &fault_log.in_flight,
            rules: &ctx.rules,
        },
    );
    Ok(report)
}

/// Readiness during the outage and recovery after each database fault.
fn database_report(
    report: &mut Scenario,
    log: &FaultLog,
    polls: &[Vec<Poll>],
    calls: &[Call],
    ctx: &Ctx,
) {
    let first_call_after = |instance: u32, at: Instant| {
        calls
            .iter()
            .filter(|c| c.instance == instance && c.at >= at)
            .map(|c| c.at)
            .min()
            .map(|t| t - at)
    };
    if let Some(at) = log.terminated_at {
        report.figure("connections ended (pg_terminate_backend)", log.terminated);
        let resumed: Vec<String> = (1..=3)
            .map(|n| {
                first_call_after(n, at).map_or_else(
                    || format!("#{n}: never"),
                    |d| format!("#{n}: {}", seconds(d)),
                )
            })
            .collect();
        report.figure(
            "after the connections ended, first provider call",
            resumed.join(", "),
        );
        for n in 1..=3 {
            let resumed = first_call_after(n, at);
            report.check(
                resumed.is_some_and(|d| d <= Duration::from_secs(ctx.args.recovery_secs)),
                || format!("instance {n} did not dispatch again within {} s of its connections being ended", ctx.args.recovery_secs),
            );
        }
    }
    let (Some(down), Some(back)) = (log.down_at, log.back_at) else {
        report.fail("the database was not restarted");
        return;
    };
    report.figure(
        "PostgreSQL down (stop -m immediate … start)",
        seconds(back - down),
    );
    let limit = Duration::from_secs(ctx.args.recovery_secs);
    let mut lines = Vec::new();
    for (k, polls) in polls.iter().enumerate() {
        let n = u32::try_from(k + 1).unwrap_or(0);
        let saw_503 = polls
            .iter()
            .any(|p| p.start >= down && p.start < back && p.status == 503);
        let answers_down: Vec<u16> = polls
            .iter()
            .filter(|p| p.start >= down && p.start < back)
            .map(|p| p.status)
            .collect();
        let ready = polls
            .iter()
            .find(|p| p.start >= back && p.status == 200)
            .map(|p| p.end - back);
        let dispatching = first_call_after(n, back);
        let recovered = ready.zip(dispatching).map(|(a, b)| a.max(b));
        lines.push(format!(
            "#{n}: ready 503 while down: {} ({} polls), ready 200 after {}, dispatching after {}",
            if saw_503 { "yes" } else { "no" },
            answers_down.len(),
            ready.map_or_else(|| "never".to_owned(), seconds),
            dispatching.map_or_else(|| "never".to_owned(), seconds),
        ));
        report.check(saw_503, || {
            format!("instance {n}: /health/ready never answered 503 while the database was down (answers: {answers_down:?})")
        });
        report.check(recovered.is_some_and(|d| d <= limit), || {
            format!(
                "instance {n} did not recover within {} s of the database being back (ready {ready:?}, dispatching {dispatching:?})",
                limit.as_secs()
            )
        });
    }
    report.figure("recovery per instance", lines.join("; "));
}

/// What the sends of a load run need.
struct Sends<'a> {
    admin: &'a Admin,
    bases: &'a [String],
    bodies: &'a [Value],
    texts: &'a [String],
    sink: &'a Sink,
    /// The first send, and the pause between two.
    start: Instant,
    every: Duration,
    seed: u64,
    messages: usize,
    patience: Duration,
    name: &'a str,
}

/// Sends every message, settles those of unknown fate, then waits until
/// every communication is final: the sends, how long they took, and when
/// all were final (`None`: not within the patience).
async fn send_and_wait(
    sends: &Sends<'_>,
    probe: &mut Reconnecting,
) -> anyhow::Result<(SendLog, Duration, Option<Duration>)> {
    let Sends {
        admin,
        bases,
        bodies,
        texts,
        sink,
        start,
        every,
        seed: send_seed,
        messages,
        patience,
        name,
    } = *sends;
    let mut log = send_all(
        admin,
        bases,
        bodies,
        (0..messages).collect(),
        start,
        every,
        send_seed,
    )
    .await;
    let sent_in = start.elapsed();
    // Sends whose fate is unknown: stored, or sent again.
    for _ in 0..30 {
        if log.uncertain.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        let unsure: Vec<String> = log
            .uncertain
            .iter()
            .filter_map(|&i| texts.get(i).cloned())
            .collect();
        let Ok(stored) = blocking(|| probe.with(PROBE_BRIEF, |p| p.stored_messages(&unsure)))
        else {
            continue;
        };
        let missing: Vec<usize> = log
            .uncertain
            .iter()
            .copied()
            .filter(|&i| texts.get(i).is_some_and(|t| !stored.contains(t)))
            .collect();
        log.resent += missing.len() as u64;
        let again = send_all(
            admin,
            bases,
            bodies,
            missing,
            Instant::now(),
            Duration::ZERO,
            send_seed ^ 1,
        )
        .await;
        log.accepted.extend(again.accepted);
        log.rejected.extend(again.rejected);
        log.refused += again.refused;
        log.uncertain_total += again.uncertain_total;
        log.uncertain = again.uncertain;
        log.reasons.extend(again.reasons);
        log.reasons.truncate(3);
    }
    // Until every communication is final.
    let deadline = start + patience;
    let mut last_note = Instant::now();
    let finished = loop {
        if Instant::now() > deadline {
            break None;
        }
        let Ok(pending) = blocking(|| probe.with(PROBE_BRIEF, Probe::pending)) else {
            tokio::time::sleep(Duration::from_millis(500)).await;
            continue;
        };
        if pending == 0 {
            break Some(start.elapsed());
        }
        if last_note.elapsed() > Duration::from_secs(15) {
            eprintln!(
                "chaos: {name}: {} s, {pending} not final, {} provider calls",
                start.elapsed().as_secs(),
                sink.len()
            );
            last_note = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    Ok((log, sent_in, finished))
}
