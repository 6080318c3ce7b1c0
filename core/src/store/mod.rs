//! The parcel store: one API, two engines.
//!
//! - SQLite, the embedded default: `DATABASE_URL` unset → a file under
//!   `DATA_DIR`;
//! - PostgreSQL: `DATABASE_URL=postgres://…`.
//!
//! Queries are written once, with `$n` parameters both engines accept, on
//! sqlx's `Any` driver; only the migrations differ per engine
//! (`core/migrations/{sqlite,postgres}`), and they run at start-up.
//!
//! A status change is one transaction: the parcel row (checked and bumped
//! against the version the caller saw), its history line, its payments and
//! its outbox notifications commit together or not at all. [`outbox`] then
//! enqueues committed notifications as jobs.

mod attachments;
mod maintenance;
mod messages;
mod model;
mod notifications;
pub mod outbox;
mod pg_reads;
mod reads;
mod reports;
pub mod search;
mod users;

use std::time::Duration;

use sha2::{Digest, Sha256};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{Any, AnyPool, Row, Transaction};

pub use attachments::NewAttachment;
pub use maintenance::{BranchStatusCount, DashboardFigures, ExpiredReport};
pub use messages::Message;
pub use model::*;
pub use notifications::Claim;
pub use reports::ReportRow;
pub use users::{NewUser, User, hash_password, random_bytes};

use crate::clock::Clock;
use crate::domain::{
    Grams, InvalidTransition, Money, ParcelEvent, ParcelStatus, Phone, Route, Service,
    TrackingCode, transition,
};

/// Which database engine a store runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    /// One SQLite file.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

/// Why a store call failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No such row.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The row changed since the caller read it (optimistic lock), or a
    /// unique key is taken.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The status change is not allowed.
    #[error(transparent)]
    Transition(#[from] InvalidTransition),
    /// A value breaks a rule; `field` names it.
    #[error("{field}: {message}")]
    Invalid {
        /// The offending field.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The database failed.
    #[error("database error: {0}")]
    Database(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::RowNotFound => Self::NotFound("row"),
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                Self::Conflict(db.message().to_owned())
            }
            _ => Self::Database(e.to_string()),
        }
    }
}

/// Result of a store call.
pub type StoreResult<T> = Result<T, StoreError>;

/// The parcel store. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    engine: Engine,
    clock: Clock,
    /// Live sessions recently looked up (see `Store::session_user`).
    sessions: users::SessionCache,
    /// SQLite: the list's reads, run on the calling thread.
    reads: Option<std::sync::Arc<reads::SqliteReads>>,
    /// PostgreSQL: the list's reads, on the driver's own rows and
    /// connections of their own (see [`pg_reads`]).
    pg_reads: Option<pg_reads::PgReads>,
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

const PARCEL_COLUMNS: &str = "id, tracking_code, sender_id, recipient_id, origin_branch_id, destination_branch_id, \
     service, delivery_address, package_type, weight_grams, length_mm, width_mm, height_mm, declared_value, \
     cod_amount, tariff_id, quoted_amount, storage_grace_hours, storage_fee_per_day, cod_fee, condition, shelf, \
     status, failed_attempts, version, arrived_at, delivered_at, created_at";

