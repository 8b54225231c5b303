//! Unit tests of the configuration: loading, layering, errors and redaction.

use super::*;
use figment::Jail;

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
        .collect()
}

fn load_env(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
    Config::load_from(None, env(pairs))
}

/// Loads `toml` as the file `omnichannel.toml` of a fresh [`Jail`] directory.
fn load_toml(toml: &str, pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let mut result = None;
    Jail::expect_with(|jail| {
        jail.create_file("omnichannel.toml", toml)?;
        result = Some(Config::load_from(
            Some(Path::new("omnichannel.toml")),
            env(pairs),
        ));
        Ok(())
    });
    result.unwrap()
}

fn error_env(pairs: &[(&str, &str)]) -> String {
    load_env(pairs).unwrap_err().to_string()
}

fn error_toml(toml: &str) -> String {
    load_toml(toml, &[]).unwrap_err().to_string()
}

const SECRET: &str = "0123456789abcdef0123456789abcdef";

#[test]
fn nothing_set_gives_the_documented_defaults() {
    let config = load_env(&[("PATH", "/bin"), ("HOME", "/root")]).unwrap();
    assert_eq!(config, Config::default());
    assert_eq!(config.database_url, "omnichannel.db");
    assert_eq!(config.bind, "127.0.0.1:8080");
    assert_eq!(config.auth.jwt_secret, None);
    assert_eq!(config.auth.issuer, "omnichannel");
    assert_eq!(config.auth.access_ttl_secs, 900);
    assert_eq!(config.auth.refresh_ttl_secs, 2_592_000);
    let worker = &config.worker;
    assert!(worker.enabled);
    assert_eq!(worker.concurrency, 8);
    assert_eq!(worker.poll_interval(), Duration::from_secs(1));
    assert_eq!(worker.lease(), Duration::from_secs(30));
    assert_eq!(worker.retry_base(), Duration::from_secs(1));
    assert_eq!(worker.max_attempts, 5);
    assert_eq!(worker.defer_horizon(), Duration::from_secs(7 * 24 * 3600));
    assert!(config.channels.is_empty());
    assert_eq!(config.channel("sms"), &ChannelConfig::Log);
}

#[test]
fn the_file_overrides_the_defaults_and_keeps_the_rest() {
    let config = load_toml(
        r#"
        database_url = "postgres://omni@db/omni"
        [auth]
        issuer = "acme"
        [worker]
        enabled = false
        concurrency = 2
        "#,
        &[],
    )
    .unwrap();
    assert_eq!(config.database_url, "postgres://omni@db/omni");
    assert_eq!(config.bind, "127.0.0.1:8080");
    assert_eq!(config.auth.issuer, "acme");
    assert_eq!(config.auth.access_ttl_secs, 900);
    assert!(!config.worker.enabled);
    assert_eq!(config.worker.concurrency, 2);
    assert_eq!(config.worker.lease_ms, 30_000);
}

#[test]
fn the_environment_overrides_the_file() {
    let config = load_toml(
        r#"
        bind = "0.0.0.0:9000"
        [worker]
        concurrency = 2
        max_attempts = 3
        [channels.sms]
        provider = "http"
        url = "http://127.0.0.1:9000/sms"
        "#,
        &[
            ("OMNICHANNEL_BIND", "127.0.0.1:0"),
            ("OMNICHANNEL_WORKER__CONCURRENCY", "16"),
            (
                "OMNICHANNEL_CHANNELS__SMS__URL",
                "https://sms.example.com/send",
            ),
        ],
    )
    .unwrap();
    assert_eq!(config.bind, "127.0.0.1:0");
    assert_eq!(config.worker.concurrency, 16);
    assert_eq!(config.worker.max_attempts, 3);
    let ChannelConfig::Http(http) = config.channel("sms") else {
        panic!("sms must be http: {config:?}");
    };
    assert_eq!(http.url, "https://sms.example.com/send");
}

