//! One `omnichannel serve` process: started from the release binary with its
//! configuration in `OMNICHANNEL_*` variables, killed with `SIGKILL`, started
//! again on the same port, stopped with `SIGTERM` at the end.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio::process::{Child, Command};

use crate::Ctx;

/// The channel codes the migrations seed: every one posts to the sink.
pub const CHANNELS: [&str; 4] = ["sms", "messenger", "email", "push"];
pub const ADMIN_PASSWORD: &str = "chaos-operator-password";
const JWT_SECRET: &str = "chaos-signing-key-of-at-least-32-bytes-long";

/// How an instance is configured beyond its number, port and database.
#[derive(Debug, Clone)]
pub struct Settings {
    pub sink_url: String,
    pub concurrency: u32,
    pub lease_ms: u64,
    pub poll_interval_ms: u64,
    pub retry_base_ms: u64,
    pub provider_timeout_ms: u64,
}

pub struct Instance {
    /// 1, 2, 3: also the `X-Instance` header of its provider calls.
    pub number: u32,
    pub port: u16,
    binary: PathBuf,
    env: Vec<(String, String)>,
    log: PathBuf,
    child: Option<Child>,
    /// When the current process was started.
    pub started: Instant,
    pub starts: u32,
}

/// A free port on the loopback interface, for an instance to keep across restarts.
pub fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

impl Instance {
    pub fn new(
        number: u32,
        binary: &Path,
        database_url: &str,
        settings: &Settings,
        log_dir: &Path,
    ) -> anyhow::Result<Self> {
        let port = free_port()?;
        let mut env: Vec<(String, String)> = vec![
            ("OMNICHANNEL_DATABASE_URL".into(), database_url.into()),
            ("OMNICHANNEL_BIND".into(), format!("127.0.0.1:{port}")),
            ("OMNICHANNEL_JWT_SECRET".into(), JWT_SECRET.into()),
            ("OMNICHANNEL_ADMIN_PASSWORD".into(), ADMIN_PASSWORD.into()),
            ("OMNICHANNEL_SHUTDOWN_GRACE_SECS".into(), "5".into()),
            (
                "OMNICHANNEL_WORKER__CONCURRENCY".into(),
                settings.concurrency.to_string(),
            ),
            (
                "OMNICHANNEL_WORKER__LEASE_MS".into(),
                settings.lease_ms.to_string(),
            ),
            (
                "OMNICHANNEL_WORKER__POLL_INTERVAL_MS".into(),
                settings.poll_interval_ms.to_string(),
            ),
            (
                "OMNICHANNEL_WORKER__RETRY_BASE_MS".into(),
                settings.retry_base_ms.to_string(),
            ),
            ("RUST_LOG".into(), "info".into()),
            ("NO_COLOR".into(), "1".into()),
        ];
        for code in CHANNELS {
            let key = |k: &str| format!("OMNICHANNEL_CHANNELS__{}__{k}", code.to_uppercase());
            env.push((key("PROVIDER"), "http".into()));
            env.push((key("URL"), format!("{}/{code}", settings.sink_url)));
            env.push((key("TIMEOUT_MS"), settings.provider_timeout_ms.to_string()));
            env.push((key("HEADERS"), format!("{{X-Instance=\"{number}\"}}")));
        }
        Ok(Self {
            number,
            port,
            binary: binary.to_owned(),
            env,
            log: log_dir.join(format!("instance-{number}.log")),
            child: None,
            started: Instant::now(),
            starts: 0,
        })
    }

    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Starts the process; its output goes to its log file, after a line
    /// that says which start it is.
    pub fn spawn(&mut self) -> anyhow::Result<()> {
        if self.child.is_some() {
            bail!("instance {} is running already", self.number);
        }
        let mut log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .with_context(|| format!("cannot open {}", self.log.display()))?;
        self.starts += 1;
        writeln!(
            log,
            "=== chaos: start {} of instance {} at {}",
            self.starts,
            self.number,
            chrono::Utc::now().to_rfc3339()
        )?;
        let mut command = Command::new(&self.binary);
        command.arg("serve");
        // Only this instance's configuration: nothing inherited can stop the start.
        for (key, _) in std::env::vars() {
            if key.starts_with("OMNICHANNEL_") || key == "RUST_LOG" {
                command.env_remove(key);
            }
        }
        command
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone()?))
            .stderr(Stdio::from(log))
            .kill_on_drop(true);
        let child = command
            .spawn()
            .with_context(|| format!("cannot start {}", self.binary.display()))?;
        self.child = Some(child);
        self.started = Instant::now();
        Ok(())
    }

    /// `SIGKILL`, and waits until the process is gone: from then on it can
    /// write nothing more.
    pub async fn kill9(&mut self) -> anyhow::Result<()> {
        let Some(mut child) = self.child.take() else {
            bail!("instance {} is not running", self.number);
        };
        child.start_kill()?;
        child.wait().await?;
        Ok(())
    }

    /// `SIGTERM`, then waits for the exit (`SIGKILL` after 30 s).
    pub async fn terminate(&mut self) -> anyhow::Result<Option<ExitStatus>> {
        let Some(mut child) = self.child.take() else {
            return Ok(None);
        };
        if let Some(pid) = child.id() {
            let sent = Command::new("kill")
                .arg("-TERM")
                .arg(pid.to_string())
                .status()
                .await?;
            if !sent.success() {
                bail!("kill -TERM {pid} failed");
            }
        }
        match tokio::time::timeout(Duration::from_secs(30), child.wait()).await {
            Ok(status) => Ok(Some(status?)),
            Err(_) => {
                child.start_kill()?;
                child.wait().await?;
                bail!(
                    "instance {} did not stop within 30 s of SIGTERM",
                    self.number
                )
            }
        }
    }

    /// Lets go of a process that has exited, so that it can be started again.
    pub fn forget(&mut self) {
        self.child = None;
    }

    /// The exit status if the process ended by itself.
    pub fn exited(&mut self) -> anyhow::Result<Option<ExitStatus>> {
        match &mut self.child {
            Some(child) => Ok(child.try_wait()?),
            None => Ok(None),
        }
    }

    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// Lines of its log that contain `needle`.
    pub fn log_lines_with(&self, needle: &str) -> usize {
        std::fs::read_to_string(&self.log)
            .map(|text| text.lines().filter(|l| l.contains(needle)).count())
            .unwrap_or(0)
    }
}

