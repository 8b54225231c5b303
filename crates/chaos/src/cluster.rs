//! The PostgreSQL cluster of the chaos run: a cluster of its own (by default
//! `15/chaos` on port 5442), created once with `pg_createcluster`, which the
//! run may stop, restart and cut off at will. The shared cluster on 5432 is
//! never touched: the harness refuses to run against it.

use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use diesel::{Connection, PgConnection, RunQueryDsl};

#[derive(Debug, Clone)]
pub struct Cluster {
    pub version: String,
    pub name: String,
    pub port: u16,
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

fn run(program: &str, args: &[&str]) -> anyhow::Result<String> {
    let output = Command::new(program)
        .args(args)
        .output()
        .with_context(|| format!("cannot run {program}"))?;
    if !output.status.success() {
        bail!(
            "{program} {} failed: {}{}",
            args.join(" "),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

impl Cluster {
    pub fn new(version: &str, name: &str, port: u16) -> anyhow::Result<Self> {
        if port == 5432 || name == "main" {
            bail!(
                "refusing to use the cluster {version}/{name} on port {port}: the chaos run stops and \
                 restarts its cluster, so it must be one of its own, never the shared one"
            );
        }
        Ok(Self {
            version: version.to_owned(),
            name: name.to_owned(),
            port,
        })
    }

    /// The cluster's line in `pg_lsclusters`: its port and whether it is online.
    fn status(&self) -> anyhow::Result<Option<(u16, bool)>> {
        let listing = run("pg_lsclusters", &["--no-header"])?;
        for line in listing.lines() {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if let [version, name, port, status, ..] = fields.as_slice()
                && *version == self.version
                && *name == self.name
            {
                return Ok(Some((port.parse()?, status.starts_with("online"))));
            }
        }
        Ok(None)
    }

    /// Creates the cluster when missing and starts it when down; answers
    /// once it takes connections.
    pub fn ensure(&self) -> anyhow::Result<()> {
        let port = self.port.to_string();
        match self.status()? {
            None => {
                run(
                    "pg_createcluster",
                    &[
                        &self.version,
                        &self.name,
                        "--port",
                        &port,
                        "--start-conf",
                        "manual",
                        "-o",
                        "max_connections=200",
                        "--start",
                        "--",
                        "--auth-local=trust",
                        "--auth-host=trust",
                    ],
                )?;
            }
            Some((existing, _)) if existing != self.port => bail!(
                "the cluster {}/{} exists on port {existing}, not {}",
                self.version,
                self.name,
                self.port
            ),
            Some((_, false)) => self.start()?,
            Some((_, true)) => {}
        }
        self.wait_up(Duration::from_secs(30))
    }

    pub fn server_url(&self) -> String {
        self.url("postgres")
    }

    pub fn url(&self, database: &str) -> String {
        format!(
            "postgres://postgres@127.0.0.1:{}/{database}?connect_timeout=2",
            self.port
        )
    }

    /// Waits until a connection can be opened; answers how long that took.
    pub fn wait_up(&self, patience: Duration) -> anyhow::Result<()> {
        let started = Instant::now();
        loop {
            match PgConnection::establish(&self.server_url()) {
                Ok(_) => return Ok(()),
                Err(error) if started.elapsed() > patience => {
                    bail!("the chaos cluster does not answer: {error}")
                }
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }

    /// Drops `name` if it exists and creates it empty: its URL.
    pub fn fresh_database(&self, name: &str) -> anyhow::Result<String> {
        let mut conn = PgConnection::establish(&self.server_url())?;
        diesel::sql_query(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
            .execute(&mut conn)?;
        diesel::sql_query(format!("CREATE DATABASE \"{name}\"")).execute(&mut conn)?;
        Ok(self.url(name))
    }

    pub fn start(&self) -> anyhow::Result<()> {
        run("pg_ctlcluster", &[&self.version, &self.name, "start"]).map(drop)
    }

    /// `pg_ctlcluster … stop -m immediate`: the server quits at once, as
    /// after a crash; the next start recovers from the write-ahead log.
    pub fn stop_immediate(&self) -> anyhow::Result<()> {
        run(
            "pg_ctlcluster",
            &[&self.version, &self.name, "stop", "-m", "immediate"],
        )
        .map(drop)
    }

    pub fn restart_immediate(&self) -> anyhow::Result<()> {
        run(
            "pg_ctlcluster",
            &[&self.version, &self.name, "restart", "-m", "immediate"],
        )
        .map(drop)
    }

    pub fn stop(&self) -> anyhow::Result<()> {
        run("pg_ctlcluster", &[&self.version, &self.name, "stop"]).map(drop)
    }

    /// Ends every other connection to `database`: the number ended.
    pub fn terminate_backends(&self, database: &str) -> anyhow::Result<i64> {
        let mut conn = PgConnection::establish(&self.url(database))?;
        let ended: Count = diesel::sql_query(
            "SELECT count(*) FILTER (WHERE t.ended) AS n FROM (SELECT pg_terminate_backend(pid) AS ended \
             FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()) AS t",
        )
        .get_result(&mut conn)?;
        Ok(ended.n)
    }
}
