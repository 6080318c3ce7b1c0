//! SQLite's name arm of a search: FTS5 over the parcels' name words
//! (`parcels_search`), or, for several words that start few whole words,
//! over the pairs of those words (`parcels_pairs`, migration 0007).

use super::{Arm, MAX_NAME_PAIRS, prefix_end};
use crate::store::parcels::list::{Bind, ListSql};
use crate::store::rows::Columns;
use crate::store::{Store, StoreResult};

impl Store {
    /// SQLite: the arm of the parcels whose names hold a word that each of
    /// `words` starts, with `filters` (conditions on `p`) when there are
    /// any.
    pub(super) async fn sqlite_name_arm(
        &self,
        sql: &mut ListSql,
        words: &[String],
        filters: &[String],
    ) -> StoreResult<Arm> {
        // Several words: pairs of the whole words they start
        // (migration 0007) when there are few; else, and for one
        // word, the AND of their prefixes.
        let pairs = if words.len() >= 2 {
            self.sqlite_pairs_query(words).await?
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
        Ok(if filters.is_empty() {
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
}
