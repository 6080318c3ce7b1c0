-- Each parcel keeps its item of the parcel list: the JSON that the API
-- gives for it (`Parcel` as serde writes it), written by the store in the
-- statement that writes the parcel (`Store::register_parcel`,
-- `Store::apply_event`). A page of the list reads that one column and
-- hands it on, instead of 28 columns decoded into a `Parcel` and written
-- out again as JSON: on a page of 50, the app's work halved and the
-- server's fell by a third (bench/RESULTS.md).
--
-- TEXT, not JSONB: handed on as it was written, key order and all.
-- NULL means "not written yet, or stale": the list then builds the item
-- from the columns, as it did before (rows from before this migration, a
-- statement that changed a parcel without writing its item).
ALTER TABLE parcels ADD COLUMN list_item TEXT;

-- The parcels without an item, which the store looks for when it opens: a
-- partial index, empty in steady use, so that start-up does not read the
-- whole table.
CREATE INDEX parcels_list_item_missing ON parcels (id) WHERE list_item IS NULL;

-- An update of a column the item shows that leaves the item as it was
-- makes it stale: the item can never show what the row no longer holds,
-- whatever statement changed it.
CREATE FUNCTION parcels_list_item_stale() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.list_item := NULL;
    RETURN NEW;
END
$$;

CREATE TRIGGER parcels_list_item_stale
    BEFORE UPDATE OF tracking_code, sender_id, recipient_id, origin_branch_id, destination_branch_id, service, delivery_address, package_type, weight_grams, length_mm, width_mm, height_mm, declared_value, cod_amount, tariff_id, quoted_amount, storage_grace_hours, storage_fee_per_day, cod_fee, condition, shelf, status, failed_attempts, version, arrived_at, delivered_at, created_at
    ON parcels FOR EACH ROW
    WHEN (NEW.list_item IS NOT DISTINCT FROM OLD.list_item)
    EXECUTE FUNCTION parcels_list_item_stale();
