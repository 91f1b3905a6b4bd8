-- Named queries of the postgres adapter. Parameters are written :name in both dialects.

-- name: insert_webhook
INSERT INTO webhooks (
    id, tenant_id, direction, url,
    vault_path, secret_fingerprint, created_at, updated_at,
    app_id, created_by, updated_by, source,
    source_type, is_deleted, deleted_at, deleted_by,
    schema_version, name, event_types, signature_scheme,
    headers, enabled, retry_policy, last_delivery_at,
    last_delivery_status, consecutive_failures, paused_at, connector_id,
    tags, version, application_id, envelope,
    public_key, signature_options, rate_limit, max_in_flight,
    ordering
) VALUES (
    :id, :tenant_id, :direction, :url,
    :vault_path, :secret_fingerprint, :created_at, :updated_at,
    :app_id, :created_by, :updated_by, :source,
    :source_type, :is_deleted, :deleted_at, :deleted_by,
    :schema_version, :name, :event_types::jsonb, :signature_scheme,
    :headers::jsonb, :enabled, :retry_policy::jsonb, :last_delivery_at,
    :last_delivery_status, :consecutive_failures, :paused_at, :connector_id,
    :tags::jsonb, :version, :application_id, :envelope,
    :public_key, :signature_options::jsonb, :rate_limit::jsonb, :max_in_flight,
    :ordering
);

