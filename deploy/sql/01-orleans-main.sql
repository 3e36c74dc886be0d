-- Query registry read by every Orleans ADO.NET provider at start-up:
--   SELECT QueryKey, QueryText FROM OrleansQuery
-- The unquoted names fold to lower case; Npgsql matches result columns case-insensitively.
-- Idempotent: safe to re-run with psql -v ON_ERROR_STOP=1 -f.

SET client_min_messages = warning;
BEGIN;
SELECT pg_advisory_xact_lock(hashtext('orleans-schema'));  -- serialise concurrent appliers

CREATE TABLE IF NOT EXISTS orleansquery
(
    querykey  varchar(64)   NOT NULL PRIMARY KEY,
    querytext varchar(8000) NOT NULL
);

COMMIT;
