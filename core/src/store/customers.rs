//! Customers, one per phone: senders and recipients.
//!
//! A parcel keeps its sender's and recipient's name words
//! (`parcels.search_text`, see [`search`]); a customer renamed has them
//! rewritten in bounded batches of [`REINDEX_BATCH`] parcels, one
//! transaction each, after the customer row itself has changed: a customer
//! with thousands of parcels never holds the store's write lock for all of
//! them at once.

use serde::Serialize;
use sqlx::{Any, Row, Transaction};

use super::rows::customer_from;
use super::{Customer, Engine, NewCustomer, Store, StoreError, StoreResult, search};
use crate::domain::Phone;

const CUSTOMER_COLUMNS: &str = "id, phone, name, email, document, address";

/// Parcels whose search words one transaction rewrites after a rename.
pub const REINDEX_BATCH: i64 = 500;

/// The most words of a customer search that count.
const MAX_SEARCH_WORDS: usize = 8;

/// Which customers to list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CustomerFilter {
    /// Words that start words of the name (all of them, any order, accents
    /// and case ignored), or the end of a phone (7 digits or more).
    pub q: Option<String>,
    /// Only the customer with this phone.
    pub phone: Option<Phone>,
    /// Page, from 1.
    pub page: u32,
    /// Rows per page.
    pub page_size: u32,
}

/// One page of customers, by name.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CustomerPage {
    /// The customers of this page.
    pub items: Vec<Customer>,
    /// Customers matching in all.
    pub total: i64,
    /// This page, from 1.
    pub page: u32,
    /// Rows per page.
    pub page_size: u32,
}

/// Changes to a customer; `None` leaves a field as it is. The phone is the
/// customer's key and does not change.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CustomerChanges {
    /// A new full name.
    pub name: Option<String>,
    /// A new email (`Some(None)` removes it).
    pub email: Option<Option<String>>,
    /// A new identity document (`Some(None)` removes it).
    pub document: Option<Option<String>>,
    /// A new address.
    pub address: Option<String>,
}

impl Store {
    /// Creates a customer, or updates the one with that phone. A new name
    /// is written into the search words of the customer's parcels in
    /// batches, after the customer is saved.
    pub async fn upsert_customer(&self, c: &NewCustomer) -> StoreResult<Customer> {
        let mut tx = self.begin().await?;
        let (id, renamed) = upsert_customer_row(&mut tx, c, self.now()).await?;
        tx.commit().await?;
        if renamed {
            self.reindex_customer_parcels(id).await?;
        }
        self.customer(id).await
    }

    /// Changes customer `id`'s name, email, document or address, within
    /// the bounds of a registration (every field past its bound named).
    /// A new name is saved first, then written into the search words of
    /// the customer's parcels in batches (see [`REINDEX_BATCH`]).
    pub async fn update_customer(
        &self,
        id: i64,
        changes: &CustomerChanges,
    ) -> StoreResult<Customer> {
        let before = self.customer(id).await?;
        let blank_is_none = |v: &Option<String>| {
            v.as_ref()
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
        };
        let after = NewCustomer {
            phone: before.phone.clone(),
            name: changes
                .name
                .as_ref()
                .map_or_else(|| before.name.clone(), |n| n.trim().to_owned()),
            email: changes
                .email
                .as_ref()
                .map_or_else(|| before.email.clone(), blank_is_none),
            document: changes
                .document
                .as_ref()
                .map_or_else(|| before.document.clone(), blank_is_none),
            address: changes
                .address
                .clone()
                .unwrap_or_else(|| before.address.clone()),
        };
        // Only the fields sent are judged: a customer saved before the
        // bounds existed can still have their email corrected.
        let sent = |f: &str| match f {
            "name" => changes.name.is_some(),
            "email" => changes.email.is_some(),
            "document" => changes.document.is_some(),
            "address" => changes.address.is_some(),
            _ => true,
        };
        let problems: Vec<_> = after
            .problems("")
            .into_iter()
            .filter(|(f, _)| sent(f))
            .collect();
        if !problems.is_empty() {
            return Err(StoreError::Fields(problems));
        }
        let mut tx = self.begin().await?;
        let changed = sqlx::query(
            "UPDATE customers SET name = $1, email = $2, document = $3, address = $4 WHERE id = $5",
        )
        .bind(&after.name)
        .bind(after.email.as_deref())
        .bind(after.document.as_deref())
        .bind(&after.address)
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed == 0 {
            return Err(StoreError::NotFound("customer"));
        }
        tx.commit().await?;
        if after.name != before.name {
            self.reindex_customer_parcels(id).await?;
        }
        self.customer(id).await
    }

