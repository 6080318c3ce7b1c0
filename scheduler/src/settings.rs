//! The scheduler's settings, beside the shared ones.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use chrono_tz::Tz;
use paqueteria_core::settings::{Settings, SettingsError};
use paqueteria_jobs::scheduler::{
    Entry, FileLock, Leadership, RedisLease, Scheduler, SchedulerMetrics,
};
use paqueteria_jobs::{EngineConfig, SharedBroker};
use secrecy::ExposeSecret;

use crate::schedule::{DEFAULT_SCHEDULE, parse};

/// Every variable the scheduler reads beyond the shared ones; `.env.example`
/// documents each (a test keeps the two in step).
pub const VARIABLES: &[&str] = &[
    "SCHEDULE_FILE",
    "SCHEDULER_TZ",
    "SCHEDULER_STATE",
    "SCHEDULER_LEASE",
    "SCHEDULER_METRICS_ADDR",
];

/// The scheduler's settings.
#[derive(Clone, Debug)]
pub struct SchedulerSettings {
    /// Store, broker and the shared settings.
    pub core: Settings,
    /// `SCHEDULE_FILE`: the schedule; unset → the built-in one.
    pub schedule_file: Option<PathBuf>,
    /// `SCHEDULER_TZ` (default `APP_TZ`, itself `America/Bogota`).
    pub tz: Tz,
    /// `SCHEDULER_STATE` (default `DATA_DIR/scheduler-state.json`).
    pub state_path: PathBuf,
    /// `SCHEDULER_LEASE` (default `10s`): how long a dead leader keeps the
    /// lead before a standby takes over.
    pub lease: Duration,
    /// `SCHEDULER_METRICS_ADDR` (default `127.0.0.1:9102`).
    pub metrics_addr: SocketAddr,
}

impl SchedulerSettings {
    /// Reads the environment.
    pub fn from_env() -> Result<Self, SettingsError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Reads settings through `get` (tests pass a map).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let core = Settings::from_lookup(&get)?;
        Self::from_core(core, get)
    }

    /// The scheduler's own variables through `get`, on shared settings
    /// already read (the app's in-process scheduler).
    pub fn from_core(
        core: Settings,
        get: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, SettingsError> {
        let non_empty = |name: &str| get(name).filter(|v| !v.trim().is_empty());
        let tz = match non_empty("SCHEDULER_TZ") {
            Some(z) => z.trim().parse::<Tz>().map_err(|_| SettingsError {
                var: "SCHEDULER_TZ",
                reason: format!("{z:?} is not an IANA time zone like America/Bogota"),
            })?,
            None => core.time_zone,
        };
        let lease_raw = non_empty("SCHEDULER_LEASE").unwrap_or_else(|| "10s".to_owned());
        let lease = humantime_duration(&lease_raw).map_err(|reason| SettingsError {
            var: "SCHEDULER_LEASE",
            reason,
        })?;
        if lease < Duration::from_secs(1) {
            return Err(SettingsError {
                var: "SCHEDULER_LEASE",
                reason: "must be at least 1s".to_owned(),
            });
        }
        let addr_raw =
            non_empty("SCHEDULER_METRICS_ADDR").unwrap_or_else(|| "127.0.0.1:9102".to_owned());
        let metrics_addr = addr_raw.parse().map_err(|_| SettingsError {
            var: "SCHEDULER_METRICS_ADDR",
            reason: format!("{addr_raw:?} is not an address like 127.0.0.1:9102"),
        })?;
        Ok(Self {
            schedule_file: non_empty("SCHEDULE_FILE").map(PathBuf::from),
            state_path: non_empty("SCHEDULER_STATE")
                .map(PathBuf::from)
                .unwrap_or_else(|| core.data_dir.join("scheduler-state.json")),
            tz,
            lease,
            metrics_addr,
            core,
        })
    }

    /// The schedule's entries: the file's, or the built-in ones. A bad
    /// file stops start-up naming the entry.
    pub fn entries(&self) -> anyhow::Result<Vec<Entry>> {
        let (text, source) = match &self.schedule_file {
            Some(path) => (
                std::fs::read_to_string(path)
                    .map_err(|e| anyhow::anyhow!("SCHEDULE_FILE {}: {e}", path.display()))?,
                path.display().to_string(),
            ),
            None => (DEFAULT_SCHEDULE.to_owned(), "built-in schedule".to_owned()),
        };
        parse(&text, self.tz).map_err(|e| anyhow::anyhow!("{source}: {e}"))
    }

    /// How this scheduler competes for the lead: a Redis lease when the
    /// broker is Redis, else a file lock beside the state file.
    pub async fn leadership(&self) -> anyhow::Result<Leadership> {
        Ok(match &self.core.broker {
            EngineConfig::Redis { url, prefix, .. } => Leadership::Redis(Box::new(
                RedisLease::connect(url.expose_secret(), prefix, self.lease).await?,
            )),
            EngineConfig::Sqlite { .. } => {
                let mut lock = self.state_path.as_os_str().to_owned();
                lock.push(".lock");
                if let Some(dir) = self
                    .state_path
                    .parent()
                    .filter(|d| !d.as_os_str().is_empty())
                {
                    std::fs::create_dir_all(dir)?;
                }
                Leadership::File(FileLock::new(PathBuf::from(lock)))
            }
        })
    }
}

