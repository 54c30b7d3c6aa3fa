-- absync initial schema. Every table carries the tenant.

CREATE TABLE tenants (
    id              text PRIMARY KEY,
    -- Last change version handed out for this tenant (strictly increasing, in commit order).
    change_version  bigint NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_tokens (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id   text NOT NULL REFERENCES tenants (id),
    -- SHA-256 of the token; the token itself is never stored.
    token_hash  bytea NOT NULL UNIQUE,
    scopes      text[] NOT NULL,
    label       text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);

CREATE SEQUENCE absence_numbers AS bigint START 1;

-- Current state of each absence and its leaves.
CREATE TABLE absences (
    tenant_id    text NOT NULL REFERENCES tenants (id),
    absence_id   text NOT NULL,
    number       bigint NOT NULL UNIQUE,
    revision     bigint NOT NULL,
    -- Optimistic-concurrency token, bumped on every write.
    row_version  bigint NOT NULL,
    -- The absence as last put (domain JSON); NULL once deleted at the source.
    body         jsonb,
    -- The current leaves (domain JSON array).
    leaves       jsonb NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, absence_id)
);

-- The change log: one row per leave event, numbered per tenant.
CREATE TABLE leave_events (
    tenant_id       text NOT NULL REFERENCES tenants (id),
    change_version  bigint NOT NULL,
    absence_number  bigint NOT NULL,
    leave_key       text NOT NULL,
    event           text NOT NULL CHECK (event IN ('created', 'approved', 'deleted')),
    -- The event as the domain describes it (leave snapshot, previous state, deletion).
    record          jsonb NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, change_version)
);

CREATE TABLE subscriptions (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id      text NOT NULL REFERENCES tenants (id),
    collection     text NOT NULL,
    destination    text NOT NULL,
    -- The Authorization header value to send; never returned in full by any API.
    authorization_value text,
    event_filter   text NOT NULL CHECK (event_filter IN ('all', 'validated_only')),
    status         text NOT NULL CHECK (status IN ('Enabled', 'Disabled')),
    valid_until    timestamptz,
    created_at     timestamptz NOT NULL DEFAULT now(),
    deleted_at     timestamptz
);
CREATE INDEX subscriptions_tenant ON subscriptions (tenant_id, created_at) WHERE deleted_at IS NULL;

-- The outbox: one row per (event, subscription).
CREATE TABLE deliveries (
    id               bigserial PRIMARY KEY,
    tenant_id        text NOT NULL,
    subscription_id  uuid NOT NULL REFERENCES subscriptions (id),
    change_version   bigint NOT NULL,
    leave_key        text NOT NULL,
    status           text NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed', 'processed')),
    attempt_count    integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL,
    lease_until      timestamptz,
    last_http_status integer,
    last_error       text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (tenant_id, change_version) REFERENCES leave_events (tenant_id, change_version)
);
-- Due work: only pending rows, in due order.
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 'pending';
-- Head-of-line check per (subscription, leave).
CREATE INDEX deliveries_leave_order ON deliveries (subscription_id, leave_key, change_version)
    WHERE status = 'pending';

CREATE TABLE delivery_attempts (
    id                bigserial PRIMARY KEY,
    delivery_id       bigint NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    tenant_id         text NOT NULL,
    started_at        timestamptz NOT NULL,
    duration_ms       integer NOT NULL,
    http_status       integer,
    error_kind        text,
    error_detail      text,
    -- First 4 KiB of the response body.
    response_excerpt  bytea
);
CREATE INDEX delivery_attempts_delivery ON delivery_attempts (delivery_id);
