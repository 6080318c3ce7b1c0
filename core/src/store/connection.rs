//! Opening the store: the pool, the migrations, and the fill-ins that run
//! at start-up; transactions and the small statements every aggregate uses.

use std::time::Duration;

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{Any, Transaction};

use super::customers::refresh_search_text;
use super::rows::{PARCEL_COLUMNS, listed, parcel_from};
use super::{Engine, Store, StoreError, StoreResult, pg_reads, reads, users};
use paqueteria_jobs::Clock;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

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
            pins: None,
            request_id: None,
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

    /// The row `sql` (bound to `id`) finds, or `NotFound(what)`.
    pub(super) async fn row_by_id(
        &self,
        sql: &str,
        id: i64,
        what: &'static str,
    ) -> StoreResult<AnyRow> {
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
    /// `sqlite_stat1`: the list and search statements are tuned to its
    /// default estimates.
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

    /// A write transaction. On SQLite it takes the write lock up front
    /// (`BEGIN IMMEDIATE`): a deferred transaction that reads and then writes
    /// gets "database is locked" at once when another writer got there
    /// first, instead of waiting its turn.
    pub(super) async fn begin(&self) -> StoreResult<Transaction<'static, Any>> {
        Ok(match self.engine {
            Engine::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Engine::Postgres => self.pool.begin().await?,
        })
    }
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
