-- What the parcel list (`Store::list_parcels`, `GET /api/v1/parcels`) needs
-- to answer within milliseconds at 100,000 parcels (bench/app-bench). Same
-- changes as the SQLite migration, with pg_trgm where that one uses FTS5.

-- Pages of a filtered list, newest first: each filter walks one index
-- backwards and stops after the page. A branch filter reads the origin and
-- the destination index and merges the two.
DROP INDEX parcels_status; -- (status, destination_branch_id): a prefix of parcels_status_destination
CREATE INDEX parcels_status_id ON parcels (status, id);
CREATE INDEX parcels_origin_id ON parcels (origin_branch_id, id);
CREATE INDEX parcels_destination_id ON parcels (destination_branch_id, id);
CREATE INDEX parcels_status_origin ON parcels (status, origin_branch_id, id);
CREATE INDEX parcels_status_destination ON parcels (status, destination_branch_id, id);

-- The total of an unsearched list without counting rows: parcels per
-- status and branch pair (at most statuses × branches² rows), kept by a
-- trigger in the transaction of every change.
CREATE TABLE parcel_counts (
    status                TEXT NOT NULL,
    origin_branch_id      BIGINT NOT NULL,
    destination_branch_id BIGINT NOT NULL,
    n                     BIGINT NOT NULL,
    PRIMARY KEY (status, origin_branch_id, destination_branch_id)
);
INSERT INTO parcel_counts (status, origin_branch_id, destination_branch_id, n)
    SELECT status, origin_branch_id, destination_branch_id, COUNT(*)
    FROM parcels GROUP BY status, origin_branch_id, destination_branch_id;

-- A change moves one parcel from its old group to its new one in a single
-- statement that touches the two rows in key order, so two concurrent
-- changes never wait for each other's rows in opposite orders (no deadlock).
CREATE FUNCTION parcel_counts_track() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO parcel_counts AS c (status, origin_branch_id, destination_branch_id, n)
        SELECT g.status, g.origin_branch_id, g.destination_branch_id, SUM(g.delta)
        FROM (
            SELECT OLD.status, OLD.origin_branch_id, OLD.destination_branch_id, -1
                WHERE TG_OP IN ('UPDATE', 'DELETE')
            UNION ALL
            SELECT NEW.status, NEW.origin_branch_id, NEW.destination_branch_id, 1
                WHERE TG_OP IN ('INSERT', 'UPDATE')
        ) AS g (status, origin_branch_id, destination_branch_id, delta)
        GROUP BY g.status, g.origin_branch_id, g.destination_branch_id
        ORDER BY g.status, g.origin_branch_id, g.destination_branch_id
        ON CONFLICT (status, origin_branch_id, destination_branch_id) DO UPDATE SET n = c.n + excluded.n;
    RETURN NULL;
END
$$;

CREATE TRIGGER parcel_counts_insert AFTER INSERT OR DELETE ON parcels
    FOR EACH ROW EXECUTE FUNCTION parcel_counts_track();
CREATE TRIGGER parcel_counts_update AFTER UPDATE OF status, origin_branch_id, destination_branch_id ON parcels
    FOR EACH ROW
    WHEN (OLD.status IS DISTINCT FROM NEW.status
       OR OLD.origin_branch_id IS DISTINCT FROM NEW.origin_branch_id
       OR OLD.destination_branch_id IS DISTINCT FROM NEW.destination_branch_id)
    EXECUTE FUNCTION parcel_counts_track();

-- Search by the end of a phone number (7 digits or more): the last 7
-- characters find the candidates, `phone LIKE '%…'` checks the rest.
CREATE INDEX customers_phone_end ON customers (right(phone, 7));

-- Search by part of a name: a trigram index (pg_trgm ships with
-- PostgreSQL; it is a trusted extension, so the owner of the database may
-- create it). `lower(name) LIKE '%…%'` uses it when the text has 3
-- characters or more.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX customers_name_trgm ON customers USING gin (lower(name) gin_trgm_ops);

-- Search by the start of a tracking code: `tracking_code ~>=~ 'PQ12' AND
-- tracking_code ~<~ 'PQ13'` (byte order, as SQLite compares) walks this
-- index whatever the database's collation.
CREATE INDEX parcels_tracking_code_prefix ON parcels (tracking_code text_pattern_ops);