impl Store {
    /// Opens `url` (`sqlite://path?mode=rwc` or `postgres://…`) and runs the
    /// migrations.
    pub async fn connect(url: &str, clock: Clock) -> StoreResult<Self> {
        sqlx::any::install_default_drivers();
        let engine = if url.starts_with("sqlite:") {
            Engine::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Engine::Postgres
        } else {
            return Err(StoreError::Invalid {
                field: "DATABASE_URL",
                message: "must start with postgres:// (or be unset for SQLite)".to_owned(),
            });
        };
        let pool = AnyPoolOptions::new()
            // SQLite: 8 rather than 4 served about 15% more list requests
            // per second under 64 concurrent clients on 2 cores
            // (bench/app-bench); reads run in parallel under WAL.
            .max_connections(if engine == Engine::Sqlite { 8 } else { 16 })
            .acquire_timeout(Duration::from_secs(10))
            // No round trip to check a connection before each use (a tenth
            // of the parcel list's CPU on PostgreSQL); a connection found
            // broken fails its statement and is dropped.
            .test_before_acquire(false)
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if engine == Engine::Sqlite {
                        use sqlx::Executor;
                        conn.execute("PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;")
                            .await?;
                    }
                    Ok(())
                })
            })
            .connect(url)
            .await?;
        let migrator = match engine {
            Engine::Sqlite => &SQLITE_MIGRATIONS,
            Engine::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator
            .run(&pool)
            .await
            .map_err(|e| StoreError::Database(format!("migrations: {e}")))?;
        let store = Self {
            pool,
            engine,
            clock,
            sessions: users::SessionCache::new(),
            pg_reads: match engine {
                // Two connections a core: the list's statements are short,
                // and more of them at once only made PostgreSQL's backends
                // take turns on the cores (8 on 2 cores: a status + branch
                // filter 5,345 req/s; 4: 6,283).
                Engine::Postgres => Some(pg_reads::PgReads::new(url, read_connections())?),
                Engine::Sqlite => None,
            },
            reads: match engine {
                Engine::Sqlite => reads::SqliteReads::path_of(url)
                    .map(|path| std::sync::Arc::new(reads::SqliteReads::new(path))),
                Engine::Postgres => None,
            },
        };
        store.fill_search_text().await?;
        store.fill_list_items().await?;
        Ok(store)
    }

    /// Writes the list items of the parcels that have none (saved before
    /// migration `*_list_items`, or changed by a statement that did not
    /// write the item), a thousand per transaction, in one pass by id. A
    /// parcel changed meanwhile keeps the item its change wrote (the
    /// version is checked); the list builds any item still missing from
    /// the columns.
    async fn fill_list_items(&self) -> StoreResult<()> {
        let (mut after, mut filled) = (0_i64, 0_usize);
        loop {
            let mut tx = self.begin().await?;
            let rows = sqlx::query(&format!(
                "SELECT {PARCEL_COLUMNS} FROM parcels WHERE list_item IS NULL AND id > $1 \
                 ORDER BY id LIMIT 1000"
            ))
            .bind(after)
            .fetch_all(&mut *tx)
            .await?;
            for row in &rows {
                let parcel = parcel_from(row)?;
                sqlx::query("UPDATE parcels SET list_item = $1 WHERE id = $2 AND version = $3")
                    .bind(listed(&parcel)?.json())
                    .bind(parcel.id)
                    .bind(parcel.version)
                    .execute(&mut *tx)
                    .await?;
                after = parcel.id;
            }
            tx.commit().await?;
            if rows.is_empty() {
                break;
            }
            filled += rows.len();
        }
        if filled > 0 {
            tracing::info!(parcels = filled, "list items written");
        }
        Ok(())
    }

    /// Gives the parcels saved before name search existed (migration 0005)
    /// their search words, a thousand per transaction.
    async fn fill_search_text(&self) -> StoreResult<()> {
        let mut filled = 0;
        loop {
            let mut tx = self.begin().await?;
            let n = refresh_search_text(
                &mut tx,
                "p.id IN (SELECT id FROM parcels WHERE search_text IS NULL ORDER BY id LIMIT 1000)",
            )
            .await?;
            tx.commit().await?;
            if n == 0 {
                break;
            }
            filled += n;
        }
        if filled > 0 {
            tracing::info!(parcels = filled, "search words filled in");
            self.analyze().await?;
        }
        Ok(())
    }

    /// Opens the store the settings select: PostgreSQL, or the SQLite file
    /// (created with its directory when missing).
    pub async fn open(
        settings: &crate::settings::DatabaseSettings,
        clock: Clock,
    ) -> StoreResult<Self> {
        match settings {
            crate::settings::DatabaseSettings::Sqlite { path } => {
                Self::open_sqlite(path, clock).await
            }
            crate::settings::DatabaseSettings::Postgres { .. } => {
                Self::connect(&settings.url(), clock).await
            }
        }
    }

    /// Opens the SQLite file at `path`, creating it and its directory.
    pub async fn open_sqlite(path: &std::path::Path, clock: Clock) -> StoreResult<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| StoreError::Database(format!("{}: {e}", dir.display())))?;
        }
        Self::connect(&format!("sqlite://{}?mode=rwc", path.display()), clock).await
    }

    /// The store's clock (tests move it).
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// The engine in use.
    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// The row `sql` (bound to `id`) finds, or `NotFound(what)`.
    async fn row_by_id(&self, sql: &str, id: i64, what: &'static str) -> StoreResult<AnyRow> {
        sqlx::query(sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound(what))
    }

    /// Tidies up after a bulk load such as `app seed`. PostgreSQL: refreshes
    /// the planner statistics, so the first queries are planned on the real
    /// sizes rather than on those of an empty database. SQLite: merges the
    /// name search index into one segment (FTS5 `optimize`), which a load
    /// of many small transactions leaves in many. SQLite is left without
    /// `sqlite_stat1`: the list and search statements were tuned on its
    /// default estimates, and a bench run with ANALYZE was slower.
    pub async fn analyze(&self) -> StoreResult<()> {
        match self.engine {
            Engine::Postgres => sqlx::query("ANALYZE").execute(&self.pool).await?,
            Engine::Sqlite => {
                sqlx::query("INSERT INTO parcels_search (parcels_search) VALUES ('optimize')")
                    .execute(&self.pool)
                    .await?
            }
        };
        Ok(())
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    fn now(&self) -> i64 {
        self.clock.now_ms()
    }

    /// A write transaction. On SQLite it takes the write lock up front
    /// (`BEGIN IMMEDIATE`): a deferred transaction that reads and then writes
    /// gets "database is locked" at once when another writer got there
    /// first, instead of waiting its turn.
    async fn begin(&self) -> StoreResult<Transaction<'static, Any>> {
        Ok(match self.engine {
            Engine::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Engine::Postgres => self.pool.begin().await?,
        })
    }

    // --- branches -------------------------------------------------------

    /// Creates a branch.
    pub async fn create_branch(&self, b: &NewBranch) -> StoreResult<Branch> {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO branches (code, name, city, address, phone, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(&b.code)
        .bind(&b.name)
        .bind(&b.city)
        .bind(&b.address)
        .bind(b.phone.as_ref().map(|p| p.as_str().to_owned()))
        .bind(self.now())
        .fetch_one(&self.pool)
        .await?;
        self.branch(id).await
    }

    /// One branch.
    pub async fn branch(&self, id: i64) -> StoreResult<Branch> {
        let row = self
            .row_by_id(
                "SELECT id, code, name, city, address, phone, active FROM branches WHERE id = $1",
                id,
                "branch",
            )
            .await?;
        branch_from(&row)
    }

    /// Every branch, by code.
    pub async fn branches(&self) -> StoreResult<Vec<Branch>> {
        let rows = sqlx::query(
            "SELECT id, code, name, city, address, phone, active FROM branches ORDER BY code",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(branch_from).collect()
    }

    // --- customers ------------------------------------------------------

    /// Creates a customer, or updates the one with that phone.
    pub async fn upsert_customer(&self, c: &NewCustomer) -> StoreResult<Customer> {
        let mut tx = self.begin().await?;
        let id = upsert_customer_in(&mut tx, c, self.now()).await?;
        tx.commit().await?;
        self.customer(id).await
    }

    /// One customer.
    pub async fn customer(&self, id: i64) -> StoreResult<Customer> {
        let row = self
            .row_by_id(
                "SELECT id, phone, name, email, document, address FROM customers WHERE id = $1",
                id,
                "customer",
            )
            .await?;
        customer_from(&row)
    }

    /// The customer with this phone, the counter's lookup.
    pub async fn customer_by_phone(&self, phone: &Phone) -> StoreResult<Option<Customer>> {
        let row = sqlx::query(
            "SELECT id, phone, name, email, document, address FROM customers WHERE phone = $1",
        )
        .bind(phone.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(customer_from).transpose()
    }

    // --- tariffs --------------------------------------------------------

    /// Creates a tariff line.
    pub async fn create_tariff(&self, t: &NewTariff) -> StoreResult<Tariff> {
        if t.min_grams > t.max_grams {
            return Err(StoreError::Invalid {
                field: "max_grams",
                message: "must not be below min_grams".to_owned(),
            });
        }
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO tariffs (package_type, zone, min_grams, max_grams, base_price, per_kg_price, \
             storage_grace_hours, storage_fee_per_day, cod_fee, valid_from, valid_to, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id",
        )
        .bind(&t.package_type)
        .bind(&t.zone)
        .bind(i64::from(t.min_grams.0))
        .bind(i64::from(t.max_grams.0))
        .bind(t.base_price.0)
        .bind(t.per_kg_price.0)
        .bind(t.storage_grace_hours)
        .bind(t.storage_fee_per_day.0)
        .bind(t.cod_fee.0)
        .bind(t.valid_from_ms)
        .bind(t.valid_to_ms)
        .bind(self.now())
        .fetch_one(&self.pool)
        .await?;
        self.tariff(id).await
    }

    /// One tariff line.
    pub async fn tariff(&self, id: i64) -> StoreResult<Tariff> {
        let row = self
            .row_by_id(
                &format!("SELECT {TARIFF_COLUMNS} FROM tariffs WHERE id = $1"),
                id,
                "tariff",
            )
            .await?;
        tariff_from(&row)
    }

    /// The tariff line valid now for a package type, zone and weight.
    pub async fn find_tariff(
        &self,
        package_type: &str,
        zone: &str,
        weight: Grams,
    ) -> StoreResult<Option<Tariff>> {
        let row = sqlx::query(&format!(
            "SELECT {TARIFF_COLUMNS} FROM tariffs WHERE package_type = $1 AND zone = $2 \
             AND min_grams <= $3 AND max_grams >= $3 AND valid_from <= $4 \
             AND (valid_to IS NULL OR valid_to > $4) ORDER BY valid_from DESC LIMIT 1"
        ))
        .bind(package_type)
        .bind(zone)
        .bind(i64::from(weight.0))
        .bind(self.now())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(tariff_from).transpose()
    }

    // --- parcels --------------------------------------------------------

    /// Registers a parcel: customers by phone, the quote from the valid
    /// tariff (its fees copied onto the parcel), a tracking code and a
    /// pickup PIN, the first history line and the shipping payment, in one
    /// transaction.
    pub async fn register_parcel(&self, p: &NewParcel, actor: &Actor) -> StoreResult<Registered> {
        if p.weight.0 == 0 {
            return Err(StoreError::Invalid {
                field: "weight_grams",
                message: "must be above 0".to_owned(),
            });
        }
        if p.service == Service::HomeDelivery && p.delivery_address.trim().is_empty() {
            return Err(StoreError::Invalid {
                field: "delivery_address",
                message: "is required for home delivery".to_owned(),
            });
        }
        let tariff = self
            .find_tariff(&p.package_type, &p.zone, p.weight)
            .await?
            .ok_or_else(|| StoreError::Invalid {
                field: "package_type",
                message: format!(
                    "no tariff for a {} of {} g to zone {}",
                    p.package_type, p.weight.0, p.zone
                ),
            })?;
        let quoted = tariff.quote(p.weight, p.cod_amount);
        let now = self.now();
        let pin = format!("{:06}", fastrand::u32(0..1_000_000));
        let mut tx = self.begin().await?;
        for (id, field) in [
            (p.origin_branch_id, "origin_branch_id"),
            (p.destination_branch_id, "destination_branch_id"),
        ] {
            let exists: Option<i64> =
                sqlx::query_scalar("SELECT id FROM branches WHERE id = $1 AND active = $2")
                    .bind(id)
                    .bind(1_i64)
                    .fetch_optional(&mut *tx)
                    .await?;
            if exists.is_none() {
                return Err(StoreError::Invalid {
                    field,
                    message: format!("no active branch {id}"),
                });
            }
        }
        let sender = upsert_customer_in(&mut tx, &p.sender, now).await?;
        let recipient = upsert_customer_in(&mut tx, &p.recipient, now).await?;
        // A random serial; on the rare collision, draw again.
        let mut parcel_id = None;
        for _ in 0..5 {
            let code = TrackingCode::new("PQ", fastrand::u32(0..100_000_000), "CO")
                .map_err(|e| StoreError::Database(e.to_string()))?;
            let taken: Option<i64> =
                sqlx::query_scalar("SELECT id FROM parcels WHERE tracking_code = $1")
                    .bind(code.as_str())
                    .fetch_optional(&mut *tx)
                    .await?;
            if taken.is_some() {
                continue;
            }
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO parcels (tracking_code, pickup_pin_hash, sender_id, recipient_id, origin_branch_id, \
                 destination_branch_id, service, delivery_address, package_type, weight_grams, length_mm, \
                 width_mm, height_mm, declared_value, cod_amount, tariff_id, quoted_amount, storage_grace_hours, \
                 storage_fee_per_day, cod_fee, status, created_at, updated_at, search_text) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, \
                 $20, $21, $22, $22, $23) RETURNING id",
            )
            .bind(code.as_str())
            .bind(pin_hash(code.as_str(), &pin))
            .bind(sender)
            .bind(recipient)
            .bind(p.origin_branch_id)
            .bind(p.destination_branch_id)
            .bind(service_str(p.service))
            .bind(&p.delivery_address)
            .bind(&p.package_type)
            .bind(i64::from(p.weight.0))
            .bind(p.dimensions_mm[0])
            .bind(p.dimensions_mm[1])
            .bind(p.dimensions_mm[2])
            .bind(p.declared_value.0)
            .bind(p.cod_amount.0)
            .bind(tariff.id)
            .bind(quoted.0)
            .bind(tariff.storage_grace_hours)
            .bind(tariff.storage_fee_per_day.0)
            .bind(tariff.cod_fee.0)
            .bind(ParcelStatus::Registered.as_str())
            .bind(now)
            .bind(search::parcel_search_text(
                p.sender.name.trim(),
                p.recipient.name.trim(),
            ))
            .fetch_one(&mut *tx)
            .await?;
            parcel_id = Some(id);
            break;
        }
        let id = parcel_id.ok_or_else(|| {
            StoreError::Conflict("no free tracking code after 5 draws".to_owned())
        })?;
        insert_event(
            &mut tx,
            id,
            "register",
            None,
            ParcelStatus::Registered,
            actor,
            None,
            now,
        )
        .await?;
        insert_payment(&mut tx, id, "shipping", quoted, actor, now).await?;
        // its list item, from the row as the database holds it
        let row = sqlx::query(&format!(
            "SELECT {PARCEL_COLUMNS} FROM parcels WHERE id = $1"
        ))
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
        let parcel = parcel_from(&row)?;
        sqlx::query("UPDATE parcels SET list_item = $1 WHERE id = $2")
            .bind(listed(&parcel)?.json())
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Registered {
            parcel,
            pickup_pin: pin,
        })
    }

    /// One parcel.
    pub async fn parcel(&self, id: i64) -> StoreResult<Parcel> {
        let row = self
            .row_by_id(
                &format!("SELECT {PARCEL_COLUMNS} FROM parcels WHERE id = $1"),
                id,
                "parcel",
            )
            .await?;
        parcel_from(&row)
    }

    /// The parcel with this tracking code.
    pub async fn parcel_by_code(&self, code: &TrackingCode) -> StoreResult<Option<Parcel>> {
        let row = sqlx::query(&format!(
            "SELECT {PARCEL_COLUMNS} FROM parcels WHERE tracking_code = $1"
        ))
        .bind(code.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(parcel_from).transpose()
    }

    /// A page of parcels, newest first, with the total that match.
    ///
    /// One statement answers both (see `Store::page_statement`).
    /// Without a search, the total is summed from `parcel_counts` (kept by
    /// triggers) and the page is read from an index walked newest first. A
    /// search first gathers the matching ids, through the tracking-code
    /// index, the name words' index (FTS5 on SQLite, a tsvector's GIN index
    /// on PostgreSQL) and an index on the phones' last 7 digits, then counts
    /// and pages them (see `Store::search_parcels`). Each row of a page is
    /// the parcel's kept list item, handed on as it was written (see
    /// [`ListedParcel`]).
    pub async fn list_parcels(&self, f: &ParcelFilter) -> StoreResult<ParcelPage> {
        let page_size = f.page_size.clamp(1, 200);
        let page = f.page.max(1);
        let limit = i64::from(page_size);
        let offset = i64::from(page - 1) * limit;
        // The status goes in as a literal (one of the enum's names), not as
        // a bound value: SQLite plans `status = ?` again on every run, since
        // the value decides whether the partial index `parcels_registered`
        // applies, and that planning cost more than the query.
        let status = f.status.map(|st| format!("'{}'", st.as_str()));
        let q = f.q.as_deref().map(str::trim).filter(|q| !q.is_empty());
        if let Some(q) = q {
            return self
                .search_parcels(q, status.as_deref(), f.branch_id, page, page_size)
                .await;
        }
        // The page's bounds (`lim`, `off`) go in as literals too: with a
        // bound LIMIT, PostgreSQL's generic plan must assume a large one, so
        // it plans the statement again on every run.
        let (lim, off) = (limit, offset);
        let mut sql = ListSql::new(self.engine);
        let branch = f.branch_id.map(|b| sql.bind(Bind::Int(b)));
        // The status and branch filters on the rows of `table` (parcels or
        // parcel_counts), as SQL conditions.
        let filters = |table: &str| status_branch(status.as_deref(), branch.as_deref(), table);
        let total = format!(
            "(SELECT CAST(COALESCE(SUM(c.n), 0) AS BIGINT) FROM parcel_counts c{})",
            where_all(&filters("c"))
        );
        let page_of = PageSql::new("", &total, "CAST(0 AS BIGINT)");
        let columns = &page_of.columns;
        let rows = match &branch {
            None => format!(
                "SELECT {columns} FROM parcels p{} ORDER BY p.id DESC LIMIT {lim} OFFSET {off}",
                where_all(&filters("p"))
            ),
            // The newest `limit + offset` from the origin index and from the
            // destination index hold the page between them.
            Some(b) => {
                let k = limit + offset;
                let st = status
                    .as_ref()
                    .map(|st| format!("status = {st} AND "))
                    .unwrap_or_default();
                let side = |column: &str, what: &str| {
                    format!(
                        "SELECT {what} FROM parcels WHERE {st}{column} = {b} \
                         ORDER BY id DESC LIMIT {k}"
                    )
                };
                match self.engine {
                    // SQLite: the page's ids from both, then their rows
                    Engine::Sqlite => {
                        let ids = format!(
                            "SELECT id FROM (SELECT id FROM ({}) AS o UNION SELECT id FROM ({}) AS d) \
                             AS u ORDER BY id DESC LIMIT {lim} OFFSET {off}",
                            side("origin_branch_id", "id"),
                            side("destination_branch_id", "id")
                        );
                        page_rows(self.engine, columns, &ids, lim)
                    }
                    // PostgreSQL: both walks merged newest first (Merge
                    // Append), a parcel from and to the branch kept once,
                    // the walks stopping at the page. The first page reads
                    // the items in the walks, so each row is read once
                    // (158 → 59 buffers a page). Deeper pages merge the ids
                    // and read the page's rows by id: walks that read the
                    // items of every row they skip were planned, past a
                    // few thousand, as the whole filter's rows sorted (page
                    // 40: 1.2 → 30 ms).
                    Engine::Postgres => {
                        let merged = |what: &str| {
                            format!(
                                "SELECT DISTINCT ON (id) {what} FROM (({}) UNION ALL ({})) AS u \
                                 ORDER BY id DESC LIMIT {lim} OFFSET {off}",
                                side("origin_branch_id", what),
                                side("destination_branch_id", what)
                            )
                        };
                        if offset == 0 {
                            format!(
                                "SELECT {columns} FROM ({}) AS p ORDER BY p.id DESC",
                                merged("id, list_item")
                            )
                        } else {
                            page_rows(self.engine, columns, &merged("id"), lim)
                        }
                    }
                }
            }
        };
        let (items, total, _) = self.page_row(&page_of, &rows, &sql.binds).await?;
        Ok(ParcelPage {
            items,
            total,
            total_exact: true,
            page,
            page_size,
        })
    }

    /// A page of the parcels that match `q`: the tracking codes it starts,
    /// the customers whose phone ends with its digits (7 or more), and the
    /// parcels whose sender's and recipient's names hold a word starting
    /// with each word of `q` (see [`search`]). Each of these is read newest
    /// first and only as far as the page reaches; the page is their union.
    /// The total is counted up to `SEARCH_COUNT_CAP`.
    ///
    /// The statements are prepared on both engines: which way a name is
    /// read (through the index, or walking the newest parcels once it is
    /// known to be common) is decided here, not by the planner, so a plan
    /// made without the values serves them all. Planned again on every
    /// run, a search of a phone spent more time planning than running.
    async fn search_parcels(
        &self,
        q: &str,
        status: Option<&str>,
        branch_id: Option<i64>,
        page: u32,
        page_size: u32,
    ) -> StoreResult<ParcelPage> {
        let sqlite = self.engine == Engine::Sqlite;
        let limit = i64::from(page_size);
        let offset = i64::from(page - 1) * limit;
        let mut sql = ListSql::new(self.engine);
        let branch = branch_id.map(|b| sql.bind_plain(Bind::Int(b)));
        let filters = status_branch(status, branch.as_deref(), "p");
        // Each arm: a SELECT of matching parcel ids (`id`) and the column
        // that orders it newest first.
        let mut arms: Vec<(String, &str)> = Vec::new();
        // PostgreSQL: the name arm as a walk of the newest parcels
        let mut walk_arm: Option<(usize, String)> = None;
        // PostgreSQL: the name arm reads `parcel_words`, newest first
        let mut newest_words = false;
        // PostgreSQL: how the count of a one-word name arm is read
        let mut count_by = ArmCount::default();
        // Words with a digit are a code or a phone, not a name: searched as
        // names too, they made PostgreSQL scan every parcel for a word its
        // planner could not tell was rare (a code prefix: 75 ms).
        let words: Vec<String> = search::search_words(q)
            .into_iter()
            .filter(|w| !w.chars().any(char::is_numeric))
            .take(MAX_SEARCH_WORDS)
            .collect();
        if !words.is_empty() {
            if sqlite {
                // Several words: pairs of the whole words they start
                // (migration 0007) when there are few; else, and for one
                // word, the AND of their prefixes.
                let pairs = if words.len() >= 2 {
                    self.sqlite_pairs_query(&words).await?
                } else {
                    None
                };
                let (table, by) = if pairs.is_some() {
                    ("parcels_pairs", "parcels_pairs.rowid")
                } else {
                    ("parcels_search", "parcels_search.rowid")
                };
                let text = pairs.unwrap_or_else(|| {
                    words
                        .iter()
                        .map(|w| format!("\"{w}\"*"))
                        .collect::<Vec<_>>()
                        .join(" AND ")
                });
                let m = sql.bind_plain(Bind::Text(text));
                arms.push(if filters.is_empty() {
                    (
                        format!("SELECT rowid AS id FROM {table} WHERE {table} MATCH {m}"),
                        "rowid",
                    )
                } else {
                    (
                        format!(
                            "SELECT p.id AS id FROM {table} JOIN parcels p ON p.id = {table}.rowid \
                             WHERE {table} MATCH {m} AND {}",
                            filters.join(" AND ")
                        ),
                        by,
                    )
                });
            } else if let Some(end) = words_arm_range(&words, &filters) {
                // One word of 3 characters or more, alone: each name word it
                // starts, its parcels newest first from the B-tree of
                // migration 0007, as far as the count and the page reach.
                // A parcel can hold two of those words ("mar": Marta and
                // Martínez): so the arm is DISTINCT (the newest `n` of each
                // word hold the newest `n` parcels, and their count capped
                // at `n` is the count of all capped at `n`). The page's
                // few dozen ids go through that hash whatever the word;
                // the count, when it is read (no common word), streams
                // without it when the word starts one word only (a whole
                // surname): counting a thousand through a hash doubled
                // that count's cost (server CPU, 0.46 → 0.86 ms). Choosing
                // so for the page as well, in the statement, cost the
                // server a tenth more for a one-word search, for no gain
                // (a plan twice the size, the word's range read six times).
                let from = sql.bind_plain(Bind::Text(words[0].clone()));
                let end = sql.bind_plain(Bind::Text(end));
                let in_range =
                    format!("word >= CAST({from} AS TEXT) AND word < CAST({end} AS TEXT)");
                let started = format!("(SELECT word FROM name_words WHERE {in_range})");
                let read = format!(
                    "{started} AS w CROSS JOIN LATERAL (SELECT parcel_id AS id FROM parcel_words pw \
                     WHERE pw.word = w.word ORDER BY pw.parcel_id DESC LIMIT {REACH}) AS x"
                );
                // one of the words it starts is in over 1,000 parcels
                // (migration 0009): the count is not read
                count_by.broad = Some(format!(
                    "EXISTS (SELECT 1 FROM name_words WHERE {in_range} AND common)"
                ));
                count_by.single = Some((
                    format!("(SELECT COUNT(*) FROM name_words WHERE {in_range}) = 1"),
                    format!("SELECT x.id AS id FROM {read}"),
                ));
                arms.push((format!("SELECT DISTINCT x.id AS id FROM {read}"), "id"));
                newest_words = true;
            } else {
                // Folded words hold letters and digits only: quoted, each is
                // one lexeme as it stands.
                let query = |suffix: &str| {
                    words
                        .iter()
                        .map(|w| format!("'{w}'{suffix}"))
                        .collect::<Vec<_>>()
                        .join(" & ")
                };
                let exact = sql.bind_plain(Bind::Text(query("")));
                let m = sql.bind_plain(Bind::Text(query(":*")));
                let arm = |test: String| {
                    let conds: Vec<String> = std::iter::once(test)
                        .chain(filters.iter().cloned())
                        .collect();
                    format!("SELECT p.id AS id FROM parcels p{}", where_all(&conds))
                };
                // The walk's form: `ts_match_vq` is `@@` as a function,
                // which the GIN index does not serve (see below); it tests
                // the row's words with prefixes.
                walk_arm = Some((
                    arms.len(),
                    arm(format!(
                        "ts_match_vq(p.search_words, to_tsquery('simple', {m}))"
                    )),
                ));
                // The index holds every prefix of every word (migration
                // 0006): exact lexemes, no partial match. Several words
                // alone read pairs of whole words (migration 0008) when
                // they start few words.
                let read = if filters.is_empty() {
                    pairs_arm(&mut sql, &words, &exact)
                } else {
                    None
                };
                arms.push((
                    read.unwrap_or_else(|| {
                        arm(format!(
                            "parcel_name_prefixes(p.search_text) @@ CAST({exact} AS tsquery)"
                        ))
                    }),
                    "p.id",
                ));
            }
        }
        // In byte order: SQLite compares text byte by byte; PostgreSQL's
        // ~>=~ and ~<~ do too, whatever the database's collation, and walk
        // `parcels_tracking_code_prefix`.
        if let Some((from, to)) = code_range(q) {
            let from = sql.bind_plain(Bind::Text(from));
            let to = sql.bind_plain(Bind::Text(to));
            let (ge, lt) = if sqlite { (">=", "<") } else { ("~>=~", "~<~") };
            let mut conds = vec![format!(
                "p.tracking_code {ge} {from} AND p.tracking_code {lt} {to}"
            )];
            conds.extend(filters.iter().cloned());
            arms.push((
                format!("SELECT p.id AS id FROM parcels p{}", where_all(&conds)),
                "p.id",
            ));
        }
        let digits: String = q.chars().filter(char::is_ascii_digit).collect();
        if digits.len() >= 7 {
            // the index on the phone's last 7 characters finds the
            // candidates; the comparison of the whole end checks them
            let end = sql.bind_plain(Bind::Text(digits[digits.len() - 7..].to_owned()));
            let whole = sql.bind_plain(Bind::Text(digits));
            let who = if sqlite {
                format!(
                    "SELECT id FROM customers WHERE substr(phone, -7) = {end} \
                     AND substr(phone, -length({whole})) = {whole}"
                )
            } else {
                format!(
                    "SELECT id FROM customers WHERE right(phone, 7) = {end} \
                     AND right(phone, length({whole})) = {whole}"
                )
            };
            for side in ["sender_id", "recipient_id"] {
                let mut conds = vec![format!("p.{side} IN ({who})")];
                conds.extend(filters.iter().cloned());
                arms.push((
                    format!("SELECT p.id AS id FROM parcels p{}", where_all(&conds)),
                    "p.id",
                ));
            }
        }
        if arms.is_empty() {
            return Ok(ParcelPage {
                items: Vec::new(),
                total: 0,
                total_exact: true,
                page,
                page_size,
            });
        }
        // The matches are first gathered, up to the cap, and the page sorted
        // from them: one pass over the indexes, for most searches (a code, a
        // phone, a full name) the only one. Past the cap the search is
        // broad, and each arm is read newest first as far as the page.
        // PostgreSQL's GIN index finds the matches of a rare word at once
        // but in no order, and its planner cannot tell a rare prefix from a
        // common one (it walked every parcel newest first for a word that
        // matched none: 50 ms); so that second statement walks the newest
        // parcels for a word known to be common (`walk_arm`). FTS5 reads
        // its matches newest first either way.
        //
        // A search of one name word alone reads its page newest first
        // straight from its arm (FTS5 on SQLite, `parcel_words` on
        // PostgreSQL read one word's matches so at almost no extra cost)
        // and counts apart: a broad name needs no second statement for its
        // first twenty pages. The AND of several words costs a quarter more
        // read backwards, and a full name is seldom broad.
        let newest_first = (sqlite || newest_words) && arms.len() == 1 && words.len() == 1;
        let gathered = self
            .search_page(
                &arms,
                &sql,
                (offset, limit),
                SEARCH_COUNT_CAP + 1,
                Gather::Counted { newest_first },
                &count_by,
            )
            .await?;
        let (items, counted, n) = if gathered.1 <= SEARCH_COUNT_CAP {
            let (items, counted, _) = gathered;
            return Ok(ParcelPage {
                items,
                total: counted,
                total_exact: true,
                page,
                page_size,
            });
        } else if newest_first && offset + limit <= SEARCH_COUNT_CAP {
            (gathered.0, SEARCH_COUNT_CAP, gathered.2)
        } else {
            if let Some((i, walk)) = walk_arm {
                arms[i].0 = walk;
            }
            self.search_page(
                &arms,
                &sql,
                (offset, limit),
                SEARCH_COUNT_CAP,
                Gather::Page,
                &ArmCount::default(),
            )
            .await?
        };
        // matches known to exist: the rows before this page, on it and the
        // next one
        let seen = if n == 0 { 0 } else { offset + n };
        let (total, total_exact) = if n > 0 && n <= limit {
            // the last page: every match is behind it or on it
            (seen, true)
        } else {
            (counted.max(seen), false)
        };
        Ok(ParcelPage {
            items,
            total,
            total_exact,
            page,
            page_size,
        })
    }

    /// SQLite: the FTS5 query of `parcels_pairs` (migration 0007) for a
    /// search of two or more `words`: each word becomes the whole words of
    /// `name_words` it starts, and a parcel matches when, for every two
    /// search words, it holds one of their pairs (the same as holding a
    /// word that each search word starts; a word is paired with itself for
    /// two search words that start the same word). `None` when a word
    /// starts no word (the prefixes find nothing as fast) or they start
    /// more than `MAX_NAME_PAIRS` pairs.
    async fn sqlite_pairs_query(&self, words: &[String]) -> StoreResult<Option<String>> {
        let mut whole: Vec<Vec<String>> = Vec::with_capacity(words.len());
        for word in words {
            let Some(end) = prefix_end(word) else {
                return Ok(None);
            };
            let started = self.name_words_started(word, &end).await?;
            if started.is_empty() || started.len() > MAX_NAME_PAIRS {
                return Ok(None);
            }
            whole.push(started);
        }
        let mut pairs = 0;
        let mut groups = Vec::new();
        for (i, these) in whole.iter().enumerate() {
            for those in &whole[i + 1..] {
                let mut group = Vec::with_capacity(these.len() * those.len());
                for a in these {
                    for b in those {
                        pairs += 1;
                        if pairs > MAX_NAME_PAIRS {
                            return Ok(None);
                        }
                        let (x, y) = if a <= b { (a, b) } else { (b, a) };
                        group.push(format!("\"{x}_{y}\""));
                    }
                }
                groups.push(format!("({})", group.join(" OR ")));
            }
        }
        Ok(Some(groups.join(" AND ")))
    }

    /// SQLite: the words of `name_words` from `word` up to `end`, at most
    /// `MAX_NAME_PAIRS + 1` of them.
    async fn name_words_started(&self, word: &str, end: &str) -> StoreResult<Vec<String>> {
        let statement = format!(
            "SELECT word FROM name_words WHERE word >= $1 AND word < $2 ORDER BY word LIMIT {}",
            MAX_NAME_PAIRS + 1
        );
        let binds = [Bind::Text(word.to_owned()), Bind::Text(end.to_owned())];
        let mut started = Vec::new();
        if let Some(reads) = &self.reads {
            reads.rows(&statement, &binds, |r| {
                started.extend(r.text(0)?);
                Ok(())
            })?;
        } else {
            let mut query = sqlx::query(&statement);
            for b in &binds {
                query = b.bind(query);
            }
            for r in query.fetch_all(&self.pool).await? {
                started.extend(r.text(0)?);
            }
        }
        Ok(started)
    }

    /// One statement of a search: the page of the union of `arms` (each a
    /// SELECT of parcel ids and the column that orders it), the matches
    /// counted up to `cap`, and how many of the page and the row after it
    /// exist. `Gather::Counted`: every arm is gathered up to `cap` (newest
    /// first, or as its index yields them) and the page sorted from those;
    /// `Gather::Page`: each arm is read newest first and only as far as the
    /// page, and the matches are not counted (the caller knows there are
    /// `cap` or more).
    async fn search_page(
        &self,
        arms: &[(String, &str)],
        sql: &ListSql,
        (offset, limit): (i64, i64),
        cap: i64,
        gather: Gather,
        count_by: &ArmCount,
    ) -> StoreResult<(Vec<ListedParcel>, i64, i64)> {
        // An arm read only as far as `n` rows: `REACH` in it becomes `n`.
        let reach = |arm: &str, n: i64| arm.replace(REACH, &n.to_string());
        let union = |cut: i64, order: bool| {
            arms.iter()
                .enumerate()
                .map(|(i, (arm, by))| {
                    let order = if order {
                        format!(" ORDER BY {by} DESC")
                    } else {
                        String::new()
                    };
                    format!(
                        "SELECT id FROM ({}{order} LIMIT {cut}) AS a{i}",
                        reach(arm, cut)
                    )
                })
                .collect::<Vec<_>>()
                .join(" UNION ")
        };
        let n = "(SELECT COUNT(*) FROM ids)";
        let page_of = if let (Gather::Counted { newest_first: true }, [(arm, by)]) = (gather, arms)
        {
            // One arm read newest first: the page straight from it, and the
            // count from a second read of it, which keeps no ids and needs
            // no order (FTS5 reads forward at less cost than backward; a
            // surname on SQLite: 0.88 → 0.56 ms a page).
            let with = format!(
                "WITH ids AS (SELECT id FROM ({} ORDER BY {by} DESC LIMIT {} OFFSET {offset}) AS a0)",
                reach(arm, offset + limit + 1),
                limit + 1
            );
            let count = format!(
                "(SELECT COUNT(*) FROM ({} LIMIT {cap}) AS c0)",
                reach(arm, cap)
            );
            let mut cases = String::new();
            // known to reach the cap: not read
            if let Some(b) = &count_by.broad {
                cases.push_str(&format!(" WHEN {b} THEN CAST({cap} AS BIGINT)"));
            }
            if let Some((one, arm)) = &count_by.single {
                cases.push_str(&format!(
                    " WHEN {one} THEN (SELECT COUNT(*) FROM ({} LIMIT {cap}) AS c1)",
                    reach(arm, cap)
                ));
            }
            let count = if cases.is_empty() {
                count
            } else {
                format!("CASE{cases} ELSE {count} END")
            };
            PageSql::new(&with, &count, n)
        } else if let Gather::Counted { newest_first } = gather {
            // PostgreSQL: each arm planned apart from the LIMIT that stops
            // it. Planned with it, a name arm was a sequential scan expected
            // to meet a thousand matches soon (a first name, 5,000 matches:
            // 22 ms); planned alone it is read through the GIN index (7 ms),
            // and the LIMIT still stops reading the rows it finds.
            let (arms_apart, union) = if self.engine == Engine::Postgres && !newest_first {
                let apart: String = arms
                    .iter()
                    .enumerate()
                    .map(|(i, (arm, _))| format!("h{i} AS MATERIALIZED ({}), ", reach(arm, cap)))
                    .collect();
                let union = (0..arms.len())
                    .map(|i| format!("SELECT id FROM (SELECT id FROM h{i} LIMIT {cap}) AS a{i}"))
                    .collect::<Vec<_>>()
                    .join(" UNION ");
                (apart, union)
            } else {
                (String::new(), union(cap, newest_first))
            };
            let with = format!(
                "WITH {arms_apart}m AS MATERIALIZED ({union}), \
                 ids AS (SELECT id FROM m ORDER BY id DESC LIMIT {} OFFSET {offset})",
                limit + 1
            );
            PageSql::new(&with, "(SELECT COUNT(*) FROM m)", n)
        } else {
            let with = format!(
                "WITH ids AS (SELECT id FROM ({}) AS u ORDER BY id DESC LIMIT {} OFFSET {offset})",
                union(offset + limit + 1, true),
                limit + 1,
            );
            PageSql::new(&with, &format!("CAST({cap} AS BIGINT)"), n)
        };
        let rows = page_rows(
            self.engine,
            &page_of.columns,
            &format!("SELECT id FROM ids ORDER BY id DESC LIMIT {limit}"),
            limit,
        );
        self.page_row(&page_of, &rows, &sql.binds).await
    }

    /// The page's parcels and its two counts: `rows` (after `page`'s WITH
    /// clause) and, when it finds no parcel, `page`'s counts alone. SQLite
    /// runs them on the calling thread (see [`reads`]), or through the pool
    /// for a database without a file. PostgreSQL runs them on a pool of
    /// its own driver, not through `Any`: turning each row into an `AnyRow`
    /// was a third of the list's CPU.
    async fn page_row(
        &self,
        page: &PageSql,
        rows: &str,
        binds: &[Bind],
    ) -> StoreResult<(Vec<ListedParcel>, i64, i64)> {
        let mut found = PageRows::default();
        for (statement, parcels) in [
            (format!("{} {rows}", page.with), true),
            (page.counts(), false),
        ] {
            if let Some(reads) = &self.reads {
                reads.rows(&statement, binds, |r| found.push(r, parcels))?;
            } else if let Some(pg) = &self.pg_reads {
                for r in pg.rows(&statement, binds).await? {
                    found.push(&r, parcels)?;
                }
            } else {
                let mut query = sqlx::query(&statement);
                for b in binds {
                    query = b.bind(query);
                }
                for r in query.fetch_all(&self.pool).await? {
                    found.push(&r, parcels)?;
                }
            }
            if let Some((a, b)) = found.counts {
                // the items not kept: built from their parcels' columns
                for &i in &found.missing {
                    let parcel = self.parcel(found.parcels[i].id).await?;
                    found.parcels[i] = listed(&parcel)?;
                }
                return Ok((found.parcels, a, b));
            }
        }
        Err(StoreError::Database("a page without its counts".to_owned()))
    }

    /// Whether `pin` is the parcel's pickup PIN.
    pub async fn check_pickup_pin(&self, parcel_id: i64, pin: &str) -> StoreResult<bool> {
        let row: Option<(String, String)> =
            sqlx::query_as("SELECT tracking_code, pickup_pin_hash FROM parcels WHERE id = $1")
                .bind(parcel_id)
                .fetch_optional(&self.pool)
                .await?;
        let (code, hash) = row.ok_or(StoreError::NotFound("parcel"))?;
        Ok(pin_hash(&code, pin) == hash)
    }

    /// A parcel's history, oldest first.
    pub async fn history(&self, parcel_id: i64) -> StoreResult<Vec<ParcelEventRow>> {
        let rows = sqlx::query(
            "SELECT id, event, from_status, to_status, actor_id, branch_id, reason, created_at \
             FROM parcel_events WHERE parcel_id = $1 ORDER BY id",
        )
        .bind(parcel_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ParcelEventRow {
                    id: r.try_get("id")?,
                    event: r.try_get("event")?,
                    from_status: r
                        .try_get::<Option<String>, _>("from_status")?
                        .and_then(|s| ParcelStatus::parse(&s)),
                    to_status: status_from(&r.try_get::<String, _>("to_status")?)?,
                    actor_id: r.try_get("actor_id")?,
                    branch_id: r.try_get("branch_id")?,
                    reason: r.try_get("reason")?,
                    created_at_ms: r.try_get("created_at")?,
                })
            })
            .collect()
    }

    /// A parcel's payments, voided ones included.
    pub async fn payments(&self, parcel_id: i64) -> StoreResult<Vec<Payment>> {
        let rows = sqlx::query(
            "SELECT id, parcel_id, kind, amount, voided_at, void_reason FROM payments WHERE parcel_id = $1 ORDER BY id",
        )
        .bind(parcel_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Payment {
                    id: r.try_get("id")?,
                    parcel_id: r.try_get("parcel_id")?,
                    kind: r.try_get("kind")?,
                    amount: Money(r.try_get("amount")?),
                    voided_at_ms: r.try_get("voided_at")?,
                    void_reason: r.try_get("void_reason")?,
                })
            })
            .collect()
    }

    /// Applies `event` to a parcel the caller saw at `version`: checks the
    /// lifecycle and the actor's role, then writes the new status, the
    /// history line, the storage-fee and COD payments of a delivery, and the
    /// outbox notifications, all in one transaction. A parcel changed since
    /// `version` gives [`StoreError::Conflict`] and changes nothing.
    pub async fn apply_event(
        &self,
        parcel_id: i64,
        version: i64,
        event: &ParcelEvent,
        actor: &Actor,
    ) -> StoreResult<Parcel> {
        let now = self.now();
        let mut tx = self.begin().await?;
        let row = sqlx::query(&format!(
            "SELECT {PARCEL_COLUMNS} FROM parcels WHERE id = $1"
        ))
        .bind(parcel_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound("parcel"))?;
        let parcel = parcel_from(&row)?;
        if parcel.version != version {
            return Err(StoreError::Conflict(format!(
                "parcel {} is at version {}, not {version}: reload it",
                parcel.tracking_code, parcel.version
            )));
        }
        let route = Route {
            service: parcel.service,
            same_branch: parcel.origin_branch_id == parcel.destination_branch_id,
        };
        let t = transition(parcel.status, event, actor.role, route)?;
        let arrived_at = if t.to == ParcelStatus::AtDestination && parcel.arrived_at_ms.is_none() {
            Some(now)
        } else {
            parcel.arrived_at_ms
        };
        let delivered_at = (t.to == ParcelStatus::Delivered).then_some(now);
        // the parcel as it will be: the row and its list item are both
        // written from it
        let next = Parcel {
            status: t.to,
            failed_attempts: parcel.failed_attempts + i64::from(t.failed_attempt),
            version: parcel.version + 1,
            arrived_at_ms: arrived_at,
            delivered_at_ms: delivered_at,
            ..parcel.clone()
        };
        let changed = sqlx::query(
            "UPDATE parcels SET status = $1, failed_attempts = $2, version = $3, \
             arrived_at = $4, delivered_at = $5, updated_at = $6, list_item = $7 \
             WHERE id = $8 AND version = $9",
        )
        .bind(next.status.as_str())
        .bind(next.failed_attempts)
        .bind(next.version)
        .bind(next.arrived_at_ms)
        .bind(next.delivered_at_ms)
        .bind(now)
        .bind(listed(&next)?.json())
        .bind(parcel_id)
        .bind(version)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed != 1 {
            return Err(StoreError::Conflict(format!(
                "parcel {} changed while this change was made: reload it",
                parcel.tracking_code
            )));
        }
        let reason = match event {
            ParcelEvent::FailAttempt { reason }
            | ParcelEvent::Cancel { reason }
            | ParcelEvent::Return { reason } => Some(reason.as_str()),
            _ => None,
        };
        insert_event(
            &mut tx,
            parcel_id,
            event.name(),
            Some(parcel.status),
            t.to,
            actor,
            reason,
            now,
        )
        .await?;
        if t.to == ParcelStatus::Delivered {
            let fee = storage_fee(&parcel, arrived_at, now);
            if fee > Money::ZERO {
                insert_payment(&mut tx, parcel_id, "storage", fee, actor, now).await?;
            }
            if parcel.cod_amount > Money::ZERO {
                insert_payment(&mut tx, parcel_id, "cod", parcel.cod_amount, actor, now).await?;
            }
        }
        self.write_outbox(&mut tx, &parcel, event, now).await?;
        tx.commit().await?;
        Ok(next)
    }

    async fn write_outbox(
        &self,
        tx: &mut Transaction<'static, Any>,
        parcel: &Parcel,
        event: &ParcelEvent,
        now: i64,
    ) -> StoreResult<()> {
        let name = |id: i64| async move {
            sqlx::query_scalar::<_, String>("SELECT name FROM branches WHERE id = $1")
                .bind(id)
                .fetch_one(&self.pool)
                .await
        };
        let contact = |id: i64| async move {
            sqlx::query_as::<_, (String, Option<String>)>(
                "SELECT phone, email FROM customers WHERE id = $1",
            )
            .bind(id)
            .fetch_one(&self.pool)
            .await
        };
        let origin = name(parcel.origin_branch_id).await?;
        let destination = name(parcel.destination_branch_id).await?;
        let sender = contact(parcel.sender_id).await?;
        let recipient = contact(parcel.recipient_id).await?;
        let facts = messages::Facts {
            code: parcel.tracking_code.as_str(),
            service: parcel.service,
            origin: &origin,
            destination: &destination,
            sender: (&sender.0, sender.1.as_deref()),
            recipient: (&recipient.0, recipient.1.as_deref()),
        };
        for m in messages::for_event(event, &facts) {
            sqlx::query(
                "INSERT INTO notifications (parcel_id, channel, recipient, template, body, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(parcel.id)
            .bind(m.channel)
            .bind(&m.recipient)
            .bind(m.template)
            .bind(&m.body)
            .bind(now)
            .execute(&mut **tx)
            .await?;
        }
        Ok(())
    }

    /// Notifications of a parcel, oldest first.
    pub async fn notifications(&self, parcel_id: i64) -> StoreResult<Vec<Notification>> {
        let rows = sqlx::query(&format!(
            "SELECT {NOTIFICATION_COLUMNS} FROM notifications WHERE parcel_id = $1 ORDER BY id"
        ))
        .bind(parcel_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(notification_from).collect()
    }
}

/// A value bound to a query built at run time.
#[derive(Clone, Debug)]
enum Bind {
    Text(String),
    Int(i64),
}

type AnyQuery<'q> = sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>>;

impl Bind {
    fn bind<'q>(&self, q: AnyQuery<'q>) -> AnyQuery<'q> {
        match self {
            Self::Text(t) => q.bind(t.clone()),
            Self::Int(i) => q.bind(*i),
        }
    }
}