#[test]
fn double_underscores_nest_keys() {
    let config = load_env(&[
        ("OMNICHANNEL_DATABASE_URL", "sqlite://data/omni.db"),
        ("OMNICHANNEL_WORKER__POLL_INTERVAL_MS", "250"),
        ("OMNICHANNEL_WORKER__ENABLED", "false"),
        ("OMNICHANNEL_AUTH__ACCESS_TTL_SECS", "60"),
        ("OMNICHANNEL_CHANNELS__PUSH__PROVIDER", "none"),
    ])
    .unwrap();
    assert_eq!(config.database_url, "sqlite://data/omni.db");
    assert_eq!(config.worker.poll_interval_ms, 250);
    assert!(!config.worker.enabled);
    assert_eq!(config.auth.access_ttl(), Duration::from_secs(60));
    assert_eq!(config.channel("push"), &ChannelConfig::None);
    assert!(!config.channel("push").is_enabled());
}

#[test]
fn jwt_secret_has_a_short_alias_and_the_full_name_wins() {
    let config = load_env(&[("OMNICHANNEL_JWT_SECRET", SECRET)]).unwrap();
    assert_eq!(config.auth.jwt_secret, Some(Secret::from(SECRET)));

    let full = "ffffffffffffffffffffffffffffffffffff";
    let config = load_env(&[
        ("OMNICHANNEL_AUTH__JWT_SECRET", full),
        ("OMNICHANNEL_JWT_SECRET", SECRET),
    ])
    .unwrap();
    assert_eq!(config.auth.jwt_secret, Some(Secret::from(full)));
}

#[test]
fn values_from_the_environment_keep_their_text() {
    let digits = "12345678901234567890123456789012345";
    let config = load_env(&[
        ("OMNICHANNEL_JWT_SECRET", digits),
        ("OMNICHANNEL_CHANNELS__SMS__PROVIDER", "twilio"),
        ("OMNICHANNEL_CHANNELS__SMS__ACCOUNT_SID", "AC123"),
        ("OMNICHANNEL_CHANNELS__SMS__AUTH_TOKEN", "007"),
        ("OMNICHANNEL_CHANNELS__SMS__FROM", "+15551234567"),
    ])
    .unwrap();
    assert_eq!(config.auth.jwt_secret, Some(Secret::from(digits)));
    let ChannelConfig::Twilio(twilio) = config.channel("sms") else {
        panic!("sms must be twilio");
    };
    assert_eq!(twilio.auth_token.expose(), "007");
    assert_eq!(twilio.sender, TwilioSender::From("+15551234567".to_owned()));
    assert_eq!(twilio.base_url, "https://api.twilio.com");
    assert_eq!(twilio.timeout_ms, 5_000);
}

#[test]
fn variables_that_are_not_keys_are_ignored() {
    let config = load_env(&[
        ("OMNICHANNEL_ADMIN_PASSWORD", "correct horse battery"),
        ("OMNICHANNEL_TEST_DATABASE_URL", "postgres://test"),
        ("OMNICHANNEL_CONFIG", ""),
        ("omnichannel_bind", "nonsense"),
        ("NOT_OMNICHANNEL_BIND", "nonsense"),
    ])
    .unwrap();
    assert_eq!(config, Config::default());
}

#[test]
fn the_file_comes_from_the_argument_else_omnichannel_config() {
    Jail::expect_with(|jail| {
        jail.create_file("from-env.toml", "bind = \"127.0.0.1:1111\"")?;
        jail.create_file("from-arg.toml", "bind = \"127.0.0.1:2222\"")?;
        let vars = env(&[("OMNICHANNEL_CONFIG", "from-env.toml")]);

        let config = Config::load_from(None, vars.clone()).map_err(|e| e.to_string())?;
        assert_eq!(config.bind, "127.0.0.1:1111");

        let arg = Path::new("from-arg.toml");
        let config = Config::load_from(Some(arg), vars).map_err(|e| e.to_string())?;
        assert_eq!(config.bind, "127.0.0.1:2222");
        Ok(())
    });
}

#[test]
fn load_reads_the_process_environment() {
    Jail::expect_with(|jail| {
        jail.create_file("omnichannel.toml", "[worker]\nlease_ms = 5000")?;
        jail.set_env("OMNICHANNEL_CONFIG", "omnichannel.toml");
        jail.set_env("OMNICHANNEL_WORKER__RETRY_BASE_MS", "10");
        let config = Config::load(None).map_err(|e| e.to_string())?;
        assert_eq!(config.worker.lease_ms, 5_000);
        assert_eq!(config.worker.retry_base_ms, 10);

        jail.set_env("OMNICHANNEL_WORKER__LEASE", "5000");
        let error = Config::load(None).unwrap_err();
        assert_eq!(error.key(), Some("worker.lease"));
        Ok(())
    });
}

