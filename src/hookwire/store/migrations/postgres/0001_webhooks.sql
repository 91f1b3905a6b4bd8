-- Webhook endpoints (seed 004) and the ciphertexts of the local secret backend.
CREATE TABLE webhooks (
    id                   text PRIMARY KEY,
    tenant_id            text NOT NULL,
    app_id               text,
    created_at           timestamptz NOT NULL,
    updated_at           timestamptz NOT NULL,
    created_by           text,
    updated_by           text,
    source               text NOT NULL,
    source_type          text NOT NULL,
    is_deleted           boolean NOT NULL DEFAULT false,
    deleted_at           timestamptz,
    deleted_by           text,
    schema_version       integer NOT NULL,
    name                 text,
    direction            text NOT NULL CHECK (direction IN ('outbound', 'inbound')),
    url                  text NOT NULL,
    event_types          jsonb NOT NULL DEFAULT '[]',
    signature_scheme     text NOT NULL,
    vault_path           text NOT NULL,
    headers              jsonb NOT NULL DEFAULT '{}',
    enabled              boolean NOT NULL DEFAULT true,
    retry_policy         jsonb NOT NULL,
    last_delivery_at     timestamptz,
    last_delivery_status text,
    consecutive_failures integer NOT NULL DEFAULT 0,
    paused_at            timestamptz,
    connector_id         text,
    tags                 jsonb NOT NULL DEFAULT '[]',
    version              integer NOT NULL DEFAULT 1,
    application_id       text,
    secret_fingerprint   text NOT NULL,
    envelope             text NOT NULL DEFAULT 'event',
    public_key           text
);

CREATE INDEX webhooks_tenant_id ON webhooks (tenant_id, id DESC);

CREATE TABLE secrets (
    path       text PRIMARY KEY,
    ciphertext bytea NOT NULL,
    updated_at timestamptz NOT NULL
);
