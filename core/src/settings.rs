//! Typed settings, read once from the environment.
//!
//! Every variable has a default that makes the embedded mode work, except
//! where a value is given: then it must parse, or start-up stops with a
//! message that names the variable. Secrets are wrapped so they never print.

use std::path::PathBuf;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use paqueteria_jobs::broker::{BrokerConfig, EngineConfig, redact_url};
use paqueteria_jobs::{Clock, Retention};

/// A setting that is missing or malformed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{var}: {reason}")]
pub struct SettingsError {
    /// The variable's name.
    pub var: &'static str,
    /// What is wrong with it.
    pub reason: String,
}

/// Every variable [`Settings`] reads; `.env.example` documents each one
/// (a test keeps the two in step).
pub const VARIABLES: &[&str] = &[
    "DATABASE_URL",
    "REDIS_URL",
    "REDIS_PREFIX",
    "REDIS_ENQUEUE_WAIT",
    "REDIS_ENQUEUE_WAIT_TIMEOUT",
    "DATA_DIR",
    "JOB_RETENTION_SUCCEEDED",
    "JOB_RETENTION_DEAD",
    "JOB_LEASE",
    "APP_TZ",
    "APP_TRUST_FORWARDED_FOR",
    "APP_SECRET_KEY",
    "HOME_DELIVERY_PROOF",
    "APP_PUBLIC_URL",
    "FILES_DIR",
    "UPLOAD_MAX_BYTES",
    "S3_BUCKET",
    "S3_ENDPOINT",
    "S3_REGION",
    "S3_ACCESS_KEY_ID",
    "S3_SECRET_ACCESS_KEY",
    "S3_FORCE_PATH_STYLE",
    "S3_PRESIGN_TTL",
    "SMTP_URL",
    "MAIL_FROM",
    "LIWA_API_KEY",
    "LIWA_ACCOUNT",
    "LIWA_PASSWORD",
    "LIWA_BASE_URL",
    "LIWA_AUTH_URL",
    "SMS_RATE_LIMIT",
    "SMS_TIMEOUT",
    "REPORT_RETENTION",
    "TEMP_RETENTION",
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
    pub broker: EngineConfig,
    /// `DATA_DIR` (default `./data`): the embedded engine's files.
    pub data_dir: PathBuf,
    /// `JOB_RETENTION_SUCCEEDED` (default `24h`) and `JOB_RETENTION_DEAD`
    /// (default `7d`).
    pub retention: Retention,
    /// `JOB_LEASE` (default `8s`): how long a silent worker keeps its jobs.
    pub lease: Duration,
    /// Where files go, how mail and SMS leave, how long things are kept.
    pub transports: TransportSettings,
    /// `APP_TZ` (default `America/Bogota`): the business's time zone, which
    /// says when "today" starts for the dashboard and the reminders.
    pub time_zone: chrono_tz::Tz,
    /// `APP_TRUST_FORWARDED_FOR` (default `false`): whether the client's
    /// address (sign-in throttle, audit log) is the rightmost
    /// `X-Forwarded-For` entry rather than the TCP peer. Set it only when
    /// the app is reached through one reverse proxy that appends that
    /// header, and through nothing else.
    pub trust_forwarded_for: bool,
    /// `APP_SECRET_KEY`: the server secret pickup PINs are hashed with
    /// (see [`Settings::secret_key`]).
    pub secret_key: SecretKeySource,
    /// `HOME_DELIVERY_PROOF` (default `pin`): what a courier takes at the
    /// door.
    pub home_delivery_proof: HomeDeliveryProof,
}

/// What proves a home delivery went to the right person.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HomeDeliveryProof {
    /// `pin`: the pickup PIN, as at the counter.
    Pin,
    /// `pin_or_document`: the PIN, or the recipient's identity document as
    /// registered.
    PinOrDocument,
}

/// Where the server secret comes from.
#[derive(Clone, Debug)]
pub enum SecretKeySource {
    /// Given in `APP_SECRET_KEY`.
    Given(SecretString),
    /// The embedded default: a file under `DATA_DIR`, made on first use.
    File(PathBuf),
    /// Missing where it is required (PostgreSQL, a deployment): asking for
    /// it is an error naming the variable.
    Missing,
}