#[test]
fn a_missing_file_is_an_error() {
    let missing = Path::new("/nonexistent/omnichannel.toml");
    let error = Config::load_from(Some(missing), env(&[])).unwrap_err();
    assert!(matches!(error, ConfigError::File { .. }), "{error}");
    assert!(
        error.to_string().contains("/nonexistent/omnichannel.toml"),
        "{error}"
    );
}

#[test]
fn a_toml_syntax_error_names_the_file() {
    let error = load_toml("bind = \"127.0.0.1:8080", &[]).unwrap_err();
    assert!(matches!(error, ConfigError::Syntax { .. }), "{error}");
    assert!(matches!(error.origin(), Some(Origin::File(_))), "{error}");
}

#[test]
fn an_unknown_key_in_the_file_is_named() {
    let error = load_toml(
        "[channels.sms]\nprovider = \"http\"\nurll = \"http://x\"",
        &[],
    )
    .unwrap_err();
    assert_eq!(error.key(), Some("channels.sms.urll"), "{error}");
    assert!(
        error
            .to_string()
            .starts_with("unknown key channels.sms.urll"),
        "{error}"
    );
    assert!(matches!(error.origin(), Some(Origin::File(_))), "{error}");

    for (toml, key) in [
        ("colour = 1", "colour"),
        ("[auth]\nsecret = \"x\"", "auth.secret"),
        ("[worker]\nthreads = 2", "worker.threads"),
    ] {
        let error = load_toml(toml, &[]).unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "unknown key {key} (in {})",
                error.origin().map(ToString::to_string).unwrap_or_default()
            )
        );
    }
}

#[test]
fn an_unknown_key_in_the_environment_is_named_with_its_variable() {
    let error = load_env(&[("OMNICHANNEL_WORKER__CONCURENCY", "4")]).unwrap_err();
    assert_eq!(
        error.to_string(),
        "unknown key worker.concurency (in environment variable OMNICHANNEL_WORKER__CONCURENCY)"
    );

    let error = load_env(&[("OMNICHANNEL_WORKER_CONCURRENCY", "4")]).unwrap_err();
    assert_eq!(error.key(), Some("worker_concurrency"));

    let error = load_env(&[
        ("OMNICHANNEL_CHANNELS__SMS__PROVIDER", "http"),
        ("OMNICHANNEL_CHANNELS__SMS__URL", "http://127.0.0.1:9000"),
        ("OMNICHANNEL_CHANNELS__SMS__URLL", "http://127.0.0.1:9000"),
    ])
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "unknown key channels.sms.urll (in environment variable OMNICHANNEL_CHANNELS__SMS__URLL)"
    );

    let error = load_env(&[("OMNICHANNEL_WORKER____CONCURRENCY", "4")]).unwrap_err();
    assert!(matches!(error, ConfigError::UnknownKey { .. }), "{error}");
}

#[test]
fn a_key_of_another_provider_is_unknown() {
    let error =
        error_toml("[channels.sms]\nprovider = \"http\"\nurl = \"http://x\"\nhost = \"smtp\"");
    assert!(
        error.starts_with("unknown key channels.sms.host"),
        "{error}"
    );
    assert!(
        error.ends_with("the http provider takes provider, url, timeout_ms, headers"),
        "{error}"
    );

    let error = error_env(&[
        ("OMNICHANNEL_CHANNELS__SMS__PROVIDER", "log"),
        ("OMNICHANNEL_CHANNELS__SMS__TIMEOUT_MS", "100"),
    ]);
    assert!(
        error.starts_with("unknown key channels.sms.timeout_ms"),
        "{error}"
    );
}