/// The values of a statement built at run time, numbered as they are bound.
#[derive(Debug)]
struct ListSql {
    engine: Engine,
    binds: Vec<Bind>,
}

impl ListSql {
    fn new(engine: Engine) -> Self {
        Self {
            engine,
            binds: Vec::new(),
        }
    }

    /// Binds `b` as a plain `$n` on both engines: for a search's values,
    /// whose plans (see `Store::search_parcels`) do not hang on them.
    fn bind_plain(&mut self, b: Bind) -> String {
        self.binds.push(b);
        format!("${}", self.binds.len())
    }

    /// Binds `b` and returns how the statement reads it: `$n` on SQLite;
    /// on PostgreSQL `(SELECT CAST($n AS …))`. PostgreSQL plans a prepared
    /// statement anew on every run while its values change the estimates
    /// (a custom plan), and for a list that planning took longer than the
    /// run. Behind a sub-select the values no longer change the estimates,
    /// so it keeps one generic plan, whose indexes suit every value.
    fn bind(&mut self, b: Bind) -> String {
        let ty = match b {
            Bind::Text(_) => "TEXT",
            Bind::Int(_) => "BIGINT",
        };
        self.binds.push(b);
        let n = self.binds.len();
        match self.engine {
            Engine::Sqlite => format!("${n}"),
            Engine::Postgres => format!("(SELECT CAST(${n} AS {ty}))"),
        }
    }
}