/// Waits until `base`/health/ready answers `200`.
pub async fn wait_ready(
    http: &reqwest::Client,
    base: &str,
    patience: Duration,
) -> anyhow::Result<Duration> {
    let started = Instant::now();
    loop {
        let answer = http
            .get(format!("{base}/health/ready"))
            .timeout(Duration::from_secs(5))
            .send()
            .await;
        if matches!(&answer, Ok(r) if r.status().is_success()) {
            return Ok(started.elapsed());
        }
        if started.elapsed() > patience {
            bail!("{base} was not ready within {patience:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Runs blocking database work on this worker thread.
pub fn blocking<T>(work: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(work)
}

/// Three instances started on one fresh database of the harness's cluster,
/// each ready.
pub struct Three {
    /// The database's URL.
    pub url: String,
    pub instances: Vec<Instance>,
    /// The instances' base URLs, in order.
    pub bases: Vec<String>,
}

/// Starts three instances on a fresh database `omnichannel_chaos_<name>`,
/// logging under `<run dir>/<name>`, with `settings`, and waits until each is
/// ready.
pub async fn start_three(ctx: &Ctx, name: &str, settings: &Settings) -> anyhow::Result<Three> {
    let cluster = ctx.cluster.clone();
    let database = format!("omnichannel_chaos_{name}");
    let url = blocking(|| cluster.fresh_database(&database))?;
    let log_dir = ctx.run_dir.join(name);
    std::fs::create_dir_all(&log_dir)?;
    let mut instances = (1..=3)
        .map(|n| Instance::new(n, &ctx.binary, &url, settings, &log_dir))
        .collect::<anyhow::Result<Vec<_>>>()?;
    for instance in &mut instances {
        instance.spawn()?;
    }
    let bases: Vec<String> = instances.iter().map(Instance::base_url).collect();
    for base in &bases {
        wait_ready(&ctx.http, base, Duration::from_secs(60)).await?;
    }
    Ok(Three {
        url,
        instances,
        bases,
    })
}