#[test]
fn bad_values_are_named() {
    let cases: &[(&[(&str, &str)], &str)] = &[
        (
            &[("OMNICHANNEL_WORKER__CONCURRENCY", "0")],
            "worker.concurrency: must be at least 1 (in environment variable OMNICHANNEL_WORKER__CONCURRENCY)",
        ),
        (
            &[("OMNICHANNEL_WORKER__CONCURRENCY", "many")],
            "worker.concurrency: must be an integer from 0 to 4294967295, found string \"many\"",
        ),
        (
            &[("OMNICHANNEL_WORKER__CONCURRENCY", "-1")],
            "worker.concurrency: must be an integer",
        ),
        (
            &[("OMNICHANNEL_WORKER__ENABLED", "maybe")],
            "worker.enabled: must be true or false",
        ),
        (
            &[("OMNICHANNEL_WORKER__MAX_ATTEMPTS", "0")],
            "worker.max_attempts: must be at least 1",
        ),
        (
            &[("OMNICHANNEL_WORKER__LEASE_MS", "0")],
            "worker.lease_ms: must be at least 1",
        ),
        (
            &[("OMNICHANNEL_WORKER__DEFER_HORIZON_SECS", "0")],
            "worker.defer_horizon_secs: must be at least 1",
        ),
        (
            &[("OMNICHANNEL_AUTH__ACCESS_TTL_SECS", "0")],
            "auth.access_ttl_secs: must be at least 1",
        ),
        (
            &[("OMNICHANNEL_AUTH__REFRESH_TTL_SECS", "0")],
            "auth.refresh_ttl_secs: must be at least 1",
        ),
        (
            &[("OMNICHANNEL_AUTH__ISSUER", " ")],
            "auth.issuer: must not be empty",
        ),
        (
            &[("OMNICHANNEL_JWT_SECRET", "short")],
            "auth.jwt_secret: must be at least 32 bytes",
        ),
        (
            &[("OMNICHANNEL_BIND", "localhost")],
            "bind: must be host:port",
        ),
        (
            &[("OMNICHANNEL_BIND", "127.0.0.1:99999")],
            "bind: must be host:port",
        ),
        (
            &[("OMNICHANNEL_DATABASE_URL", "")],
            "database_url: must not be empty",
        ),
        (
            &[("OMNICHANNEL_DATABASE_URL", "mysql://db/x")],
            "database_url: must be",
        ),
        (
            &[("OMNICHANNEL_CHANNELS__SMS__URL", "http://x")],
            "channels.sms.provider: required",
        ),
        (
            &[("OMNICHANNEL_CHANNELS__SMS__PROVIDER", "carrier-pigeon")],
            "channels.sms.provider: unknown value `carrier-pigeon`, expected one of: log, none,",
        ),
        (
            &[("OMNICHANNEL_CHANNELS__SMS__PROVIDER", "http")],
            "channels.sms.url: required by the http provider",
        ),
        (
            &[
                ("OMNICHANNEL_CHANNELS__SMS__PROVIDER", "http"),
                ("OMNICHANNEL_CHANNELS__SMS__URL", "ftp://example.com/x"),
            ],
            "channels.sms.url: must be an http:// or https:// URL",
        ),
        (
            &[
                ("OMNICHANNEL_CHANNELS__SMS__PROVIDER", "http"),
                ("OMNICHANNEL_CHANNELS__SMS__URL", "http://x"),
                ("OMNICHANNEL_CHANNELS__SMS__TIMEOUT_MS", "0"),
            ],
            "channels.sms.timeout_ms: must be at least 1",
        ),
        (
            &[
                ("OMNICHANNEL_CHANNELS__EMAIL__PROVIDER", "smtp"),
                ("OMNICHANNEL_CHANNELS__EMAIL__HOST", "mail"),
                ("OMNICHANNEL_CHANNELS__EMAIL__FROM", "a@example.com"),
                ("OMNICHANNEL_CHANNELS__EMAIL__TLS", "ssl"),
            ],
            "channels.email.tls: unknown value `ssl`, expected one of: none, starttls, tls",
        ),
        (
            &[
                ("OMNICHANNEL_CHANNELS__EMAIL__PROVIDER", "smtp"),
                ("OMNICHANNEL_CHANNELS__EMAIL__HOST", "mail"),
            ],
            "channels.email.from: required by the smtp provider",
        ),
        (
            &[
                ("OMNICHANNEL_CHANNELS__EMAIL__PROVIDER", "smtp"),
                ("OMNICHANNEL_CHANNELS__EMAIL__HOST", "mail"),
                ("OMNICHANNEL_CHANNELS__EMAIL__FROM", "nobody"),
            ],
            "channels.email.from: must be an e-mail address",
        ),
        (
            &[
                ("OMNICHANNEL_CHANNELS__EMAIL__PROVIDER", "smtp"),
                ("OMNICHANNEL_CHANNELS__EMAIL__HOST", "mail"),
                ("OMNICHANNEL_CHANNELS__EMAIL__FROM", "a@example.com"),
                ("OMNICHANNEL_CHANNELS__EMAIL__USERNAME", "me"),
            ],
            "channels.email.password: required with username",
        ),
        (
            &[
                ("OMNICHANNEL_CHANNELS__EMAIL__PROVIDER", "smtp"),
                ("OMNICHANNEL_CHANNELS__EMAIL__HOST", "mail"),
                ("OMNICHANNEL_CHANNELS__EMAIL__FROM", "a@example.com"),
                ("OMNICHANNEL_CHANNELS__EMAIL__PORT", "70000"),
            ],
            "channels.email.port: must be an integer from 0 to 65535",
        ),
        (
            &[
                ("OMNICHANNEL_CHANNELS__CHAT__PROVIDER", "whatsapp"),
                ("OMNICHANNEL_CHANNELS__CHAT__PHONE_NUMBER_ID", "1055"),
                ("OMNICHANNEL_CHANNELS__CHAT__ACCESS_TOKEN", ""),
            ],
            "channels.chat.access_token: must not be empty",
        ),
        (
            &[
                ("OMNICHANNEL_CHANNELS__CHAT__PROVIDER", "whatsapp"),
                ("OMNICHANNEL_CHANNELS__CHAT__ACCESS_TOKEN", "t"),
            ],
            "channels.chat.phone_number_id: required by the whatsapp provider",
        ),
        (
            &[("OMNICHANNEL_CHANNELS__PUSH__PROVIDER", "fcm")],
            "channels.push.service_account_file: required by the fcm provider",
        ),
        (
            &[
                ("OMNICHANNEL_CHANNELS__PUSH__PROVIDER", "fcm"),
                (
                    "OMNICHANNEL_CHANNELS__PUSH__SERVICE_ACCOUNT_FILE",
                    "/etc/fcm.json",
                ),
                (
                    "OMNICHANNEL_CHANNELS__PUSH__TOKEN_URI",
                    "oauth2.googleapis.com/token",
                ),
            ],
            "channels.push.token_uri: must be an http:// or https:// URL",
        ),
        (
            &[
                ("OMNICHANNEL_CHANNELS__CHAT__PROVIDER", "whatsapp"),
                ("OMNICHANNEL_CHANNELS__CHAT__PHONE_NUMBER_ID", "1055"),
                ("OMNICHANNEL_CHANNELS__CHAT__ACCESS_TOKEN", "t"),
                ("OMNICHANNEL_CHANNELS__CHAT__BASE_URL", "graph.facebook.com"),
            ],
            "channels.chat.base_url: must be an http:// or https:// URL",
        ),
        (
            &[
                ("OMNICHANNEL_CHANNELS__SMS__PROVIDER", "twilio"),
                ("OMNICHANNEL_CHANNELS__SMS__ACCOUNT_SID", "AC1"),
                ("OMNICHANNEL_CHANNELS__SMS__AUTH_TOKEN", "t"),
            ],
            "channels.sms.from: required by the twilio provider, unless messaging_service_sid is set",
        ),
        (
            &[
                ("OMNICHANNEL_CHANNELS__SMS__PROVIDER", "twilio"),
                ("OMNICHANNEL_CHANNELS__SMS__ACCOUNT_SID", "AC1"),
                ("OMNICHANNEL_CHANNELS__SMS__AUTH_TOKEN", "t"),
                ("OMNICHANNEL_CHANNELS__SMS__FROM", "+15550000000"),
                ("OMNICHANNEL_CHANNELS__SMS__MESSAGING_SERVICE_SID", "MG1"),
            ],
            "channels.sms.messaging_service_sid: set either from or messaging_service_sid, not both",
        ),
        (
            &[
                ("OMNICHANNEL_CHANNELS__EMAIL__PROVIDER", "smtp"),
                ("OMNICHANNEL_CHANNELS__EMAIL__HOST", "mail"),
                ("OMNICHANNEL_CHANNELS__EMAIL__FROM", "a@example.com"),
                ("OMNICHANNEL_CHANNELS__EMAIL__SUBJECT", " "),
            ],
            "channels.email.subject: must not be empty",
        ),
        (
            &[("OMNICHANNEL_PUBLIC_URL", "omni.example.com")],
            "public_url: must be an http:// or https:// URL",
        ),
        (
            &[("OMNICHANNEL_CHANNELS__SMS_EU-WEST__PROVIDER", "log")],
            "channels.sms_eu-west: a channel code must be",
        ),
    ];
    for (vars, expected) in cases {
        let error = error_env(vars);
        assert!(error.starts_with(expected), "{vars:?}: {error}");
    }

    let error = error_toml("[channels.SMS]\nprovider = \"log\"");
    assert!(
        error.starts_with("channels.SMS: a channel code must be"),
        "{error}"
    );
    let error = error_toml("[worker]\nconcurrency = 0");
    assert!(
        error.starts_with("worker.concurrency: must be at least 1 (in file "),
        "{error}"
    );
    let error = error_toml("[worker]\nenabled = \"often\"");
    assert!(
        error.starts_with("worker.enabled: must be true or false"),
        "{error}"
    );
}