impl SchedulerSettings {
    /// A scheduler over `entries` with these settings' state file, lease and
    /// leadership (what the binary and the app's embedded run both use).
    pub async fn scheduler(
        &self,
        entries: Vec<Entry>,
        broker: SharedBroker,
        metrics: SchedulerMetrics,
    ) -> anyhow::Result<Scheduler> {
        let leadership = self.leadership().await?;
        Scheduler::new(
            entries,
            &self.state_path,
            broker,
            leadership,
            metrics,
            paqueteria_jobs::clock::system_now_ms(),
            self.lease,
        )
        .map_err(|e| {
            anyhow::anyhow!(
                "open the scheduler state {}: {e}",
                self.state_path.display()
            )
        })
    }
}

fn humantime_duration(raw: &str) -> Result<Duration, String> {
    raw.trim()
        .parse::<humantime::Duration>()
        .map(Into::into)
        .map_err(|e| format!("{raw:?} is not a duration like 10s ({e})"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use paqueteria_testkit::env::{lookup, undocumented};

    use super::*;

    fn load(vars: &[(&str, &str)]) -> Result<SchedulerSettings, SettingsError> {
        SchedulerSettings::from_lookup(lookup(vars))
    }

    #[test]
    fn env_example_documents_every_variable() {
        let missing = undocumented(include_str!("../../.env.example"), VARIABLES);
        assert!(missing.is_empty(), ".env.example lacks {missing:?}");
    }

    #[test]
    fn defaults_and_bad_values() {
        let s = load(&[("DATA_DIR", "/tmp/d")]).unwrap();
        assert_eq!(s.tz, chrono_tz::America::Bogota);
        assert_eq!(s.state_path, PathBuf::from("/tmp/d/scheduler-state.json"));
        assert_eq!(s.lease, Duration::from_secs(10));
        assert_eq!(
            load(&[("APP_TZ", "Europe/Madrid")]).unwrap().tz,
            chrono_tz::Europe::Madrid
        );
        for (var, value) in [
            ("SCHEDULER_TZ", "Nowhere/Land"),
            ("SCHEDULER_LEASE", "soon"),
            ("SCHEDULER_LEASE", "100ms"),
            ("SCHEDULER_METRICS_ADDR", "localhost"),
        ] {
            assert_eq!(load(&[(var, value)]).err().map(|e| e.var), Some(var));
        }
    }

    #[test]
    fn a_missing_schedule_file_is_named() {
        let s = load(&[("SCHEDULE_FILE", "/no/such/schedule.toml")]).unwrap();
        let e = s.entries().unwrap_err().to_string();
        assert!(e.contains("SCHEDULE_FILE /no/such/schedule.toml"), "{e}");
    }
}
