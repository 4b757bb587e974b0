-- What the Citus suite compares between plain PostgreSQL and Citus (test/scripts/citus.sh): the rows the
-- triggers maintain.  The log is ordered by lead and time: change_id comes from per-node ranges on Citus.
\set ON_ERROR_STOP 1
\pset footer off
SELECT id, stage, score FROM crm.leads ORDER BY id;
SELECT lead_id, from_stage, to_stage, changed_at, score, actor, reason, owner
  FROM lead_scoring.stage_change ORDER BY lead_id, changed_at, change_id;
