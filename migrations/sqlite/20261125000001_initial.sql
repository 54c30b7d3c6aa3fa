-- absync schema for the embedded SQLite store. Times are INTEGER microseconds since 1970 UTC (they
-- sort and compare as numbers); ids of subscriptions and tokens are UUID text made by the adapter;
-- JSON is TEXT. Every table carries the tenant.

CREATE TABLE tenants (
    id          TEXT PRIMARY KEY,
    created_at  INTEGER NOT NULL
) STRICT;

-- Counters the adapter hands out inside write transactions: absence numbers and change versions.
CREATE TABLE counters (
    name   TEXT PRIMARY KEY,
    value  INTEGER NOT NULL
) STRICT;
INSERT INTO counters (name, value) VALUES ('absence_number', 0), ('change_version', 0);

CREATE TABLE api_tokens (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants (id),
    -- SHA-256 of the token; the token itself is never stored.
    token_hash  BLOB NOT NULL UNIQUE,
    -- JSON array of scope names.
    scopes      TEXT NOT NULL,
    label       TEXT,
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER
) STRICT;

-- Current state of each absence.
CREATE TABLE absences (
    tenant_id    TEXT NOT NULL,
    absence_id   TEXT NOT NULL,
    number       INTEGER NOT NULL UNIQUE,
    revision     INTEGER NOT NULL,
    -- Optimistic-concurrency token, bumped on every write.
    row_version  INTEGER NOT NULL,
    -- The absence as last put (domain JSON); NULL once deleted at the source.
    body         TEXT,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, absence_id)
) STRICT;

-- The change log: one row per leave event.
CREATE TABLE leave_events (
    tenant_id       TEXT NOT NULL,
    change_version  INTEGER NOT NULL,
    absence_number  INTEGER NOT NULL,
    leave_key       TEXT NOT NULL,
    event           TEXT NOT NULL CHECK (event IN ('created', 'approved', 'deleted')),
    record          TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, change_version)
) STRICT;

-- Current leaves, each with the change version of its latest event.
CREATE TABLE leaves (
    tenant_id       TEXT NOT NULL,
    absence_number  INTEGER NOT NULL,
    leave_date      TEXT NOT NULL,
    half            TEXT NOT NULL CHECK (half IN ('AM', 'PM')),
    state           TEXT NOT NULL CHECK (state IN ('pending', 'approved')),
    leave           TEXT NOT NULL,
    change_version  INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, absence_number, leave_date, half)
) STRICT;
CREATE INDEX leaves_by_date ON leaves (tenant_id, leave_date, absence_number, half);

CREATE TABLE subscriptions (
    id                          TEXT PRIMARY KEY,
    tenant_id                   TEXT NOT NULL REFERENCES tenants (id),
    collection                  TEXT NOT NULL,
    destination                 TEXT NOT NULL,
    authorization_value         TEXT,
    event_filter                TEXT NOT NULL CHECK (event_filter IN ('all', 'validated_only')),
    status                      TEXT NOT NULL CHECK (status IN ('Enabled', 'Disabled')),
    valid_until                 INTEGER,
    created_at                  INTEGER NOT NULL,
    deleted_at                  INTEGER,
    signing_secret              TEXT NOT NULL,
    previous_signing_secret     TEXT,
    previous_secret_expires_at  INTEGER
) STRICT;
CREATE INDEX subscriptions_tenant ON subscriptions (tenant_id, created_at, id) WHERE deleted_at IS NULL;

-- The outbox: one row per (event, subscription). A delivery behind an unfinished one of the same
-- (subscription, leave) is 'waiting' and becomes 'pending' when that one finishes.
CREATE TABLE deliveries (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id        TEXT NOT NULL,
    subscription_id  TEXT NOT NULL REFERENCES subscriptions (id),
    change_version   INTEGER NOT NULL,
    leave_key        TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('waiting', 'pending', 'succeeded', 'failed', 'processed')),
    attempt_count    INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER NOT NULL,
    lease_until      INTEGER,
    last_http_status INTEGER,
    last_error       TEXT,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    processed_at     INTEGER,
    processed_note   TEXT,
    FOREIGN KEY (tenant_id, change_version) REFERENCES leave_events (tenant_id, change_version)
) STRICT;
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX deliveries_unfinished_by_leave ON deliveries (subscription_id, leave_key, change_version)
    WHERE status IN ('pending', 'waiting');
CREATE INDEX deliveries_by_leave ON deliveries (subscription_id, leave_key, change_version);
CREATE INDEX deliveries_failed ON deliveries (tenant_id, subscription_id, updated_at) WHERE status = 'failed';
CREATE INDEX deliveries_by_tenant ON deliveries (tenant_id, id);
CREATE INDEX deliveries_by_change ON deliveries (tenant_id, updated_at, id);
CREATE INDEX deliveries_succeeded ON deliveries (updated_at) WHERE status = 'succeeded';

CREATE TABLE delivery_attempts (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_id       INTEGER NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    tenant_id         TEXT NOT NULL,
    started_at        INTEGER NOT NULL,
    duration_ms       INTEGER NOT NULL,
    http_status       INTEGER,
    error_kind        TEXT,
    error_detail      TEXT,
    -- First 4 KiB of the response body.
    response_excerpt  BLOB
) STRICT;
CREATE INDEX delivery_attempts_delivery ON delivery_attempts (delivery_id);
