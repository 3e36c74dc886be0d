-- Batch items, their results, and idempotency records. Idempotent: applied on every start.
BEGIN;
SELECT pg_advisory_xact_lock(hashtext('orleans-batch-schema'));

-- Equality on batch_id inside the exclusion constraint below.
CREATE EXTENSION IF NOT EXISTS btree_gist;

-- A batch's items, in request order, written once when the batch is stored: a page of up to 1,000 consecutive items
-- per row (item_count of them from first_seq), one array element per item. One row per page rather than per item
-- is what keeps a large import's staging cheap: PostgreSQL's cost is per row, far more than per byte.
-- headers (JSON objects), idempotency_keys and sources (JSON arrays of the input's fields) are null when no item
-- of the page has one. methods and paths hold one element when every item of the page shares it. retried holds the
-- items a retry made pending again: they count as failed until they run.
CREATE TABLE IF NOT EXISTS batch_item_pages (
    batch_id         varchar(64)    NOT NULL,
    first_seq        integer        NOT NULL,
    item_count       integer        NOT NULL,
    op_ids           text[]         NOT NULL,
    methods          text[]         NOT NULL,
    paths            text[]         NOT NULL,
    bodies           text[]         NOT NULL,
    headers          text[],
    idempotency_keys text[],
    sources          text[],
    retried          int4multirange NOT NULL DEFAULT '{}',
    PRIMARY KEY (batch_id, first_seq)
);
-- staged holds the creates the database runs by itself (checked valid, fields exactly as given, when stored): their
-- chunks send positions and the checked values (or, read back after a restart, positions alone, and the statement reads
-- the bodies), and get no rows back.
ALTER TABLE batch_item_pages ADD COLUMN IF NOT EXISTS staged int4multirange NOT NULL DEFAULT '{}';
-- source_fields: for items with no source of their own, the fields of their body that are their input, in order (an
-- import row's body is its fields, so the row is stored once).
ALTER TABLE batch_item_pages ADD COLUMN IF NOT EXISTS source_fields text[];
-- Every array of a page is over the 2 kB at which PostgreSQL compresses; lz4 costs a fraction of the default pglz.
-- No statistics on the arrays: no query filters on them, and ANALYZE hashes every element of every sampled array
-- (autovacuum's analyze of these tables took seconds of CPU, every tenth of growth, while imports ran).
ALTER TABLE batch_item_pages
    ALTER COLUMN op_ids SET COMPRESSION lz4, ALTER COLUMN op_ids SET STATISTICS 0,
    ALTER COLUMN methods SET COMPRESSION lz4, ALTER COLUMN methods SET STATISTICS 0,
    ALTER COLUMN paths SET COMPRESSION lz4, ALTER COLUMN paths SET STATISTICS 0,
    ALTER COLUMN bodies SET COMPRESSION lz4, ALTER COLUMN bodies SET STATISTICS 0,
    ALTER COLUMN headers SET COMPRESSION lz4, ALTER COLUMN headers SET STATISTICS 0,
    ALTER COLUMN idempotency_keys SET COMPRESSION lz4, ALTER COLUMN idempotency_keys SET STATISTICS 0,
    ALTER COLUMN sources SET COMPRESSION lz4, ALTER COLUMN sources SET STATISTICS 0,
    ALTER COLUMN source_fields SET STATISTICS 0;

-- What finished items answered, a run of them per row: the items of one chunk's transaction, of one checkpoint, or
-- of a cancellation. Element i of the arrays is item seqs[i]; outcome 1 succeeded, 2 failed, 3 cancelled; an item
-- no row covers is pending. A run of staged creates stores no results or locations, only created_ids and the
-- created_at its rows took: their answers are rendered from the items' bodies when read. The row is also its items' idempotency record: it is inserted in the transaction of
-- their effect, and the exclusion constraint lets no two rows cover one item, so of two runs of an item only one
-- commits, whatever the chunks they ran in. preset rows answer items rejected on upload, which are never retried.
CREATE TABLE IF NOT EXISTS batch_result_runs (
    batch_id  varchar(64)    NOT NULL,
    first_seq integer        NOT NULL,
    covers    int4multirange NOT NULL,
    seqs      integer[]      NOT NULL,
    outcomes  smallint[]     NOT NULL,
    statuses  smallint[]     NOT NULL,
    results   text[]         NOT NULL,
    locations text[]         NOT NULL,
    succeeded integer        NOT NULL,
    failed    integer        NOT NULL,
    cancelled integer        NOT NULL,
    preset    boolean        NOT NULL DEFAULT false,
    CONSTRAINT ex_batch_result_runs_items EXCLUDE USING gist (batch_id WITH =, covers WITH &&)
);
ALTER TABLE batch_result_runs
    ADD COLUMN IF NOT EXISTS created_ids bigint[],
    ADD COLUMN IF NOT EXISTS created_at timestamptz,
    ALTER COLUMN results DROP NOT NULL,
    ALTER COLUMN locations DROP NOT NULL;
-- Compression and statistics as for the pages' arrays.
ALTER TABLE batch_result_runs
    ALTER COLUMN seqs SET COMPRESSION lz4, ALTER COLUMN seqs SET STATISTICS 0,
    ALTER COLUMN outcomes SET COMPRESSION lz4, ALTER COLUMN outcomes SET STATISTICS 0,
    ALTER COLUMN statuses SET COMPRESSION lz4, ALTER COLUMN statuses SET STATISTICS 0,
    ALTER COLUMN results SET COMPRESSION lz4, ALTER COLUMN results SET STATISTICS 0,
    ALTER COLUMN locations SET COMPRESSION lz4, ALTER COLUMN locations SET STATISTICS 0,
    ALTER COLUMN created_ids SET COMPRESSION lz4, ALTER COLUMN created_ids SET STATISTICS 0;

-- Earlier versions kept a row per item (tables batch_items and batch_results): their rows move into pages and runs.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_class WHERE relname = 'batch_items' AND relkind = 'r') THEN
        INSERT INTO batch_item_pages (batch_id, first_seq, item_count, op_ids, methods, paths, bodies, headers,
                                      idempotency_keys, sources, retried)
        SELECT batch_id, min(seq), count(*), array_agg(op_id ORDER BY seq), array_agg(method ORDER BY seq),
               array_agg(path ORDER BY seq), array_agg(body ORDER BY seq), array_agg(headers::text ORDER BY seq),
               array_agg(idempotency_key ORDER BY seq), array_agg(array_to_json(source)::text ORDER BY seq),
               coalesce(range_agg(int4range(seq, seq + 1)) FILTER (WHERE prior_outcome = 2), '{}')
        FROM batch_items GROUP BY batch_id, seq / 1000;
        INSERT INTO batch_result_runs (batch_id, first_seq, covers, seqs, outcomes, statuses, results, locations,
                                       succeeded, failed, cancelled, preset)
        SELECT r.batch_id, min(r.seq), range_agg(int4range(r.seq, r.seq + 1)), array_agg(r.seq ORDER BY r.seq),
               array_agg(r.outcome ORDER BY r.seq), array_agg(coalesce(r.status, 0::smallint) ORDER BY r.seq),
               array_agg(r.result ORDER BY r.seq), array_agg(r.location ORDER BY r.seq),
               count(*) FILTER (WHERE r.outcome = 1), count(*) FILTER (WHERE r.outcome = 2),
               count(*) FILTER (WHERE r.outcome = 3), i.preset
        FROM batch_results r JOIN batch_items i ON i.batch_id = r.batch_id AND i.seq = r.seq
        GROUP BY r.batch_id, r.seq / 1000, i.preset;
        DROP TABLE batch_results;
        DROP TABLE batch_items;
    END IF;
END $$;

-- One row per item, for people and tests reading the database; the service reads and writes the tables above.
CREATE OR REPLACE VIEW batch_items AS
SELECT p.batch_id, p.first_seq + (u.n - 1)::integer AS seq, u.op_id, u.method, u.path, u.body, u.headers::jsonb AS headers,
       u.idempotency_key,
       coalesce(u.source::jsonb, (SELECT jsonb_agg(u.body::json ->> f.name ORDER BY f.n) FROM unnest(p.source_fields) WITH ORDINALITY AS f(name, n))) AS source,
       (p.first_seq + (u.n - 1)::integer) <@ p.retried AS retried,
       (p.first_seq + (u.n - 1)::integer) <@ p.staged AS staged
FROM batch_item_pages p
CROSS JOIN LATERAL unnest(p.op_ids,
    CASE WHEN cardinality(p.methods) = 1 THEN array_fill(p.methods[1], ARRAY[p.item_count]) ELSE p.methods END,
    CASE WHEN cardinality(p.paths) = 1 THEN array_fill(p.paths[1], ARRAY[p.item_count]) ELSE p.paths END,
    p.bodies, p.headers, p.idempotency_keys, p.sources)
    WITH ORDINALITY AS u(op_id, method, path, body, headers, idempotency_key, source, n);

CREATE OR REPLACE VIEW batch_results AS
SELECT r.batch_id, u.seq, u.outcome, u.status, u.result, u.location, r.preset, u.created_id, r.created_at
FROM batch_result_runs r
CROSS JOIN LATERAL unnest(r.seqs, r.outcomes, r.statuses, r.results, r.locations, r.created_ids)
    AS u(seq, outcome, status, result, location, created_id);

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
