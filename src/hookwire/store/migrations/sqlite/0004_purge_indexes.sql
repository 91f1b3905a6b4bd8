-- The hourly retention purge selects old events and idempotency keys by created_at: without
-- these it read both tables whole (0.5 s of SQLite's only writer at a million events).
CREATE INDEX events_created_at ON events (created_at);
CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at);
