-- Operations (issue 7). /metrics counts held deliveries (those of paused webhooks): without
-- deliveries_held it read every delivery ever made; held rows are few, so it is small. The
-- dashboard reads a webhook's attempts of the last 24 hours (health, charts) by
-- attempts_webhook_started, not by scanning its whole attempt log.
CREATE INDEX deliveries_held ON deliveries (webhook_id) WHERE status = 'held';
CREATE INDEX attempts_webhook_started ON attempts (webhook_id, started_at);