#[test]
fn http_channels_read_from_toml_and_from_the_environment() {
    let expected = ChannelConfig::Http(HttpConfig {
        url: "http://127.0.0.1:9000/sms".to_owned(),
        timeout_ms: 2_000,
        headers: BTreeMap::from([("Authorization".to_owned(), Secret::from("Bearer abc"))]),
    });

    let config = load_toml(
        r#"
        [channels.sms]
        provider = "http"
        url = "http://127.0.0.1:9000/sms"
        timeout_ms = 2000
        headers = { Authorization = "Bearer abc" }
        "#,
        &[],
    )
    .unwrap();
    assert_eq!(config.channel("sms"), &expected);
    assert_eq!(expected.timeout(), Some(Duration::from_secs(2)));
    assert_eq!(expected.provider(), "http");

    let config = load_env(&[
        ("OMNICHANNEL_CHANNELS__SMS__PROVIDER", "http"),
        (
            "OMNICHANNEL_CHANNELS__SMS__URL",
            "http://127.0.0.1:9000/sms",
        ),
        ("OMNICHANNEL_CHANNELS__SMS__TIMEOUT_MS", "2000"),
        (
            "OMNICHANNEL_CHANNELS__SMS__HEADERS",
            "{Authorization=\"Bearer abc\"}",
        ),
    ])
    .unwrap();
    assert_eq!(config.channel("sms"), &expected);

    let config = load_env(&[
        (
            "OMNICHANNEL_CHANNELS__SMS",
            "{provider=\"http\", url=\"http://127.0.0.1:9000/sms\", timeout_ms=2000}",
        ),
        ("OMNICHANNEL_CHANNELS__SMS__HEADERS__X_TOKEN", "1234"),
    ])
    .unwrap();
    let ChannelConfig::Http(http) = config.channel("sms") else {
        panic!("sms must be http");
    };
    assert_eq!(http.timeout_ms, 2_000);
    assert_eq!(http.headers.get("x_token"), Some(&Secret::from("1234")));

    let config = load_env(&[
        ("OMNICHANNEL_CHANNELS__HOOK__PROVIDER", "http"),
        (
            "OMNICHANNEL_CHANNELS__HOOK__URL",
            "https://hooks.example.com/",
        ),
    ])
    .unwrap();
    let ChannelConfig::Http(http) = config.channel("hook") else {
        panic!("hook must be http");
    };
    assert_eq!(http.timeout_ms, 5_000);
    assert!(http.headers.is_empty());

    let error = error_env(&[
        ("OMNICHANNEL_CHANNELS__SMS__PROVIDER", "http"),
        ("OMNICHANNEL_CHANNELS__SMS__URL", "http://x"),
        (
            "OMNICHANNEL_CHANNELS__SMS__HEADERS",
            "{Idempotency-Key=\"1\"}",
        ),
    ]);
    assert!(
        error.starts_with("channels.sms.headers.Idempotency-Key: set by the http provider"),
        "{error}"
    );
}

