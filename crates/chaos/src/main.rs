//! `omnichannel-chaos`: proves the two promises of the service — a message
//! accepted is never lost, a client is never contacted more often than the
//! department allows — with the faults themselves. It drives the release
//! binary `omnichannel` as child processes on a PostgreSQL cluster of its
//! own, posts every channel to a recording sink, and:
//!
//! 1. `kill`: three instances under load, one killed with `SIGKILL` and
//!    started again every few seconds;
//! 2. `database`: the same load while every server connection is ended once
//!    and PostgreSQL is stopped (`-m immediate`) and started again;
//! 3. `exact`: 100 concurrent sends to one client over three instances
//!    against 3 per minute, 20 times;
//! 4. `sqlite`: one instance on SQLite killed mid-dispatch and started again.
//!
//! It prints a report (Markdown) and exits non-zero when a promise is broken.
//! See docs/reliability.md.

mod api;
mod checks;
mod cluster;
mod exact;
mod instance;
mod load;
mod probe;
mod report;
mod rng;
mod sink;
mod sqlite;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Parser, ValueEnum};

use crate::api::RuleSpec;
use crate::cluster::Cluster;
use crate::report::Scenario;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Which {
    Kill,
    Database,
    Exact,
    Sqlite,
}

#[derive(Debug, Clone, Parser)]
#[command(name = "omnichannel-chaos", about = "Fault injection for omnichannel")]
pub struct Args {
    /// The `omnichannel` binary (default: beside this one).
    #[arg(long)]
    pub binary: Option<PathBuf>,
    /// Scenarios to run, in order (default: all).
    #[arg(long, value_enum, value_delimiter = ',')]
    pub scenario: Vec<Which>,
    /// The seed of every random choice (default: from the clock).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Where logs and the report go (default: /var/tmp/omnichannel-chaos/<time>).
    #[arg(long)]
    pub run_dir: Option<PathBuf>,
    /// Also write the report here.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// The PostgreSQL cluster of the run: version, name, port. Never the shared one.
    #[arg(long, default_value = "15")]
    pub pg_version: String,
    #[arg(long, default_value = "chaos")]
    pub pg_cluster: String,
    #[arg(long, default_value_t = 5442)]
    pub pg_port: u16,
    /// Stop the cluster at the end.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub pg_stop_after: bool,
    /// Communications of the `kill` and `database` runs.
    #[arg(long, default_value_t = 20_000)]
    pub messages: usize,
    /// The clients they go to.
    #[arg(long, default_value_t = 2_000)]
    pub clients: usize,
    /// The department's rules in those runs, LIMIT/COUNT/UNIT.
    #[arg(long, default_values = ["3/30/second", "10/1/hour"])]
    pub rule: Vec<String>,
    /// Over how long the sends are spread.
    #[arg(long, default_value_t = 30)]
    pub send_secs: u64,
    /// A kill every MIN..MAX milliseconds.
    #[arg(long, default_value_t = 2_000)]
    pub kill_min_ms: u64,
    #[arg(long, default_value_t = 5_000)]
    pub kill_max_ms: u64,
    /// How long PostgreSQL stays down between its immediate stop and its
    /// start (0: one `restart -m immediate`): longer than the pool's 10 s
    /// wait for a connection, so that claims and writes fail meanwhile.
    #[arg(long, default_value_t = 12)]
    pub pg_down_secs: u64,
    /// The longest an instance may take to recover after the database is back.
    #[arg(long, default_value_t = 30)]
    pub recovery_secs: u64,
    /// Repetitions of the `exact` scenario, and its concurrent sends.
    #[arg(long, default_value_t = 20)]
    pub repetitions: usize,
    #[arg(long, default_value_t = 100)]
    pub burst: usize,
    /// Communications of the `sqlite` scenario.
    #[arg(long, default_value_t = 2_000)]
    pub sqlite_messages: usize,
    /// `worker.lease_ms`, `worker.concurrency` of every instance.
    #[arg(long, default_value_t = 5_000)]
    pub lease_ms: u64,
    #[arg(long, default_value_t = 32)]
    pub concurrency: u32,
    /// How long a load run may take from its first send to its last final
    /// communication.
    #[arg(long, default_value_t = 360)]
    pub patience_secs: u64,
}

/// What every scenario shares.
pub struct Ctx {
    pub args: Args,
    pub binary: PathBuf,
    pub cluster: Cluster,
    pub run_dir: PathBuf,
    pub http: reqwest::Client,
    pub seed: u64,
    pub rules: Vec<RuleSpec>,
}

