-- Flow control (issue 17, docs/flow-control.md); PostgreSQL's 0008 says why each part.
-- rate_limit is JSON text, 'null' when unset (as every JSON column of this dialect).
ALTER TABLE webhooks ADD COLUMN rate_limit TEXT NOT NULL DEFAULT 'null';
ALTER TABLE webhooks ADD COLUMN max_in_flight INTEGER;
ALTER TABLE webhooks ADD COLUMN ordering TEXT NOT NULL DEFAULT 'none';
ALTER TABLE events ADD COLUMN ordering_key TEXT;
ALTER TABLE deliveries ADD COLUMN gated INTEGER NOT NULL DEFAULT 0;
ALTER TABLE deliveries ADD COLUMN ordering_key TEXT NOT NULL DEFAULT '';

DROP INDEX deliveries_due;
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 'pending' AND gated = 0;
CREATE INDEX deliveries_gated_due ON deliveries (webhook_id, next_attempt_at)
    WHERE status = 'pending' AND gated = 1;
CREATE INDEX deliveries_gated_leased ON deliveries (webhook_id, lease_expires_at)
    WHERE status = 'in_flight' AND gated = 1;
CREATE INDEX deliveries_gated_live ON deliveries (webhook_id, ordering_key, created_at, event_id)
    WHERE gated = 1 AND status IN ('pending', 'in_flight', 'held');

CREATE TABLE webhook_gates (
    webhook_id TEXT PRIMARY KEY REFERENCES webhooks (id) ON DELETE CASCADE,
    work_at    TEXT NOT NULL,
    open_at    TEXT NOT NULL,
    closed_by  TEXT CHECK (closed_by IN ('rate_limit', 'max_in_flight')),
    rate_slots TEXT NOT NULL DEFAULT '[]'
) STRICT;
CREATE INDEX webhook_gates_ready ON webhook_gates (max(work_at, open_at));
