-- Batch items and idempotency records. Idempotent: applied on every start.
BEGIN;
SELECT pg_advisory_xact_lock(hashtext('orleans-batch-schema'));

-- One row per operation of a batch, in request order (seq), written once when the batch is stored.
-- prior_outcome keeps what a retried item was before the retry reset it (2: failed); a preset item was
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
    prior_outcome   smallint    NOT NULL DEFAULT 0,
    preset          boolean     NOT NULL DEFAULT false,
    PRIMARY KEY (batch_id, seq)
);
-- Earlier versions kept results in the item's row and indexed them by outcome.
DROP INDEX IF EXISTS ix_batch_items_outcome;
ALTER TABLE batch_items RESET (fillfactor);
ALTER TABLE batch_items DROP COLUMN IF EXISTS outcome, DROP COLUMN IF EXISTS status,
    DROP COLUMN IF EXISTS result, DROP COLUMN IF EXISTS location;
-- Items a retry made pending again count as failed until they run; only retried items are in it, so a batch's
-- counts do not scan all its items.
CREATE INDEX IF NOT EXISTS ix_batch_items_retried ON batch_items (batch_id, seq) WHERE prior_outcome = 2;

-- What a finished item answered: outcome 1 succeeded, 2 failed, 3 cancelled; an item with no row is pending.
-- A batch item's result row is also its idempotency record: it is inserted in the transaction of the item's
-- effect, and the primary key lets only one run of the item commit. Results are appended, never updated in
-- place (except a cancellation an answer replaces), which costs PostgreSQL far less than rewriting item rows.
CREATE TABLE IF NOT EXISTS batch_results (
    batch_id varchar(64) NOT NULL,
    seq      integer     NOT NULL,
    outcome  smallint    NOT NULL,
    status   smallint,
    result   text,
    location text,
    PRIMARY KEY (batch_id, seq)
);

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
