-- Name search reads exact words from the GIN index, never prefixes.
--
-- A prefix query (`'car':*`) on a GIN index is a partial match: PostgreSQL
-- reads every entry that starts so and builds a bitmap of all their rows
-- before it can intersect anything (a full name, three words: 9 ms at
-- 100,000 parcels). So the index holds every prefix of every name word as
-- a word of its own ("diaz" → d, di, dia, diaz), and a search is an AND
-- of exact entries, which GIN intersects as it reads them (0.6 ms).
--
-- An expression index: the prefixes are not stored in the row (they would
-- double its size for the list to read); the index never needs them again,
-- since an exact match of a tsvector needs no recheck. `search_words`
-- stays for the walk of the newest parcels (`ts_match_vq` with prefixes),
-- which the index does not serve.
CREATE FUNCTION parcel_name_prefixes(search_text TEXT) RETURNS tsvector
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT array_to_tsvector(COALESCE(array_agg(left(w, n)), '{}'))
    FROM unnest(string_to_array(search_text, ' ')) AS w,
         generate_series(1, length(w)) AS n
$$;

CREATE INDEX parcels_name_prefixes ON parcels USING gin (parcel_name_prefixes(search_text));
DROP INDEX parcels_search_words;