/// A search counts its matches up to this many; past it, the page says
/// `total_exact: false`.
const SEARCH_COUNT_CAP: i64 = 1000;

/// The words of a search text that count (the rest are ignored).
const MAX_SEARCH_WORDS: usize = 8;

/// A name word is `common` in `name_words` when more parcels than this
/// hold it (migration 0009 counts to it); a search's count stops there.
const COMMON_WORD_PARCELS: i64 = 1_001;
const _: () = assert!(SEARCH_COUNT_CAP + 1 == COMMON_WORD_PARCELS);

/// How the count of a search's one arm is read besides the arm itself
/// (PostgreSQL's one-word name arm, see `Store::search_parcels`).
#[derive(Default)]
struct ArmCount {
    /// A condition true when the matches are known to pass the count's
    /// cap without reading them (a word in over 1,000 parcels).
    broad: Option<String>,
    /// A condition, and the arm to count when it holds: the same matches
    /// read at less cost (without the arm's DISTINCT).
    single: Option<(String, String)>,
}

/// Marks where a search arm's inner reads stop (`LIMIT {REACH}`): the
/// statement puts in how far it reads the arm (`Store::search_page`).
const REACH: &str = "/*reach*/";

/// The statement of a page's parcels, newest first: `columns` of the
/// parcels whose ids `ids` selects (distinct, newest first, at most
/// `limit`). PostgreSQL joins the ids in their order: through `IN` it
/// hashed them and sorted the whole rows again (pgbench, a surname's page:
/// some 15% more a second).
fn page_rows(engine: Engine, columns: &str, ids: &str, limit: i64) -> String {
    match engine {
        Engine::Sqlite => format!(
            "SELECT {columns} FROM parcels p WHERE p.id IN ({ids}) ORDER BY p.id DESC LIMIT {limit}"
        ),
        Engine::Postgres => format!(
            "SELECT {columns} FROM ({ids}) AS i JOIN parcels p ON p.id = i.id ORDER BY i.id DESC"
        ),
    }
}

