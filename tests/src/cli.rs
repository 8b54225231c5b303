//! The `omnichannel` command line, run in-process on a test database.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use clap::Parser;
use omnichannel_server::cli::Cli;

use crate::api::TestApp;
use crate::db::{TestDb, both_backends};

/// A configuration file for `db`, with `extra` TOML appended.
fn config_file(dir: &tempfile::TempDir, db: &TestDb, extra: &str) -> String {
    let path = dir.path().join("omnichannel.toml");
    let text = format!("database_url = \"{}\"\n{extra}", db.url());
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

async fn run(args: &[&str], input: &str) -> anyhow::Result<()> {
    let cli = Cli::try_parse_from(args).expect("the arguments parse");
    cli.run_with(&mut input.as_bytes()).await
}

both_backends! {
    async fn admin_create_reads_the_password_from_standard_input(db: &TestDb) {
        let app = TestApp::spawn(db).await;
        let dir = tempfile::tempdir().unwrap();
        let config = config_file(&dir, db, "");
        let args = ["omnichannel", "--config", &config, "admin", "create", "--username", "Ops"];
        run(&args, "ops-operator-password\n").await.expect("the operator is created");
        let hash = db.texts("SELECT password_hash AS value FROM admins WHERE username = 'ops'");
        assert_eq!(hash.len(), 1);
        assert!(hash[0].starts_with("$2") && !hash[0].contains("ops-operator-password"));

        let short = run(&args, "short\n").await.expect_err("a short password is refused");
        assert!(format!("{short:#}").contains("password"), "{short:#}");

        // The operator logs in to the served API.
        assert_eq!(app.login("ops", "ops-operator-password").await.status, 200);
    }

    async fn api_key_create_stores_a_hashed_key(db: &TestDb) {
        let dir = tempfile::tempdir().unwrap();
        let config = config_file(&dir, db, "");
        run(&["omnichannel", "--config", &config, "api-key", "create", "--name", "crm"], "")
            .await
            .expect("the key is created");
        assert_eq!(db.texts("SELECT name AS value FROM api_keys"), ["crm"]);
        assert_eq!(db.texts("SELECT secret_hash AS value FROM api_keys")[0].len(), 64);
    }

    async fn migrate_applies_the_migrations(db: &TestDb) {
        let dir = tempfile::tempdir().unwrap();
        let config = config_file(&dir, db, "");
        run(&["omnichannel", "--config", &config, "migrate"], "").await.expect("migrated");
        assert_eq!(db.texts("SELECT code AS value FROM communication_types").len(), 6);
    }

    async fn a_bad_configuration_stops_the_command_naming_the_key(db: &TestDb) {
        let dir = tempfile::tempdir().unwrap();
        let config = config_file(&dir, db, "[worker]\nconcurrency = 0\n");
        let error = run(&["omnichannel", "--config", &config, "migrate"], "")
            .await
            .expect_err("the configuration is refused");
        assert!(format!("{error:#}").contains("worker.concurrency"), "{error:#}");
        let config = config_file(&dir, db, "[wrker]\nconcurrency = 2\n");
        let error = run(&["omnichannel", "--config", &config, "migrate"], "")
            .await
            .expect_err("the configuration is refused");
        assert!(format!("{error:#}").contains("wrker"), "{error:#}");
    }
}
