-- Tenants and their API keys. Idempotent: applied on every start.
BEGIN;
SELECT pg_advisory_xact_lock(hashtext('orleans-batch-schema'));

-- A quota column left NULL takes the configured default (Tenancy:Quotas).
CREATE TABLE IF NOT EXISTS tenants (
    id                    varchar(40)  PRIMARY KEY
                          CONSTRAINT ck_tenants_id CHECK (id ~ '^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$'),
    name                  varchar(200) NOT NULL,
    created_at            timestamptz  NOT NULL DEFAULT now(),
    requests_per_second   double precision,
    burst                 integer,
    active_batches        integer,
    in_flight_operations  integer,
    import_rows           integer,
    weight                integer,
    retention             interval,
    idempotency_retention interval
);

-- Data from before tenants existed belongs to this one.
INSERT INTO tenants (id, name) VALUES ('default', 'Default tenant') ON CONFLICT (id) DO NOTHING;

-- Only a SHA-256 of each key is kept; an operator (admin) key has no tenant.
CREATE TABLE IF NOT EXISTS api_keys (
    key_id     varchar(32) PRIMARY KEY,
    tenant_id  varchar(40) CONSTRAINT fk_api_keys_tenant REFERENCES tenants (id),
    role       varchar(16) NOT NULL CONSTRAINT ck_api_keys_role CHECK (role IN ('reader', 'writer', 'admin')),
    hash       bytea       NOT NULL CONSTRAINT ck_api_keys_hash CHECK (length(hash) = 32),
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz,
    CONSTRAINT ck_api_keys_tenant CHECK ((role = 'admin') = (tenant_id IS NULL))
);
CREATE INDEX IF NOT EXISTS ix_api_keys_tenant ON api_keys (tenant_id);

COMMIT;
