-- The resources that batch operations act on. Idempotent: applied on every start.
BEGIN;
SELECT pg_advisory_xact_lock(hashtext('orleans-batch-schema'));

CREATE TABLE IF NOT EXISTS users (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email      varchar(254) NOT NULL,
    name       varchar(200) NOT NULL,
    created_at timestamptz  NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX IF NOT EXISTS ux_users_email ON users (lower(email));

CREATE TABLE IF NOT EXISTS products (
    id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sku   varchar(64)  NOT NULL CONSTRAINT ux_products_sku UNIQUE,
    name  varchar(200) NOT NULL,
    price numeric      NOT NULL CONSTRAINT ck_products_price CHECK (price >= 0)
);

CREATE TABLE IF NOT EXISTS orders (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id    bigint      NOT NULL CONSTRAINT fk_orders_user REFERENCES users (id),
    product_id bigint      NOT NULL CONSTRAINT fk_orders_product REFERENCES products (id),
    quantity   integer     NOT NULL CONSTRAINT ck_orders_quantity CHECK (quantity >= 1),
    status     varchar(20) NOT NULL DEFAULT 'pending'
               CONSTRAINT ck_orders_status CHECK (status IN ('pending', 'paid', 'shipped', 'cancelled')),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS ix_orders_user ON orders (user_id);
CREATE INDEX IF NOT EXISTS ix_orders_product ON orders (product_id);

COMMIT;
