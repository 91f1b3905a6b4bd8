-- Idempotency keys are scoped to (tenant, app_id): keyed by tenant alone, app2 sending app1's
-- key got app1's event back (and nothing was published for app2), or a 409 that told it app1
-- had used the key. '' is the tenant-level scope of a token without app_id: a PRIMARY KEY
-- column cannot be NULL. A key claimed before this migration keeps the scope that claimed
-- it, the app of its event, so an app's retry still replays; one whose event is gone is ''.
ALTER TABLE idempotency_keys ADD COLUMN app_id text NOT NULL DEFAULT '';
UPDATE idempotency_keys AS k SET app_id = e.app_id
FROM events AS e
WHERE e.id = k.event_id AND e.app_id IS NOT NULL;
ALTER TABLE idempotency_keys
    DROP CONSTRAINT idempotency_keys_pkey,
    ADD PRIMARY KEY (tenant_id, app_id, key);
