-- Idempotency records (deploy/sql/20-batches.sql) belong to a tenant: a key is unique within its tenant only, and a
-- database from before tenants keeps its records as the default tenant's. Idempotent: applied on every start.
BEGIN;
SELECT pg_advisory_xact_lock(hashtext('orleans-batch-schema'));

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = 'idempotency_records'::regclass AND attname = 'tenant_id' AND NOT attisdropped) THEN
        -- A constant default fills the existing rows without rewriting the table; it is dropped at once, so no insert
        -- can leave the tenant out.
        ALTER TABLE idempotency_records ADD COLUMN tenant_id varchar(40) NOT NULL DEFAULT 'default';
        ALTER TABLE idempotency_records ALTER COLUMN tenant_id DROP DEFAULT,
            DROP CONSTRAINT idempotency_records_pkey, ADD CONSTRAINT idempotency_records_pkey PRIMARY KEY (tenant_id, key);
    END IF;
END $$;

COMMIT;
