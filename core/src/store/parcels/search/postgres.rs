//! PostgreSQL's name arm of a search. One word of 3 characters or more,
//! alone, reads the B-tree of (word, parcel) newest first (migration
//! 0007); other searches read the GIN index of every prefix of every name
//! word (migration 0006), or, for several words alone, the GIN index of
//! pairs of whole words (migration 0008).

use super::{Arms, MAX_NAME_PAIRS, REACH, prefix_end};
use crate::store::parcels::list::{Bind, ListSql, where_all};

/// PostgreSQL: adds to `arms` the arm of the parcels whose names hold a
/// word that each of `words` starts, with `filters` (conditions on `p`),
/// and what the search needs to know of it.
pub(super) fn name_arm(sql: &mut ListSql, words: &[String], filters: &[String], arms: &mut Arms) {
    if let Some(end) = words_arm_range(words, filters) {
        one_word_arm(sql, words, end, arms);
    } else {
        prefixes_arm(sql, words, filters, arms);
    }
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

/// The arm of one word (`words[0]`) up to `end` (see `words_arm_range`),
/// read newest first from `parcel_words`, with how its count is read.
fn one_word_arm(sql: &mut ListSql, words: &[String], end: String, arms: &mut Arms) {
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
    let in_range = format!("word >= CAST({from} AS TEXT) AND word < CAST({end} AS TEXT)");
    let started = format!("(SELECT word FROM name_words WHERE {in_range})");
    let read = format!(
        "{started} AS w CROSS JOIN LATERAL (SELECT parcel_id AS id FROM parcel_words pw \
         WHERE pw.word = w.word ORDER BY pw.parcel_id DESC LIMIT {REACH}) AS x"
    );
    // one of the words it starts is in over 1,000 parcels
    // (migration 0009): the count is not read
    arms.count_by.broad = Some(format!(
        "EXISTS (SELECT 1 FROM name_words WHERE {in_range} AND common)"
    ));
    arms.count_by.single = Some((
        format!("(SELECT COUNT(*) FROM name_words WHERE {in_range}) = 1"),
        format!("SELECT x.id AS id FROM {read}"),
    ));
    arms.list
        .push((format!("SELECT DISTINCT x.id AS id FROM {read}"), "id"));
    arms.newest_words = true;
}

/// The arm of `words` through the GIN indexes of prefixes (or of pairs,
/// see `pairs_arm`), and its walk of the newest parcels for a search found
/// to be broad.
fn prefixes_arm(sql: &mut ListSql, words: &[String], filters: &[String], arms: &mut Arms) {
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
    arms.walk = Some((
        arms.list.len(),
        arm(format!(
            "ts_match_vq(p.search_words, to_tsquery('simple', {m}))"
        )),
    ));
    // The index holds every prefix of every word (migration
    // 0006): exact lexemes, no partial match. Several words
    // alone read pairs of whole words (migration 0008) when
    // they start few words.
    let read = if filters.is_empty() {
        pairs_arm(sql, words, &exact)
    } else {
        None
    };
    arms.list.push((
        read.unwrap_or_else(|| {
            arm(format!(
                "parcel_name_prefixes(p.search_text) @@ CAST({exact} AS tsquery)"
            ))
        }),
        "p.id",
    ));
}

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