#[test]
fn smtp_channels_read_from_toml_and_from_the_environment() {
    let config = load_toml(
        r#"
        [channels.email]
        provider = "smtp"
        host = "127.0.0.1"
        port = 2525
        tls = "none"
        from = "noreply@example.com"
        "#,
        &[],
    )
    .unwrap();
    assert_eq!(
        config.channel("email"),
        &ChannelConfig::Smtp(SmtpConfig {
            host: "127.0.0.1".to_owned(),
            port: 2525,
            tls: SmtpTls::None,
            username: None,
            password: None,
            from: "noreply@example.com".to_owned(),
            subject: None,
            timeout_ms: 5_000,
        })
    );

    let config = load_env(&[
        ("OMNICHANNEL_CHANNELS__EMAIL__PROVIDER", "smtp"),
        ("OMNICHANNEL_CHANNELS__EMAIL__HOST", "smtp.example.com"),
        ("OMNICHANNEL_CHANNELS__EMAIL__TLS", "tls"),
        ("OMNICHANNEL_CHANNELS__EMAIL__USERNAME", "mailer"),
        ("OMNICHANNEL_CHANNELS__EMAIL__PASSWORD", "12345"),
        (
            "OMNICHANNEL_CHANNELS__EMAIL__FROM",
            "Omni <noreply@example.com>",
        ),
    ])
    .unwrap();
    let ChannelConfig::Smtp(smtp) = config.channel("email") else {
        panic!("email must be smtp");
    };
    assert_eq!(smtp.port, 465);
    assert_eq!(smtp.tls, SmtpTls::Tls);
    assert_eq!(smtp.username.as_deref(), Some("mailer"));
    assert_eq!(smtp.password.as_ref().map(Secret::expose), Some("12345"));
    assert_eq!(smtp.from, "Omni <noreply@example.com>");

    let config = load_env(&[
        ("OMNICHANNEL_CHANNELS__EMAIL__PROVIDER", "smtp"),
        ("OMNICHANNEL_CHANNELS__EMAIL__HOST", "smtp.example.com"),
        ("OMNICHANNEL_CHANNELS__EMAIL__FROM", "noreply@example.com"),
    ])
    .unwrap();
    let ChannelConfig::Smtp(smtp) = config.channel("email") else {
        panic!("email must be smtp");
    };
    assert_eq!((smtp.tls, smtp.port), (SmtpTls::Starttls, 587));
}

