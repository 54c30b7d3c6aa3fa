-- The deliveries per status, kept on write, so that the metrics scrape costs the same at any size of
-- the deliveries table. Every statement that inserts, deletes or changes deliveries appends one
-- signed row per status it changed (a statement-level trigger over its transition tables: no row
-- is shared between writers, so concurrent transactions never wait for each other here). Reading
-- sums the rows; the reader folds them into one row per status from time to time.
CREATE TABLE delivery_counts (
    status text NOT NULL,
    n      bigint NOT NULL
);

INSERT INTO delivery_counts (status, n)
SELECT status, count(*) FROM deliveries GROUP BY status;

CREATE FUNCTION delivery_counts_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO delivery_counts (status, n)
    SELECT status, count(*) FROM new_rows GROUP BY status;
    RETURN NULL;
END $$;

CREATE FUNCTION delivery_counts_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO delivery_counts (status, n)
    SELECT status, -count(*) FROM old_rows GROUP BY status;
    RETURN NULL;
END $$;

-- Statement-level triggers cannot be limited to a column when they read transition tables, so this
-- one also runs for updates that change no status (claims); it then writes nothing.
CREATE FUNCTION delivery_counts_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO delivery_counts (status, n)
    SELECT status, sum(delta)
    FROM (SELECT status, 1 AS delta FROM new_rows
          UNION ALL
          SELECT status, -1 FROM old_rows) changed
    GROUP BY status
    HAVING sum(delta) <> 0;
    RETURN NULL;
END $$;

CREATE TRIGGER delivery_counts_insert AFTER INSERT ON deliveries
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION delivery_counts_inserted();
CREATE TRIGGER delivery_counts_delete AFTER DELETE ON deliveries
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION delivery_counts_deleted();
CREATE TRIGGER delivery_counts_update AFTER UPDATE ON deliveries
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION delivery_counts_updated();

CREATE FUNCTION delivery_counts_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM delivery_counts;
    RETURN NULL;
END $$;

CREATE TRIGGER delivery_counts_truncate AFTER TRUNCATE ON deliveries
    FOR EACH STATEMENT EXECUTE FUNCTION delivery_counts_truncated();
