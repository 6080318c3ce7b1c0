-- Prefix indexes for words of up to 16 characters (they were 1 to 8).
--
-- FTS5 answers a prefix (`"rodriguez"*`) from the prefix index of exactly
-- that length when there is one: a list it reads like any word's, and can
-- skip through in an AND. Without one it merges the list of every word
-- that starts so into a new list in memory first: a 9-letter surname took
-- 1.5 ms at 100,000 parcels against 0.13 ms, and a full name with one 1.5
-- against 3.4 ms. The longer prefix indexes only hold words that long, so
-- they cost little. FTS5 cannot change them in place: the table is made
-- again and filled from `parcels` ('rebuild'). The triggers of 0005 that
-- keep it belong to `parcels` and name it only in their bodies, so they
-- stay and write to the new table.
DROP TABLE parcels_search;

CREATE VIRTUAL TABLE parcels_search USING fts5(
    search_text, content = 'parcels', content_rowid = 'id',
    tokenize = 'unicode61', prefix = '1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16',
    detail = none
);

INSERT INTO parcels_search (parcels_search) VALUES ('rebuild');
