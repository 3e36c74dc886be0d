-- Which tenant each batch belongs to, whether it is still active, and when it is deleted. Idempotent: applied on every
-- start, after 20-batches.sql.
BEGIN;
SELECT pg_advisory_xact_lock(hashtext('orleans-batch-schema'));

-- One row per batch, written when the batch is created and whenever it becomes active or finished again (a retry, a
-- resumed upload). status is 'active' (pending or processing) or 'finished' (completed, failed or cancelled).
-- is_async: the batch counts against its tenant's active async batches quota while active.
-- expires_at: when the retention janitor deletes a finished batch's items, results and state (null while active, or
-- for a batch from before this table, until the janitor sets it from its tenant's retention).
-- deleted_at: when it did; the row stays as a tombstone, and the batch's routes answer 410, for as long again as the
-- batch was kept (expires_at - finished_at), then the row goes and they answer 404.
CREATE TABLE IF NOT EXISTS batch_registry (
    batch_id    varchar(64) PRIMARY KEY,
    tenant_id   varchar(40) NOT NULL,
    status      varchar(16) NOT NULL CHECK (status IN ('active', 'finished')),
    is_async    boolean     NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    expires_at  timestamptz,
    deleted_at  timestamptz
);
-- The quota's count: a tenant's active async batches.
CREATE INDEX IF NOT EXISTS ix_batch_registry_active ON batch_registry (tenant_id) WHERE status = 'active' AND is_async;
-- The janitor's slices: finished batches by expiry, tombstones by deletion.
CREATE INDEX IF NOT EXISTS ix_batch_registry_expires ON batch_registry (expires_at) WHERE status = 'finished' AND deleted_at IS NULL;
CREATE INDEX IF NOT EXISTS ix_batch_registry_deleted ON batch_registry (deleted_at) WHERE deleted_at IS NOT NULL;

-- Batches from before tenants existed belong to the default tenant. Their items name them; whether they still run is in
-- their grain state, which SQL cannot read reliably: they are taken as finished from now, so they are kept a whole
-- retention from the upgrade (the janitor sets expires_at from the default tenant's retention), and one still running
-- writes itself back to active at its next checkpoint; the janitor never deletes a batch its grain says still runs.
INSERT INTO batch_registry (batch_id, tenant_id, status, is_async, created_at, finished_at)
SELECT DISTINCT p.batch_id, 'default', 'finished', true, now(), now()
FROM batch_item_pages p
WHERE p.first_seq = 0 AND NOT EXISTS (SELECT 1 FROM batch_registry r WHERE r.batch_id = p.batch_id)
ON CONFLICT (batch_id) DO NOTHING;

COMMIT;
