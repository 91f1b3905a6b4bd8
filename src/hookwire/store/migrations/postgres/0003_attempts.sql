-- The attempt log of the delivery engine, and the index that finds expired leases.
CREATE TABLE attempts (
    id               text PRIMARY KEY,
    tenant_id        text NOT NULL,
    delivery_id      text NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    webhook_id       text NOT NULL,
    started_at       timestamptz NOT NULL,
    duration_ms      integer NOT NULL,
    status_code      integer,
    outcome          text NOT NULL,
    request_headers  jsonb NOT NULL,
    response_headers jsonb NOT NULL,
    response_body    text,
    error            text
);

CREATE INDEX attempts_delivery_id ON attempts (delivery_id, id);
CREATE INDEX deliveries_leased ON deliveries (lease_expires_at) WHERE status = 'in_flight';
