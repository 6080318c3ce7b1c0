-- A search of several name words reads pairs of whole words (PostgreSQL
-- does so since its migration 0008).
--
-- Every word of a full name is common (a first name: 5,000 of 100,000
-- parcels, a surname: 10,000), and FTS5's AND of their prefixes read all
-- of those lists to keep the few dozen parcels in all of them (0.42 ms of
-- a 0.61 ms request). `parcels_pairs` holds, for each parcel, every pair
-- of its name words (in byte order, joined by `_`, a word paired with
-- itself too) as one token: a pair's list is short ("isabella_lopez":
-- some 500 parcels), and a parcel holds a word of each search word exactly
-- when it holds a pair of them for every two of them. The search turns
-- each word into the whole words it starts (`name_words`) and asks for,
-- between every two search words, any of their pairs; when they start too
-- many pairs it keeps `parcels_search`.
--
-- Both are kept by triggers on `parcels.search_text`, in the transaction
-- that writes it (its words are folded letters and digits, so they go into
-- a JSON array as they are). `name_words` is only added to: a word no
-- parcel holds any more finds nothing in `parcels_pairs`. BINARY collation:
-- the range from a word to the word with its last character raised holds
-- exactly the words it starts.
CREATE TABLE name_words (
    word TEXT PRIMARY KEY
) WITHOUT ROWID;

CREATE VIRTUAL TABLE parcels_pairs USING fts5(
    pairs, content = '', contentless_delete = 1,
    tokenize = "unicode61 tokenchars '_'", detail = none
);

INSERT OR IGNORE INTO name_words (word)
    SELECT DISTINCT w.value
    FROM parcels p, json_each('["' || replace(p.search_text, ' ', '","') || '"]') AS w
    WHERE p.search_text IS NOT NULL AND w.value <> '';

INSERT INTO parcels_pairs (rowid, pairs)
    SELECT p.id, (
        SELECT group_concat(a.value || '_' || b.value, ' ')
        FROM (SELECT DISTINCT value FROM json_each('["' || replace(p.search_text, ' ', '","') || '"]')
              WHERE value <> '') AS a
        JOIN (SELECT DISTINCT value FROM json_each('["' || replace(p.search_text, ' ', '","') || '"]')
              WHERE value <> '') AS b ON a.value <= b.value
    )
    FROM parcels p WHERE p.search_text IS NOT NULL;

CREATE TRIGGER parcels_pairs_insert AFTER INSERT ON parcels
WHEN new.search_text IS NOT NULL BEGIN
    INSERT OR IGNORE INTO name_words (word)
        SELECT value FROM json_each('["' || replace(new.search_text, ' ', '","') || '"]')
        WHERE value <> '';
    INSERT INTO parcels_pairs (rowid, pairs)
        SELECT new.id, group_concat(a.value || '_' || b.value, ' ')
        FROM (SELECT DISTINCT value FROM json_each('["' || replace(new.search_text, ' ', '","') || '"]')
              WHERE value <> '') AS a
        JOIN (SELECT DISTINCT value FROM json_each('["' || replace(new.search_text, ' ', '","') || '"]')
              WHERE value <> '') AS b ON a.value <= b.value;
END;

CREATE TRIGGER parcels_pairs_update AFTER UPDATE OF search_text ON parcels BEGIN
    DELETE FROM parcels_pairs WHERE rowid = old.id;
    INSERT OR IGNORE INTO name_words (word)
        SELECT value FROM json_each('["' || replace(new.search_text, ' ', '","') || '"]')
        WHERE new.search_text IS NOT NULL AND value <> '';
    INSERT INTO parcels_pairs (rowid, pairs)
        SELECT new.id, group_concat(a.value || '_' || b.value, ' ')
        FROM (SELECT DISTINCT value FROM json_each('["' || replace(new.search_text, ' ', '","') || '"]')
              WHERE value <> '') AS a
        JOIN (SELECT DISTINCT value FROM json_each('["' || replace(new.search_text, ' ', '","') || '"]')
              WHERE value <> '') AS b ON a.value <= b.value
        WHERE new.search_text IS NOT NULL;
END;

CREATE TRIGGER parcels_pairs_delete AFTER DELETE ON parcels BEGIN
    DELETE FROM parcels_pairs WHERE rowid = old.id;
END;
