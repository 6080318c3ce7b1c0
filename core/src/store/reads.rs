//! The parcel list's reads on SQLite, run on the calling thread.
//!
//! sqlx runs each SQLite connection on a thread of its own: a statement is
//! sent to that thread and its result sent back, two thread switches per
//! statement. For the parcel list, the app's busiest route, those switches
//! are a large share of a request's cost. These reads
//! instead take a read-only connection of their own (rusqlite, over the
//! same file and the same bundled SQLite) and run the statement where they
//! are called. A statement here is CPU work over pages in memory, a
//! fraction of a millisecond for a page of the list, so it runs on the
//! runtime's thread as any other CPU work of a request would.
//!
//! Connections are opened when needed (one per thread running a read at
//! once, so as many as the runtime has threads) and kept for the next read;
//! each keeps its prepared statements.

use std::path::PathBuf;
use std::sync::Mutex;

use super::parcels::Bind;
use super::{StoreError, StoreResult};

/// Prepared statements kept per connection: the list's shapes (filters ×
/// page bounds) and the searches' arms.
const STATEMENTS_KEPT: usize = 128;

/// Connections kept between reads.
const IDLE_KEPT: usize = 8;

/// Read-only connections to one SQLite file.
#[derive(Debug)]
pub(super) struct SqliteReads {
    path: PathBuf,
    idle: Mutex<Vec<rusqlite::Connection>>,
}

impl SqliteReads {
    /// Reads of the database at `path` (opened on first use).
    pub(super) fn new(path: PathBuf) -> Self {
        Self {
            path,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// The path of an `sqlite:` URL (`sqlite://path?mode=rwc`), if it names
    /// a file.
    pub(super) fn path_of(url: &str) -> Option<PathBuf> {
        let rest = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))?;
        let path = rest.split('?').next().unwrap_or_default();
        (!path.is_empty() && !path.starts_with(":memory:")).then(|| PathBuf::from(path))
    }

    fn open(&self) -> rusqlite::Result<rusqlite::Connection> {
        use rusqlite::OpenFlags;
        let conn = rusqlite::Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY
                | OpenFlags::SQLITE_OPEN_NO_MUTEX
                | OpenFlags::SQLITE_OPEN_URI,
        )?;
        // Pages read through a memory map rather than copied by a system
        // call each; a larger page cache for the indexes the list walks.
        conn.execute_batch(
            "PRAGMA busy_timeout = 5000; PRAGMA mmap_size = 268435456; PRAGMA cache_size = -32768;",
        )?;
        conn.set_prepared_statement_cache_capacity(STATEMENTS_KEPT);
        Ok(conn)
    }

    /// Runs `sql` with `binds` (`$1`, `$2`, … in the order bound) and
    /// hands each of its rows to `each`.
    pub(super) fn rows(
        &self,
        sql: &str,
        binds: &[Bind],
        each: impl FnMut(&rusqlite::Row<'_>) -> StoreResult<()>,
    ) -> StoreResult<()> {
        let taken = self
            .idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop();
        let conn = match taken {
            Some(c) => c,
            None => self.open().map_err(database)?,
        };
        let result = run(&conn, sql, binds, each);
        let mut idle = self
            .idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if idle.len() < IDLE_KEPT {
            idle.push(conn);
        }
        result
    }
}

fn run(
    conn: &rusqlite::Connection,
    sql: &str,
    binds: &[Bind],
    mut each: impl FnMut(&rusqlite::Row<'_>) -> StoreResult<()>,
) -> StoreResult<()> {
    let mut statement = conn.prepare_cached(sql).map_err(database)?;
    for (i, b) in binds.iter().enumerate() {
        // `$n` is a named parameter to SQLite, numbered by where it first
        // appears in the text: look each one up by its name.
        let Some(at) = statement
            .parameter_index(&format!("${}", i + 1))
            .map_err(database)?
        else {
            continue;
        };
        match b {
            Bind::Text(t) => statement.raw_bind_parameter(at, t.as_str()),
            Bind::Int(n) => statement.raw_bind_parameter(at, n),
        }
        .map_err(database)?;
    }
    let mut rows = statement.raw_query();
    while let Some(r) = rows.next().map_err(database)? {
        each(r)?;
    }
    Ok(())
}

fn database(e: rusqlite::Error) -> StoreError {
    StoreError::Database(e.to_string())
}
