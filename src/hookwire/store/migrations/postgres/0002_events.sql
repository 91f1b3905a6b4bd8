-- Event types (tenants' own, every version kept), events, their deliveries, idempotency keys.
CREATE TABLE event_types (
    tenant_id   text NOT NULL,
    name        text NOT NULL,
    version     integer NOT NULL,
    description text NOT NULL,
    schema      jsonb NOT NULL,
    example     jsonb,
    deprecated  boolean NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, name, version)
);

CREATE TABLE events (
    id           text PRIMARY KEY,
    tenant_id    text NOT NULL,
    app_id       text,
    type         text NOT NULL,
    type_version integer NOT NULL,
    data         jsonb NOT NULL,
    connector_id text,
    customer_id  text,
    state        text,
    tags         jsonb NOT NULL DEFAULT '[]',
    created_at   timestamptz NOT NULL
);

CREATE INDEX events_tenant_id ON events (tenant_id, id DESC);
CREATE INDEX events_tenant_type ON events (tenant_id, type, id DESC);

CREATE TABLE deliveries (
    id               text PRIMARY KEY,
    tenant_id        text NOT NULL,
    app_id           text,
    event_id         text NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    webhook_id       text NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    status           text NOT NULL CHECK (status IN
                         ('pending', 'in_flight', 'succeeded', 'failed', 'held', 'cancelled')),
    attempt_count    integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz,
    lease_expires_at timestamptz,
    body             bytea NOT NULL,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL
);

CREATE INDEX deliveries_event_id ON deliveries (event_id);
CREATE INDEX deliveries_tenant_id ON deliveries (tenant_id, id DESC);
CREATE INDEX deliveries_webhook_id ON deliveries (webhook_id, id DESC);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 'pending';

CREATE TABLE idempotency_keys (
    tenant_id    text NOT NULL,
    key          text NOT NULL,
    request_hash text NOT NULL,
    event_id     text NOT NULL,
    warnings     jsonb NOT NULL DEFAULT '[]',
    created_at   timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, key)
);