/// The shortest `APP_SECRET_KEY` accepted.
pub const SECRET_KEY_MIN_CHARS: usize = 32;

/// Where files are kept.
#[derive(Clone, Debug)]
pub enum FilesSettings {
    /// Local disk (the embedded default): `FILES_DIR`, default
    /// `DATA_DIR/files`.
    Local {
        /// Root directory of the objects.
        dir: PathBuf,
    },
    /// An S3 bucket (AWS or any S3-compatible server).
    S3(S3Settings),
}

/// `S3_*`: the bucket and how to reach it.
#[derive(Clone, Debug)]
pub struct S3Settings {
    /// `S3_BUCKET`.
    pub bucket: String,
    /// `S3_ENDPOINT`: a custom endpoint (SeaweedFS, MinIO…); unset for AWS.
    pub endpoint: Option<String>,
    /// `S3_REGION` (default `us-east-1`).
    pub region: String,
    /// `S3_ACCESS_KEY_ID`.
    pub access_key_id: String,
    /// `S3_SECRET_ACCESS_KEY`.
    pub secret_access_key: SecretString,
    /// `S3_FORCE_PATH_STYLE` (default: true when `S3_ENDPOINT` is set).
    pub force_path_style: bool,
    /// `S3_PRESIGN_TTL` (default `15m`): lifetime of download links.
    pub presign_ttl: Duration,
}

/// `SMTP_URL` and `MAIL_FROM`.
#[derive(Clone, Debug)]
pub struct SmtpSettings {
    /// lettre's URL form: `smtp://user:pass@host:587?tls=required`
    /// (STARTTLS), `smtps://user:pass@host:465` (TLS), `smtp://host:25`.
    pub url: SecretString,
    /// The sender, `Name <address>` or a bare address.
    pub from: String,
}

/// `LIWA_*` and `SMS_*`: the SMS gateway.
#[derive(Clone, Debug)]
pub struct LiwaSettings {
    /// `LIWA_API_KEY`, sent as the `API-KEY` header.
    pub api_key: SecretString,
    /// `LIWA_ACCOUNT`.
    pub account: String,
    /// `LIWA_PASSWORD`.
    pub password: SecretString,
    /// `LIWA_BASE_URL` (default `https://api.liwa.co`).
    pub base_url: String,
    /// `LIWA_AUTH_URL` (default `{LIWA_BASE_URL}/v2/auth/login`).
    pub auth_url: String,
}

/// The outbound transports and file storage; unset means the embedded
/// default (files on local disk, SMS and email into the store's outbox).
#[derive(Clone, Debug)]
pub struct TransportSettings {
    /// `APP_PUBLIC_URL` (default `http://127.0.0.1:8000`): links in
    /// messages point here.
    pub public_url: String,
    /// Files: local disk or S3.
    pub files: FilesSettings,
    /// `UPLOAD_MAX_BYTES` (default 10 MiB): the largest attachment accepted.
    pub upload_max_bytes: u64,
    /// Email over SMTP; `None` → the outbox.
    pub smtp: Option<SmtpSettings>,
    /// SMS through Liwa; `None` → the outbox.
    pub sms: Option<LiwaSettings>,
    /// `SMS_RATE_LIMIT` (default 10): gateway-wide messages per second,
    /// shared by every worker.
    pub sms_rate_limit: u32,
    /// `SMS_TIMEOUT` (default `10s`): one gateway call's time limit.
    pub sms_timeout: Duration,
    /// `REPORT_RETENTION` (default `7d`): finished reports are deleted
    /// after this.
    pub report_retention: Duration,
    /// `TEMP_RETENTION` (default `24h`): abandoned uploads and partial
    /// files are deleted after this.
    pub temp_retention: Duration,
}

impl TransportSettings {
    /// One line for the start-up log saying which transports are live
    /// (no secrets).
    pub fn describe(&self) -> String {
        let files = match &self.files {
            FilesSettings::Local { dir } => format!("local disk at {}", dir.display()),
            FilesSettings::S3(s) => format!(
                "s3 bucket {} at {}",
                s.bucket,
                s.endpoint.as_deref().unwrap_or("AWS")
            ),
        };
        let email = match &self.smtp {
            Some(s) => format!("smtp {}", redact_url(s.url.expose_secret())),
            None => "outbox (no SMTP_URL)".to_owned(),
        };
        let sms = match &self.sms {
            Some(s) => format!("liwa at {}", s.base_url),
            None => "outbox (no LIWA_API_KEY)".to_owned(),
        };
        format!("files: {files}; email: {email}; sms: {sms}")
    }
}

