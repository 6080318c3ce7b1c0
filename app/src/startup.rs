//! Settings → a running app.
//!
//! With `REDIS_URL` unset the app is the whole system in one process: the
//! SQLite store, the embedded job engine, a worker pool at concurrency 4 and
//! the scheduler running in-process. With `REDIS_URL` set it only enqueues, and workers run
//! as the `worker` binary.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::Router;
use axum::routing::{get, post};
use paqueteria_core::files::SharedStorage;
use paqueteria_core::settings::{Settings, SettingsError};
use paqueteria_core::store::{PinSettings, Store};
use paqueteria_jobs::scheduler::{Scheduler, SchedulerMetrics};
use paqueteria_jobs::{
    Clock, EngineConfig, Handlers, Metrics, QueueSpec, Runtime, RuntimeConfig, SharedBroker,
};
use paqueteria_scheduler::settings::SchedulerSettings;
use paqueteria_worker::services::Services;
use tokio::net::TcpListener;

use crate::routes;
use crate::telemetry::{self, HttpMetrics};

/// The app's own settings, beside the shared ones.
#[derive(Clone, Debug)]
pub struct AppSettings {
    /// `APP_ADDR` (default `127.0.0.1:8000`).
    pub addr: SocketAddr,
    /// Store, broker and job settings.
    pub core: Settings,
}

impl AppSettings {
    /// Reads the environment; a bad value names its variable.
    pub fn from_env() -> Result<Self, SettingsError> {
        let raw = std::env::var("APP_ADDR").unwrap_or_else(|_| "127.0.0.1:8000".to_owned());
        let addr = raw.parse().map_err(|_| SettingsError {
            var: "APP_ADDR",
            reason: format!("{raw:?} is not an address like 127.0.0.1:8000"),
        })?;
        Ok(Self {
            addr,
            core: Settings::from_env()?,
        })
    }
}

pub use crate::throttle::LoginLimiter;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// The parcel store.
    pub store: Store,
    /// The job broker.
    pub broker: SharedBroker,
    /// HTTP metrics.
    pub metrics: HttpMetrics,
    /// Sign-in attempts per client address and per account.
    pub login_limiter: Arc<LoginLimiter>,
    /// Wakes the outbox relay right after a change commits.
    pub outbox_kick: Arc<tokio::sync::Notify>,
    /// File storage (uploads land here; downloads come from here).
    pub storage: SharedStorage,
    /// Store, broker and transport settings.
    pub settings: Arc<Settings>,
    /// The web UI's CSRF tokens.
    pub csrf: axum_csrf::CsrfConfig,
    /// The key of the web UI's encrypted one-time cookies.
    pub flash_key: cookie::Key,
    /// The scheduler's entries (`SCHEDULE_FILE` or the built-in
    /// schedule), for the console and `/api/v1/schedule`.
    pub schedule: Arc<Vec<paqueteria_jobs::scheduler::Entry>>,
    /// The in-process worker's and scheduler's metrics, served on the
    /// app's `/metrics` in the all-in-one run (`None` with Redis, where
    /// the worker and scheduler processes serve their own).
    pub engine_metrics: Option<EngineMetrics>,
}