#[test]
fn other_providers_take_their_defaults() {
    let config = load_toml(
        r#"
        public_url = "https://omni.example.com/"
        [channels.sms]
        provider = "twilio"
        account_sid = "AC1"
        auth_token = "t"
        messaging_service_sid = "MG1"
        [channels.messenger]
        provider = "whatsapp"
        phone_number_id = "1055"
        access_token = "EAAG"
        [channels.push]
        provider = "fcm"
        service_account_file = "/etc/omnichannel/fcm.json"
        base_url = "http://127.0.0.1:9100/"
        timeout_ms = 100
        "#,
        &[],
    )
    .unwrap();
    assert_eq!(
        config.public_url.as_deref(),
        Some("https://omni.example.com")
    );
    let ChannelConfig::Twilio(twilio) = config.channel("sms") else {
        panic!("sms must be twilio");
    };
    assert_eq!(
        twilio.sender,
        TwilioSender::MessagingService("MG1".to_owned())
    );
    let ChannelConfig::Whatsapp(whatsapp) = config.channel("messenger") else {
        panic!("messenger must be whatsapp");
    };
    assert_eq!(whatsapp.base_url, "https://graph.facebook.com/v21.0");
    assert_eq!(whatsapp.phone_number_id, "1055");
    assert_eq!(whatsapp.access_token.expose(), "EAAG");
    let ChannelConfig::Fcm(fcm) = config.channel("push") else {
        panic!("push must be fcm");
    };
    assert_eq!(fcm.base_url, "http://127.0.0.1:9100");
    assert_eq!(
        fcm.service_account_file,
        std::path::PathBuf::from("/etc/omnichannel/fcm.json")
    );
    assert_eq!(fcm.token_uri, None);
    assert_eq!(
        config.channel("push").timeout(),
        Some(Duration::from_millis(100))
    );
}

