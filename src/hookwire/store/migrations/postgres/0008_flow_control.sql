-- Flow control (issue 17, docs/flow-control.md). A webhook's rate limit, cap and ordering;
-- an event's ordering key, copied onto its deliveries ('' for none: null is one key of its own).
-- A delivery is "gated" while its webhook has any flow control: the unlimited claim reads
-- deliveries_due, which leaves gated ones out, so a throttled webhook's backlog never stands
-- in front of other webhooks' work; gated ones are claimed through their webhook's gate.
ALTER TABLE webhooks ADD COLUMN rate_limit jsonb;
ALTER TABLE webhooks ADD COLUMN max_in_flight integer;
ALTER TABLE webhooks ADD COLUMN ordering text NOT NULL DEFAULT 'none';
ALTER TABLE events ADD COLUMN ordering_key text;
ALTER TABLE deliveries ADD COLUMN gated boolean NOT NULL DEFAULT false;
ALTER TABLE deliveries ADD COLUMN ordering_key text NOT NULL DEFAULT '';

DROP INDEX deliveries_due;
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 'pending' AND NOT gated;
-- A gate's due deliveries, its leases (the cap, expired ones), and FIFO's order per key.
CREATE INDEX deliveries_gated_due ON deliveries (webhook_id, next_attempt_at)
    WHERE status = 'pending' AND gated;
CREATE INDEX deliveries_gated_leased ON deliveries (webhook_id, lease_expires_at)
    WHERE status = 'in_flight' AND gated;
CREATE INDEX deliveries_gated_live ON deliveries (webhook_id, ordering_key, created_at, event_id)
    WHERE gated AND status IN ('pending', 'in_flight', 'held');

-- One gate per gated webhook: one claimer at a time (FOR UPDATE SKIP LOCKED), when it has
-- work (work_at) and its limits let it send (open_at); the rate limit's recent starts.
CREATE TABLE webhook_gates (
    webhook_id text PRIMARY KEY REFERENCES webhooks (id) ON DELETE CASCADE,
    work_at    timestamptz NOT NULL,
    open_at    timestamptz NOT NULL,
    closed_by  text CHECK (closed_by IN ('rate_limit', 'max_in_flight')),
    rate_slots jsonb NOT NULL DEFAULT '[]'
);
CREATE INDEX webhook_gates_ready ON webhook_gates (greatest(work_at, open_at));
