//! The parcel list: a page of parcels, newest first, with its total, and
//! the pieces of a statement built at run time that the search shares.

use sqlx::Any;

use crate::store::rows::{Columns, listed};
use crate::store::{
    Engine, ListedParcel, ParcelFilter, ParcelPage, Store, StoreError, StoreResult,
};

impl Store {
    /// A page of parcels, newest first, with the total that match.
    ///
    /// One statement answers both (see `Store::page_row`).
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
            Some(b) => branch_page_rows(self.engine, columns, status.as_deref(), b, (lim, off)),
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

    /// The page's parcels and its two counts: `rows` (after `page`'s WITH
    /// clause) and, when it finds no parcel, `page`'s counts alone. SQLite
    /// runs them on the calling thread (see [`crate::store::reads`]), or
    /// through the pool for a database without a file. PostgreSQL runs
    /// them on a pool of its own driver (see [`crate::store::pg_reads`]),
    /// not through `Any`, which would turn each row into an `AnyRow` first.
    pub(super) async fn page_row(
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
}

/// The statement of a page of the parcels from or to branch `b` (a bound
/// value), with `status` (a literal) when given: the newest `limit +
/// offset` from the origin index and from the destination index hold the
/// page between them.
fn branch_page_rows(
    engine: Engine,
    columns: &str,
    status: Option<&str>,
    b: &str,
    (limit, offset): (i64, i64),
) -> String {
    let (lim, off) = (limit, offset);
    let k = limit + offset;
    let st = status
        .map(|st| format!("status = {st} AND "))
        .unwrap_or_default();
    let side = |column: &str, what: &str| {
        format!(
            "SELECT {what} FROM parcels WHERE {st}{column} = {b} \
             ORDER BY id DESC LIMIT {k}"
        )
    };
    match engine {
        // SQLite: the page's ids from both, then their rows
        Engine::Sqlite => {
            let ids = format!(
                "SELECT id FROM (SELECT id FROM ({}) AS o UNION SELECT id FROM ({}) AS d) \
                 AS u ORDER BY id DESC LIMIT {lim} OFFSET {off}",
                side("origin_branch_id", "id"),
                side("destination_branch_id", "id")
            );
            page_rows(engine, columns, &ids, lim)
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
                page_rows(engine, columns, &merged("id"), lim)
            }
        }
    }
}

/// A value bound to a query built at run time.
#[derive(Clone, Debug)]
pub(in crate::store) enum Bind {
    Text(String),
    Int(i64),
}

pub(super) type AnyQuery<'q> = sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>>;

impl Bind {
    pub(super) fn bind<'q>(&self, q: AnyQuery<'q>) -> AnyQuery<'q> {
        match self {
            Self::Text(t) => q.bind(t.clone()),
            Self::Int(i) => q.bind(*i),
        }
    }
}

/// The values of a statement built at run time, numbered as they are bound.
#[derive(Debug)]
pub(super) struct ListSql {
    engine: Engine,
    pub(super) binds: Vec<Bind>,
}

impl ListSql {
    pub(super) fn new(engine: Engine) -> Self {
        Self {
            engine,
            binds: Vec::new(),
        }
    }

    /// Binds `b` as a plain `$n` on both engines: for a search's values,
    /// whose plans (see `Store::search_parcels`) do not hang on them.
    pub(super) fn bind_plain(&mut self, b: Bind) -> String {
        self.binds.push(b);
        format!("${}", self.binds.len())
    }

    /// Binds `b` and returns how the statement reads it: `$n` on SQLite;
    /// on PostgreSQL `(SELECT CAST($n AS …))`. PostgreSQL plans a prepared
    /// statement anew on every run while its values change the estimates
    /// (a custom plan), and for a list that planning took longer than the
    /// run. Behind a sub-select the values no longer change the estimates,
    /// so it keeps one generic plan, whose indexes suit every value.
    pub(super) fn bind(&mut self, b: Bind) -> String {
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

/// The statement of a page's parcels, newest first: `columns` of the
/// parcels whose ids `ids` selects (distinct, newest first, at most
/// `limit`). PostgreSQL joins the ids in their order: through `IN` it
/// hashed them and sorted the whole rows again.
pub(super) fn page_rows(engine: Engine, columns: &str, ids: &str, limit: i64) -> String {
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
pub(super) fn status_branch(
    status: Option<&str>,
    branch: Option<&str>,
    table: &str,
) -> Vec<String> {
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

/// ` WHERE a AND b …`, or nothing without conditions.
pub(super) fn where_all(conds: &[String]) -> String {
    if conds.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", conds.join(" AND "))
    }
}

/// How a page of parcels is read: a WITH clause (or nothing) and the
/// columns of each row, the page's two counts `a` and `b` (uncorrelated
/// expressions, evaluated once) then the parcel's id and its kept list
/// item.
///
/// The items are JSON written by the store with serde when it writes the
/// parcel, not by the database's JSON functions, which cost more than
/// the reads themselves (see bench/RESULTS.md). The counts ride on every
/// row rather than on a row of their own (a join that SQLite then
/// sorted); only a page without rows reads them alone.
pub(super) struct PageSql {
    pub(super) with: String,
    a: String,
    b: String,
    pub(super) columns: String,
}

impl PageSql {
    pub(super) fn new(with: &str, a: &str, b: &str) -> Self {
        Self {
            with: with.to_owned(),
            a: a.to_owned(),
            b: b.to_owned(),
            columns: format!("{a} AS a, {b} AS b, p.id, p.list_item"),
        }
    }

    /// The statement of the counts alone.
    pub(super) fn counts(&self) -> String {
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
