//! Opening a broker: which engine, and where its data lives.

use std::path::PathBuf;
use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};

use super::redis::{EnqueueWait, RedisBroker, RedisTarget};
use super::{BrokerConfig, BrokerResult, SharedBroker, sqlite::SqliteBroker};

/// Which engine a broker runs on, and where its data lives.
#[derive(Clone, Debug)]
pub enum EngineConfig {
    /// Redis at a URL (a password is allowed: it never prints), every key
    /// under a prefix so several deployments can share one server.
    Redis {
        /// `redis://[:password@]host:port/db`, `rediss://` for TLS, or
        /// `redis+unix:///path/to/socket`; a cluster as
        /// `redis://h1:p1,h2:p2,…` or `redis+cluster://h1:p1,…`; behind
        /// Sentinel as `redis+sentinel://[:password@]s1:p1,s2:p2/<master>[/db]`
        /// (see [`RedisTarget`]).
        url: SecretString,
        /// Key prefix, without braces or whitespace.
        prefix: String,
        /// Acknowledge an enqueue only once this many replicas hold it
        /// (`REDIS_ENQUEUE_WAIT`); `None` answers as soon as the master has
        /// it.
        enqueue_wait: Option<EnqueueWait>,
    },
    /// The embedded engine: one SQLite file, nothing to install.
    Sqlite {
        /// The database file; created with its directory when missing.
        path: PathBuf,
    },
}

impl EngineConfig {
    /// Redis at `url`, keys under `prefix`.
    pub fn redis(url: impl Into<String>, prefix: impl Into<String>) -> Self {
        Self::Redis {
            url: SecretString::from(url.into()),
            prefix: prefix.into(),
            enqueue_wait: None,
        }
    }

    /// On Redis, acknowledge each enqueue only once `wait` holds (see
    /// [`EnqueueWait`]); the embedded engine has no replicas and ignores it.
    #[must_use]
    pub fn with_enqueue_wait(mut self, wait: Option<EnqueueWait>) -> Self {
        if let Self::Redis { enqueue_wait, .. } = &mut self {
            *enqueue_wait = wait;
        }
        self
    }

    /// Redis at `url`, keys under `prefix`, both checked first: the URL must
    /// be one of the forms [`RedisTarget`] reads (one server: `redis://`,
    /// `rediss://`, `redis+unix://`; a cluster: several `host:port` or
    /// `redis+cluster://`; a master behind Sentinel: `redis+sentinel://`),
    /// the prefix free of braces and whitespace. The
    /// error says which is wrong (the URL's password never shows in it).
    pub fn redis_checked(url: &str, prefix: &str) -> Result<Self, EngineConfigError> {
        RedisTarget::parse(url).map_err(|e| EngineConfigError::Url {
            reason: e.to_string(),
        })?;
        if prefix.is_empty()
            || prefix.contains(['{', '}'])
            || prefix.chars().any(char::is_whitespace)
        {
            return Err(EngineConfigError::Prefix {
                reason: format!("{prefix:?} must be non-empty, without braces or whitespace"),
            });
        }
        Ok(Self::redis(url, prefix))
    }

    /// The embedded engine in the file at `path`.
    pub fn sqlite(path: impl Into<PathBuf>) -> Self {
        Self::Sqlite { path: path.into() }
    }

    /// A description safe to log: a Redis URL without its password.
    pub fn describe(&self) -> String {
        match self {
            Self::Redis {
                url,
                prefix,
                enqueue_wait,
            } => {
                let wait = match enqueue_wait {
                    Some(w) => format!(
                        ", enqueues wait for {} replica(s) up to {:?}",
                        w.replicas, w.timeout
                    ),
                    None => String::new(),
                };
                format!(
                    "redis at {} (prefix {prefix:?}{wait})",
                    redact_url(url.expose_secret())
                )
            }
            Self::Sqlite { path } => format!("sqlite at {}", path.display()),
        }
    }
}

/// Why an [`EngineConfig`] was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EngineConfigError {
    /// The Redis URL.
    #[error("{reason}")]
    Url {
        /// What is wrong, without the password.
        reason: String,
    },
    /// The key prefix.
    #[error("{reason}")]
    Prefix {
        /// What is wrong.
        reason: String,
    },
}

/// Opens the broker `engine` names, with `config`'s lease, retention and
/// clock. Redis connects lazily (a server that is down now is retried by
/// every call); SQLite creates its file and schema.
pub async fn connect(engine: &EngineConfig, config: BrokerConfig) -> BrokerResult<SharedBroker> {
    match engine {
        EngineConfig::Redis {
            url,
            prefix,
            enqueue_wait,
        } => {
            let broker = RedisBroker::connect(url.expose_secret(), prefix, config)?;
            Ok(Arc::new(match enqueue_wait {
                Some(wait) => broker.with_enqueue_wait(*wait)?,
                None => broker,
            }))
        }
        EngineConfig::Sqlite { path } => Ok(Arc::new(SqliteBroker::open(path, config).await?)),
    }
}

/// The URL with any password replaced by `***`, for logs.
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
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_bad_url_or_prefix_is_refused_without_the_password() {
        let e = EngineConfig::redis_checked("http://:pw@localhost", "paq").unwrap_err();
        assert!(matches!(e, EngineConfigError::Url { .. }), "{e}");
        assert!(!e.to_string().contains("pw"), "{e}");
        let e = EngineConfig::redis_checked("redis://localhost", "a{b}").unwrap_err();
        assert!(matches!(e, EngineConfigError::Prefix { .. }), "{e}");
        assert!(EngineConfig::redis_checked("redis+unix:///tmp/r.sock", "paq").is_ok());
        assert!(EngineConfig::redis_checked("redis://:pw@h1:7000,h2:7001", "paq").is_ok());
        let e = EngineConfig::redis_checked("redis://:pw@h1:7000,h2", "paq").unwrap_err();
        assert!(!e.to_string().contains("pw"), "{e}");
        assert!(EngineConfig::redis_checked("redis+sentinel://:pw@s1:26379/main", "paq").is_ok());
        let e = EngineConfig::redis_checked("redis+sentinel://:pw@s1:26379", "paq").unwrap_err();
        assert!(
            e.to_string().contains("master-name") && !e.to_string().contains("pw"),
            "{e}"
        );
    }

    #[test]
    fn the_password_never_shows_in_the_description() {
        let e = EngineConfig::redis("redis://:s3cret@localhost:6379/0", "paq");
        let text = format!("{} {e:?}", e.describe());
        assert!(
            !text.contains("s3cret") && text.contains("localhost"),
            "{text}"
        );
    }
}
