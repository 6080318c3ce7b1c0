-- What the parcel list (`Store::list_parcels`, `GET /api/v1/parcels`) needs
-- to answer within milliseconds at 100,000 parcels (bench/app-bench). The
-- PostgreSQL migration of the same number makes the same changes, with
-- pg_trgm where this one uses FTS5.

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
-- status and branch pair (at most statuses × branches² rows), kept by
-- triggers in the transaction of every change.
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

CREATE TRIGGER parcel_counts_insert AFTER INSERT ON parcels BEGIN
    INSERT INTO parcel_counts (status, origin_branch_id, destination_branch_id, n)
        VALUES (new.status, new.origin_branch_id, new.destination_branch_id, 1)
        ON CONFLICT (status, origin_branch_id, destination_branch_id) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER parcel_counts_update AFTER UPDATE OF status, origin_branch_id, destination_branch_id ON parcels
WHEN old.status IS NOT new.status
  OR old.origin_branch_id IS NOT new.origin_branch_id
  OR old.destination_branch_id IS NOT new.destination_branch_id
BEGIN
    UPDATE parcel_counts SET n = n - 1
        WHERE status = old.status AND origin_branch_id = old.origin_branch_id
          AND destination_branch_id = old.destination_branch_id;
    INSERT INTO parcel_counts (status, origin_branch_id, destination_branch_id, n)
        VALUES (new.status, new.origin_branch_id, new.destination_branch_id, 1)
        ON CONFLICT (status, origin_branch_id, destination_branch_id) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER parcel_counts_delete AFTER DELETE ON parcels BEGIN
    UPDATE parcel_counts SET n = n - 1
        WHERE status = old.status AND origin_branch_id = old.origin_branch_id
          AND destination_branch_id = old.destination_branch_id;
END;

-- Search by the end of a phone number (7 digits or more): the last 7
-- characters find the candidates, `phone LIKE '%…'` checks the rest.
CREATE INDEX customers_phone_end ON customers (substr(phone, -7));

-- Search by part of a name: a trigram index over the names (FTS5, external
-- content: it stores only the index). `name LIKE '%…%'` on it finds the
-- candidates through the index when the text has 3 characters or more, and
-- SQLite checks the LIKE on the customer's own name, so the answer is that
-- of a plain LIKE over the customers.
CREATE VIRTUAL TABLE customers_search USING fts5(
    name, content = 'customers', content_rowid = 'id', tokenize = 'trigram'
);
INSERT INTO customers_search (customers_search) VALUES ('rebuild');

CREATE TRIGGER customers_search_insert AFTER INSERT ON customers BEGIN
    INSERT INTO customers_search (rowid, name) VALUES (new.id, new.name);
END;

CREATE TRIGGER customers_search_update AFTER UPDATE OF name ON customers BEGIN
    INSERT INTO customers_search (customers_search, rowid, name) VALUES ('delete', old.id, old.name);
    INSERT INTO customers_search (rowid, name) VALUES (new.id, new.name);
END;

CREATE TRIGGER customers_search_delete AFTER DELETE ON customers BEGIN
    INSERT INTO customers_search (customers_search, rowid, name) VALUES ('delete', old.id, old.name);
END;