    /// Rewrites the search words of customer `id`'s parcels from their
    /// sender's and recipient's names as saved now, [`REINDEX_BATCH`]
    /// parcels a transaction, in one pass by parcel id; returns how many
    /// changed. A parcel whose words are already right is not written.
    pub async fn reindex_customer_parcels(&self, id: i64) -> StoreResult<usize> {
        // PostgreSQL: the batch's parcels are locked before their names are
        // read, so that two renames running at once cannot leave a parcel
        // with the words of the older name (the later batch waits, then
        // reads the newer). SQLite's write transaction holds the only lock.
        let lock = match self.engine {
            Engine::Postgres => " FOR UPDATE OF p",
            Engine::Sqlite => "",
        };
        let (mut after, mut written) = (0_i64, 0_usize);
        loop {
            let mut tx = self.begin().await?;
            let rows: Vec<(i64, Option<String>, String, String)> = sqlx::query_as(&format!(
                "SELECT p.id, p.search_text, s.name, r.name FROM parcels p \
                 JOIN customers s ON s.id = p.sender_id JOIN customers r ON r.id = p.recipient_id \
                 WHERE (p.sender_id = $1 OR p.recipient_id = $1) AND p.id > $2 \
                 ORDER BY p.id LIMIT $3{lock}"
            ))
            .bind(id)
            .bind(after)
            .bind(REINDEX_BATCH)
            .fetch_all(&mut *tx)
            .await?;
            for (parcel, old, sender, recipient) in &rows {
                let words = search::parcel_search_text(sender, recipient);
                if old.as_deref() != Some(words.as_str()) {
                    sqlx::query("UPDATE parcels SET search_text = $1 WHERE id = $2")
                        .bind(words)
                        .bind(parcel)
                        .execute(&mut *tx)
                        .await?;
                    written += 1;
                }
            }
            tx.commit().await?;
            match rows.last() {
                Some((last, ..)) if i64::try_from(rows.len()).unwrap_or(0) == REINDEX_BATCH => {
                    after = *last;
                }
                _ => break,
            }
        }
        Ok(written)
    }

    /// A page of customers, by name: those whose name holds a word starting
    /// with each word of `q` (accents and case ignored, as the parcel
    /// search folds them), or whose phone ends with its digits (7 or more).
    /// Without `q`, every customer.
    pub async fn customers(&self, f: &CustomerFilter) -> StoreResult<CustomerPage> {
        let page = f.page.max(1);
        let page_size = f.page_size.max(1);
        let mut conds = Vec::new();
        let mut binds: Vec<String> = Vec::new();
        let mut bind = |v: String| {
            binds.push(v);
            format!("${}", binds.len())
        };
        if let Some(phone) = &f.phone {
            conds.push(format!("phone = {}", bind(phone.as_str().to_owned())));
        }
        if let Some(q) = f.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
            let mut arms = Vec::new();
            let digits: String = q.chars().filter(char::is_ascii_digit).collect();
            if digits.len() >= 7 {
                let end = bind(digits[digits.len() - 7..].to_owned());
                let whole = bind(digits);
                arms.push(match self.engine {
                    Engine::Sqlite => format!(
                        "(substr(phone, -7) = {end} AND substr(phone, -length({whole})) = {whole})"
                    ),
                    Engine::Postgres => format!(
                        "(right(phone, 7) = {end} AND right(phone, length({whole})) = {whole})"
                    ),
                });
            }
            let words: Vec<String> = search::search_words(q)
                .into_iter()
                .filter(|w| !w.chars().any(char::is_numeric))
                .take(MAX_SEARCH_WORDS)
                .collect();
            if !words.is_empty() {
                let folded = folded_name(self.engine);
                let mut all: Vec<String> = words
                    .iter()
                    .filter_map(|w| name_prefilter(w))
                    .map(|p| format!("lower(name) LIKE {}", bind(p)))
                    .collect();
                all.extend(
                    words
                        .iter()
                        .map(|w| format!("{folded} LIKE {}", bind(format!("% {w}%")))),
                );
                arms.push(format!("({})", all.join(" AND ")));
            }
            if arms.is_empty() {
                // nothing in q a name or a phone could match
                conds.push("1 = 0".to_owned());
            } else {
                conds.push(format!("({})", arms.join(" OR ")));
            }
        }
        let filter = if conds.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", conds.join(" AND "))
        };
        // The page and the count of the matches in one pass over the rows
        // (a name search reads them all); a page past the end counts apart.
        let page_sql = format!(
            "SELECT {CUSTOMER_COLUMNS}, COUNT(*) OVER () AS total FROM customers{filter} \
             ORDER BY name, id LIMIT {page_size} OFFSET {}",
            i64::from(page - 1) * i64::from(page_size)
        );
        let mut rows = sqlx::query(&page_sql);
        for b in &binds {
            rows = rows.bind(b.clone());
        }
        let rows = rows.fetch_all(&self.pool).await?;
        let total = match rows.first() {
            Some(row) => row.try_get::<i64, _>("total")?,
            None if page == 1 => 0,
            None => {
                let count_sql = format!("SELECT COUNT(*) FROM customers{filter}");
                let mut count = sqlx::query_scalar::<_, i64>(&count_sql);
                for b in &binds {
                    count = count.bind(b.clone());
                }
                count.fetch_one(&self.pool).await?
            }
        };
        Ok(CustomerPage {
            items: rows.iter().map(customer_from).collect::<StoreResult<_>>()?,
            total,
            page,
            page_size,
        })
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
}

