-- Inbound webhooks (docs/concepts.md "Inbound messages"): the generic scheme's options, the count of refused
-- requests on each webhook, and the verified messages, unique per webhook by their dedupe key.
ALTER TABLE webhooks ADD COLUMN signature_options TEXT NOT NULL DEFAULT '{}';
ALTER TABLE webhooks ADD COLUMN rejected_requests INTEGER NOT NULL DEFAULT 0;
ALTER TABLE webhooks ADD COLUMN last_rejected_at TEXT;

CREATE TABLE inbound_messages (
    id             TEXT PRIMARY KEY,
    tenant_id      TEXT NOT NULL,
    app_id         TEXT,
    webhook_id     TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    connector_id   TEXT,
    scheme         TEXT NOT NULL,
    dedupe_key     TEXT NOT NULL,
    provider_event TEXT,
    headers        TEXT NOT NULL,
    body           BLOB NOT NULL,
    body_size      INTEGER NOT NULL,
    event_id       TEXT,
    received_at    TEXT NOT NULL,
    UNIQUE (webhook_id, dedupe_key)
) STRICT;

CREATE INDEX inbound_messages_tenant_id ON inbound_messages (tenant_id, id DESC);
CREATE INDEX inbound_messages_webhook_id ON inbound_messages (webhook_id, id DESC);
CREATE INDEX inbound_messages_received_at ON inbound_messages (received_at);
