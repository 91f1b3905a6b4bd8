-- Inbound webhooks (docs/concepts.md "Inbound messages"): the generic scheme's options, the count of refused
-- requests on each webhook, and the verified messages, unique per webhook by their dedupe key.
ALTER TABLE webhooks ADD COLUMN signature_options jsonb NOT NULL DEFAULT '{}';
ALTER TABLE webhooks ADD COLUMN rejected_requests integer NOT NULL DEFAULT 0;
ALTER TABLE webhooks ADD COLUMN last_rejected_at timestamptz;

CREATE TABLE inbound_messages (
    id             text PRIMARY KEY,
    tenant_id      text NOT NULL,
    app_id         text,
    webhook_id     text NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    connector_id   text,
    scheme         text NOT NULL,
    dedupe_key     text NOT NULL,
    provider_event text,
    headers        jsonb NOT NULL,
    body           bytea NOT NULL,
    body_size      integer NOT NULL,
    event_id       text,
    received_at    timestamptz NOT NULL,
    UNIQUE (webhook_id, dedupe_key)
);

CREATE INDEX inbound_messages_tenant_id ON inbound_messages (tenant_id, id DESC);
CREATE INDEX inbound_messages_webhook_id ON inbound_messages (webhook_id, id DESC);
CREATE INDEX inbound_messages_received_at ON inbound_messages (received_at);
