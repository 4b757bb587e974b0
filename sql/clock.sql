-- lead_scoring.now: the time the extension takes as now (superuser-only).
CREATE EXTENSION lead_scoring;
SELECT lead_scoring.clock() = now() AS real_time;
SET lead_scoring.now = '2026-01-01 10:00:00+03';
SELECT lead_scoring.clock() AT TIME ZONE 'UTC' AS simulated;
BEGIN;
SET LOCAL lead_scoring.now = '2026-03-01 00:00:00+00';
SELECT lead_scoring.clock() AT TIME ZONE 'UTC' AS in_transaction;
COMMIT;
SELECT lead_scoring.clock() AT TIME ZONE 'UTC' AS after_commit;
SET lead_scoring.now = 'next tuesday-ish';
SET lead_scoring.now = '';
SELECT lead_scoring.clock() = now() AS real_time_again;
CREATE ROLE ls_clock_user;
SET ROLE ls_clock_user;
SET lead_scoring.now = '2020-01-01 00:00+00';
RESET ROLE;
DROP ROLE ls_clock_user;
DROP EXTENSION lead_scoring;