/// The metrics of the all-in-one run's worker and scheduler.
#[derive(Clone, Debug)]
pub struct EngineMetrics {
    /// The in-process worker's.
    pub worker: Metrics,
    /// The in-process scheduler's.
    pub scheduler: SchedulerMetrics,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

/// The largest upload request body: the file limit plus room for the
/// multipart envelope.
fn upload_body_limit(state: &AppState) -> usize {
    usize::try_from(state.settings.transports.upload_max_bytes)
        .unwrap_or(usize::MAX)
        .saturating_add(64 * 1024)
}

/// The routes.
pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/health", get(routes::health::live))
        .route("/health/ready", get(routes::health::ready))
        .route("/metrics", get(routes::health::metrics))
        .route("/api/v1/auth/token", post(routes::auth::token))
        .route("/api/v1/auth/session", post(routes::auth::session))
        .route("/api/v1/auth/logout", post(routes::auth::logout))
        .route(
            "/api/v1/parcels",
            get(routes::parcels::list).post(routes::parcels::create),
        )
        .route(
            "/api/v1/parcels/{id}",
            get(routes::parcels::get).patch(routes::parcels::correct),
        )
        .route(
            "/api/v1/parcels/{id}/pin",
            post(routes::parcels::reissue_pin),
        )
        .route(
            "/api/v1/parcels/{id}/notifications",
            get(routes::parcels::notifications),
        )
        .route(
            "/api/v1/parcels/{id}/payments",
            get(routes::parcels::payments),
        )
        .route("/api/v1/payments/{id}/void", post(routes::payments::void))
        .route(
            "/api/v1/parcels/{id}/transition",
            post(routes::parcels::transition),
        )
        .route(
            "/api/v1/parcels/{id}/attachments",
            get(routes::attachments::list)
                .post(routes::attachments::upload)
                .layer(
                    // The multipart envelope may exceed the file by a little;
                    // the handler enforces the file's own limit (413).
                    axum::extract::DefaultBodyLimit::max(upload_body_limit(&state)),
                ),
        )
        .route(
            "/api/v1/attachments/{id}/download",
            get(routes::attachments::download),
        )
        .route(
            "/api/v1/attachments/{id}/thumbnail",
            get(routes::attachments::thumbnail),
        )
        .route("/api/v1/track/{code}", get(routes::track::track))
        .route(
            "/api/v1/branches",
            get(routes::branches::list).post(routes::branches::create),
        )
        .route(
            "/api/v1/tariffs",
            get(routes::tariffs::list).post(routes::tariffs::create),
        )
        .route("/api/v1/tariffs/{id}/end", post(routes::tariffs::end))
        .route("/api/v1/tariffs/quote", post(routes::tariffs::quote))
        .route("/api/v1/jobs", get(routes::jobs::list))
        .route("/api/v1/jobs/bulk", post(routes::jobs::bulk))
        .route("/api/v1/jobs/queues", get(routes::jobs::queues))
        .route(
            "/api/v1/jobs/queues/{queue}/pause",
            post(routes::jobs::pause),
        )
        .route(
            "/api/v1/jobs/queues/{queue}/resume",
            post(routes::jobs::resume),
        )
        .route(
            "/api/v1/jobs/queues/{queue}/purge",
            post(routes::job_actions::purge),
        )
        .route("/api/v1/workers", get(routes::jobs::workers))
        .route("/api/v1/schedule", get(routes::schedule::list))
        .route(
            "/api/v1/schedule/{entry}/run-now",
            post(routes::schedule::run_now),
        )
        .route("/api/v1/jobs/dead", get(routes::jobs::dead))
        .route(
            "/api/v1/jobs/dead/{id}",
            axum::routing::delete(routes::jobs::discard),
        )
        .route("/api/v1/jobs/dead/{id}/retry", post(routes::jobs::retry))
        .route("/api/v1/jobs/{id}", get(routes::jobs::get))
        .route("/api/v1/jobs/{id}/run-now", post(routes::jobs::run_now))
        .route("/api/v1/jobs/{id}/cancel", post(routes::jobs::cancel))
        .route(
            "/api/v1/jobs/{id}/duplicate",
            post(routes::job_actions::duplicate),
        )
        .route(
            "/api/v1/customers",
            get(routes::customers::list).post(routes::customers::upsert),
        )
        .route(
            "/api/v1/customers/{id}",
            axum::routing::patch(routes::customers::update),
        )
        .route(
            "/api/v1/users",
            get(routes::users::list).post(routes::users::create),
        )
        .route("/api/v1/users/me", get(routes::users::me))
        .route(
            "/api/v1/users/me/password",
            axum::routing::patch(routes::users::change_password),
        )
        .route(
            "/api/v1/users/{id}",
            axum::routing::patch(routes::users::update),
        )
        .route(
            "/api/v1/users/{id}/password-reset",
            post(routes::users::reset_password),
        )
        .route("/api/v1/audit", get(routes::audit::list))
        .route(
            "/api/v1/reports",
            get(routes::reports::list).post(routes::reports::request),
        )
        .route("/api/v1/reports/{id}", get(routes::reports::get))
        .route(
            "/api/v1/reports/{id}/download",
            get(routes::reports::download),
        )
        .route("/api/v1/outbox", get(routes::outbox::list))
        .route("/api/v1/dashboard", get(routes::dashboard::get))
        .with_state(state.clone())
        .merge(utoipa_swagger_ui::SwaggerUi::new("/docs").url(
            "/openapi.json",
            <crate::openapi::ApiDoc as utoipa::OpenApi>::openapi(),
        ))
        .merge(crate::redoc::router());
    let api = guarded(api, &state)
        .fallback(crate::fallback::not_found)
        .layer(axum::middleware::from_fn(crate::fallback::json_errors));
    // The pages answer their errors in HTML: outside the JSON rewrite.
    let pages = guarded(crate::ui::router(state.clone()), &state);
    // Outermost: every answer, refused or not, carries its request id
    // and gets its access-log line.
    crate::access::observe(crate::headers::secure(api.merge(pages)))
}