/// The status and branch filters of a list on the rows of `table`.
fn status_branch(status: Option<&str>, branch: Option<&str>, table: &str) -> Vec<String> {
    let mut conds = Vec::new();
    if let Some(st) = status {
        conds.push(format!("{table}.status = {st}"));
    }
    if let Some(b) = branch {
        conds.push(format!(
            "({table}.origin_branch_id = {b} OR {table}.destination_branch_id = {b})"
        ));
    }
    conds
}

/// PostgreSQL: the end of the range of name words that `words` starts
/// (its last character raised by one; byte order is code point order in
/// UTF-8), when the search is one word of 3 characters or more and nothing
/// else filters it. Shorter words start too many name words for each to be
/// read apart; they and filtered searches go through the GIN index.
fn words_arm_range(words: &[String], filters: &[String]) -> Option<String> {
    let [word] = words else { return None };
    if !filters.is_empty() || word.chars().count() < 3 {
        return None;
    }
    prefix_end(word)
}

/// How many connections the PostgreSQL pool of the list and search holds:
/// two for each core the process may use, at most 16 (with the store's
/// other pool of 16, well within PostgreSQL's default of 100).
fn read_connections() -> usize {
    std::thread::available_parallelism()
        .map_or(2, std::num::NonZeroUsize::get)
        .saturating_mul(2)
        .min(16)
}

