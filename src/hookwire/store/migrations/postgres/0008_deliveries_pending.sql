-- Issue 15. Every write to a webhook brings its waiting deliveries in line with its state in
-- the same transaction (a paused or disabled webhook's pending deliveries are held): without
-- this index holding read every delivery the webhook ever had. The held ones have
-- deliveries_held (0006).
CREATE INDEX deliveries_pending ON deliveries (webhook_id) WHERE status = 'pending';