/// `routes` with the `Origin` check of cookie requests and the HTTP
/// metrics (the check inside, so refused requests are counted).
fn guarded(routes: Router, state: &AppState) -> Router {
    routes
        .route_layer(axum::middleware::from_fn_with_state(
            crate::csrf::AppOrigin::from_public_url(&state.settings.transports.public_url),
            crate::csrf::guard,
        ))
        .route_layer(axum::middleware::from_fn_with_state(
            state.metrics.clone(),
            telemetry::track,
        ))
}

/// The app, built and not yet serving.
pub struct Application {
    listener: TcpListener,
    state: AppState,
    embedded: Option<Embedded>,
}

/// What the all-in-one run adds: the worker pool and the scheduler.
struct Embedded {
    lease: Duration,
    handlers: Handlers,
    scheduler: Scheduler,
    metrics: EngineMetrics,
}

impl Application {
    /// Opens the store (running its migrations) and the broker, on an
    /// already-bound listener (tests bind port 0).
    pub async fn build(settings: &Settings, listener: TcpListener) -> anyhow::Result<Self> {
        let store = Store::open(&settings.database, Clock::system())
            .await
            .with_context(|| format!("open the store ({})", settings.database.describe()))?
            .with_pins(pin_settings(settings)?);
        let broker = settings
            .connect_broker()
            .await
            .with_context(|| format!("open the broker ({})", settings.broker.describe()))?;
        let services = Services::with_store(settings, broker.clone(), store.clone()).await?;
        let scheduler_settings =
            SchedulerSettings::from_core(settings.clone(), |k| std::env::var(k).ok())
                .map_err(|e| anyhow::anyhow!("invalid setting {e}"))?;
        let schedule = scheduler_settings.entries()?;
        let embedded = match settings.broker {
            EngineConfig::Sqlite { .. } => {
                let metrics = EngineMetrics {
                    worker: Metrics::new(),
                    scheduler: SchedulerMetrics::new(),
                };
                Some(Embedded {
                    lease: settings.lease,
                    handlers: paqueteria_worker::jobs::handlers(&services)
                        .context("set up the job handlers")?,
                    scheduler: scheduler_settings
                        .scheduler(schedule.clone(), broker.clone(), metrics.scheduler.clone())
                        .await?,
                    metrics,
                })
            }
            EngineConfig::Redis { .. } => None,
        };
        tracing::info!(
            store = %settings.database.describe(),
            broker = %settings.broker.describe(),
            workers = if embedded.is_some() { "in-process, concurrency 4" } else { "separate worker processes" },
            scheduler = if embedded.is_some() { "in-process" } else { "the scheduler binary" },
            "engines"
        );
        Ok(Self {
            listener,
            state: AppState {
                store,
                broker,
                metrics: HttpMetrics::new(),
                login_limiter: Arc::new(LoginLimiter::new()),
                outbox_kick: Arc::new(tokio::sync::Notify::new()),
                storage: services.storage.clone(),
                settings: Arc::new(settings.clone()),
                csrf: {
                    use secrecy::ExposeSecret;
                    crate::ui::csrf_config(settings.secret_key()?.expose_secret().as_bytes())
                },
                flash_key: {
                    use secrecy::ExposeSecret;
                    crate::ui::flash_key(settings.secret_key()?.expose_secret().as_bytes())
                },
                schedule: Arc::new(schedule),
                engine_metrics: embedded.as_ref().map(|e| e.metrics.clone()),
            },
            embedded,
        })
    }