-- name: webhook_state
-- What a webhook's waiting deliveries follow, read before a person's write in the same
-- transaction. The row is locked FOR UPDATE, the one mode that conflicts with the FOR KEY SHARE
-- a publish and a claim take: a publish or claim under way finishes first (and this
-- transaction's reconcile sees its deliveries), or waits and then reads the row as this
-- transaction leaves it.
SELECT enabled AS was_enabled, paused_at AS was_paused_at, is_deleted AS was_deleted,
       (rate_limit IS NOT NULL OR max_in_flight IS NOT NULL OR ordering = 'fifo') AS was_gated,
       ordering AS was_ordering
FROM webhooks WHERE id = :id AND tenant_id = :tenant_id
FOR UPDATE;

-- name: update_webhook
-- A person's write, after webhook_state locked the row: the columns the delivery engine owns
-- (last_delivery_*, consecutive_failures) are never written from a stale copy; paused_at
-- changes only through :pause ('pause' keeps an earlier pause time, 'resume' clears it and the
-- failure count).
UPDATE webhooks SET
    url = :url, secret_fingerprint = :secret_fingerprint, updated_at = :updated_at,
    updated_by = :updated_by, source = :source, source_type = :source_type,
    is_deleted = :is_deleted, deleted_at = :deleted_at, deleted_by = :deleted_by,
    name = :name, event_types = :event_types::jsonb, signature_scheme = :signature_scheme,
    headers = :headers::jsonb, enabled = :enabled, retry_policy = :retry_policy::jsonb,
    connector_id = :connector_id, tags = :tags::jsonb, version = :version,
    application_id = :application_id, envelope = :envelope, public_key = :public_key,
    signature_options = :signature_options::jsonb, rate_limit = :rate_limit::jsonb,
    max_in_flight = :max_in_flight, ordering = :ordering,
    paused_at = CASE :pause::text
        WHEN 'pause' THEN COALESCE(paused_at, :updated_at::timestamptz)
        WHEN 'resume' THEN NULL
        ELSE paused_at END,
    consecutive_failures = CASE WHEN :pause::text = 'resume' THEN 0 ELSE consecutive_failures END
WHERE id = :id AND tenant_id = :tenant_id AND version = :expected_version
RETURNING *;

-- name: get_webhook
SELECT * FROM webhooks
WHERE id = :id AND tenant_id = :tenant_id
  AND (:app_id::text IS NULL OR app_id = :app_id)
  AND (is_deleted = false OR :include_deleted::boolean);

-- name: list_webhooks
SELECT * FROM webhooks
WHERE tenant_id = :tenant_id
  AND (:app_id::text IS NULL OR app_id = :app_id)
  AND (is_deleted = false OR :include_deleted::boolean)
  AND (:before_id::text IS NULL OR id < :before_id)
  AND (:direction::text IS NULL OR direction = :direction)
  AND (:enabled::boolean IS NULL OR enabled = :enabled)
  AND (:connector_id::text IS NULL OR connector_id = :connector_id)
  AND (:tag::text IS NULL OR tags @> jsonb_build_array(:tag::text))
  AND (:event_type::text IS NULL
       OR (jsonb_array_length(event_types) = 0
         OR EXISTS (SELECT 1 FROM jsonb_array_elements_text(event_types) AS p
                    WHERE :event_type::text LIKE replace(replace(p, '_', '\_'), '*', '%'))))
ORDER BY id DESC
LIMIT :limit;

-- name: put_secret
INSERT INTO secrets (path, ciphertext, updated_at) VALUES (:path, :ciphertext, :now)
ON CONFLICT (path) DO UPDATE SET ciphertext = excluded.ciphertext, updated_at = excluded.updated_at;

-- name: get_secret
SELECT ciphertext FROM secrets WHERE path = :path;

-- name: delete_secret
DELETE FROM secrets WHERE path = :path;

-- name: fanout_webhooks
-- only what fan-out reads (domain.delivery.Candidate): decoding whole rows cost more. The
-- insert reads the chosen rows again, locked, and its reading is the one that counts.
SELECT id, tenant_id, direction, enabled, is_deleted, event_types, app_id, connector_id, envelope,
       paused_at, rate_limit, max_in_flight, ordering
FROM webhooks
WHERE tenant_id = :tenant_id
  AND (:app_id::text IS NULL OR app_id = :app_id)
  AND direction = 'outbound' AND enabled = true AND is_deleted = false
  AND (connector_id IS NULL OR connector_id = :connector_id)
  AND (jsonb_array_length(event_types) = 0
       OR EXISTS (SELECT 1 FROM jsonb_array_elements_text(event_types) AS p
                    WHERE :type::text LIKE replace(replace(p, '_', '\_'), '*', '%')));

-- name: take_idempotency_key
-- A key is the scope's own: (tenant, app), app_id '' for a token without one (migration 0007).
INSERT INTO idempotency_keys (
    tenant_id, app_id, key, request_hash, event_id, warnings, created_at
) VALUES (:tenant_id, :app_id, :key, :request_hash, :event_id, :warnings::jsonb, :created_at)
ON CONFLICT (tenant_id, app_id, key) DO UPDATE SET
    request_hash = excluded.request_hash, event_id = excluded.event_id,
    warnings = excluded.warnings, created_at = excluded.created_at
WHERE idempotency_keys.created_at < :expired_before
RETURNING event_id;

-- name: get_idempotency_key
SELECT * FROM idempotency_keys
WHERE tenant_id = :tenant_id AND app_id = :app_id AND key = :key
  AND created_at >= :fresh_after;

-- name: insert_event_with_deliveries
-- One statement, one round trip: the event and its deliveries (as parallel arrays) commit
-- together even outside a transaction. A data-modifying CTE always runs; the deliveries'
-- foreign key is checked at the end of the statement, when the event row exists.
-- The webhooks fan-out chose are read again here, locked FOR KEY SHARE until the commit: a
-- pause, resume, disable or delete (FOR UPDATE) under way is waited for and its result read
-- (READ COMMITTED re-reads a row whose lock it waited for), and one that comes later waits
-- for this commit and then sees these deliveries. So the webhook's state at commit decides:
-- none for a webhook deleted, disabled or no longer subscribed, held for a paused one.
-- Flow control is read from the same locked row: a delivery is gated while its webhook has
-- any, and on a FIFO webhook it waits (next_attempt_at NULL) while an earlier delivery of
-- its ordering key is pending, in flight or held (settling that one promotes the next).
WITH wanted AS (
    SELECT * FROM unnest(:delivery_ids::text[], :delivery_app_ids::text[],
                         :delivery_webhook_ids::text[], :delivery_statuses::text[],
                         :delivery_next_attempt_at::timestamptz[], :delivery_bodies::bytea[])
         AS d (id, app_id, webhook_id, status, next_attempt_at, body)
), live AS (
    SELECT w.id, w.paused_at IS NULL AS running, w.ordering = 'fifo' AS fifo,
           (w.rate_limit IS NOT NULL OR w.max_in_flight IS NOT NULL OR w.ordering = 'fifo')
               AS gated
    FROM webhooks AS w
    WHERE w.id IN (SELECT webhook_id FROM wanted)
      AND w.enabled = true AND w.is_deleted = false
      AND (w.connector_id IS NULL OR w.connector_id = :connector_id)
      AND (jsonb_array_length(w.event_types) = 0
           OR EXISTS (SELECT 1 FROM jsonb_array_elements_text(w.event_types) AS p
                        WHERE :type::text LIKE replace(replace(p, '_', '\_'), '*', '%')))
    ORDER BY w.id
    FOR KEY SHARE OF w
), behind AS (
    -- The FIFO webhooks where this event's ordering key has an earlier unfinished delivery:
    -- the new one waits there (next_attempt_at NULL). The latest such delivery is read FOR
    -- SHARE, which waits for a settle ending it (its UPDATE holds the row) and then reads it
    -- as the settle left it, ended; without the lock the new delivery was written waiting
    -- while the settle's promote_fifo, which cannot see it, promoted nothing, and it waited
    -- for good. One row per webhook, locked in webhook id order, the order a settle updates
    -- its deliveries in: a publish going to several FIFO webhooks cannot deadlock with it.
    SELECT l.id AS webhook_id
    FROM (SELECT id FROM live WHERE fifo ORDER BY id) AS l,
    LATERAL (
        SELECT 1 FROM deliveries AS e
        WHERE e.webhook_id = l.id AND e.gated AND e.ordering_key = coalesce(:ordering_key, '')
          AND e.status IN ('pending', 'in_flight', 'held')
          AND (e.created_at, e.event_id) < (:created_at::timestamptz, :id::text)
        ORDER BY e.created_at DESC, e.event_id DESC
        LIMIT 1
        FOR SHARE OF e
    ) AS earlier
), event AS (
    INSERT INTO events (
        id, tenant_id, app_id, type, type_version, data, connector_id, customer_id, state,
        tags, ordering_key, created_at
    ) VALUES (
        :id, :tenant_id, :app_id, :type, :type_version, :data::jsonb, :connector_id,
        :customer_id, :state, :tags::jsonb, :ordering_key, :created_at
    )
)
INSERT INTO deliveries (
    id, tenant_id, app_id, event_id, webhook_id, status, attempt_count, next_attempt_at,
    lease_expires_at, body, created_at, updated_at, gated, ordering_key
)
SELECT d.id, :tenant_id, d.app_id, :id, d.webhook_id, w.status, 0,
       CASE WHEN w.status <> 'pending' THEN NULL
            WHEN d.webhook_id IN (SELECT webhook_id FROM behind) THEN NULL
            ELSE coalesce(d.next_attempt_at, :created_at) END,
       NULL, d.body, :created_at, :created_at, l.gated, coalesce(:ordering_key, '')
FROM wanted AS d JOIN live AS l ON l.id = d.webhook_id,
     LATERAL (SELECT CASE WHEN d.status NOT IN ('pending', 'held') THEN d.status
                          WHEN l.running THEN 'pending' ELSE 'held' END AS status) AS w
RETURNING id, status, gated, next_attempt_at;

-- name: get_event
SELECT * FROM events
WHERE id = :id AND tenant_id = :tenant_id AND (:app_id::text IS NULL OR app_id = :app_id);

-- name: list_events
SELECT * FROM events
WHERE tenant_id = :tenant_id
  AND (:app_id::text IS NULL OR app_id = :app_id)
  AND (:before_id::text IS NULL OR id < :before_id)
  AND (:type::text IS NULL OR type = :type)
  AND (:since::timestamptz IS NULL OR created_at >= :since)
  AND (:until::timestamptz IS NULL OR created_at < :until)
ORDER BY id DESC
LIMIT :limit;

-- name: get_delivery
SELECT * FROM deliveries
WHERE id = :id AND tenant_id = :tenant_id AND (:app_id::text IS NULL OR app_id = :app_id);

-- name: list_deliveries
SELECT * FROM deliveries
WHERE tenant_id = :tenant_id
  AND (:app_id::text IS NULL OR app_id = :app_id)
  AND (:before_id::text IS NULL OR id < :before_id)
  AND (:webhook_id::text IS NULL OR webhook_id = :webhook_id)
  AND (:event_id::text IS NULL OR event_id = :event_id)
  AND (:status::text IS NULL OR status = :status)
  AND (:since::timestamptz IS NULL OR created_at >= :since)
  AND (:until::timestamptz IS NULL OR created_at < :until)
ORDER BY id DESC
LIMIT :limit;

-- name: insert_event_type
INSERT INTO event_types (
    tenant_id, name, version, description, schema, example, deprecated, created_at, updated_at
) VALUES (
    :tenant_id, :name, :version, :description, :schema::jsonb, :example::jsonb, :deprecated,
    :created_at, :updated_at
)
ON CONFLICT (tenant_id, name, version) DO NOTHING;

-- name: get_event_type
SELECT * FROM event_types
WHERE tenant_id = :tenant_id AND name = :name
  AND (:version::integer IS NULL OR version = :version)
ORDER BY version DESC
LIMIT 1;

-- name: list_event_types
SELECT * FROM event_types AS t
WHERE tenant_id = :tenant_id
  AND (:after::text IS NULL OR name > :after)
  AND version = (
      SELECT max(version) FROM event_types AS v
      WHERE v.tenant_id = t.tenant_id AND v.name = t.name
  )
ORDER BY name
LIMIT :limit;

-- name: update_event_type
UPDATE event_types SET
    description = :description, example = :example::jsonb, deprecated = :deprecated,
    updated_at = :updated_at
WHERE tenant_id = :tenant_id AND name = :name AND version = :version;

-- name: hold_deliveries
-- hold, release and cancel bring a webhook's waiting deliveries in line with its state
-- (domain.delivery.waiting), in the transaction that changed the state.
UPDATE deliveries SET status = 'held', next_attempt_at = NULL, updated_at = :now
WHERE webhook_id = :webhook_id AND status = 'pending';

-- name: release_deliveries
UPDATE deliveries SET status = 'pending', next_attempt_at = :now, updated_at = :now
WHERE webhook_id = :webhook_id AND status = 'held';

-- name: cancel_deliveries
UPDATE deliveries SET status = 'cancelled', next_attempt_at = NULL, updated_at = :now
WHERE webhook_id = :webhook_id AND (status = 'pending' OR status = 'held');

-- name: insert_attempt
INSERT INTO attempts (
    id, tenant_id, delivery_id, webhook_id, started_at, duration_ms, status_code, outcome,
    request_headers, response_headers, response_body, error
) VALUES (
    :id, :tenant_id, :delivery_id, :webhook_id, :started_at, :duration_ms, :status_code,
    :outcome, :request_headers::jsonb, :response_headers::jsonb, :response_body, :error
);

-- name: list_attempts
SELECT * FROM attempts WHERE delivery_id = :delivery_id AND tenant_id = :tenant_id ORDER BY id;

-- name: note_attempts
-- The delivery engine's own columns of a webhook, once per settled batch (see domain Tally).
UPDATE webhooks SET
    last_delivery_at = :at, last_delivery_status = :status,
    consecutive_failures =
        CASE WHEN :reset::boolean THEN 0 ELSE consecutive_failures END + :failures::integer
WHERE id = :id
RETURNING *;

-- name: auto_pause
-- A transition like a person's pause: FOR UPDATE, so publishes and claims under way finish.
WITH locked AS (SELECT id FROM webhooks WHERE id = :id FOR UPDATE)
UPDATE webhooks SET paused_at = :at
WHERE id IN (SELECT id FROM locked) AND paused_at IS NULL AND is_deleted = false
RETURNING *;

-- name: settle_delivery
-- Only the holder of the lease settles a delivery: a worker whose lease expired (and whose
-- delivery another worker took over) records its attempt but changes nothing else.
UPDATE deliveries SET
    status = :status, attempt_count = attempt_count + 1, next_attempt_at = :next_attempt_at,
    lease_expires_at = NULL, updated_at = :now
WHERE id = :id AND status = 'in_flight' AND lease_expires_at = :lease;

-- name: webhooks_by_id
SELECT * FROM webhooks WHERE id IN (SELECT value FROM jsonb_array_elements_text(:ids::jsonb));

-- name: claim_due
-- SKIP LOCKED: concurrent workers each take different rows, none waits for another.
-- Each delivery's webhook is read as it is now and locked FOR KEY SHARE (SKIP LOCKED: a
-- webhook whose transition is under way keeps its deliveries for a later claim): a deleted
-- webhook's delivery is cancelled, a paused or disabled one's held, and only a running one's
-- leased and sent (domain.delivery.waiting says the same in Python).
WITH pending AS (
    SELECT id, webhook_id FROM deliveries
    WHERE status = 'pending' AND NOT gated AND next_attempt_at <= :now::timestamptz
    ORDER BY next_attempt_at LIMIT :limit FOR UPDATE SKIP LOCKED
), expired AS (
    SELECT id, webhook_id FROM deliveries
    WHERE status = 'in_flight' AND NOT gated AND lease_expires_at < :now::timestamptz
    ORDER BY lease_expires_at
    LIMIT greatest(0, :limit - (SELECT count(*) FROM pending)) FOR UPDATE SKIP LOCKED
), due AS (
    SELECT id, webhook_id FROM pending UNION ALL SELECT id, webhook_id FROM expired
), hooks AS (
    SELECT id, (retry_policy->>'timeoutMs')::int AS timeout_ms,
           CASE WHEN is_deleted THEN 'cancelled'
                WHEN enabled AND paused_at IS NULL THEN 'in_flight'
                ELSE 'held' END AS status
    FROM webhooks WHERE id IN (SELECT webhook_id FROM due)
    FOR KEY SHARE SKIP LOCKED
)
UPDATE deliveries AS d SET
    status = h.status, updated_at = :now::timestamptz,
    next_attempt_at = CASE WHEN h.status = 'in_flight' THEN d.next_attempt_at END,
    lease_expires_at = CASE WHEN h.status = 'in_flight' THEN :now::timestamptz
        + make_interval(secs => (h.timeout_ms + :lease_margin_ms::int) / 1000.0) END
