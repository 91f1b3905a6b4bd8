-- The attempt log of the delivery engine, and the index that finds expired leases.
CREATE TABLE attempts (
    id               TEXT PRIMARY KEY,
    tenant_id        TEXT NOT NULL,
    delivery_id      TEXT NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    webhook_id       TEXT NOT NULL,
    started_at       TEXT NOT NULL,
    duration_ms      INTEGER NOT NULL,
    status_code      INTEGER,
    outcome          TEXT NOT NULL,
    request_headers  TEXT NOT NULL,
    response_headers TEXT NOT NULL,
    response_body    TEXT,
    error            TEXT
) STRICT;

CREATE INDEX attempts_delivery_id ON attempts (delivery_id, id);
CREATE INDEX deliveries_leased ON deliveries (lease_expires_at) WHERE status = 'in_flight';
