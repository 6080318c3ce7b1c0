//! Searching the parcel list: by the start of a tracking code, the end
//! of a customer's phone, and the words of the sender's and recipient's
//! names.
//!
//! A search is the union of its arms, each a SELECT of the ids of the
//! parcels one kind of match finds. The code and phone arms are built
//! here for both engines; the name arm is each engine's own ([`sqlite`]:
//! FTS5; [`postgres`]: B-tree and GIN indexes of name words).
//! `Store::search_page` makes one statement of the arms: the page's rows
//! and the count of the matches.

mod postgres;
mod sqlite;

use super::list::{Bind, ListSql, PageSql, page_rows, status_branch, where_all};
use crate::store::{Engine, ListedParcel, ParcelPage, Store, StoreResult, search};

/// One arm of a search: a SELECT of matching parcel ids (`id`), and the
/// column that orders it newest first.
type Arm = (String, &'static str);

/// A search's arms, and what the search needs to know of its name arm.
#[derive(Default)]
struct Arms {
    /// The arms, in the order they were built (their binds' order).
    list: Vec<Arm>,
    /// PostgreSQL: the name arm as a walk of the newest parcels, and its
    /// place in `list`; read instead once the search is known to be broad.
    walk: Option<(usize, String)>,
    /// PostgreSQL: the name arm reads `parcel_words`, newest first.
    newest_words: bool,
    /// PostgreSQL: how the count of a one-word name arm is read.
    count_by: ArmCount,
}

impl Store {
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
    /// run, a search would spend more time planning than running.
    pub(super) async fn search_parcels(
        &self,
        q: &str,
        status: Option<&str>,
        branch_id: Option<i64>,
        page: u32,
        page_size: u32,
    ) -> StoreResult<ParcelPage> {
        let limit = i64::from(page_size);
        let offset = i64::from(page - 1) * limit;
        let mut sql = ListSql::new(self.engine);
        let branch = branch_id.map(|b| sql.bind_plain(Bind::Int(b)));
        let filters = status_branch(status, branch.as_deref(), "p");
        // The arms' values are bound in the order the arms are built: the
        // names', the code's, the phone's.
        let mut arms = Arms::default();
        let words = name_words(q);
        if !words.is_empty() {
            match self.engine {
                Engine::Sqlite => {
                    let arm = self.sqlite_name_arm(&mut sql, &words, &filters).await?;
                    arms.list.push(arm);
                }
                Engine::Postgres => postgres::name_arm(&mut sql, &words, &filters, &mut arms),
            }
        }
        arms.list
            .extend(code_arm(self.engine, &mut sql, q, &filters));
        arms.list
            .extend(phone_arms(self.engine, &mut sql, q, &filters));
        if arms.list.is_empty() {
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
        // parcels for a word known to be common (`Arms::walk`). FTS5 reads
        // its matches newest first either way.
        //
        // A search of one name word alone reads its page newest first
        // straight from its arm (FTS5 on SQLite, `parcel_words` on
        // PostgreSQL read one word's matches so at almost no extra cost)
        // and counts apart: a broad name needs no second statement for its
        // first twenty pages. The AND of several words costs a quarter more
        // read backwards, and a full name is seldom broad.
        let newest_first = (self.engine == Engine::Sqlite || arms.newest_words)
            && arms.list.len() == 1
            && words.len() == 1;
        let gathered = self
            .search_page(
                &arms.list,
                &sql,
                (offset, limit),
                SEARCH_COUNT_CAP + 1,
                Gather::Counted { newest_first },
                &arms.count_by,
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
            if let Some((i, walk)) = arms.walk.take() {
                arms.list[i].0 = walk;
            }
            self.search_page(
                &arms.list,
                &sql,
                (offset, limit),
                SEARCH_COUNT_CAP,
                Gather::Page,
                &ArmCount::default(),
            )
            .await?
        };
        let (total, total_exact) = broad_total((offset, limit), counted, n);
        Ok(ParcelPage {
            items,
            total,
            total_exact,
            page,
            page_size,
        })
    }

    /// One statement of a search: the page of the union of `arms`, the
    /// matches counted up to `cap`, and how many of the page and the row
    /// after it exist. `Gather::Counted`: every arm is gathered up to `cap`
    /// (newest first, or as its index yields them) and the page sorted
    /// from those; `Gather::Page`: each arm is read newest first and only
    /// as far as the page, and the matches are not counted (the caller
    /// knows there are `cap` or more).
    async fn search_page(
        &self,
        arms: &[Arm],
        sql: &ListSql,
        (offset, limit): (i64, i64),
        cap: i64,
        gather: Gather,
        count_by: &ArmCount,
    ) -> StoreResult<(Vec<ListedParcel>, i64, i64)> {
        let page_of = match (gather, arms) {
            (Gather::Counted { newest_first: true }, [arm]) => {
                one_arm_page(arm, (offset, limit), cap, count_by)
            }
            (Gather::Counted { newest_first }, _) => {
                gathered_page(self.engine, arms, (offset, limit), cap, newest_first)
            }
            (Gather::Page, _) => walked_page(arms, (offset, limit), cap),
        };
        let rows = page_rows(
            self.engine,
            &page_of.columns,
            &format!("SELECT id FROM ids ORDER BY id DESC LIMIT {limit}"),
            limit,
        );
        self.page_row(&page_of, &rows, &sql.binds).await
    }
}

/// The words of `q` searched as names (folded, see [`search`]): at most
/// `MAX_SEARCH_WORDS`, and none with a digit.
fn name_words(q: &str) -> Vec<String> {
    // Words with a digit are a code or a phone, not a name: searched as
    // names too, they made PostgreSQL scan every parcel for a word its
    // planner could not tell was rare (a code prefix: 75 ms).
    search::search_words(q)
        .into_iter()
        .filter(|w| !w.chars().any(char::is_numeric))
        .take(MAX_SEARCH_WORDS)
        .collect()
}

/// The arm of the tracking codes `q` starts (see `code_range`), with
/// `filters`; `None` when `q` cannot start a code.
fn code_arm(engine: Engine, sql: &mut ListSql, q: &str, filters: &[String]) -> Option<Arm> {
    // In byte order: SQLite compares text byte by byte; PostgreSQL's
    // ~>=~ and ~<~ do too, whatever the database's collation, and walk
    // `parcels_tracking_code_prefix`.
    let (from, to) = code_range(q)?;
    let from = sql.bind_plain(Bind::Text(from));
    let to = sql.bind_plain(Bind::Text(to));
    let (ge, lt) = match engine {
        Engine::Sqlite => (">=", "<"),
        Engine::Postgres => ("~>=~", "~<~"),
    };
    let mut conds = vec![format!(
        "p.tracking_code {ge} {from} AND p.tracking_code {lt} {to}"
    )];
    conds.extend(filters.iter().cloned());
    Some((
        format!("SELECT p.id AS id FROM parcels p{}", where_all(&conds)),
        "p.id",
    ))
}

/// The arms of the parcels whose sender's, and whose recipient's, phone
/// ends with the digits of `q`, with `filters`; none when `q` holds fewer
/// than 7 digits.
fn phone_arms(engine: Engine, sql: &mut ListSql, q: &str, filters: &[String]) -> Vec<Arm> {
    let digits: String = q.chars().filter(char::is_ascii_digit).collect();
    if digits.len() < 7 {
        return Vec::new();
    }
    // the index on the phone's last 7 characters finds the
    // candidates; the comparison of the whole end checks them
    let end = sql.bind_plain(Bind::Text(digits[digits.len() - 7..].to_owned()));
    let whole = sql.bind_plain(Bind::Text(digits));
    let who = match engine {
        Engine::Sqlite => format!(
            "SELECT id FROM customers WHERE substr(phone, -7) = {end} \
             AND substr(phone, -length({whole})) = {whole}"
        ),
        Engine::Postgres => format!(
            "SELECT id FROM customers WHERE right(phone, 7) = {end} \
             AND right(phone, length({whole})) = {whole}"
        ),
    };
    ["sender_id", "recipient_id"]
        .into_iter()
        .map(|side| {
            let mut conds = vec![format!("p.{side} IN ({who})")];
            conds.extend(filters.iter().cloned());
            (
                format!("SELECT p.id AS id FROM parcels p{}", where_all(&conds)),
                "p.id",
            )
        })
        .collect()
}

/// The total of a search past the count's cap, and whether it is exact,
/// from `counted` and `n`, how many of the page and the row after it
/// exist.
fn broad_total((offset, limit): (i64, i64), counted: i64, n: i64) -> (i64, bool) {
    // matches known to exist: the rows before this page, on it and the
    // next one
    let seen = if n == 0 { 0 } else { offset + n };
    if n > 0 && n <= limit {
        // the last page: every match is behind it or on it
        (seen, true)
    } else {
        (counted.max(seen), false)
    }
}

/// How many of the page's rows and the row after it exist: every search
/// statement's WITH clause ends with `ids`, those rows' ids.
const IDS_COUNTED: &str = "(SELECT COUNT(*) FROM ids)";

/// `arm` read only as far as `n` rows: its `REACH` becomes `n`.
fn reach(arm: &str, n: i64) -> String {
    arm.replace(REACH, &n.to_string())
}

/// The union of the ids of `arms`, each read up to `cut` rows, newest
/// first when `order`.
fn union(arms: &[Arm], cut: i64, order: bool) -> String {
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
}

/// The page of one arm read newest first: straight from the arm, and the
/// count from a second read of it (or from `count_by`).
fn one_arm_page(
    (arm, by): &Arm,
    (offset, limit): (i64, i64),
    cap: i64,
    count_by: &ArmCount,
) -> PageSql {
    // One arm read newest first: the page straight from it, and the
    // count from a second read of it, which keeps no ids and needs
    // no order (FTS5 reads forward at less cost than backward; a
    // surname on SQLite: 0.88 → 0.56 ms a page).
    let with = format!(
        "WITH ids AS (SELECT id FROM ({} ORDER BY {by} DESC LIMIT {} OFFSET {offset}) AS a0)",
        reach(arm, offset + limit + 1),
        limit + 1
    );
    PageSql::new(&with, &one_arm_count(arm, cap, count_by), IDS_COUNTED)
}

/// The count of one arm's matches up to `cap`: the arm read again, unless
/// `count_by` knows the count without it or a cheaper read of the same
/// matches.
fn one_arm_count(arm: &str, cap: i64, count_by: &ArmCount) -> String {
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
    if cases.is_empty() {
        count
    } else {
        format!("CASE{cases} ELSE {count} END")
    }
}

/// The page of `arms` gathered up to `cap` each (newest first when
/// `newest_first`, else as their indexes yield them), sorted from the
/// gathered ids, with their count.
fn gathered_page(
    engine: Engine,
    arms: &[Arm],
    (offset, limit): (i64, i64),
    cap: i64,
    newest_first: bool,
) -> PageSql {
    // PostgreSQL: each arm planned apart from the LIMIT that stops
    // it. Planned with it, a name arm was a sequential scan expected
    // to meet a thousand matches soon (a first name, 5,000 matches:
    // 22 ms); planned alone it is read through the GIN index (7 ms),
    // and the LIMIT still stops reading the rows it finds.
    let (arms_apart, union) = if engine == Engine::Postgres && !newest_first {
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
        (String::new(), union(arms, cap, newest_first))
    };
    let with = format!(
        "WITH {arms_apart}m AS MATERIALIZED ({union}), \
         ids AS (SELECT id FROM m ORDER BY id DESC LIMIT {} OFFSET {offset})",
        limit + 1
    );
    PageSql::new(&with, "(SELECT COUNT(*) FROM m)", IDS_COUNTED)
}

/// The page of `arms` each read newest first only as far as the page, for
/// a search known to have `cap` matches or more (not counted).
fn walked_page(arms: &[Arm], (offset, limit): (i64, i64), cap: i64) -> PageSql {
    let with = format!(
        "WITH ids AS (SELECT id FROM ({}) AS u ORDER BY id DESC LIMIT {} OFFSET {offset})",
        union(arms, offset + limit + 1, true),
        limit + 1,
    );
    PageSql::new(&with, &format!("CAST({cap} AS BIGINT)"), IDS_COUNTED)
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

/// Most pairs of whole words a search of several words asks for (the index
/// of PostgreSQL's migration 0008, `parcels_pairs` of SQLite's 0007); past
/// it the search reads the words' prefixes.
const MAX_NAME_PAIRS: usize = 64;

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

/// How a search statement reads its arms (see `Store::search_page`).
#[derive(Clone, Copy)]
enum Gather {
    /// Up to the cap, counted; newest first or in index order.
    Counted { newest_first: bool },
    /// Newest first, as far as the page.
    Page,
}
