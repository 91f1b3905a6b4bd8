-- Webhook endpoints (seed 004) and the ciphertexts of the local secret backend.
CREATE TABLE webhooks (
    id                   TEXT PRIMARY KEY,
    tenant_id            TEXT NOT NULL,
    app_id               TEXT,
    created_at           TEXT NOT NULL,
    updated_at           TEXT NOT NULL,
    created_by           TEXT,
    updated_by           TEXT,
    source               TEXT NOT NULL,
    source_type          TEXT NOT NULL,
    is_deleted           INTEGER NOT NULL DEFAULT 0,
    deleted_at           TEXT,
    deleted_by           TEXT,
    schema_version       INTEGER NOT NULL,
    name                 TEXT,
    direction            TEXT NOT NULL CHECK (direction IN ('outbound', 'inbound')),
    url                  TEXT NOT NULL,
    event_types          TEXT NOT NULL DEFAULT '[]',
    signature_scheme     TEXT NOT NULL,
    vault_path           TEXT NOT NULL,
    headers              TEXT NOT NULL DEFAULT '{}',
    enabled              INTEGER NOT NULL DEFAULT 1,
    retry_policy         TEXT NOT NULL,
    last_delivery_at     TEXT,
    last_delivery_status TEXT,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    paused_at            TEXT,
    connector_id         TEXT,
    tags                 TEXT NOT NULL DEFAULT '[]',
    version              INTEGER NOT NULL DEFAULT 1,
    application_id       TEXT,
    secret_fingerprint   TEXT NOT NULL,
    envelope             TEXT NOT NULL DEFAULT 'event',
    public_key           TEXT
) STRICT;

CREATE INDEX webhooks_tenant_id ON webhooks (tenant_id, id DESC);

CREATE TABLE secrets (
    path       TEXT PRIMARY KEY,
    ciphertext BLOB NOT NULL,
    updated_at TEXT NOT NULL
) STRICT;