/// Most pairs of whole words a search of several words asks for (the index
/// of PostgreSQL's migration 0008, `parcels_pairs` of SQLite's 0007); past
/// it the search reads the words' prefixes.
const MAX_NAME_PAIRS: usize = 64;

/// PostgreSQL: the name arm of a search of two or more `words` (and no
/// other filter) through pairs of whole words (migration 0008): each
/// search word becomes the words of `name_words` it starts, and a parcel
/// matches when, for every two search words, it holds one of their pairs.
/// That is the same as holding a word that each search word starts (a pair
/// of a word with itself is indexed too, for two search words that start
/// the same word). When the words start more than `MAX_NAME_PAIRS` pairs
/// the arm reads the index of 0006 for `exact` (the words' prefixes as a
/// tsquery) instead; the statement decides, so one plan serves both.
/// `None` when a word has no end of its range (it ends in U+10FFFF) or
/// there is one word.
fn pairs_arm(sql: &mut ListSql, words: &[String], exact: &str) -> Option<String> {
    if words.len() < 2 {
        return None;
    }
    let mut ranges = Vec::with_capacity(words.len());
    for (i, word) in words.iter().enumerate() {
        let end = prefix_end(word)?;
        let from = sql.bind_plain(Bind::Text(word.clone()));
        let end = sql.bind_plain(Bind::Text(end));
        ranges.push(format!("({i}, CAST({from} AS TEXT), CAST({end} AS TEXT))"));
    }
    let pairs = words.len() * (words.len() - 1) / 2;
    // e: each search word's whole words; pr: the pairs of two search
    // words' whole words; terms: each two search words' pairs as one OR;
    // pq: the tsquery, NULL when a search word starts no word or they
    // start too many pairs.
    Some(format!(
        "WITH e AS (SELECT q.i, w.word FROM (VALUES {ranges}) AS q(i, lo, hi) \
         JOIN name_words w ON w.word >= q.lo AND w.word < q.hi), \
         pr AS (SELECT x.i, y.i AS j, CASE WHEN x.word <= y.word THEN x.word || ' ' || y.word \
         ELSE y.word || ' ' || x.word END AS lex FROM e x JOIN e y ON x.i < y.i), \
         terms AS (SELECT '(' || string_agg('''' || lex || '''', ' | ') || ')' AS t \
         FROM pr GROUP BY i, j), \
         pq AS (SELECT CASE WHEN (SELECT COUNT(*) FROM terms) = {pairs} \
         AND (SELECT COUNT(*) FROM pr) <= {MAX_NAME_PAIRS} \
         THEN (SELECT string_agg(t, ' & ') FROM terms) END AS q) \
         SELECT p.id AS id FROM parcels p \
         WHERE parcel_name_pairs(p.search_text) @@ CAST((SELECT q FROM pq) AS tsquery) \
         OR parcel_name_prefixes(p.search_text) \
         @@ CAST(CASE WHEN (SELECT q FROM pq) IS NULL THEN {exact} END AS tsquery)",
        ranges = ranges.join(", ")
    ))
}