FROM due, hooks AS h
WHERE d.id = due.id AND h.id = due.webhook_id
RETURNING d.*;

-- name: release_lease
-- A lease given back unsent (worker stopping, no connection slot, secret store down): due
-- again at :due_at, its attempts not counted.
UPDATE deliveries SET status = 'pending', next_attempt_at = :due_at, lease_expires_at = NULL,
    updated_at = :now
WHERE id = :id AND status = 'in_flight' AND lease_expires_at = :lease;

-- name: next_due
-- When the worker must wake: the earliest retry of an unlimited webhook (deliveries_due) or
-- the earliest gate that may send (webhook_gates_ready): two index probes.
SELECT least(
    (SELECT min(next_attempt_at) FROM deliveries WHERE status = 'pending' AND NOT gated),
    (SELECT min(greatest(work_at, open_at)) FROM webhook_gates)) AS next_due_at;

-- name: requeue_delivery
-- Not while an attempt is in flight: breaking its lease would let a second worker send the
-- delivery at the same time, and the first one's result would be lost.
UPDATE deliveries SET
    status = 'pending', next_attempt_at = :now, lease_expires_at = NULL, updated_at = :now
WHERE id = :id AND tenant_id = :tenant_id AND (:app_id::text IS NULL OR app_id = :app_id)
  AND status <> 'in_flight'
