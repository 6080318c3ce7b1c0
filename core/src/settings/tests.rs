//! Tests of the settings: every variable read, checked, and named in its
//! error.

#![allow(clippy::unwrap_used)]

use paqueteria_testkit::env::{lookup, undocumented};

use super::*;

fn load(vars: &[(&str, &str)]) -> Result<Settings, SettingsError> {
    Settings::from_lookup(lookup(vars))
}

#[test]
fn env_example_documents_every_variable() {
    let missing = undocumented(include_str!("../../../.env.example"), VARIABLES);
    assert!(missing.is_empty(), ".env.example lacks {missing:?}");
}

#[test]
fn the_enqueue_wait_needs_redis_and_a_number() {
    let redis = ("REDIS_URL", "redis://127.0.0.1:6379");
    let s = load(&[redis, ("REDIS_ENQUEUE_WAIT", "2")]).unwrap();
    assert!(
        s.broker
            .describe()
            .contains("wait for 2 replica(s) up to 1s")
    );
    let s = load(&[
        redis,
        ("REDIS_ENQUEUE_WAIT", "1"),
        ("REDIS_ENQUEUE_WAIT_TIMEOUT", "250ms"),
    ]);
    assert!(s.unwrap().broker.describe().contains("up to 250ms"));
    let off = load(&[redis, ("REDIS_ENQUEUE_WAIT", "0")]).unwrap();
    assert!(!off.broker.describe().contains("wait"));
    for (vars, var) in [
        (
            vec![redis, ("REDIS_ENQUEUE_WAIT", "one")],
            "REDIS_ENQUEUE_WAIT",
        ),
        (vec![("REDIS_ENQUEUE_WAIT", "1")], "REDIS_ENQUEUE_WAIT"),
        (
            vec![
                redis,
                ("REDIS_ENQUEUE_WAIT", "1"),
                ("REDIS_ENQUEUE_WAIT_TIMEOUT", "soon"),
            ],
            "REDIS_ENQUEUE_WAIT_TIMEOUT",
        ),
    ] {
        assert_eq!(load(&vars).err().map(|e| e.var), Some(var), "{vars:?}");
    }
}

#[test]
fn a_database_without_a_secret_key_names_the_variable() {
    let s = load(&[("DATABASE_URL", "postgres://db/paq")]).unwrap();
    assert_eq!(s.secret_key().err().map(|e| e.var), Some("APP_SECRET_KEY"));
    let short = load(&[("APP_SECRET_KEY", "too short")]).err();
    assert_eq!(short.map(|e| e.var), Some("APP_SECRET_KEY"));
}

