-- One name word alone, with no other filter, is read from a B-tree of
-- (word, parcel) rather than from the GIN index of 0006.
--
-- A common word (a surname: 10,000 of 100,000 parcels) made GIN build a
-- bitmap of all its rows (1.4 ms) and then read a thousand of them from
-- the table to count them, and the newest page needed a second statement.
-- Here the words that start with the search word come from `name_words`
-- (every word any parcel's names hold; few), and each one's parcels are
-- read newest first from `parcel_words` as far as the count and the page
-- need, from the index alone.
--
-- Both tables are kept by a trigger on `parcels.search_text`, in the
-- transaction that writes it. `name_words` is only added to: a word no
-- parcel holds any more finds nothing in `parcel_words`. Byte order
-- (COLLATE "C"), so that the range from a word to the word with its last
-- character raised holds exactly the words it starts.
CREATE TABLE name_words (
    word TEXT COLLATE "C" PRIMARY KEY
);

CREATE TABLE parcel_words (
    word      TEXT COLLATE "C" NOT NULL,
    parcel_id BIGINT NOT NULL,
    PRIMARY KEY (word, parcel_id)
);

CREATE FUNCTION parcel_words_track() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.search_text IS NOT NULL THEN
        DELETE FROM parcel_words
        WHERE word = ANY (string_to_array(OLD.search_text, ' ')) AND parcel_id = OLD.id;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.search_text IS NOT NULL THEN
        -- in word order, so two transactions adding the same new words
        -- never wait for each other in opposite orders
        INSERT INTO name_words (word)
            SELECT DISTINCT w FROM unnest(string_to_array(NEW.search_text, ' ')) AS w
            WHERE w <> '' ORDER BY w
            ON CONFLICT DO NOTHING;
        INSERT INTO parcel_words (word, parcel_id)
            SELECT DISTINCT w, NEW.id FROM unnest(string_to_array(NEW.search_text, ' ')) AS w
            WHERE w <> ''
            ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER parcel_words_insert AFTER INSERT OR DELETE ON parcels
    FOR EACH ROW EXECUTE FUNCTION parcel_words_track();
CREATE TRIGGER parcel_words_update AFTER UPDATE OF search_text ON parcels
    FOR EACH ROW WHEN (OLD.search_text IS DISTINCT FROM NEW.search_text)
    EXECUTE FUNCTION parcel_words_track();

INSERT INTO name_words (word)
    SELECT DISTINCT w FROM parcels, unnest(string_to_array(search_text, ' ')) AS w
    WHERE w <> '';
INSERT INTO parcel_words (word, parcel_id)
    SELECT DISTINCT w, id FROM parcels, unnest(string_to_array(search_text, ' ')) AS w
    WHERE w <> '';