RETURNING *;

-- name: recover_deliveries
UPDATE deliveries SET
    status = 'pending', attempt_count = 0, next_attempt_at = :now, updated_at = :now
WHERE webhook_id = :webhook_id AND tenant_id = :tenant_id AND status = 'failed'
  AND created_at >= :since AND (:until::timestamptz IS NULL OR created_at < :until);

-- name: purge_events
-- Old events whose every delivery is over (succeeded, failed or cancelled); their deliveries
-- and attempts go with them (ON DELETE CASCADE).
DELETE FROM events
WHERE created_at < :before
  AND NOT EXISTS (
      SELECT 1 FROM deliveries AS d
      WHERE d.event_id = events.id AND d.status IN ('pending', 'in_flight', 'held')
  );

-- name: purge_idempotency_keys
DELETE FROM idempotency_keys WHERE created_at < :before;

-- name: purge_webhooks
DELETE FROM webhooks
WHERE is_deleted = true AND deleted_at < :before
  AND NOT EXISTS (SELECT 1 FROM deliveries AS d WHERE d.webhook_id = webhooks.id)
RETURNING vault_path;

-- name: inbound_webhook
SELECT * FROM webhooks
WHERE id = :id AND direction = 'inbound' AND enabled = true AND is_deleted = false;

-- name: note_rejected
UPDATE webhooks SET rejected_requests = rejected_requests + 1, last_rejected_at = :at
WHERE id = :id;

