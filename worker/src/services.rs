//! What the handlers share: the store, file storage, the broker (to enqueue
//! a chain's next step) and the settings of each transport. Built once at
//! start-up; each handler family builds its transport client from it.

use std::sync::Arc;

use anyhow::Context as _;
use paqueteria_core::files::{self, SharedStorage};
use paqueteria_core::settings::Settings;
use paqueteria_core::store::Store;
use paqueteria_jobs::{Clock, JobClient, SharedBroker};

/// The handlers' shared dependencies.
#[derive(Clone, Debug)]
pub struct Services {
    /// Every setting (the transports read theirs).
    pub settings: Settings,
    /// The parcel store.
    pub store: Store,
    /// File storage: local disk or S3.
    pub storage: SharedStorage,
    /// Enqueues follow-up jobs.
    pub client: JobClient,
    /// The clock (tests move it).
    pub clock: Clock,
}

impl Services {
    /// Opens the store and the storage the settings select.
    pub async fn open(settings: &Settings, broker: SharedBroker) -> anyhow::Result<Arc<Self>> {
        let clock = Clock::system();
        let store = Store::open(&settings.database, clock.clone())
            .await
            .with_context(|| format!("open the store ({})", settings.database.describe()))?;
        Self::with_store(settings, broker, store).await
    }

    /// Uses an already open store (the app shares its own).
    pub async fn with_store(
        settings: &Settings,
        broker: SharedBroker,
        store: Store,
    ) -> anyhow::Result<Arc<Self>> {
        let storage = files::open(&settings.transports.files)
            .await
            .context("open file storage")?;
        tracing::info!(transports = %settings.transports.describe(), "transports");
        Ok(Arc::new(Self {
            settings: settings.clone(),
            store: store.clone(),
            storage,
            client: JobClient::new(broker),
            clock: store.clock().clone(),
        }))
    }
}
