-- Event types (tenants' own, every version kept), events, their deliveries, idempotency keys.
CREATE TABLE event_types (
    tenant_id   TEXT NOT NULL,
    name        TEXT NOT NULL,
    version     INTEGER NOT NULL,
    description TEXT NOT NULL,
    schema      TEXT NOT NULL,
    example     TEXT,
    deprecated  INTEGER NOT NULL DEFAULT 0,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (tenant_id, name, version)
) STRICT;

CREATE TABLE events (
    id           TEXT PRIMARY KEY,
    tenant_id    TEXT NOT NULL,
    app_id       TEXT,
    type         TEXT NOT NULL,
    type_version INTEGER NOT NULL,
    data         TEXT NOT NULL,
    connector_id TEXT,
    customer_id  TEXT,
    state        TEXT,
    tags         TEXT NOT NULL DEFAULT '[]',
    created_at   TEXT NOT NULL
) STRICT;

CREATE INDEX events_tenant_id ON events (tenant_id, id DESC);
CREATE INDEX events_tenant_type ON events (tenant_id, type, id DESC);

CREATE TABLE deliveries (
    id               TEXT PRIMARY KEY,
    tenant_id        TEXT NOT NULL,
    app_id           TEXT,
    event_id         TEXT NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    webhook_id       TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    status           TEXT NOT NULL CHECK (status IN
                         ('pending', 'in_flight', 'succeeded', 'failed', 'held', 'cancelled')),
    attempt_count    INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  TEXT,
    lease_expires_at TEXT,
    body             BLOB NOT NULL,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
) STRICT;

CREATE INDEX deliveries_event_id ON deliveries (event_id);
CREATE INDEX deliveries_tenant_id ON deliveries (tenant_id, id DESC);
CREATE INDEX deliveries_webhook_id ON deliveries (webhook_id, id DESC);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 'pending';

CREATE TABLE idempotency_keys (
    tenant_id    TEXT NOT NULL,
    key          TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    event_id     TEXT NOT NULL,
    warnings     TEXT NOT NULL DEFAULT '[]',
    created_at   TEXT NOT NULL,
    PRIMARY KEY (tenant_id, key)
) STRICT;
