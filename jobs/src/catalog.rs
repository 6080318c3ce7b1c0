//! A catalog: the jobs a service knows, as data. It turns a job name and
//! raw JSON into a job a broker accepts (what a CLI's `enqueue <job> <json>`
//! or a schedule file needs), checked by the job's own type.

use crate::broker::NewJob;
use crate::job::{InvalidJob, Job};
use crate::policy::JobPolicy;

/// Why a job could not be built.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum CatalogError {
    /// No job of the catalog has that name.
    #[error("unknown job {name:?}; known jobs: {known}")]
    UnknownJob {
        /// The name asked for.
        name: String,
        /// The catalog's names, comma-separated.
        known: String,
    },
    /// The payload does not decode or breaks a rule of the job.
    #[error("invalid payload for {job}: {reason}")]
    InvalidPayload {
        /// The job's name.
        job: String,
        /// What is wrong, naming the field.
        reason: String,
    },
}

impl From<InvalidJob> for CatalogError {
    fn from(e: InvalidJob) -> Self {
        Self::InvalidPayload {
            job: e.job,
            reason: e.reason,
        }
    }
}

/// One kind of job: its name, queue and policy, and how to build one from
/// JSON.
#[derive(Clone, Copy, Debug)]
pub struct JobKind {
    /// Stable name ([`Job::NAME`]).
    pub name: &'static str,
    /// Its queue ([`Job::QUEUE`]).
    pub queue: &'static str,
    /// Its policy ([`Job::policy`]).
    pub policy: JobPolicy,
    build: fn(&str) -> Result<NewJob, CatalogError>,
}

impl JobKind {
    /// The kind of `J`.
    pub fn of<J: Job>() -> Self {
        Self {
            name: J::NAME,
            queue: J::QUEUE,
            policy: J::policy(),
            build: build::<J>,
        }
    }

    /// Decodes `payload` (JSON) as this job's type, checks it, and returns
    /// the job to enqueue (its id from the idempotency key, if any).
    pub fn new_job(&self, payload: &str) -> Result<NewJob, CatalogError> {
        (self.build)(payload)
    }
}

fn build<J: Job>(payload: &str) -> Result<NewJob, CatalogError> {
    let job: J = serde_json::from_str(payload).map_err(|e| CatalogError::InvalidPayload {
        job: J::NAME.to_owned(),
        reason: e.to_string(),
    })?;
    Ok(job.to_new_job()?)
}

/// The jobs a service knows, in the order they were added.
///
/// ```
/// # use paqueteria_jobs::{Catalog, Job};
/// # #[derive(serde::Serialize, serde::Deserialize)]
/// # struct Resize { image: String }
/// # impl Job for Resize { const NAME: &'static str = "image.resize"; }
/// let catalog = Catalog::new().with::<Resize>();
/// let job = catalog.lookup("image.resize").unwrap().new_job(r#"{"image": "a.png"}"#).unwrap();
/// assert_eq!(job.queue, "default");
/// assert!(catalog.lookup("image.rotate").is_err());
/// ```
#[derive(Clone, Debug, Default)]
pub struct Catalog {
    kinds: Vec<JobKind>,
}

impl Catalog {
    /// An empty catalog.
    pub fn new() -> Self {
        Self::default()
    }

    /// The same catalog with `J` added (a second add of a name replaces the
    /// first).
    pub fn with<J: Job>(mut self) -> Self {
        self.add::<J>();
        self
    }

    /// Adds `J` (a second add of a name replaces the first).
    pub fn add<J: Job>(&mut self) -> &mut Self {
        let kind = JobKind::of::<J>();
        match self.kinds.iter_mut().find(|k| k.name == kind.name) {
            Some(k) => *k = kind,
            None => self.kinds.push(kind),
        }
        self
    }

    /// Every kind, in the order added.
    pub fn kinds(&self) -> &[JobKind] {
        &self.kinds
    }

    /// The kind named `name`; the error lists the known names.
    pub fn lookup(&self, name: &str) -> Result<&JobKind, CatalogError> {
        self.kinds
            .iter()
            .find(|k| k.name == name)
            .ok_or_else(|| CatalogError::UnknownJob {
                name: name.to_owned(),
                known: self
                    .kinds
                    .iter()
                    .map(|k| k.name)
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    /// Every queue a job of the catalog goes to, each once, in the order
    /// first seen.
    pub fn queues(&self) -> Vec<&'static str> {
        let mut out: Vec<&'static str> = Vec::new();
        for k in &self.kinds {
            if !out.contains(&k.queue) {
                out.push(k.queue);
            }
        }
        out
    }
}