impl Settings {
    /// The broker's lease, retention and the system clock.
    pub fn broker_config(&self) -> BrokerConfig {
        BrokerConfig {
            lease: self.lease,
            retention: self.retention,
            clock: Clock::system(),
        }
    }

    /// Opens the broker these settings select, counting the jobs enqueued
    /// through it in [`crate::telemetry::enqueue_metrics`].
    pub async fn connect_broker(
        &self,
    ) -> paqueteria_jobs::BrokerResult<paqueteria_jobs::SharedBroker> {
        let broker = paqueteria_jobs::connect(&self.broker, self.broker_config()).await?;
        Ok(paqueteria_jobs::metered(
            broker,
            crate::telemetry::enqueue_metrics(),
        ))
    }

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
                let prefix = non_empty("REDIS_PREFIX").unwrap_or_else(|| "paq".to_owned());
                EngineConfig::redis_checked(&url, &prefix).map_err(|e| SettingsError {
                    var: match e {
                        paqueteria_jobs::broker::EngineConfigError::Url { .. } => "REDIS_URL",
                        paqueteria_jobs::broker::EngineConfigError::Prefix { .. } => "REDIS_PREFIX",
                    },
                    reason: e.to_string(),
                })?
            }
            None => EngineConfig::Sqlite {
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
        let wait = enqueue_wait(&non_empty, &duration, &broker)?;
        let broker = broker.with_enqueue_wait(wait);
        let lease = duration("JOB_LEASE", "8s")?;
        if lease < Duration::from_secs(1) {
            return Err(SettingsError {
                var: "JOB_LEASE",
                reason: "must be at least 1s".to_owned(),
            });
        }
        let transports = transports(&non_empty, &data_dir, &duration)?;
        let tz_name = non_empty("APP_TZ").unwrap_or_else(|| "America/Bogota".to_owned());
        let time_zone = tz_name
            .trim()
            .parse::<chrono_tz::Tz>()
            .map_err(|_| SettingsError {
                var: "APP_TZ",
                reason: format!("{tz_name:?} is not an IANA time zone like America/Bogota"),
            })?;
        let trust_forwarded_for = match non_empty("APP_TRUST_FORWARDED_FOR")
            .as_deref()
            .map(str::trim)
        {
            None | Some("false" | "0" | "no") => false,
            Some("true" | "1" | "yes") => true,
            Some(other) => {
                return Err(SettingsError {
                    var: "APP_TRUST_FORWARDED_FOR",
                    reason: format!("{other:?} is not true or false"),
                });
            }
        };
        let secret_key = match non_empty("APP_SECRET_KEY") {
            Some(key) if key.trim().chars().count() < SECRET_KEY_MIN_CHARS => {
                return Err(SettingsError {
                    var: "APP_SECRET_KEY",
                    reason: format!(
                        "must be at least {SECRET_KEY_MIN_CHARS} characters (make one with `openssl rand -hex 32`)"
                    ),
                });
            }
            Some(key) => SecretKeySource::Given(SecretString::from(key.trim().to_owned())),
            None => match database {
                DatabaseSettings::Sqlite { .. } => {
                    SecretKeySource::File(data_dir.join("secret.key"))
                }
                DatabaseSettings::Postgres { .. } => SecretKeySource::Missing,
            },
        };
        let home_delivery_proof = match non_empty("HOME_DELIVERY_PROOF").as_deref().map(str::trim) {
            None | Some("pin") => HomeDeliveryProof::Pin,
            Some("pin_or_document") => HomeDeliveryProof::PinOrDocument,
            Some(other) => {
                return Err(SettingsError {
                    var: "HOME_DELIVERY_PROOF",
                    reason: format!("{other:?} is not one of pin, pin_or_document"),
                });
            }
        };
        Ok(Self {
            database,
            broker,
            data_dir,
            retention,
            lease,
            transports,
            time_zone,
            trust_forwarded_for,
            secret_key,
            home_delivery_proof,
        })
    }

    /// The server secret: `APP_SECRET_KEY`, or on the embedded default the
    /// key in `DATA_DIR/secret.key`, made (random, readable by its owner
    /// only) the first time. With `DATABASE_URL` set and no
    /// `APP_SECRET_KEY` this is an error naming the variable: a deployment
    /// keeps its secret out of its database and data volume.
    pub fn secret_key(&self) -> Result<SecretString, SettingsError> {
        match &self.secret_key {
            SecretKeySource::Given(key) => Ok(key.clone()),
            SecretKeySource::Missing => Err(SettingsError {
                var: "APP_SECRET_KEY",
                reason:
                    "is required when DATABASE_URL is set (make one with `openssl rand -hex 32`)"
                        .to_owned(),
            }),
            SecretKeySource::File(path) => read_or_make_key(path).map_err(|e| SettingsError {
                var: "APP_SECRET_KEY",
                reason: format!("unset, and its file {} failed: {e}", path.display()),
            }),
        }
    }
}