    /// The store (tests and start-up tasks use it directly).
    pub fn store(&self) -> &Store {
        &self.state.store
    }

    /// Where it listens.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` completes, then stops the in-process worker
    /// and the outbox relay gracefully.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let addr = self.local_addr()?;
        let relay = tokio::spawn(crate::relay::run(self.state.clone(), stop_rx.clone()));
        let (embedded, scheduler) = match self.embedded {
            Some(e) => (
                Some((e.lease, e.handlers, e.metrics.worker)),
                Some(e.scheduler),
            ),
            None => (None, None),
        };
        let scheduler = scheduler.map(|s| {
            let mut stop = stop_rx.clone();
            tokio::spawn(s.run(Clock::system(), async move {
                let _ = stop.wait_for(|s| *s).await;
            }))
        });
        let worker = embedded.map(|(lease, handlers, metrics)| {
            let runtime = Runtime::build(
                RuntimeConfig {
                    queues: embedded_queues(),
                    lease,
                    ..RuntimeConfig::default()
                },
                self.state.broker.clone(),
                handlers,
                metrics,
            );
            let mut stop = stop_rx.clone();
            tokio::spawn(runtime.run_until_stopped(async move {
                let _ = stop.wait_for(|s| *s).await;
            }))
        });
        tracing::info!(%addr, "serving");
        // With the peer's address, for the sign-in throttle and the audit
        // log (see `crate::client`).
        let served = axum::serve(
            self.listener,
            router(self.state).into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .await;
        let _ = stop_tx.send(true);
        if let Some(w) = worker {
            match w.await {
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "in-process worker stopped with an error")
                }
                Err(e) => tracing::error!(error = %e, "in-process worker task failed"),
                Ok(Ok(())) => {}
            }
        }
        if let Some(s) = scheduler
            && let Err(e) = s.await
        {
            tracing::error!(error = %e, "in-process scheduler task failed");
        }
        let _ = relay.await;
        served.context("serve HTTP")
    }
}

/// The queues of the all-in-one run's worker: the `worker` binary's default.
/// The store's PIN settings: the server secret (`APP_SECRET_KEY`, made
/// into `DATA_DIR` on the embedded default) and `HOME_DELIVERY_PROOF`.
pub fn pin_settings(settings: &Settings) -> anyhow::Result<PinSettings> {
    let key = settings.secret_key()?;
    Ok(PinSettings::new(&key, settings.home_delivery_proof))
}

fn embedded_queues() -> Vec<QueueSpec> {
    QueueSpec::parse_list(paqueteria_worker::cli::DEFAULT_QUEUES).unwrap_or_default()
}

/// Creates the first admin when the store has no user: from
/// `APP_ADMIN_EMAIL` / `APP_ADMIN_PASSWORD`, or with a random password that
/// is printed once. Returns the password it generated, if any.
pub async fn ensure_first_admin(
    store: &Store,
    email: Option<String>,
    password: Option<String>,
) -> anyhow::Result<Option<(String, String)>> {
    if store.count_users().await? > 0 {
        return Ok(None);
    }
    let email = email.unwrap_or_else(|| "admin@paqueteria.local".to_owned());
    let (password, generated) = match password {
        Some(p) => (p, false),
        None => {
            let mut bytes = [0u8; 12];
            paqueteria_core::store::random_bytes(&mut bytes);
            (
                bytes.iter().map(|b| format!("{b:02x}")).collect::<String>(),
                true,
            )
        }
    };
    store
        .create_user(&paqueteria_core::store::NewUser {
            email: email.clone(),
            name: "Administrator".to_owned(),
            password: password.clone(),
            role: paqueteria_core::domain::Role::Admin,
            branch_id: None,
        })
        .await
        .context("create the first admin (APP_ADMIN_EMAIL / APP_ADMIN_PASSWORD)")?;
    Ok(generated.then_some((email, password)))
}
