-- Grain state for Orleans.Persistence.AdoNet (invariant "Npgsql"). Requires 01-orleans-main.sql.
-- Idempotent: safe to re-run with psql -v ON_ERROR_STOP=1 -f.
--
-- Identity = every column of the primary key. A missing key extension (@GrainIdExtensionString
-- IS NULL) is stored as '' so the key can be a plain primary key; Orleans never produces an
-- empty extension. Version is the ETag: 1 on insert, +1 on every write/clear.

SET client_min_messages = warning;
BEGIN;
SELECT pg_advisory_xact_lock(hashtext('orleans-schema'));

CREATE TABLE IF NOT EXISTS orleans_storage
(
    grainidhash            integer      NOT NULL,
    graintypehash          integer      NOT NULL,
    serviceid              varchar(150) NOT NULL,
    grainidn0              bigint       NOT NULL,
    grainidn1              bigint       NOT NULL,
    graintypestring        varchar(512) NOT NULL,
    grainidextensionstring varchar(512) NOT NULL DEFAULT '',
    payloadbinary          bytea,
    modifiedon             timestamptz  NOT NULL DEFAULT now(),
    version                integer      NOT NULL,
    CONSTRAINT orleans_storage_pk PRIMARY KEY
        (grainidhash, graintypehash, serviceid, grainidn0, grainidn1, graintypestring, grainidextensionstring)
);

INSERT INTO orleansquery (querykey, querytext) VALUES
-- One row, one column: the new version on success; otherwise @GrainStateVersion unchanged
-- (stale version, or NULL when a concurrent first insert won), which Orleans turns into
-- an InconsistentStateException.
('WriteToStorageKey', $q$
WITH upd AS (
    UPDATE orleans_storage
       SET payloadbinary = @PayloadBinary, modifiedon = now(), version = version + 1
     WHERE @GrainStateVersion IS NOT NULL
       AND version = @GrainStateVersion
       AND grainidhash = @GrainIdHash AND graintypehash = @GrainTypeHash
       AND serviceid = @ServiceId AND grainidn0 = @GrainIdN0 AND grainidn1 = @GrainIdN1
       AND graintypestring = @GrainTypeString
       AND grainidextensionstring = coalesce(@GrainIdExtensionString, '')
    RETURNING version
), ins AS (
    INSERT INTO orleans_storage AS s
           (grainidhash, graintypehash, serviceid, grainidn0, grainidn1, graintypestring,
            grainidextensionstring, payloadbinary, modifiedon, version)
    SELECT @GrainIdHash, @GrainTypeHash, @ServiceId, @GrainIdN0, @GrainIdN1, @GrainTypeString,
           coalesce(@GrainIdExtensionString, ''), @PayloadBinary, now(), 1
     WHERE @GrainStateVersion IS NULL
    ON CONFLICT ON CONSTRAINT orleans_storage_pk DO NOTHING
    RETURNING s.version
)
SELECT coalesce((SELECT version FROM upd), (SELECT version FROM ins), @GrainStateVersion) AS "NewGrainStateVersion"
$q$),
('ReadFromStorageKey', $q$
SELECT payloadbinary AS "PayloadBinary", modifiedon AS "ModifiedOn", version AS "Version"
  FROM orleans_storage
 WHERE grainidhash = @GrainIdHash AND graintypehash = @GrainTypeHash
   AND serviceid = @ServiceId AND grainidn0 = @GrainIdN0 AND grainidn1 = @GrainIdN1
   AND graintypestring = @GrainTypeString
   AND grainidextensionstring = coalesce(@GrainIdExtensionString, '')
$q$),
-- Keeps the row: payload becomes NULL (read back as "no record"), version is bumped.
('ClearStorageKey', $q$
UPDATE orleans_storage
   SET payloadbinary = NULL, modifiedon = now(), version = version + 1
 WHERE version = @GrainStateVersion
   AND grainidhash = @GrainIdHash AND graintypehash = @GrainTypeHash
   AND serviceid = @ServiceId AND grainidn0 = @GrainIdN0 AND grainidn1 = @GrainIdN1
   AND graintypestring = @GrainTypeString
   AND grainidextensionstring = coalesce(@GrainIdExtensionString, '')
RETURNING version AS "NewGrainStateVersion"
$q$),
-- Used instead of ClearStorageKey when DeleteStateOnClear = true. Returns version + 1 so
-- that the provider's "version changed" check passes; no row means a version conflict.
('DeleteStorageKey', $q$
DELETE FROM orleans_storage
 WHERE version = @GrainStateVersion
   AND grainidhash = @GrainIdHash AND graintypehash = @GrainTypeHash
   AND serviceid = @ServiceId AND grainidn0 = @GrainIdN0 AND grainidn1 = @GrainIdN1
   AND graintypestring = @GrainTypeString
   AND grainidextensionstring = coalesce(@GrainIdExtensionString, '')
RETURNING version + 1 AS "NewGrainStateVersion"
$q$)
ON CONFLICT (querykey) DO UPDATE SET querytext = EXCLUDED.querytext;

COMMIT;