/// The first text after every text that `prefix` starts, in byte order
/// (code point order in UTF-8): `prefix` with its last character raised
/// by one. `None` for an empty text or one ending in U+10FFFF.
fn prefix_end(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    let last = chars.pop()?;
    // after U+D7FF come the surrogates, which no string holds
    let next = match last {
        '\u{d7ff}' => '\u{e000}',
        c => char::from_u32(u32::from(c) + 1)?,
    };
    chars.push(next);
    Some(chars.into_iter().collect())
}

/// The tracking codes a search text starts (spaces removed, upper case):
/// from the text up to, not including, the text with its last character
/// raised by one, in byte order. `None` when no code can start so: codes
/// are two letters, nine digits and two letters (`PQ123456785CO`).
fn code_range(q: &str) -> Option<(String, String)> {
    let code = q.to_uppercase().replace(' ', "");
    let shape = |(i, c): (usize, u8)| match i {
        0 | 1 | 11 | 12 => c.is_ascii_uppercase(),
        2..=10 => c.is_ascii_digit(),
        _ => false,
    };
    if !code.bytes().enumerate().all(shape) {
        return None;
    }
    let end = prefix_end(&code)?;
    Some((code, end))
}

#[cfg(test)]
mod range_tests {
    use super::*;

    #[test]
    fn a_prefix_ends_at_its_last_character_raised() {
        assert_eq!(prefix_end("rodr").as_deref(), Some("rods"));
        assert_eq!(prefix_end("muñ").as_deref(), Some("muò"));
        assert_eq!(prefix_end("a\u{d7ff}").as_deref(), Some("a\u{e000}"));
        assert_eq!(prefix_end(""), None);
        assert_eq!(prefix_end("\u{10ffff}"), None);
        assert_eq!(
            code_range("pq 12"),
            Some(("PQ12".to_owned(), "PQ13".to_owned()))
        );
        assert_eq!(code_range("P1"), None);
        assert_eq!(code_range(""), None);
    }
}

/// ` WHERE a AND b …`, or nothing without conditions.
fn where_all(conds: &[String]) -> String {
    if conds.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", conds.join(" AND "))
    }
}

const TARIFF_COLUMNS: &str = "id, package_type, zone, min_grams, max_grams, base_price, per_kg_price, \
     storage_grace_hours, storage_fee_per_day, cod_fee, valid_from, valid_to";

const NOTIFICATION_COLUMNS: &str = "id, parcel_id, channel, recipient, template, body, state, job_id, \
     provider_message_id, error, transport, context";

/// Storage after the grace period: the fee per started day.
fn storage_fee(p: &Parcel, arrived_at: Option<i64>, now: i64) -> Money {
    let Some(arrived) = arrived_at else {
        return Money::ZERO;
    };
    let over = now - arrived - p.storage_grace_hours * 3_600_000;
    if over <= 0 {
        return Money::ZERO;
    }
    let days = (over + 86_399_999) / 86_400_000;
    p.storage_fee_per_day.times(days)
}

fn pin_hash(code: &str, pin: &str) -> String {
    let digest = Sha256::digest(format!("{code}:{pin}").as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn service_str(s: Service) -> &'static str {
    match s {
        Service::BranchPickup => "branch_pickup",
        Service::HomeDelivery => "home_delivery",
    }
}

fn status_from(s: &str) -> Result<ParcelStatus, StoreError> {
    ParcelStatus::parse(s)
        .ok_or_else(|| StoreError::Database(format!("unknown status {s:?} in the database")))
}

async fn upsert_customer_in(
    tx: &mut Transaction<'static, Any>,
    c: &NewCustomer,
    now: i64,
) -> StoreResult<i64> {
    if c.name.trim().is_empty() {
        return Err(StoreError::Invalid {
            field: "name",
            message: "must not be empty".to_owned(),
        });
    }
    let before: Option<(i64, String)> =
        sqlx::query_as("SELECT id, name FROM customers WHERE phone = $1")
            .bind(c.phone.as_str())
            .fetch_optional(&mut **tx)
            .await?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO customers (phone, name, email, document, address, created_at) VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (phone) DO UPDATE SET name = excluded.name, \
         email = COALESCE(excluded.email, customers.email), document = COALESCE(excluded.document, customers.document), \
         address = CASE WHEN excluded.address = '' THEN customers.address ELSE excluded.address END \
         RETURNING id",
    )
    .bind(c.phone.as_str())
    .bind(c.name.trim())
    .bind(c.email.as_deref())
    .bind(c.document.as_deref())
    .bind(&c.address)
    .bind(now)
    .fetch_one(&mut **tx)
    .await?;
    if before.is_some_and(|(_, name)| name != c.name.trim()) {
        // The customer's earlier parcels are found by the new name.
        refresh_search_text(tx, &format!("p.sender_id = {id} OR p.recipient_id = {id}")).await?;
    }
    Ok(id)
}

/// Rewrites `parcels.search_text` of the parcels `which` (a condition on
/// `p`) from their sender's and recipient's names; returns how many.
async fn refresh_search_text(
    tx: &mut Transaction<'static, Any>,
    which: &str,
) -> StoreResult<usize> {
    let rows: Vec<(i64, String, String)> = sqlx::query_as(&format!(
        "SELECT p.id, s.name, r.name FROM parcels p JOIN customers s ON s.id = p.sender_id \
         JOIN customers r ON r.id = p.recipient_id WHERE {which}"
    ))
    .fetch_all(&mut **tx)
    .await?;
    for (id, sender, recipient) in &rows {
        sqlx::query("UPDATE parcels SET search_text = $1 WHERE id = $2")
            .bind(search::parcel_search_text(sender, recipient))
            .bind(id)
            .execute(&mut **tx)
            .await?;
    }
    Ok(rows.len())
}