-- name: insert_inbound_message
-- A duplicate (same webhook, same dedupe key) inserts nothing and returns no row; a concurrent
-- one waits for the first transaction and then inserts nothing.
INSERT INTO inbound_messages (
    id, tenant_id, app_id, webhook_id, connector_id, scheme, dedupe_key, provider_event,
    headers, body, body_size, event_id, received_at
) VALUES (
    :id, :tenant_id, :app_id, :webhook_id, :connector_id, :scheme, :dedupe_key, :provider_event,
    :headers::jsonb, :body, :body_size, :event_id, :received_at
)
ON CONFLICT (webhook_id, dedupe_key) DO NOTHING
RETURNING id;

-- name: inbound_duplicate
SELECT id FROM inbound_messages WHERE webhook_id = :webhook_id AND dedupe_key = :dedupe_key;

-- name: get_inbound_message
SELECT * FROM inbound_messages
WHERE id = :id AND tenant_id = :tenant_id AND (:app_id::text IS NULL OR app_id = :app_id);

-- name: list_inbound_messages
-- Without the bodies: a page of 200 could otherwise be 200 x MAX_PAYLOAD_BYTES.
SELECT id, tenant_id, app_id, webhook_id, connector_id, scheme, dedupe_key, provider_event,
       headers, body_size, event_id, received_at
FROM inbound_messages
WHERE tenant_id = :tenant_id
  AND (:app_id::text IS NULL OR app_id = :app_id)
  AND (:before_id::text IS NULL OR id < :before_id)
  AND (:webhook_id::text IS NULL OR webhook_id = :webhook_id)
  AND (:provider_event::text IS NULL OR provider_event = :provider_event)
  AND (:since::timestamptz IS NULL OR received_at >= :since)
  AND (:until::timestamptz IS NULL OR received_at < :until)
ORDER BY id DESC
LIMIT :limit;

-- name: purge_inbound_messages
DELETE FROM inbound_messages WHERE received_at < :before;

-- name: queue_stats
-- For /metrics: each count is read from a partial index (deliveries_due and
-- deliveries_gated_due, deliveries_leased, deliveries_held), never from the finished
-- deliveries, which grow without bound. next_due_at is when the workers should next claim
-- (as next_due): a throttled webhook's backlog is not late. The waiting counts are of gated
-- deliveries that could go but for their webhook's limits, by the limit that holds them.
SELECT
    (SELECT count(*) FROM deliveries WHERE status = 'pending' AND NOT gated)
    + (SELECT count(*) FROM deliveries WHERE status = 'pending' AND gated) AS pending,
    (SELECT count(*) FROM deliveries
     WHERE status = 'pending' AND NOT gated AND next_attempt_at <= :now::timestamptz)
    + (SELECT count(*) FROM deliveries
       WHERE status = 'pending' AND gated AND next_attempt_at <= :now::timestamptz) AS due,
    least((SELECT min(next_attempt_at) FROM deliveries WHERE status = 'pending' AND NOT gated),
          (SELECT min(greatest(work_at, open_at)) FROM webhook_gates)) AS next_due_at,
    (SELECT count(*) FROM deliveries WHERE status = 'in_flight') AS in_flight,
    (SELECT count(*) FROM deliveries WHERE status = 'held') AS held,
    (SELECT count(*) FROM webhooks
     WHERE paused_at IS NOT NULL AND is_deleted = false) AS paused_webhooks,
    (SELECT count(*) FROM deliveries
     WHERE status = 'pending' AND gated AND next_attempt_at IS NULL) AS waiting_ordering,
    (SELECT count(*) FROM webhook_gates AS g JOIN deliveries AS d
         ON d.webhook_id = g.webhook_id AND d.status = 'pending' AND d.gated
        AND d.next_attempt_at <= :now::timestamptz
     WHERE g.closed_by = 'rate_limit' AND g.open_at > :now::timestamptz) AS waiting_rate_limit,
    (SELECT count(*) FROM webhook_gates AS g JOIN deliveries AS d
         ON d.webhook_id = g.webhook_id AND d.status = 'pending' AND d.gated
        AND d.next_attempt_at <= :now::timestamptz
     WHERE g.closed_by = 'max_in_flight' AND g.open_at > :now::timestamptz) AS waiting_max_in_flight;

-- name: attempts_after
-- ``deliveries tail``: what came after the last attempt shown, oldest first.
SELECT * FROM attempts
WHERE tenant_id = :tenant_id AND id > :after_id
  AND (:webhook_id::text IS NULL OR webhook_id = :webhook_id)
ORDER BY id
LIMIT :limit;

-- name: latest_attempts
SELECT * FROM attempts
WHERE tenant_id = :tenant_id
  AND (:webhook_id::text IS NULL OR webhook_id = :webhook_id)
ORDER BY id DESC
LIMIT :limit;

-- name: attempt_health
-- The dashboard's webhook list: attempts and successes since :since, per webhook of the page
-- (:webhook_ids is a JSON array, as text).
SELECT webhook_id, count(*) AS attempts,
       sum(CASE WHEN status_code BETWEEN 200 AND 299 THEN 1 ELSE 0 END) AS succeeded
