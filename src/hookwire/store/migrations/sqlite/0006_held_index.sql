-- /metrics counts held deliveries (those of paused webhooks): without this it read every
-- delivery ever made. Held rows are few, so the index is small.
CREATE INDEX deliveries_held ON deliveries (webhook_id) WHERE status = 'held';