fn default_binary() -> anyhow::Result<PathBuf> {
    let me = std::env::current_exe()?;
    let dir = me.parent().context("this binary has no directory")?;
    Ok(dir.join("omnichannel"))
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run().await {
        Ok(true) => std::process::ExitCode::SUCCESS,
        Ok(false) => std::process::ExitCode::FAILURE,
        Err(error) => {
            eprintln!("omnichannel-chaos: {error:#}");
            std::process::ExitCode::from(2)
        }
    }
}

async fn run() -> anyhow::Result<bool> {
    let args = Args::parse();
    let binary = match &args.binary {
        Some(binary) => binary.clone(),
        None => default_binary()?,
    };
    if !binary.is_file() {
        bail!(
            "{} is missing: build it with cargo build --release --bin omnichannel",
            binary.display()
        );
    }
    let seed = args.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1)
    });
    let started_at = chrono::Utc::now();
    let run_dir = args.run_dir.clone().unwrap_or_else(|| {
        PathBuf::from("/var/tmp/omnichannel-chaos")
            .join(started_at.format("%Y%m%d-%H%M%S").to_string())
    });
    std::fs::create_dir_all(&run_dir)
        .with_context(|| format!("cannot create {}", run_dir.display()))?;
    let rules = args
        .rule
        .iter()
        .map(|r| RuleSpec::parse(r))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let scenarios = if args.scenario.is_empty() {
        vec![Which::Kill, Which::Database, Which::Exact, Which::Sqlite]
    } else {
        args.scenario.clone()
    };
    let cluster = Cluster::new(&args.pg_version, &args.pg_cluster, args.pg_port)?;
    let needs_pg = scenarios.iter().any(|s| *s != Which::Sqlite);
    if needs_pg {
        eprintln!(
            "chaos: PostgreSQL cluster {}/{} on port {}",
            cluster.version, cluster.name, cluster.port
        );
        let ensure = cluster.clone();
        tokio::task::spawn_blocking(move || ensure.ensure()).await??;
    }
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .timeout(Duration::from_secs(60))
        .build()?;
    eprintln!(
        "chaos: seed {seed}, binary {}, logs in {}",
        binary.display(),
        run_dir.display()
    );
    let ctx = Ctx {
        args: args.clone(),
        binary,
        cluster,
        run_dir: run_dir.clone(),
        http,
        seed,
        rules,
    };
    let started = Instant::now();
    let mut results: Vec<Scenario> = Vec::new();
    for (n, which) in scenarios.iter().enumerate() {
        let scenario_seed = seed ^ (n as u64 + 1).wrapping_mul(0x2545_F491_4F6C_DD1D);
        let begun = Instant::now();
        eprintln!("chaos: scenario {which:?}");
        let outcome = match which {
            Which::Kill => load::run(&ctx, load::Faults::Kills, scenario_seed).await,
            Which::Database => load::run(&ctx, load::Faults::Database, scenario_seed).await,
            Which::Exact => exact::run(&ctx, scenario_seed).await,
            Which::Sqlite => sqlite::run(&ctx, scenario_seed).await,
        };
        let mut scenario = outcome.unwrap_or_else(|error| {
            let mut failed = Scenario::new(&format!("{which:?}"));
            failed.fail(format!("the scenario could not run to its end: {error:#}"));
            failed
        });
        scenario.elapsed = begun.elapsed();
        eprintln!(
            "chaos: scenario {which:?} {} in {}",
            if scenario.passed() {
                "passed"
            } else {
                "FAILED"
            },
            report::seconds(scenario.elapsed)
        );
        results.push(scenario);
    }
    if needs_pg && args.pg_stop_after {
        let cluster = ctx.cluster.clone();
        if let Err(error) = tokio::task::spawn_blocking(move || cluster.stop()).await? {
            eprintln!("chaos: cannot stop the chaos cluster: {error:#}");
        }
    }
    let header = vec![
        (
            "date".to_owned(),
            started_at.format("%Y-%m-%d %H:%M UTC").to_string(),
        ),
        ("seed".to_owned(), seed.to_string()),
        ("duration".to_owned(), report::seconds(started.elapsed())),
        (
            "machine".to_owned(),
            format!(
                "{} cores",
                std::thread::available_parallelism().map_or(0, usize::from)
            ),
        ),
        ("logs".to_owned(), run_dir.display().to_string()),
    ];
    let text = report::render(&header, &results);
    println!("{text}");
    std::fs::write(run_dir.join("report.md"), &text)?;
    if let Some(path) = &args.report {
        std::fs::write(path, &text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(results.iter().all(Scenario::passed))
}