FROM attempts
WHERE tenant_id = :tenant_id AND started_at >= :since
  AND webhook_id IN (SELECT jsonb_array_elements_text(:webhook_ids::text::jsonb))
GROUP BY webhook_id;

-- name: attempt_activity
-- One webhook's attempts since :since in buckets of :width seconds (unix time, floored): how
-- many, how many succeeded, and how many failed but were (or will be) tried again.
SELECT (floor(extract(epoch FROM a.started_at) / :width::integer) * :width::integer)::bigint
           AS bucket,
       count(*) AS attempts,
       sum(CASE WHEN a.status_code BETWEEN 200 AND 299 THEN 1 ELSE 0 END) AS succeeded,
       sum(CASE WHEN coalesce(a.status_code, 0) BETWEEN 200 AND 299 THEN 0
                WHEN d.status IN ('pending', 'in_flight', 'held') THEN 1
                WHEN EXISTS (SELECT 1 FROM attempts AS b
                             WHERE b.delivery_id = a.delivery_id AND b.id > a.id) THEN 1
                ELSE 0 END) AS retrying
FROM attempts AS a JOIN deliveries AS d ON d.id = a.delivery_id
WHERE a.webhook_id = :webhook_id AND a.tenant_id = :tenant_id
  AND a.started_at >= :since::timestamptz
GROUP BY bucket
ORDER BY bucket;

-- name: consistency
-- hookwire doctor: counts of rows in a state the engine should never leave them in (each 0
-- on a healthy store). Some read every delivery: an operator's command, not a hot path.
SELECT
    (SELECT count(*) FROM deliveries
     WHERE status = 'in_flight' AND lease_expires_at < :stale_before) AS expired_leases,
    (SELECT count(*) FROM deliveries AS d JOIN webhooks AS w ON w.id = d.webhook_id
     WHERE d.status IN ('pending', 'held') AND w.is_deleted = true) AS due_for_deleted_webhooks,
    (SELECT count(*) FROM deliveries AS d JOIN webhooks AS w ON w.id = d.webhook_id
     WHERE d.status = 'held' AND w.paused_at IS NULL AND w.enabled = true
       AND w.is_deleted = false) AS held_for_running_webhooks,
    (SELECT count(*) FROM deliveries AS d
     WHERE d.status = 'pending' AND d.next_attempt_at IS NULL AND NOT EXISTS (
         SELECT 1 FROM deliveries AS e
         WHERE e.webhook_id = d.webhook_id AND e.gated = true AND d.gated = true
           AND e.ordering_key = d.ordering_key AND e.status IN ('pending', 'in_flight', 'held')
           AND (e.created_at, e.event_id) < (d.created_at, d.event_id)))
        AS pending_without_due_time,
    (SELECT count(*) FROM (
         SELECT d.webhook_id, d.ordering_key FROM deliveries AS d
         JOIN webhooks AS w ON w.id = d.webhook_id
         WHERE d.status = 'in_flight' AND w.ordering = 'fifo'
         GROUP BY d.webhook_id, d.ordering_key HAVING count(*) > 1) AS o) AS fifo_overlaps,
    (SELECT count(*) FROM webhooks AS w
     WHERE w.max_in_flight < (SELECT count(*) FROM deliveries AS d
                              WHERE d.webhook_id = w.id AND d.status = 'in_flight')) AS over_cap,
    (SELECT count(*) FROM webhooks AS w
     WHERE w.is_deleted = false AND (w.rate_limit IS NOT NULL OR w.max_in_flight IS NOT NULL OR w.ordering = 'fifo')
       AND NOT EXISTS (SELECT 1 FROM webhook_gates AS g WHERE g.webhook_id = w.id))
        AS gates_missing,
    (SELECT count(*) FROM deliveries AS d JOIN webhooks AS w ON w.id = d.webhook_id
     WHERE d.status IN ('pending', 'in_flight', 'held')
       AND d.gated <> (w.rate_limit IS NOT NULL OR w.max_in_flight IS NOT NULL OR w.ordering = 'fifo')) AS gated_mismatch,
    (SELECT count(*) FROM webhook_gates AS g JOIN webhooks AS w ON w.id = g.webhook_id
     WHERE w.enabled = true AND w.paused_at IS NULL AND w.is_deleted = false
       AND g.work_at > :stale_before AND (g.closed_by IS NULL OR g.open_at < :stale_before)
       AND EXISTS (
           SELECT 1 FROM deliveries AS d
           WHERE d.webhook_id = g.webhook_id AND d.gated = true AND d.status = 'pending'
             AND d.next_attempt_at < :stale_before AND NOT EXISTS (
                 SELECT 1 FROM deliveries AS e
                 WHERE e.webhook_id = d.webhook_id AND e.gated = true AND w.ordering = 'fifo'
                   AND e.ordering_key = d.ordering_key AND e.id <> d.id
                   AND e.status IN ('pending', 'in_flight', 'held')
                   AND (e.status = 'in_flight'
                        OR (e.created_at, e.event_id) < (d.created_at, d.event_id)))))
        AS sleeping_gates,
    (SELECT count(*) FROM deliveries AS d
     WHERE d.status = 'succeeded' AND NOT EXISTS (
         SELECT 1 FROM attempts AS a
         WHERE a.delivery_id = d.id AND a.status_code BETWEEN 200 AND 299)) AS succeeded_without_2xx,
    (SELECT count(*) FROM deliveries AS d
     WHERE d.attempt_count > (SELECT count(*) FROM attempts AS a
                              WHERE a.delivery_id = d.id)) AS attempts_missing,
    (SELECT count(*) FROM secrets AS s
     WHERE NOT EXISTS (SELECT 1 FROM webhooks AS w WHERE w.vault_path = s.path)) AS orphan_secrets;