#[test]
fn the_documented_example_loads() {
    let doc = include_str!("../../../../docs/configuration.md");
    let start = doc.find("```toml\n").unwrap() + "```toml\n".len();
    let example = &doc[start..];
    let example = &example[..example.find("```").unwrap()];
    let config = load_toml(example, &[]).unwrap();
    assert_eq!(config.worker, WorkerConfig::default());
    assert_eq!(config.auth, AuthConfig::default());
    assert_eq!(config.channel("sms").provider(), "http");
    assert_eq!(config.channel("email").provider(), "smtp");
    assert_eq!(config.channel("messenger").provider(), "whatsapp");
    assert!(!config.channel("push").is_enabled());
}

#[test]
fn debug_output_hides_secrets() {
    let config = load_toml(
        r#"
        database_url = "postgres://omni:dbpass-1@db/omni?sslmode=require"
        [auth]
        jwt_secret = "jwt-secret-jwt-secret-jwt-secret-0"
        [channels.sms]
        provider = "http"
        url = "https://user:urlpass-2@sms.example.com/send?token=urltoken-3"
        headers = { Authorization = "Bearer header-4" }
        [channels.email]
        provider = "smtp"
        host = "mail"
        username = "mailer"
        password = "smtppass-5"
        from = "noreply@example.com"
        [channels.texts]
        provider = "twilio"
        account_sid = "AC1"
        auth_token = "twiliotoken-6"
        from = "+15550000000"
        [channels.messenger]
        provider = "whatsapp"
        phone_number_id = "1055"
        access_token = "watoken-7"
        "#,
        &[],
    )
    .unwrap();
    let debug = format!("{config:?} {config:#?}");
    for secret in [
        "dbpass-1",
        "jwt-secret",
        "urlpass-2",
        "urltoken-3",
        "header-4",
        "smtppass-5",
        "twiliotoken-6",
        "watoken-7",
    ] {
        assert!(!debug.contains(secret), "{secret} leaked: {debug}");
    }
    assert!(debug.contains("sslmode=require"), "{debug}");
    assert!(debug.contains("Authorization"), "{debug}");
    assert!(debug.contains("mailer"), "{debug}");
}

#[test]
fn errors_do_not_echo_secrets() {
    let error = error_env(&[
        ("OMNICHANNEL_CHANNELS__SMS__PROVIDER", "http"),
        ("OMNICHANNEL_CHANNELS__SMS__URL", "http://x"),
        (
            "OMNICHANNEL_CHANNELS__SMS__HEADERS",
            "Authorization: Bearer leaked",
        ),
    ]);
    assert!(
        error.starts_with("channels.sms.headers: must be a table"),
        "{error}"
    );
    assert!(!error.contains("leaked"), "{error}");

    let error = error_toml("[auth]\njwt_secret = 1.5");
    assert!(
        error.starts_with("auth.jwt_secret: must be a string"),
        "{error}"
    );
    assert!(!error.contains("1.5"), "{error}");
}

#[test]
fn logs_metrics_and_the_shutdown_grace_have_defaults_and_are_checked() {
    let config = load_env(&[]).unwrap();
    assert_eq!(config.log.format, LogFormat::Text);
    assert_eq!(config.metrics, MetricsConfig::default());
    assert!(config.metrics.enabled && config.metrics.bind.is_none());
    assert_eq!(config.shutdown_grace(), Duration::from_secs(30));

    let config = load_toml(
        "shutdown_grace_secs = 5\n[log]\nformat = \"json\"\n[metrics]\nbind = \"127.0.0.1:9100\"\n",
        &[("OMNICHANNEL_METRICS__ENABLED", "false")],
    )
    .unwrap();
    assert_eq!(config.log.format, LogFormat::Json);
    assert_eq!(config.metrics.bind.as_deref(), Some("127.0.0.1:9100"));
    assert!(!config.metrics.enabled);
    assert_eq!(config.shutdown_grace(), Duration::from_secs(5));

    assert!(error_env(&[("OMNICHANNEL_LOG__FORMAT", "xml")]).starts_with("log.format"));
    assert!(error_env(&[("OMNICHANNEL_METRICS__BIND", "nope")]).starts_with("metrics.bind"));
    assert!(error_toml("[log]\nlevel = \"debug\"\n").contains("log.level"));
    assert!(
        error_env(&[("OMNICHANNEL_SHUTDOWN_GRACE_SECS", "-1")]).contains("shutdown_grace_secs")
    );
}