/// Creates the customer with `c`'s phone, or updates it, in `tx`; returns
/// its id and whether its name changed. The earlier parcels' search words
/// are then stale: the caller re-indexes them after `tx` commits
/// ([`Store::reindex_customer_parcels`]), in batches of their own, so that a
/// customer with many parcels does not hold a write lock for long.
pub(super) async fn upsert_customer_row(
    tx: &mut Transaction<'static, Any>,
    c: &NewCustomer,
    now: i64,
) -> StoreResult<(i64, bool)> {
    let problems = c.problems("");
    if !problems.is_empty() {
        return Err(StoreError::Fields(problems));
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
    Ok((id, before.is_some_and(|(_, name)| name != c.name.trim())))
}

/// The letters folded by the customer search, and what each becomes: the
/// accented letters of Spanish (both cases: SQLite's `lower` folds ASCII
/// only) and the separators a name holds besides spaces.
const FOLD: &[(char, char)] = &[
    ('á', 'a'),
    ('é', 'e'),
    ('í', 'i'),
    ('ó', 'o'),
    ('ú', 'u'),
    ('ü', 'u'),
    ('ñ', 'n'),
    ('ç', 'c'),
    ('Á', 'a'),
    ('É', 'e'),
    ('Í', 'i'),
    ('Ó', 'o'),
    ('Ú', 'u'),
    ('Ü', 'u'),
    ('Ñ', 'n'),
    ('Ç', 'c'),
    ('-', ' '),
    ('\'', ' '),
    ('.', ' '),
];

/// The SQL of `' ' || customers.name` folded as [`search::search_words`]
/// folds a name, for Spanish names: lower case, accents dropped, the usual
/// separators made spaces; a word of the name then starts after a space.
/// PostgreSQL: one `translate`; SQLite: a `replace` per letter.
fn folded_name(engine: Engine) -> &'static str {
    static SQLITE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    static POSTGRES: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let quote = |c: char| {
        if c == '\'' {
            "''".to_owned()
        } else {
            c.to_string()
        }
    };
    match engine {
        Engine::Sqlite => SQLITE.get_or_init(|| {
            let folded = FOLD
                .iter()
                .fold("lower(name)".to_owned(), |sql, (from, to)| {
                    format!("replace({sql}, '{}', '{to}')", quote(*from))
                });
            format!("(' ' || {folded})")
        }),
        Engine::Postgres => POSTGRES.get_or_init(|| {
            let (from, to): (String, String) =
                FOLD.iter().map(|(f, t)| (quote(*f), t.to_string())).unzip();
            format!("(' ' || translate(lower(name), '{from}', '{to}'))")
        }),
    }
}

/// A cheap condition every name matching the search word `word` meets
/// (its letters that no accent or case changes, in order: `munoz` →
/// `%m%z%`), tested before the fold so that the fold runs on few rows;
/// `None` when the word has no such letter.
fn name_prefilter(word: &str) -> Option<String> {
    let fixed: String = word
        .chars()
        .filter(|c| {
            c.is_ascii_alphanumeric()
                && !FOLD.iter().any(|(_, to)| to == c)
                && !matches!(c, 'a' | 'e' | 'i' | 'o' | 'u' | 'n' | 'c')
        })
        .flat_map(|c| ['%', c])
        .collect();
    (!fixed.is_empty()).then(|| format!("{fixed}%"))
}

/// Rewrites `parcels.search_text` of the parcels `which` (a condition on
/// `p`) from their sender's and recipient's names; returns how many.
pub(super) async fn refresh_search_text(
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prefilter_keeps_only_the_letters_no_accent_or_case_changes() {
        assert_eq!(name_prefilter("munoz").as_deref(), Some("%m%z%"));
        assert_eq!(name_prefilter("gomez").as_deref(), Some("%g%m%z%"));
        assert_eq!(name_prefilter("ana"), None, "a, n: á, ñ");
        assert_eq!(name_prefilter("cecilia").as_deref(), Some("%l%"));
    }

    #[test]
    fn the_sql_fold_agrees_with_the_search_words() {
        for (from, to) in FOLD {
            let folded = search::search_words(&from.to_string());
            if to.is_alphanumeric() {
                assert_eq!(folded, [to.to_string()], "{from}");
            } else {
                assert!(folded.is_empty(), "{from} separates words");
            }
        }
        assert!(folded_name(Engine::Postgres).contains("translate(lower(name)"));
    }
}