/// The key in `path`, or a new random one written there (mode 0600).
fn read_or_make_key(path: &std::path::Path) -> std::io::Result<SecretString> {
    match std::fs::read_to_string(path) {
        Ok(text) if text.trim().chars().count() >= SECRET_KEY_MIN_CHARS => {
            return Ok(SecretString::from(text.trim().to_owned()));
        }
        Ok(_) => {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("shorter than {SECRET_KEY_MIN_CHARS} characters"),
            ));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut bytes = [0u8; 32];
    crate::store::random_bytes(&mut bytes);
    let key: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    // Written beside and renamed, so a crash leaves no half key; a second
    // process racing to make it keeps the first one's.
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    {
        use std::io::Write;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut f = options.open(&tmp)?;
        f.write_all(key.as_bytes())?;
        f.sync_all()?;
    }
    match std::fs::hard_link(&tmp, path) {
        Ok(()) => {
            std::fs::remove_file(&tmp)?;
            Ok(SecretString::from(key))
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            std::fs::remove_file(&tmp)?;
            read_or_make_key(path)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// `REDIS_ENQUEUE_WAIT` (replicas that must hold each enqueue; unset or 0:
/// none) and `REDIS_ENQUEUE_WAIT_TIMEOUT` (default 1s).
fn enqueue_wait(
    non_empty: &impl Fn(&str) -> Option<String>,
    duration: &impl Fn(&'static str, &str) -> Result<Duration, SettingsError>,
    broker: &EngineConfig,
) -> Result<Option<paqueteria_jobs::broker::redis::EnqueueWait>, SettingsError> {
    let Some(raw) = non_empty("REDIS_ENQUEUE_WAIT") else {
        return Ok(None);
    };
    let replicas: u32 = raw.trim().parse().map_err(|_| SettingsError {
        var: "REDIS_ENQUEUE_WAIT",
        reason: format!("{raw:?} is not a number of replicas (0 to turn the wait off)"),
    })?;
    if replicas > 0 && matches!(broker, EngineConfig::Sqlite { .. }) {
        return Err(SettingsError {
            var: "REDIS_ENQUEUE_WAIT",
            reason: "needs REDIS_URL: the embedded engine has no replicas to wait for".to_owned(),
        });
    }
    let timeout = duration("REDIS_ENQUEUE_WAIT_TIMEOUT", "1s")?;
    Ok(paqueteria_jobs::broker::redis::EnqueueWait::new(
        replicas, timeout,
    ))
}

fn transports(
    non_empty: &dyn Fn(&str) -> Option<String>,
    data_dir: &std::path::Path,
    duration: &dyn Fn(&'static str, &str) -> Result<Duration, SettingsError>,
) -> Result<TransportSettings, SettingsError> {
    let required = |var: &'static str, because: &str| {
        non_empty(var).ok_or_else(|| SettingsError {
            var,
            reason: format!("is required when {because} is set"),
        })
    };
    let number = |var: &'static str, default: u64| -> Result<u64, SettingsError> {
        match non_empty(var) {
            None => Ok(default),
            Some(raw) => raw.trim().parse().map_err(|_| SettingsError {
                var,
                reason: format!("{raw:?} is not a whole number"),
            }),
        }
    };
    let http_url = |var: &'static str, raw: String| {
        if raw.starts_with("http://") || raw.starts_with("https://") {
            Ok(raw.trim_end_matches('/').to_owned())
        } else {
            Err(SettingsError {
                var,
                reason: format!("{:?} is not an http:// or https:// URL", redact_url(&raw)),
            })
        }
    };
    let public_url = http_url(
        "APP_PUBLIC_URL",
        non_empty("APP_PUBLIC_URL").unwrap_or_else(|| "http://127.0.0.1:8000".to_owned()),
    )?;
    let files = match non_empty("S3_BUCKET") {
        Some(bucket) => {
            let endpoint = non_empty("S3_ENDPOINT")
                .map(|e| http_url("S3_ENDPOINT", e))
                .transpose()?;
            let force_path_style = match non_empty("S3_FORCE_PATH_STYLE").as_deref() {
                None => endpoint.is_some(),
                Some("true" | "1" | "yes") => true,
                Some("false" | "0" | "no") => false,
                Some(other) => {
                    return Err(SettingsError {
                        var: "S3_FORCE_PATH_STYLE",
                        reason: format!("{other:?} is not true or false"),
                    });
                }
            };
            FilesSettings::S3(S3Settings {
                bucket,
                endpoint,
                region: non_empty("S3_REGION").unwrap_or_else(|| "us-east-1".to_owned()),
                access_key_id: required("S3_ACCESS_KEY_ID", "S3_BUCKET")?,
                secret_access_key: SecretString::from(required(
                    "S3_SECRET_ACCESS_KEY",
                    "S3_BUCKET",
                )?),
                force_path_style,
                presign_ttl: duration("S3_PRESIGN_TTL", "15m")?,
            })
        }
        None => FilesSettings::Local {
            dir: non_empty("FILES_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| data_dir.join("files")),
        },
    };
    let smtp = match non_empty("SMTP_URL") {
        Some(url) => {
            if !(url.starts_with("smtp://") || url.starts_with("smtps://")) {
                return Err(SettingsError {
                    var: "SMTP_URL",
                    reason: format!("{:?} is not an smtp:// or smtps:// URL", redact_url(&url)),
                });
            }
            Some(SmtpSettings {
                url: SecretString::from(url),
                from: required("MAIL_FROM", "SMTP_URL")?,
            })
        }
        None => None,
    };
    let sms = match non_empty("LIWA_API_KEY") {
        Some(key) => {
            let base_url = http_url(
                "LIWA_BASE_URL",
                non_empty("LIWA_BASE_URL").unwrap_or_else(|| "https://api.liwa.co".to_owned()),
            )?;
            let auth_url = match non_empty("LIWA_AUTH_URL") {
                Some(u) => http_url("LIWA_AUTH_URL", u)?,
                None => format!("{base_url}/v2/auth/login"),
            };
            Some(LiwaSettings {
                api_key: SecretString::from(key),
                account: required("LIWA_ACCOUNT", "LIWA_API_KEY")?,
                password: SecretString::from(required("LIWA_PASSWORD", "LIWA_API_KEY")?),
                base_url,
                auth_url,
            })
        }
        None => None,
    };
    let sms_rate_limit = number("SMS_RATE_LIMIT", 10)?;
    if sms_rate_limit == 0 || sms_rate_limit > 10_000 {
        return Err(SettingsError {
            var: "SMS_RATE_LIMIT",
            reason: "must be between 1 and 10000 messages per second".to_owned(),
        });
    }
    Ok(TransportSettings {
        public_url,
        files,
        upload_max_bytes: number("UPLOAD_MAX_BYTES", 10 * 1024 * 1024)?,
        smtp,
        sms,
        sms_rate_limit: u32::try_from(sms_rate_limit).unwrap_or(10),
        sms_timeout: duration("SMS_TIMEOUT", "10s")?,
        report_retention: duration("REPORT_RETENTION", "7d")?,
        temp_retention: duration("TEMP_RETENTION", "24h")?,
    })
}

#[cfg(test)]
mod tests;
