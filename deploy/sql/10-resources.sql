-- The resources that batch operations act on, every row a tenant's. Idempotent: applied on every start.
BEGIN;
SELECT pg_advisory_xact_lock(hashtext('orleans-batch-schema'));

-- Every key leads with the tenant: a tenant's look-ups read its own rows only, and an email or sku is unique within its
-- tenant only. Ids still come from one sequence per table, so an id names one row whatever the tenant. tenant_id has no
-- default: no insert can leave it out.
CREATE TABLE IF NOT EXISTS users (
    tenant_id  varchar(40)  NOT NULL,
    id         bigint GENERATED ALWAYS AS IDENTITY,
    email      varchar(254) NOT NULL,
    name       varchar(200) NOT NULL,
    created_at timestamptz  NOT NULL DEFAULT now(),
    CONSTRAINT pk_users PRIMARY KEY (tenant_id, id)
);

CREATE TABLE IF NOT EXISTS products (
    tenant_id varchar(40)  NOT NULL,
    id        bigint GENERATED ALWAYS AS IDENTITY,
    sku       varchar(64)  NOT NULL,
    name      varchar(200) NOT NULL,
    price     numeric      NOT NULL CONSTRAINT ck_products_price CHECK (price >= 0),
    CONSTRAINT pk_products PRIMARY KEY (tenant_id, id),
    CONSTRAINT ux_products_sku UNIQUE (tenant_id, sku)
);

-- An order references a user and a product of its own tenant: the foreign keys include the tenant.
CREATE TABLE IF NOT EXISTS orders (
    tenant_id  varchar(40) NOT NULL,
    id         bigint GENERATED ALWAYS AS IDENTITY,
    user_id    bigint      NOT NULL,
    product_id bigint      NOT NULL,
    quantity   integer     NOT NULL CONSTRAINT ck_orders_quantity CHECK (quantity >= 1),
    status     varchar(20) NOT NULL DEFAULT 'pending'
               CONSTRAINT ck_orders_status CHECK (status IN ('pending', 'paid', 'shipped', 'cancelled')),
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT pk_orders PRIMARY KEY (tenant_id, id),
    CONSTRAINT fk_orders_user FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id),
    CONSTRAINT fk_orders_product FOREIGN KEY (tenant_id, product_id) REFERENCES products (tenant_id, id)
);

-- A database from before tenants: its rows become the default tenant's, and every key and reference takes the tenant
-- in, under the same names. Once, in this transaction: the next start finds tenant_id and skips it.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = 'users'::regclass AND attname = 'tenant_id' AND NOT attisdropped) THEN
        ALTER TABLE orders DROP CONSTRAINT IF EXISTS fk_orders_user, DROP CONSTRAINT IF EXISTS fk_orders_product;
        DROP INDEX IF EXISTS ux_users_email, ix_orders_user, ix_orders_product;
        ALTER TABLE products DROP CONSTRAINT IF EXISTS ux_products_sku;

        -- A constant default fills the existing rows without rewriting the tables; it is dropped at once.
        ALTER TABLE users ADD COLUMN tenant_id varchar(40) NOT NULL DEFAULT 'default';
        ALTER TABLE products ADD COLUMN tenant_id varchar(40) NOT NULL DEFAULT 'default';
        ALTER TABLE orders ADD COLUMN tenant_id varchar(40) NOT NULL DEFAULT 'default';
        ALTER TABLE users ALTER COLUMN tenant_id DROP DEFAULT,
            DROP CONSTRAINT IF EXISTS users_pkey, ADD CONSTRAINT pk_users PRIMARY KEY (tenant_id, id);
        ALTER TABLE products ALTER COLUMN tenant_id DROP DEFAULT,
            DROP CONSTRAINT IF EXISTS products_pkey, ADD CONSTRAINT pk_products PRIMARY KEY (tenant_id, id),
            ADD CONSTRAINT ux_products_sku UNIQUE (tenant_id, sku);
        ALTER TABLE orders ALTER COLUMN tenant_id DROP DEFAULT,
            DROP CONSTRAINT IF EXISTS orders_pkey, ADD CONSTRAINT pk_orders PRIMARY KEY (tenant_id, id),
            ADD CONSTRAINT fk_orders_user FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id),
            ADD CONSTRAINT fk_orders_product FOREIGN KEY (tenant_id, product_id) REFERENCES products (tenant_id, id);
    END IF;
END $$;

CREATE UNIQUE INDEX IF NOT EXISTS ux_users_email ON users (tenant_id, lower(email));
-- Listings by user or product, and the checks of a user's or product's delete.
CREATE INDEX IF NOT EXISTS ix_orders_user ON orders (tenant_id, user_id);
CREATE INDEX IF NOT EXISTS ix_orders_product ON orders (tenant_id, product_id);

COMMIT;
