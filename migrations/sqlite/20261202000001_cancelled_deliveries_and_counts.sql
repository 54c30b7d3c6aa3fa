-- 1. A delivery whose subscription is deleted, disabled or expired before it is sent is 'cancelled',
--    with the reason. It leaves the claim index (which holds only 'pending' rows) and the counts of
--    work to do, and retention purges it like a succeeded one. SQLite cannot change a CHECK
--    constraint in place, so the table is rebuilt (https://www.sqlite.org/lang_altertable.html,
--    "making other kinds of table schema changes"), keeping its ids and its id sequence: a delivery
--    id is the `webhook-id` receivers deduplicate by, and must never be handed out twice.
--    The migration runs in a transaction with foreign keys on, so dropping `deliveries` would
--    cascade to `delivery_attempts`: the attempts are rebuilt as well, their new table referring to
--    the new deliveries table (renaming a table rewrites the references to it), and the old
--    attempts table is dropped first.
-- 2. The deliveries per status, kept on write by triggers, so that the metrics scrape costs the same
--    at any size of the deliveries table.

CREATE TABLE deliveries_new (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id        TEXT NOT NULL,
    subscription_id  TEXT NOT NULL REFERENCES subscriptions (id),
    change_version   INTEGER NOT NULL,
    leave_key        TEXT NOT NULL,
    status           TEXT NOT NULL
        CHECK (status IN ('waiting', 'pending', 'succeeded', 'failed', 'processed', 'cancelled')),
    attempt_count    INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER NOT NULL,
    lease_until      INTEGER,
    last_http_status INTEGER,
    last_error       TEXT,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    processed_at     INTEGER,
    processed_note   TEXT,
    cancel_reason    TEXT
        CHECK (cancel_reason IN ('subscription deleted', 'subscription disabled', 'subscription expired')),
    FOREIGN KEY (tenant_id, change_version) REFERENCES leave_events (tenant_id, change_version)
) STRICT;
INSERT INTO deliveries_new
    (id, tenant_id, subscription_id, change_version, leave_key, status, attempt_count, next_attempt_at,
     lease_until, last_http_status, last_error, created_at, updated_at, processed_at, processed_note)
SELECT id, tenant_id, subscription_id, change_version, leave_key, status, attempt_count, next_attempt_at,
       lease_until, last_http_status, last_error, created_at, updated_at, processed_at, processed_note
FROM deliveries;
-- The new table's sequence continues the old one's, even past ids no longer in the table.
DELETE FROM sqlite_sequence WHERE name = 'deliveries_new';
INSERT INTO sqlite_sequence (name, seq)
SELECT 'deliveries_new', max(seq) FROM (
    SELECT seq FROM sqlite_sequence WHERE name = 'deliveries'
    UNION ALL SELECT max(id) FROM deliveries_new
    UNION ALL SELECT 0
);

CREATE TABLE delivery_attempts_new (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_id       INTEGER NOT NULL REFERENCES deliveries_new (id) ON DELETE CASCADE,
    tenant_id         TEXT NOT NULL,
    started_at        INTEGER NOT NULL,
    duration_ms       INTEGER NOT NULL,
    http_status       INTEGER,
    error_kind        TEXT,
    error_detail      TEXT,
    -- First 4 KiB of the response body.
    response_excerpt  BLOB
) STRICT;
INSERT INTO delivery_attempts_new
    (id, delivery_id, tenant_id, started_at, duration_ms, http_status, error_kind, error_detail, response_excerpt)
SELECT id, delivery_id, tenant_id, started_at, duration_ms, http_status, error_kind, error_detail, response_excerpt
FROM delivery_attempts;
DELETE FROM sqlite_sequence WHERE name = 'delivery_attempts_new';
INSERT INTO sqlite_sequence (name, seq)
SELECT 'delivery_attempts_new', max(seq) FROM (
    SELECT seq FROM sqlite_sequence WHERE name = 'delivery_attempts'
    UNION ALL SELECT max(id) FROM delivery_attempts_new
    UNION ALL SELECT 0
);

DROP TABLE delivery_attempts;
DROP TABLE deliveries;
ALTER TABLE deliveries_new RENAME TO deliveries;
ALTER TABLE delivery_attempts_new RENAME TO delivery_attempts;
CREATE INDEX delivery_attempts_delivery ON delivery_attempts (delivery_id);

CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX deliveries_unfinished_by_leave ON deliveries (subscription_id, leave_key, change_version)
    WHERE status IN ('pending', 'waiting');
CREATE INDEX deliveries_by_leave ON deliveries (subscription_id, leave_key, change_version);
CREATE INDEX deliveries_failed ON deliveries (tenant_id, subscription_id, updated_at) WHERE status = 'failed';
CREATE INDEX deliveries_by_tenant ON deliveries (tenant_id, id);
CREATE INDEX deliveries_by_change ON deliveries (tenant_id, updated_at, id);
-- Retention's scan: what it purges.
CREATE INDEX deliveries_finished ON deliveries (updated_at) WHERE status IN ('succeeded', 'cancelled');

-- What earlier versions left pending or waiting for good.
UPDATE deliveries
SET status = 'cancelled', lease_until = NULL,
    updated_at = CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER),
    cancel_reason = (SELECT CASE WHEN s.deleted_at IS NOT NULL THEN 'subscription deleted'
                                 WHEN s.status = 'Disabled' THEN 'subscription disabled'
                                 ELSE 'subscription expired' END
                     FROM subscriptions s WHERE s.id = deliveries.subscription_id)
WHERE status IN ('pending', 'waiting')
  AND subscription_id IN (
      SELECT id FROM subscriptions
      WHERE deleted_at IS NOT NULL OR status = 'Disabled'
         OR valid_until <= CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER));

CREATE TABLE delivery_counts (
    status TEXT PRIMARY KEY,
    n      INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
INSERT INTO delivery_counts (status, n)
SELECT s.status, (SELECT count(*) FROM deliveries d WHERE d.status = s.status)
FROM (SELECT 'waiting' AS status UNION ALL SELECT 'pending' UNION ALL SELECT 'succeeded'
      UNION ALL SELECT 'failed' UNION ALL SELECT 'processed' UNION ALL SELECT 'cancelled') s;

CREATE TRIGGER delivery_counts_insert AFTER INSERT ON deliveries
BEGIN
    UPDATE delivery_counts SET n = n + 1 WHERE status = NEW.status;
END;
CREATE TRIGGER delivery_counts_delete AFTER DELETE ON deliveries
BEGIN
    UPDATE delivery_counts SET n = n - 1 WHERE status = OLD.status;
END;
CREATE TRIGGER delivery_counts_update AFTER UPDATE OF status ON deliveries
WHEN OLD.status <> NEW.status
BEGIN
    UPDATE delivery_counts SET n = n - 1 WHERE status = OLD.status;
    UPDATE delivery_counts SET n = n + 1 WHERE status = NEW.status;
END;
