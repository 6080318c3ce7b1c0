//! The parcel list's reads on PostgreSQL, on connections of their own.
//!
//! sqlx's pool checks every connection it takes back with a round trip to
//! the server (a `Sync` and its `ReadyForQuery`), whatever the statement
//! did; for a page of the list that is a second wake-up of the server and
//! of the app per request.
//! These reads keep their connections in a deadpool pool instead, which
//! hands a connection back as it is. A connection is closed, not kept,
//! when its statement fails for a reason other than the statement itself
//! (the connection may be broken); one whose request went away while its
//! statement ran is checked as sqlx would (its reply may still be on the
//! way). A new one is opened when needed, and one is replaced after
//! `MAX_LIFETIME`, as sqlx's pool does by default.

use std::time::Duration;

use deadpool::managed::{Manager, Metrics, Object, Pool, PoolError, RecycleError, RecycleResult};
use sqlx::postgres::{PgConnectOptions, PgConnection, PgDatabaseError, PgRow, PgSeverity};
use sqlx::{ConnectOptions, Executor};

use super::parcels::Bind;
use super::{StoreError, StoreResult};

/// How long a connection serves before it is replaced.
const MAX_LIFETIME: Duration = Duration::from_secs(30 * 60);

/// How long a read waits for a free connection, or for a new one.
const WAIT: Duration = Duration::from_secs(10);

/// Opens the reads' connections.
struct Connector {
    options: PgConnectOptions,
}

// The options hold the password: not printed.
impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connector").finish_non_exhaustive()
    }
}

impl Manager for Connector {
    type Type = PgConnection;
    type Error = sqlx::Error;

    async fn create(&self) -> Result<PgConnection, sqlx::Error> {
        let mut conn = self.options.connect().await?;
        // One plan per statement, made without its values: the list's
        // are written so that it serves all of them, and the search's
        // reading of names is chosen by the store. PostgreSQL would
        // otherwise plan a search again on every run, its generic plan's
        // estimate being far above the custom ones' (a code prefix: a
        // millisecond of planning for 0.1 ms of work).
        conn.execute("SET plan_cache_mode = force_generic_plan")
            .await?;
        Ok(conn)
    }

    async fn recycle(
        &self,
        _conn: &mut PgConnection,
        metrics: &Metrics,
    ) -> RecycleResult<sqlx::Error> {
        if metrics.age() > MAX_LIFETIME {
            return Err(RecycleError::message("served its time"));
        }
        Ok(())
    }
}

/// A pool of connections for the list's reads.
#[derive(Clone, Debug)]
pub(super) struct PgReads {
    pool: Pool<Connector>,
}

impl PgReads {
    /// Reads of the database at `url`, with at most `size` connections
    /// (opened when needed).
    pub(super) fn new(url: &str, size: usize) -> StoreResult<Self> {
        let options: PgConnectOptions = url.parse()?;
        let pool = Pool::builder(Connector { options })
            .max_size(size)
            .wait_timeout(Some(WAIT))
            .create_timeout(Some(WAIT))
            .runtime(deadpool::Runtime::Tokio1)
            .build()
            .map_err(|e| StoreError::Database(format!("PostgreSQL read pool: {e}")))?;
        Ok(Self { pool })
    }

    /// The rows of `statement` (prepared and kept on its connection) with
    /// `binds`.
    pub(super) async fn rows(&self, statement: &str, binds: &[Bind]) -> StoreResult<Vec<PgRow>> {
        let mut held = Held(Some(self.pool.get().await.map_err(|e| match e {
            PoolError::Backend(e) => StoreError::from(e),
            e => StoreError::Database(format!("PostgreSQL read pool: {e}")),
        })?));
        let mut query = sqlx::query::<sqlx::Postgres>(statement);
        for b in binds {
            query = match b {
                Bind::Text(t) => query.bind(t.as_str()),
                Bind::Int(n) => query.bind(*n),
            };
        }
        let conn: &mut PgConnection = held.0.as_mut().ok_or_else(|| {
            StoreError::Database("PostgreSQL read pool: no connection".to_owned())
        })?;
        let result = query.fetch_all(&mut *conn).await;
        match &result {
            Ok(_) => held.keep(),
            // the statement failed and the connection answered: kept, but
            // not after the server ended the session (FATAL)
            Err(sqlx::Error::Database(e)) if !ends_session(e.as_ref()) => held.keep(),
            Err(_) => held.close(),
        }
        Ok(result?)
    }
}

/// Whether the server ended the session with `e` (FATAL or PANIC: an
/// administrator's `pg_terminate_backend`, a shutdown).
fn ends_session(e: &dyn sqlx::error::DatabaseError) -> bool {
    e.try_downcast_ref::<PgDatabaseError>()
        .is_some_and(|e| matches!(e.severity(), PgSeverity::Fatal | PgSeverity::Panic))
}

/// A connection out of the pool: back into it when `keep` was called. A
/// connection dropped with its statement unfinished (the request went
/// away) has its reply read to the end first, by a round trip of its own
/// in a task, and is closed if that fails; one whose statement failed on
/// the way is closed.
struct Held(Option<Object<Connector>>);

impl Held {
    fn keep(&mut self) {
        // dropping the object hands it back to the pool
        drop(self.0.take());
    }

    fn close(&mut self) {
        if let Some(object) = self.0.take() {
            // out of the pool for good; the pool opens another when needed
            drop(Object::take(object));
        }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        let Some(mut object) = self.0.take() else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            drop(Object::take(object));
            return;
        };
        runtime.spawn(async move {
            use sqlx::Connection;
            match tokio::time::timeout(WAIT, object.ping()).await {
                Ok(Ok(())) => drop(object),
                _ => drop(Object::take(object)),
            }
        });
    }
}
