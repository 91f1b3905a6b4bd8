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
    public_key
) VALUES (
    :id, :tenant_id, :direction, :url,
    :vault_path, :secret_fingerprint, :created_at, :updated_at,
    :app_id, :created_by, :updated_by, :source,
    :source_type, :is_deleted, :deleted_at, :deleted_by,
    :schema_version, :name, :event_types::jsonb, :signature_scheme,
    :headers::jsonb, :enabled, :retry_policy::jsonb, :last_delivery_at,
    :last_delivery_status, :consecutive_failures, :paused_at, :connector_id,
    :tags::jsonb, :version, :application_id, :envelope,
    :public_key
);

-- name: update_webhook
UPDATE webhooks SET
    direction = :direction, url = :url,
    vault_path = :vault_path, secret_fingerprint = :secret_fingerprint,
    created_at = :created_at, updated_at = :updated_at,
    app_id = :app_id, created_by = :created_by,
    updated_by = :updated_by, source = :source,
    source_type = :source_type, is_deleted = :is_deleted,
    deleted_at = :deleted_at, deleted_by = :deleted_by,
    schema_version = :schema_version, name = :name,
    event_types = :event_types::jsonb, signature_scheme = :signature_scheme,
    headers = :headers::jsonb, enabled = :enabled,
    retry_policy = :retry_policy::jsonb, last_delivery_at = :last_delivery_at,
    last_delivery_status = :last_delivery_status, consecutive_failures = :consecutive_failures,
    paused_at = :paused_at, connector_id = :connector_id,
    tags = :tags::jsonb, version = :version,
    application_id = :application_id, envelope = :envelope,
    public_key = :public_key
WHERE id = :id AND tenant_id = :tenant_id AND version = :expected_version;

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