-- name: webhook_vault_paths
SELECT vault_path FROM webhooks WHERE is_deleted = false ORDER BY id;

-- Flow control (store/gates.py, docs/flow-control.md) ------------------------------------

-- name: insert_gate
INSERT INTO webhook_gates (webhook_id, work_at, open_at) VALUES (:webhook_id, :now, :now)
ON CONFLICT (webhook_id) DO UPDATE SET work_at = least(webhook_gates.work_at, :now::timestamptz);

-- name: delete_gate
DELETE FROM webhook_gates WHERE webhook_id = :webhook_id;

-- name: regate_deliveries
-- A webhook's flow control turned on or off: its unfinished deliveries follow.
UPDATE deliveries SET gated = :gated
WHERE webhook_id = :webhook_id AND status IN ('pending', 'in_flight', 'held')
  AND gated <> :gated::boolean;

-- name: order_fifo
-- FIFO again from scratch for one webhook (ordering turned on, a resume, a recover, a retry):
-- per ordering key, the earliest unfinished delivery goes when it is pending, and every other
-- pending one waits (next_attempt_at NULL) for the one before it.
UPDATE deliveries AS d SET
    next_attempt_at = CASE WHEN r.head THEN coalesce(d.next_attempt_at, :now) END
FROM (SELECT id, row_number() OVER (PARTITION BY ordering_key
                                    ORDER BY created_at, event_id) = 1 AS head
      FROM deliveries
      WHERE webhook_id = :webhook_id AND gated AND status IN ('pending', 'in_flight', 'held')
     ) AS r
WHERE d.id = r.id AND d.status = 'pending'
  AND EXISTS (SELECT 1 FROM webhooks WHERE id = :webhook_id AND ordering = 'fifo')
  AND d.next_attempt_at IS DISTINCT FROM
      CASE WHEN r.head THEN coalesce(d.next_attempt_at, :now) END;

-- name: unorder_fifo
-- Ordering turned off: what waited for an earlier delivery is due now.
UPDATE deliveries SET next_attempt_at = :now
WHERE webhook_id = :webhook_id AND status = 'pending' AND next_attempt_at IS NULL;

-- name: promote_fifo
-- A FIFO delivery ended: the earliest unfinished one of its key goes, when it waited.
UPDATE deliveries SET next_attempt_at = :now
WHERE id = (SELECT id FROM deliveries
            WHERE webhook_id = :webhook_id AND gated AND ordering_key = :ordering_key
              AND status IN ('pending', 'in_flight', 'held')
            ORDER BY created_at, event_id LIMIT 1)
  AND status = 'pending' AND next_attempt_at IS NULL;

-- name: wake_gates
-- A publish made gated deliveries due at :at: run after its insert (after its commit, without
-- an Idempotency-Key), never inside the insert, which holds rows a settle waits for. Written
-- only when the gate had no work that early, so publishes to a busy webhook do not queue on
-- its gate's row; a claim that drained a gate looks again once the publishes under way commit
-- (store/gates.py: recheck). Locked in id order: two publishes waking the same gates do not
-- deadlock.
UPDATE webhook_gates SET work_at = :at
WHERE webhook_id IN (
    SELECT webhook_id FROM webhook_gates
    WHERE webhook_id IN (SELECT value FROM jsonb_array_elements_text(:ids::jsonb))
      AND work_at > :at::timestamptz
    ORDER BY webhook_id
    FOR NO KEY UPDATE);

-- name: poke_gate
-- Its deliveries changed (settled, given back, released, re-queued): it has work from :at,
-- and a cap it hit may have room. Always written, so it waits for a claim holding the gate
-- and then applies to what that claim wrote.
UPDATE webhook_gates SET
    work_at = least(work_at, :at::timestamptz),
    open_at = CASE WHEN closed_by = 'max_in_flight' THEN least(open_at, :at::timestamptz)
                   ELSE open_at END,
    closed_by = CASE WHEN closed_by = 'max_in_flight' THEN NULL ELSE closed_by END
WHERE webhook_id = :webhook_id;

-- name: open_gate
-- A person changed the webhook (its limits, maybe): whatever closed its gate is decided again
-- by the next claim, with the settings as they are now. The rate limit's counts stay.
UPDATE webhook_gates SET
    work_at = least(work_at, :now::timestamptz), open_at = least(open_at, :now::timestamptz), closed_by = NULL
WHERE webhook_id = :webhook_id;

