-- A search of several name words reads pairs of words from the index.
--
-- Every word of a full name is common (a first name: 5,000 of 100,000
-- parcels, a surname: 10,000), and the AND of their entries in the index
-- of 0006 read all of those lists to keep the few dozen parcels in all of
-- them (0.46 ms of 0.54 ms). This index holds, for each parcel, every
-- pair of its name words (in byte order, joined by a space, a word paired
-- with itself too): a pair's list is short ("diego rodriguez": some 500
-- parcels), and a parcel holds a word of each of the search's words
-- exactly when it holds a pair of them for every two of them. The search
-- turns each word into the whole words it starts (`name_words`, migration
-- 0007) and asks for, between every two search words, any of their pairs.
-- A search whose words start too many words keeps the index of 0006.
CREATE FUNCTION parcel_name_pairs(search_text TEXT) RETURNS tsvector
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    WITH w AS (SELECT DISTINCT unnest(string_to_array(search_text, ' ')) COLLATE "C" AS w)
    SELECT array_to_tsvector(COALESCE(array_agg(a.w || ' ' || b.w), '{}'))
    FROM w AS a JOIN w AS b ON a.w <= b.w
$$;

CREATE INDEX parcels_name_pairs ON parcels USING gin (parcel_name_pairs(search_text));
