-- Reminders for Orleans.Reminders.AdoNet (invariant "Npgsql"). Requires 01-orleans-main.sql.
-- Idempotent: safe to re-run with psql -v ON_ERROR_STOP=1 -f.
--
-- grainhash is GrainId.GetUniformHashCode() cast to a signed int; range reads compare it signed.
-- Version is the reminder ETag: 1 on insert, +1 on every upsert.

SET client_min_messages = warning;
BEGIN;
SELECT pg_advisory_xact_lock(hashtext('orleans-schema'));

CREATE TABLE IF NOT EXISTS orleans_reminders
(
    serviceid    varchar(150) NOT NULL,
    grainid      varchar(512) NOT NULL,
    remindername varchar(150) NOT NULL,
    starttime    timestamptz  NOT NULL,
    period       bigint       NOT NULL,  -- milliseconds
    grainhash    integer      NOT NULL,
    version      integer      NOT NULL,
    CONSTRAINT orleans_reminders_pk PRIMARY KEY (serviceid, grainid, remindername)
);

CREATE INDEX IF NOT EXISTS orleans_reminders_hash_ix ON orleans_reminders (serviceid, grainhash);

INSERT INTO orleansquery (querykey, querytext) VALUES
('UpsertReminderRowKey', $q$
INSERT INTO orleans_reminders AS r
       (serviceid, grainid, remindername, starttime, period, grainhash, version)
VALUES (@ServiceId, @GrainId, @ReminderName, @StartTime, @Period, @GrainHash, 1)
ON CONFLICT ON CONSTRAINT orleans_reminders_pk DO UPDATE
   SET starttime = EXCLUDED.starttime, period = EXCLUDED.period,
       grainhash = EXCLUDED.grainhash, version = r.version + 1
RETURNING r.version AS "Version"
$q$),
('ReadReminderRowsKey', $q$
SELECT grainid AS "GrainId", remindername AS "ReminderName", starttime AS "StartTime",
       period AS "Period", version AS "Version"
  FROM orleans_reminders
 WHERE serviceid = @ServiceId AND grainid = @GrainId
$q$),
('ReadReminderRowKey', $q$
SELECT grainid AS "GrainId", remindername AS "ReminderName", starttime AS "StartTime",
       period AS "Period", version AS "Version"
  FROM orleans_reminders
 WHERE serviceid = @ServiceId AND grainid = @GrainId AND remindername = @ReminderName
$q$),
-- Used when (int)BeginHash < (int)EndHash: the range (BeginHash, EndHash].
('ReadRangeRows1Key', $q$
SELECT grainid AS "GrainId", remindername AS "ReminderName", starttime AS "StartTime",
       period AS "Period", version AS "Version"
  FROM orleans_reminders
 WHERE serviceid = @ServiceId AND grainhash > @BeginHash AND grainhash <= @EndHash
$q$),
-- Otherwise the range wraps around: (BeginHash, max] + [min, EndHash]; all rows when equal.
('ReadRangeRows2Key', $q$
SELECT grainid AS "GrainId", remindername AS "ReminderName", starttime AS "StartTime",
       period AS "Period", version AS "Version"
  FROM orleans_reminders
 WHERE serviceid = @ServiceId AND (grainhash > @BeginHash OR grainhash <= @EndHash)
$q$),
-- Exactly one row, one boolean column: true when the row with that version was deleted.
('DeleteReminderRowKey', $q$
WITH d AS (
    DELETE FROM orleans_reminders
     WHERE serviceid = @ServiceId AND grainid = @GrainId
       AND remindername = @ReminderName AND version = @Version
    RETURNING 1
)
SELECT count(*) > 0 AS "Deleted" FROM d
$q$),
('DeleteReminderRowsKey', $q$
DELETE FROM orleans_reminders WHERE serviceid = @ServiceId
$q$)
ON CONFLICT (querykey) DO UPDATE SET querytext = EXCLUDED.querytext;

COMMIT;