#[test]
fn the_embedded_default_makes_its_secret_key_once_for_its_owner_only() {
    use secrecy::ExposeSecret;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    let first = load(&[("DATA_DIR", data)]).unwrap().secret_key().unwrap();
    let again = load(&[("DATA_DIR", data)]).unwrap().secret_key().unwrap();
    assert_eq!(first.expose_secret(), again.expose_secret());
    assert!(first.expose_secret().len() >= SECRET_KEY_MIN_CHARS);
    let file = dir.path().join("data/secret.key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let given = "k".repeat(SECRET_KEY_MIN_CHARS);
    let s = load(&[("DATA_DIR", data), ("APP_SECRET_KEY", &given)]).unwrap();
    assert_eq!(s.secret_key().unwrap().expose_secret(), given);
}

#[test]
fn no_redis_url_selects_sqlite_under_data_dir() {
    let s = load(&[("DATA_DIR", "/tmp/x")]).map(|s| s.broker);
    assert!(
        matches!(s, Ok(EngineConfig::Sqlite { path }) if path == std::path::Path::new("/tmp/x/jobs.sqlite3"))
    );
}

#[test]
fn a_bad_redis_url_names_the_variable() {
    let err = load(&[("REDIS_URL", "http://localhost")]).err();
    assert_eq!(err.map(|e| e.var), Some("REDIS_URL"));
}

#[test]
fn a_database_url_that_is_not_postgres_names_the_variable() {
    let err = load(&[("DATABASE_URL", "mysql://localhost/db")]).err();
    assert_eq!(err.map(|e| e.var), Some("DATABASE_URL"));
    let s =
        load(&[("DATABASE_URL", "postgres://app:pw@db:5432/paq")]).map(|s| s.database.describe());
    assert_eq!(
        s.ok().as_deref(),
        Some("postgresql at postgres://app:***@db:5432/paq")
    );
}

#[test]
fn unset_transports_are_the_embedded_defaults() {
    let t = load(&[("DATA_DIR", "/tmp/x")]).map(|s| s.transports);
    assert!(
        matches!(&t, Ok(t) if t.smtp.is_none() && t.sms.is_none()
            && matches!(&t.files, FilesSettings::Local { dir } if dir == std::path::Path::new("/tmp/x/files"))),
        "{t:?}"
    );
}

#[test]
fn a_half_configured_transport_names_the_missing_variable() {
    let err = |vars: &[(&str, &str)]| load(vars).err().map(|e| e.var);
    assert_eq!(
        err(&[("SMTP_URL", "smtp://localhost:25")]),
        Some("MAIL_FROM")
    );
    assert_eq!(
        err(&[("SMTP_URL", "http://x"), ("MAIL_FROM", "a@b.co")]),
        Some("SMTP_URL")
    );
    assert_eq!(err(&[("LIWA_API_KEY", "k")]), Some("LIWA_ACCOUNT"));
    assert_eq!(
        err(&[("LIWA_API_KEY", "k"), ("LIWA_ACCOUNT", "a")]),
        Some("LIWA_PASSWORD")
    );
    assert_eq!(err(&[("S3_BUCKET", "b")]), Some("S3_ACCESS_KEY_ID"));
    assert_eq!(
        err(&[("S3_BUCKET", "b"), ("S3_ACCESS_KEY_ID", "k")]),
        Some("S3_SECRET_ACCESS_KEY")
    );
    assert_eq!(err(&[("SMS_RATE_LIMIT", "0")]), Some("SMS_RATE_LIMIT"));
    assert_eq!(
        err(&[("UPLOAD_MAX_BYTES", "ten")]),
        Some("UPLOAD_MAX_BYTES")
    );
    assert_eq!(err(&[("APP_TZ", "Mars/Olympus")]), Some("APP_TZ"));
    assert_eq!(
        err(&[("APP_TRUST_FORWARDED_FOR", "maybe")]),
        Some("APP_TRUST_FORWARDED_FOR")
    );
}

#[test]
fn transport_secrets_never_show_in_the_description() {
    let s = load(&[
        ("SMTP_URL", "smtp://mailer:smtpsecret@mail:587?tls=required"),
        ("MAIL_FROM", "Paqueteria <no-reply@example.com>"),
        ("LIWA_API_KEY", "liwakey"),
        ("LIWA_ACCOUNT", "acct"),
        ("LIWA_PASSWORD", "liwapass"),
        ("S3_BUCKET", "parcels"),
        ("S3_ENDPOINT", "http://127.0.0.1:9000"),
        ("S3_ACCESS_KEY_ID", "AKIA"),
        ("S3_SECRET_ACCESS_KEY", "s3secret"),
    ]);
    let text = s
        .map(|s| format!("{} {:?}", s.transports.describe(), s.transports))
        .unwrap_or_default();
    for secret in ["smtpsecret", "liwakey", "liwapass", "s3secret"] {
        assert!(!text.contains(secret), "{secret} leaked: {text}");
    }
    assert!(
        text.contains("s3 bucket parcels") && text.contains("liwa at https://api.liwa.co"),
        "{text}"
    );
}

#[test]
fn a_bad_retention_names_the_variable() {
    let err = load(&[("JOB_RETENTION_DEAD", "a week")]).err();
    assert_eq!(err.map(|e| e.var), Some("JOB_RETENTION_DEAD"));
}

#[test]
fn the_password_never_shows_in_the_description() {
    let s = load(&[("REDIS_URL", "redis://:s3cret@localhost:6379/0")]);
    let text = s
        .map(|s| format!("{} {:?}", s.broker.describe(), s.broker))
        .unwrap_or_default();
    assert!(
        !text.contains("s3cret") && text.contains("localhost"),
        "{text}"
    );
}
