-- Idempotency keys are scoped to (tenant, app_id): keyed by tenant alone, app2 sending app1's
-- key got app1's event back (and nothing was published for app2), or a 409 that told it app1
-- had used the key. '' is the tenant-level scope of a token without app_id (as in PostgreSQL,
-- where a PRIMARY KEY column cannot be NULL). A key claimed before this migration keeps the
-- scope that claimed it, the app of its event, so an app's retry still replays; one whose
-- event is gone is ''. SQLite cannot change a primary key: the table is rebuilt (new, copy,
-- drop, rename), and the purge's index on created_at (0004), dropped with it, is made again.
CREATE TABLE idempotency_keys_new (
    tenant_id    TEXT NOT NULL,
    app_id       TEXT NOT NULL DEFAULT '',
    key          TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    event_id     TEXT NOT NULL,
    warnings     TEXT NOT NULL DEFAULT '[]',
    created_at   TEXT NOT NULL,
    PRIMARY KEY (tenant_id, app_id, key)
) STRICT;

INSERT INTO idempotency_keys_new (
    tenant_id, app_id, key, request_hash, event_id, warnings, created_at
)
SELECT k.tenant_id, coalesce(e.app_id, ''), k.key, k.request_hash, k.event_id, k.warnings,
       k.created_at
FROM idempotency_keys AS k LEFT JOIN events AS e ON e.id = k.event_id;

DROP TABLE idempotency_keys;
ALTER TABLE idempotency_keys_new RENAME TO idempotency_keys;
CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at);
