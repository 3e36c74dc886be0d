-- Batch items and idempotency records. Idempotent: applied on every start.
BEGIN;
SELECT pg_advisory_xact_lock(hashtext('orleans-batch-schema'));

-- One row per operation of a batch, in request order (seq). outcome: 0 pending, 1 succeeded, 2 failed,
-- 3 cancelled; prior_outcome keeps what a retried item was before the retry reset it; a preset item was
-- answered without running (a CSV row that is no operation) and is never retried.
CREATE TABLE IF NOT EXISTS batch_items (
    batch_id        varchar(64) NOT NULL,
    seq             integer     NOT NULL,
    op_id           text        NOT NULL,
    method          varchar(16) NOT NULL,
    path            text        NOT NULL,
    body            text,
    headers         jsonb,
    idempotency_key text,
    source          text[],
    outcome         smallint    NOT NULL DEFAULT 0,
    prior_outcome   smallint    NOT NULL DEFAULT 0,
    preset          boolean     NOT NULL DEFAULT false,
    status          smallint,
    result          text,
    location        text,
    PRIMARY KEY (batch_id, seq)
);
-- Items are found by position (the primary key) and filtered by outcome: with no index on outcome, writing a
-- result is a heap-only update, and the free space fillfactor leaves lets it stay on the item's page.
DROP INDEX IF EXISTS ix_batch_items_outcome;
ALTER TABLE batch_items SET (fillfactor = 60);

-- What an operation with an idempotency key did, committed in the same transaction as its effect.
CREATE TABLE IF NOT EXISTS idempotency_records (
    key         text        PRIMARY KEY,
    fingerprint bytea       NOT NULL,
    status      smallint    NOT NULL,
    result      text,
    location    text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_idempotency_records_expires ON idempotency_records (expires_at);

COMMIT;
