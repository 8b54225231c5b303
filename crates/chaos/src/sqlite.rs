//! Scenario 4: SQLite. One instance on a SQLite file, killed with `SIGKILL`
//! twice mid-dispatch and started again: nothing lost, duplicates within
//! the in-flight bound, and the file passes `PRAGMA integrity_check` right
//! after each kill and at the end.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures_util::StreamExt;
use serde_json::{Value, json};

use crate::Ctx;
use crate::api::{Admin, Sent};
use crate::checks::{Expected, check_load};
use crate::instance::{Instance, Settings, blocking, wait_ready};
use crate::probe::Probe;
use crate::report::{Scenario, seconds};
use crate::rng::Rng;
use crate::sink::{Behaviour, Sink};

/// Every call takes a while, so that dispatch lasts long enough to be cut.
const SQLITE_SINK: Behaviour = Behaviour {
    fail: 0.03,
    slow: 0.05,
    slow_ms: (300, 1_000),
    quick_ms: (20, 120),
};

/// Kills when this share of the communications is final.
const KILL_AT: [f64; 2] = [0.3, 0.65];

fn probe(path: &str) -> anyhow::Result<Probe> {
    Probe::sqlite(path)
}

pub async fn run(ctx: &Ctx, seed: u64) -> anyhow::Result<Scenario> {
    let mut report = Scenario::new("4. SQLite: kill -9 mid-dispatch");
    let mut rng = Rng::new(seed);
    let args = &ctx.args;
    let dir = ctx.run_dir.join("sqlite");
    std::fs::create_dir_all(&dir)?;
    let file = dir.join("omnichannel.db");
    for suffix in ["", "-wal", "-shm"] {
        let path = format!("{}{suffix}", file.display());
        if std::path::Path::new(&path).exists() {
            std::fs::remove_file(&path)?;
        }
    }
    let path = file.display().to_string();
    let sink = Sink::start(rng.next_u64(), SQLITE_SINK)?;
    let settings = Settings {
        sink_url: sink.url.clone(),
        concurrency: 8,
        lease_ms: args.lease_ms,
        poll_interval_ms: 200,
        retry_base_ms: 200,
        provider_timeout_ms: 3_000,
    };
    let mut instance = Instance::new(1, &ctx.binary, &path, &settings, &dir)?;
    instance.spawn()?;
    let base = instance.base_url();
    wait_ready(&ctx.http, &base, Duration::from_secs(60)).await?;
    let admin = Admin::login(&ctx.http, &base).await?;
    let mass = admin.mass_type(&base).await?;
    let department = admin.department(&base, "Chaos SQLite", &mass, &[]).await?;
    let messages = args.sqlite_messages;
    let clients = admin
        .clients(
            std::slice::from_ref(&base),
            0..(messages / 10).max(1),
            "sqlite",
        )
        .await?;
    let texts: Vec<String> = (0..messages)
        .map(|i| format!("chaos sqlite message {i:05}"))
        .collect();
    report.figure("instance", "1 `omnichannel serve` on a SQLite file");
    report.figure(
        "messages / clients",
        format!("{messages} / {}", clients.len()),
    );
    report.figure(
        "worker",
        format!("concurrency 8, lease {} ms", args.lease_ms),
    );

    let started = Instant::now();
    let answers: Vec<Sent> = futures_util::stream::iter(texts.iter().enumerate())
        .map(|(i, text)| {
            let body: Value = json!({
                "user_id": clients.get(i % clients.len()),
                "department_id": department,
                "communication_type_id": mass,
                "message": text,
            });
            let admin = &admin;
            let base = &base;
            async move { admin.send(base, &body).await }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    let accepted: HashSet<String> = answers
        .iter()
        .filter_map(|a| match a {
            Sent::Accepted(id) => Some(id.clone()),
            _ => None,
        })
        .collect();
    if accepted.len() != messages {
        bail!(
            "{} of {messages} sends accepted: {:?}",
            accepted.len(),
            answers.iter().find(|a| !matches!(a, Sent::Accepted(_)))
        );
    }
    report.figure(
        "sends accepted",
        format!("{} in {}", accepted.len(), seconds(started.elapsed())),
    );

    let mut in_flight: HashMap<String, u32> = HashMap::new();
    let mut kills = Vec::new();
    let mut conn = blocking(|| probe(&path))?;
    for share in KILL_AT {
        let total = i64::try_from(messages)?;
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let pending = blocking(|| conn.pending())?;
            if (total - pending) as f64 >= share * total as f64 {
                break;
            }
            if Instant::now() > deadline {
                bail!("dispatch did not reach {:.0}% within 120 s", share * 100.0);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let life = instance.started;
        instance.kill9().await?;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let called: Vec<String> = sink
            .calls()
            .iter()
            .filter(|c| c.ok && c.at >= life)
            .map(|c| c.communication.clone())
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        // A connection of its own after the crash, as the next start opens one.
        drop(conn);
        conn = blocking(|| probe(&path))?;
        let sent = blocking(|| conn.sent_among(&called))?;
        let integrity = blocking(|| conn.integrity_check())?;
        let pending = blocking(|| conn.pending())?;
        let mut n = 0;
        for id in called.into_iter().filter(|id| !sent.contains(id)) {
            *in_flight.entry(id).or_default() += 1;
            n += 1;
        }
        report.check(integrity == "ok", || {
            format!("PRAGMA integrity_check right after the kill: {integrity}")
        });
        kills.push(format!(
            "at {} pending: {n} in flight, integrity_check {integrity}",
            pending
        ));
        instance.spawn()?;
        wait_ready(&ctx.http, &base, Duration::from_secs(60))
            .await
            .context("the instance did not start again")?;
    }
    report.figure("kills (SIGKILL) and restarts", kills.join("; "));

    let deadline = Instant::now() + Duration::from_secs(180);
    let finished = loop {
        let pending = blocking(|| conn.pending())?;
        if pending == 0 {
            break Some(started.elapsed());
        }
        if Instant::now() > deadline {
            break None;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    match finished {
        Some(at) => report.figure(
            "all final after",
            format!("{} from the first send", seconds(at)),
        ),
        None => report.fail("not every communication was final within 180 s of the last restart"),
    }
    if let Some(status) = instance.exited()? {
        report.fail(format!("the instance exited by itself ({status})"));
    }
    match instance.terminate().await? {
        Some(status) if !status.success() => {
            report.fail(format!("the instance exited with {status} after SIGTERM"));
        }
        _ => {}
    }
    let calls = sink.calls();
    sink.stop();
    drop(conn);
    let mut conn = blocking(|| probe(&path))?;
    let integrity = blocking(|| conn.integrity_check())?;
    report.figure("PRAGMA integrity_check at the end", &integrity);
    report.check(integrity == "ok", || {
        format!("PRAGMA integrity_check at the end: {integrity}")
    });
    let rows = blocking(|| conn.rows(""))?;
    check_load(
        &mut report,
        &rows,
        &calls,
        &Expected {
            messages: &texts,
            accepted: &accepted,
            in_flight: &in_flight,
            rules: &[],
        },
    );
    Ok(report)
}