-- name: sweep_gates
-- The backstop (store/gates.py: SWEEP_EVERY): wake a gate asleep with a delivery due, had a
-- wake been lost (an API process that died between a publish's commit and its wake).
UPDATE webhook_gates AS g SET work_at = :now
WHERE g.work_at > :now::timestamptz
  AND (g.closed_by IS NULL OR g.open_at <= :now::timestamptz)
  AND EXISTS (SELECT 1 FROM deliveries AS d
              WHERE d.webhook_id = g.webhook_id AND d.status = 'pending' AND d.gated
                AND d.next_attempt_at <= :now::timestamptz);

-- name: gates_due
SELECT 1 AS due FROM webhook_gates WHERE greatest(work_at, open_at) <= :now LIMIT 1;

-- name: lock_due_gates
-- The gates that may send now, longest waiting first, each with its webhook as it is now.
-- SKIP LOCKED: one claimer per gate, and a gate whose webhook is being settled is skipped.
SELECT g.work_at, g.open_at, g.closed_by, g.rate_slots, w.*
FROM webhook_gates AS g JOIN webhooks AS w ON w.id = g.webhook_id
WHERE greatest(g.work_at, g.open_at) <= :now
ORDER BY greatest(g.work_at, g.open_at)
LIMIT :limit
FOR UPDATE OF g SKIP LOCKED;

-- name: expire_gated_leases
-- Leases whose worker died: pending again, due when they were (their order kept), so the
-- gate counts them as the starts they will be.
UPDATE deliveries SET status = 'pending', lease_expires_at = NULL, updated_at = :now,
    next_attempt_at = coalesce(next_attempt_at, :now)
WHERE webhook_id = :webhook_id AND status = 'in_flight' AND gated
  AND lease_expires_at < :now::timestamptz;

-- name: gate_stats
-- One gate's leases and next due time, read after the gate is locked (so a claim that held
-- it before is seen whole); run for each locked gate in one round trip (FetchMany).
SELECT :webhook_id::text AS webhook_id,
       (SELECT count(*) FROM deliveries
        WHERE webhook_id = :webhook_id AND status = 'in_flight' AND gated) AS in_flight,
       (SELECT min(lease_expires_at) FROM deliveries
        WHERE webhook_id = :webhook_id AND status = 'in_flight' AND gated) AS lease_ends_at,
       (SELECT min(next_attempt_at) FROM deliveries
        WHERE webhook_id = :webhook_id AND status = 'pending' AND gated
          AND next_attempt_at > :now::timestamptz) AS next_due_at;

-- name: gate_candidates
-- Up to :room of one gate's due deliveries, earliest first; of a FIFO webhook only those with
-- no earlier unfinished delivery and nothing in flight for their key.
SELECT * FROM deliveries AS d
WHERE d.webhook_id = :webhook_id AND d.status = 'pending' AND d.gated
  AND d.next_attempt_at <= :now::timestamptz
  AND (NOT :fifo::boolean OR NOT EXISTS (
      SELECT 1 FROM deliveries AS e
      WHERE e.webhook_id = d.webhook_id AND e.gated AND e.ordering_key = d.ordering_key
        AND e.status IN ('pending', 'in_flight', 'held') AND e.id <> d.id
        AND (e.status = 'in_flight'
             OR (e.created_at, e.event_id) < (d.created_at, d.event_id))))
ORDER BY d.next_attempt_at
LIMIT :room
FOR UPDATE SKIP LOCKED;

-- name: lease_delivery
UPDATE deliveries SET status = 'in_flight', lease_expires_at = :lease, updated_at = :now
WHERE id = :id;

-- name: stop_delivery
-- A claimed delivery whose webhook is no longer running: held (paused or disabled) or
-- cancelled (deleted), never sent.
UPDATE deliveries SET status = :status, next_attempt_at = NULL, lease_expires_at = NULL,
    updated_at = :now
WHERE id = :id;

-- name: update_gate
UPDATE webhook_gates SET
    work_at = :work_at, open_at = :open_at, closed_by = :closed_by,
    rate_slots = :rate_slots::jsonb
WHERE webhook_id = :webhook_id;

-- name: lock_webhooks
-- recheck_gates: wait for publishes under way to these webhooks (they hold FOR KEY SHARE).
SELECT id FROM webhooks
WHERE id IN (SELECT value FROM jsonb_array_elements_text(:ids::jsonb))
ORDER BY id
FOR UPDATE;

-- name: webhook_backlog
-- What a gated webhook's unfinished deliveries wait for (the dashboard; domain.flow.Backlog),
-- each count from a partial index of gated deliveries (never from the webhook's history).
SELECT
    (SELECT count(*) FROM deliveries
     WHERE webhook_id = :webhook_id AND tenant_id = :tenant_id AND gated AND status = 'pending'
       AND next_attempt_at <= :now::timestamptz) AS due,
    (SELECT count(*) FROM deliveries
     WHERE webhook_id = :webhook_id AND tenant_id = :tenant_id AND gated AND status = 'pending'
       AND next_attempt_at IS NULL) AS ordering,
    (SELECT count(*) FROM deliveries
     WHERE webhook_id = :webhook_id AND tenant_id = :tenant_id AND gated AND status = 'pending'
       AND next_attempt_at > :now::timestamptz) AS scheduled,
    (SELECT count(*) FROM deliveries
     WHERE webhook_id = :webhook_id AND tenant_id = :tenant_id AND gated AND status = 'in_flight')
        AS in_flight,
    g.closed_by, g.open_at
FROM (SELECT 1) AS one
LEFT JOIN webhook_gates AS g
    ON g.webhook_id = :webhook_id AND g.open_at > :now::timestamptz AND g.closed_by IS NOT NULL
   AND EXISTS (SELECT 1 FROM webhooks WHERE id = :webhook_id AND tenant_id = :tenant_id);