#[allow(clippy::too_many_arguments)]
async fn insert_event(
    tx: &mut Transaction<'static, Any>,
    parcel_id: i64,
    event: &str,
    from: Option<ParcelStatus>,
    to: ParcelStatus,
    actor: &Actor,
    reason: Option<&str>,
    now: i64,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO parcel_events (parcel_id, event, from_status, to_status, actor_id, branch_id, reason, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(parcel_id)
    .bind(event)
    .bind(from.map(|s| s.as_str()))
    .bind(to.as_str())
    .bind(actor.user_id)
    .bind(actor.branch_id)
    .bind(reason)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn insert_payment(
    tx: &mut Transaction<'static, Any>,
    parcel_id: i64,
    kind: &str,
    amount: Money,
    actor: &Actor,
    now: i64,
) -> StoreResult<()> {
    sqlx::query("INSERT INTO payments (parcel_id, kind, amount, received_by, created_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(parcel_id)
        .bind(kind)
        .bind(amount.0)
        .bind(actor.user_id)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

fn branch_from(r: &AnyRow) -> StoreResult<Branch> {
    Ok(Branch {
        id: r.try_get("id")?,
        code: r.try_get("code")?,
        name: r.try_get("name")?,
        city: r.try_get("city")?,
        address: r.try_get("address")?,
        phone: r.try_get("phone")?,
        active: r.try_get::<i64, _>("active")? != 0,
    })
}

fn customer_from(r: &AnyRow) -> StoreResult<Customer> {
    let phone: String = r.try_get("phone")?;
    Ok(Customer {
        id: r.try_get("id")?,
        phone: Phone::parse(&phone).map_err(StoreError::Database)?,
        name: r.try_get("name")?,
        email: r.try_get("email")?,
        document: r.try_get("document")?,
        address: r.try_get("address")?,
    })
}

fn tariff_from(r: &AnyRow) -> StoreResult<Tariff> {
    let grams = |c: &str| -> StoreResult<Grams> {
        Ok(Grams(u32::try_from(r.try_get::<i64, _>(c)?).unwrap_or(0)))
    };
    Ok(Tariff {
        id: r.try_get("id")?,
        package_type: r.try_get("package_type")?,
        zone: r.try_get("zone")?,
        min_grams: grams("min_grams")?,
        max_grams: grams("max_grams")?,
        base_price: Money(r.try_get("base_price")?),
        per_kg_price: Money(r.try_get("per_kg_price")?),
        storage_grace_hours: r.try_get("storage_grace_hours")?,
        storage_fee_per_day: Money(r.try_get("storage_fee_per_day")?),
        cod_fee: Money(r.try_get("cod_fee")?),
        valid_from_ms: r.try_get("valid_from")?,
        valid_to_ms: r.try_get("valid_to")?,
    })
}

/// A row's columns by position, on either driver: the store's rows
/// through sqlx, the list's SQLite reads through rusqlite (see [`reads`]).
trait Columns {
    fn int(&self, i: usize) -> StoreResult<Option<i64>>;
    fn text(&self, i: usize) -> StoreResult<Option<String>>;
}

impl Columns for AnyRow {
    fn int(&self, i: usize) -> StoreResult<Option<i64>> {
        Ok(self.try_get(i)?)
    }
    fn text(&self, i: usize) -> StoreResult<Option<String>> {
        Ok(self.try_get(i)?)
    }
}

/// Unchecked: the page's statements are ours and name their columns'
/// types (BIGINT or TEXT); the check of each value's type against the
/// Rust type was a tenth of the list's decoding (perf).
impl Columns for sqlx::postgres::PgRow {
    fn int(&self, i: usize) -> StoreResult<Option<i64>> {
        Ok(self.try_get_unchecked(i)?)
    }
    fn text(&self, i: usize) -> StoreResult<Option<String>> {
        Ok(self.try_get_unchecked(i)?)
    }
}

impl Columns for rusqlite::Row<'_> {
    fn int(&self, i: usize) -> StoreResult<Option<i64>> {
        self.get(i).map_err(|e| StoreError::Database(e.to_string()))
    }
    fn text(&self, i: usize) -> StoreResult<Option<String>> {
        self.get(i).map_err(|e| StoreError::Database(e.to_string()))
    }
}

/// How a search statement reads its arms (see `Store::search_page`).
#[derive(Clone, Copy)]
enum Gather {
    /// Up to the cap, counted; newest first or in index order.
    Counted { newest_first: bool },
    /// Newest first, as far as the page.
    Page,
}

/// How a page of parcels is read: a WITH clause (or nothing) and the
/// columns of each row, the page's two counts `a` and `b` (uncorrelated
/// expressions, evaluated once) then the parcel's `PARCEL_COLUMNS`.
///
/// The rows are written as JSON by the app, not by the database: PostgreSQL
/// took three times as long to write 50 rows as JSON as to send them
/// (pgbench, 100,000 parcels: 1,736 against 4,744 pages a second), and
/// SQLite's JSON functions spent more than half of the list's CPU (perf).
/// The counts ride on every row rather than on a row of their own (a join
/// that SQLite then sorted); only a page without rows reads them alone.
struct PageSql {
    with: String,
    a: String,
    b: String,
    columns: String,
}

impl PageSql {
    fn new(with: &str, a: &str, b: &str) -> Self {
        Self {
            with: with.to_owned(),
            a: a.to_owned(),
            b: b.to_owned(),
            columns: format!("{a} AS a, {b} AS b, p.id, p.list_item"),
        }
    }

    /// The statement of the counts alone.
    fn counts(&self) -> String {
        format!("{} SELECT {} AS a, {} AS b", self.with, self.a, self.b)
    }
}

/// The rows of a page, read one by one.
#[derive(Default)]
struct PageRows {
    counts: Option<(i64, i64)>,
    parcels: Vec<ListedParcel>,
    /// Where in `parcels` an item is missing (not written yet, or stale):
    /// its parcel's id, with an empty item in its place.
    missing: Vec<usize>,
}

impl PageRows {
    /// Takes in a row of the counts, with a parcel's id and item when
    /// `parcel`.
    fn push(&mut self, r: &impl Columns, parcel: bool) -> StoreResult<()> {
        if self.counts.is_none() {
            self.counts = Some((r.int(0)?.unwrap_or(0), r.int(1)?.unwrap_or(0)));
        }
        if parcel {
            let id = r
                .int(2)?
                .ok_or_else(|| StoreError::Database("a page's parcel id is NULL".to_owned()))?;
            let item = r.text(3)?.unwrap_or_else(|| {
                self.missing.push(self.parcels.len());
                String::new()
            });
            self.parcels.push(ListedParcel::stored(id, item));
        }
        Ok(())
    }
}

/// The list's item of `parcel`.
fn listed(parcel: &Parcel) -> StoreResult<ListedParcel> {
    ListedParcel::new(parcel).map_err(|e| StoreError::Database(format!("a parcel's JSON: {e}")))
}

/// The parcel of a row of `SELECT {PARCEL_COLUMNS}`.
fn parcel_from(r: &AnyRow) -> StoreResult<Parcel> {
    let null = |i: usize| StoreError::Database(format!("parcel column {i} is NULL"));
    let int = |i: usize| r.int(i)?.ok_or_else(|| null(i));
    let text = |i: usize| r.text(i)?.ok_or_else(|| null(i));
    let code = text(1)?;
    Ok(Parcel {
        id: int(0)?,
        tracking_code: TrackingCode::parse(&code)
            .map_err(|e| StoreError::Database(e.to_string()))?,
        sender_id: int(2)?,
        recipient_id: int(3)?,
        origin_branch_id: int(4)?,
        destination_branch_id: int(5)?,
        service: if text(6)? == "home_delivery" {
            Service::HomeDelivery
        } else {
            Service::BranchPickup
        },
        delivery_address: text(7)?,
        package_type: text(8)?,
        weight: Grams(u32::try_from(int(9)?).unwrap_or(0)),
        dimensions_mm: [int(10)?, int(11)?, int(12)?],
        declared_value: Money(int(13)?),
        cod_amount: Money(int(14)?),
        tariff_id: r.int(15)?,
        quoted_amount: Money(int(16)?),
        storage_grace_hours: int(17)?,
        storage_fee_per_day: Money(int(18)?),
        cod_fee: Money(int(19)?),
        condition: text(20)?,
        shelf: r.text(21)?,
        status: status_from(&text(22)?)?,
        failed_attempts: int(23)?,
        version: int(24)?,
        arrived_at_ms: r.int(25)?,
        delivered_at_ms: r.int(26)?,
        created_at_ms: int(27)?,
    })
}

fn notification_from(r: &AnyRow) -> StoreResult<Notification> {
    Ok(Notification {
        id: r.try_get("id")?,
        parcel_id: r.try_get("parcel_id")?,
        channel: r.try_get("channel")?,
        recipient: r.try_get("recipient")?,
        template: r.try_get("template")?,
        body: r.try_get("body")?,
        state: r.try_get("state")?,
        job_id: r.try_get("job_id")?,
        provider_message_id: r.try_get("provider_message_id")?,
        error: r.try_get("error")?,
        transport: r.try_get("transport")?,
        context: serde_json::from_str(&r.try_get::<String, _>("context")?)
            .unwrap_or(serde_json::Value::Null),
    })
}
