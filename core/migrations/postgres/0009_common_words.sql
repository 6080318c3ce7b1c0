-- Each name word knows whether more than 1,000 parcels hold it.
--
-- A search counts its matches up to 1,000 (past that the page says
-- `total_exact: false`). For one name word that meant reading a thousand
-- entries of `parcel_words` on every search of a surname, half of its
-- cost. `common` says so at once: a word the search starts that is common
-- makes the count 1,001 without reading.
--
-- Kept by the trigger of 0007, in the transaction that writes the words:
-- - a parcel that loses a word (delete, rename) clears the word's flag:
--   a flag is only ever true when the word was counted over 1,000, and a
--   cleared flag only sends the count back to reading;
-- - a parcel that gains a word not yet common counts the word's parcels
--   up to 1,001 and sets the flag when there are more than 1,000.
-- Both take the word's row lock first, in word order, and count or delete
-- only then: a word is never flagged on a count that a delete being made
-- at the same time makes wrong (the count waits for it and sees it).
-- Words already common need no lock, so inserts of common words do not
-- wait for each other.
ALTER TABLE name_words ADD COLUMN common BOOLEAN NOT NULL DEFAULT false;

CREATE OR REPLACE FUNCTION parcel_words_track() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    gone TEXT[];
    fresh TEXT[];
    w TEXT;
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.search_text IS NOT NULL THEN
        SELECT array_agg(DISTINCT x) INTO gone
            FROM unnest(string_to_array(OLD.search_text, ' ')) AS x
            WHERE x <> '' AND (TG_OP = 'DELETE' OR NEW.search_text IS NULL
                OR NOT x = ANY (string_to_array(NEW.search_text, ' ')));
        IF gone IS NOT NULL THEN
            PERFORM 1 FROM name_words WHERE word = ANY (gone) ORDER BY word FOR UPDATE;
            UPDATE name_words SET common = false WHERE word = ANY (gone) AND common;
        END IF;
        DELETE FROM parcel_words
        WHERE word = ANY (string_to_array(OLD.search_text, ' ')) AND parcel_id = OLD.id;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.search_text IS NOT NULL THEN
        -- in word order, so two transactions adding the same new words
        -- never wait for each other in opposite orders
        INSERT INTO name_words (word)
            SELECT DISTINCT x FROM unnest(string_to_array(NEW.search_text, ' ')) AS x
            WHERE x <> '' ORDER BY x
            ON CONFLICT DO NOTHING;
        INSERT INTO parcel_words (word, parcel_id)
            SELECT DISTINCT x, NEW.id FROM unnest(string_to_array(NEW.search_text, ' ')) AS x
            WHERE x <> ''
            ON CONFLICT DO NOTHING;
        SELECT array_agg(DISTINCT x) INTO fresh
            FROM unnest(string_to_array(NEW.search_text, ' ')) AS x WHERE x <> '';
        FOR w IN
            SELECT word FROM name_words WHERE word = ANY (fresh) AND NOT common
            ORDER BY word FOR UPDATE
        LOOP
            IF (SELECT COUNT(*) FROM (SELECT 1 FROM parcel_words pw WHERE pw.word = w
                                      LIMIT 1001) AS c) > 1000 THEN
                UPDATE name_words SET common = true WHERE word = w;
            END IF;
        END LOOP;
    END IF;
    RETURN NULL;
END
$$;

UPDATE name_words SET common = true
WHERE (SELECT COUNT(*) FROM (SELECT 1 FROM parcel_words pw WHERE pw.word = name_words.word
                             LIMIT 1001) AS c) > 1000;
