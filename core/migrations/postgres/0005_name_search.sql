-- Search by the words of the sender's and recipient's names (see
-- `store::search`): each parcel keeps those words, folded (lower case, no
-- accents), in `search_text`; the store writes it with the parcel and
-- rewrites it when a customer's name changes. Rows from before this
-- migration get it at the next start-up (`Store::connect`). The SQLite
-- migration of the same number makes the same change with FTS5.
ALTER TABLE parcels ADD COLUMN search_text TEXT;
CREATE INDEX parcels_search_pending ON parcels (id) WHERE search_text IS NULL;

-- The words as a tsvector ('simple': no stemming, no stop words; the text
-- is folded already), kept by PostgreSQL, and a GIN index over it, which
-- serves prefix queries (`'car':*`).
ALTER TABLE parcels ADD COLUMN search_words tsvector
    GENERATED ALWAYS AS (to_tsvector('simple', COALESCE(search_text, ''))) STORED;
CREATE INDEX parcels_search_words ON parcels USING gin (search_words);

-- The substring search over customer names that this replaces.
DROP INDEX customers_name_trgm;
