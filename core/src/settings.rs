//! Typed settings, read once from the environment.
//!
//! Every variable has a default that makes the embedded mode work, except
//! where a value is given: then it must parse, or start-up stops with a
//! message that names the variable. Secrets are wrapped so they never print.

use std::path::PathBuf;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use crate::broker::Retention;

/// A setting that is missing or malformed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{var}: {reason}")]
pub struct SettingsError {
    /// The variable's name.
    pub var: &'static str,
    /// What is wrong with it.
    pub reason: String,
}

/// Which broker engine to use.
#[derive(Clone, Debug)]
pub enum BrokerSettings {
    /// Redis at a URL (password allowed), keys under a prefix.
    Redis {
        /// `redis://[:password@]host:port/db`; `rediss://` for TLS.
        url: SecretString,
        /// Key prefix, so several deployments share one Redis.
        prefix: String,
    },
    /// The embedded engine: one SQLite file.
    Sqlite {
        /// The database file.
        path: PathBuf,
    },
}

impl BrokerSettings {
    /// A description safe to log: the Redis URL without its password.
    pub fn describe(&self) -> String {
        match self {
            Self::Redis { url, prefix } => {
                format!(
                    "redis at {} (prefix {prefix:?})",
                    redact_url(url.expose_secret())
                )
            }
            Self::Sqlite { path } => format!("sqlite at {}", path.display()),
        }
    }
}

/// Every variable [`Settings`] reads; `.env.example` documents each one
/// (a test keeps the two in step).
pub const VARIABLES: &[&str] = &[
    "DATABASE_URL",
    "REDIS_URL",
    "REDIS_PREFIX",
    "DATA_DIR",
    "JOB_RETENTION_SUCCEEDED",
    "JOB_RETENTION_DEAD",
    "JOB_LEASE",
];

/// Which store engine to use.
#[derive(Clone, Debug)]
pub enum DatabaseSettings {
    /// PostgreSQL at a URL (password allowed).
    Postgres {
        /// `postgres://user:password@host:port/db`.
        url: SecretString,
    },
    /// The embedded store: one SQLite file.
    Sqlite {
        /// The database file.
        path: PathBuf,
    },
}

impl DatabaseSettings {
    /// A description safe to log.
    pub fn describe(&self) -> String {
        match self {
            Self::Postgres { url } => format!("postgresql at {}", redact_url(url.expose_secret())),
            Self::Sqlite { path } => format!("sqlite at {}", path.display()),
        }
    }

    /// The URL to connect with.
    pub fn url(&self) -> String {
        match self {
            Self::Postgres { url } => url.expose_secret().to_owned(),
            Self::Sqlite { path } => format!("sqlite://{}?mode=rwc", path.display()),
        }
    }
}

/// Settings of the job system.
#[derive(Clone, Debug)]
pub struct Settings {
    /// `DATABASE_URL` set → PostgreSQL; unset → SQLite under `DATA_DIR`.
    pub database: DatabaseSettings,
    /// `REDIS_URL` set → Redis; unset → SQLite under `DATA_DIR`.
    pub broker: BrokerSettings,
    /// `DATA_DIR` (default `./data`): the embedded engine's files.
    pub data_dir: PathBuf,
    /// `JOB_RETENTION_SUCCEEDED` (default `24h`) and `JOB_RETENTION_DEAD`
    /// (default `7d`).
    pub retention: Retention,
    /// `JOB_LEASE` (default `8s`): how long a silent worker keeps its jobs.
    pub lease: Duration,
}

impl Settings {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, SettingsError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `get` (tests pass a map).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let non_empty = |name: &str| get(name).filter(|v| !v.trim().is_empty());
        let data_dir = PathBuf::from(non_empty("DATA_DIR").unwrap_or_else(|| "./data".to_owned()));
        let database = match non_empty("DATABASE_URL") {
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                DatabaseSettings::Postgres {
                    url: SecretString::from(url),
                }
            }
            Some(url) => {
                return Err(SettingsError {
                    var: "DATABASE_URL",
                    reason: format!(
                        "{:?} is not a postgres:// URL (leave it unset for the embedded SQLite store)",
                        redact_url(&url)
                    ),
                });
            }
            None => DatabaseSettings::Sqlite {
                path: data_dir.join("paqueteria.sqlite3"),
            },
        };
        let broker = match non_empty("REDIS_URL") {
            Some(url) => {
                validate_redis_url(&url).map_err(|reason| SettingsError {
                    var: "REDIS_URL",
                    reason,
                })?;
                let prefix = non_empty("REDIS_PREFIX").unwrap_or_else(|| "paq".to_owned());
                if prefix.contains(['{', '}']) || prefix.chars().any(char::is_whitespace) {
                    return Err(SettingsError {
                        var: "REDIS_PREFIX",
                        reason: format!("{prefix:?} may not hold braces or whitespace"),
                    });
                }
                BrokerSettings::Redis {
                    url: SecretString::from(url),
                    prefix,
                }
            }
            None => BrokerSettings::Sqlite {
                path: data_dir.join("jobs.sqlite3"),
            },
        };
        let duration = |var: &'static str, default: &str| -> Result<Duration, SettingsError> {
            let raw = non_empty(var).unwrap_or_else(|| default.to_owned());
            humantime::parse_duration(&raw).map_err(|e| SettingsError {
                var,
                reason: format!("{raw:?} is not a duration like 30s, 24h or 7d ({e})"),
            })
        };
        let retention = Retention {
            succeeded: duration("JOB_RETENTION_SUCCEEDED", "24h")?,
            dead: duration("JOB_RETENTION_DEAD", "7d")?,
        };
        let lease = duration("JOB_LEASE", "8s")?;
        if lease < Duration::from_secs(1) {
            return Err(SettingsError {
                var: "JOB_LEASE",
                reason: "must be at least 1s".to_owned(),
            });
        }
        Ok(Self {
            database,
            broker,
            data_dir,
            retention,
            lease,
        })
    }
}

fn validate_redis_url(url: &str) -> Result<(), String> {
    let parsed = redis::parse_redis_url(url)
        .ok_or_else(|| format!("{:?} is not a redis:// or rediss:// URL", redact_url(url)))?;
    match parsed.scheme() {
        "redis" | "rediss" | "redis+unix" | "unix" => Ok(()),
        other => Err(format!("scheme {other:?} is not redis or rediss")),
    }
}

/// The URL with any password replaced by `***`.
pub fn redact_url(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => match rest.rsplit_once('@') {
            Some((userinfo, host)) => {
                let user = userinfo.split(':').next().unwrap_or("");
                format!("{scheme}://{user}:***@{host}")
            }
            None => url.to_owned(),
        },
        None => "<unparseable url>".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn load(vars: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Settings::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn env_example_documents_every_variable() {
        let example = include_str!("../../.env.example");
        for var in VARIABLES {
            assert!(
                example.lines().any(|l| l
                    .trim_start_matches(['#', ' '])
                    .starts_with(&format!("{var}="))),
                ".env.example lacks {var}"
            );
        }
    }

    #[test]
    fn no_redis_url_selects_sqlite_under_data_dir() {
        let s = load(&[("DATA_DIR", "/tmp/x")]).map(|s| s.broker);
        assert!(
            matches!(s, Ok(BrokerSettings::Sqlite { path }) if path == std::path::Path::new("/tmp/x/jobs.sqlite3"))
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
        let s = load(&[("DATABASE_URL", "postgres://app:pw@db:5432/paq")])
            .map(|s| s.database.describe());
        assert_eq!(
            s.ok().as_deref(),
            Some("postgresql at postgres://app:***@db:5432/paq")
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
}
