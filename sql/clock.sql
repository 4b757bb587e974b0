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
-- scores, decay and the log follow the clock: a replayed history scores as it did at the time
CREATE TABLE lead (id int PRIMARY KEY);
CREATE TABLE visit (id int PRIMARY KEY, lead_id int NOT NULL, event_type text NOT NULL,
                    occurred_at timestamptz NOT NULL);
SELECT lead_scoring.attach_leads('lead');
SELECT lead_scoring.attach_events('visit');
INSERT INTO lead_scoring.rule (name, kind, event_type, points, half_life)
VALUES ('visit', 'engagement', 'visit', 40, '1 day');
SET lead_scoring.now = '2026-01-02 00:00:00+00';
INSERT INTO lead VALUES (1);
-- the first visit is one half-life old (20 points); the second has not happened yet at the clock's time
INSERT INTO visit VALUES (1, 1, 'visit', '2026-01-01 00:00:00+00'), (2, 1, 'visit', '2026-01-03 00:00:00+00');
SELECT score, lead_scoring.score(id) AS recomputed FROM lead;
SELECT lead_id, to_stage, changed_at AT TIME ZONE 'UTC' AS changed_at FROM lead_scoring.stage_change;
-- a day later: 10 + 40
SET lead_scoring.now = '2026-01-03 00:00:00+00';
SELECT lead_scoring.refresh_scores();
SELECT score, lead_scoring.score(id) AS recomputed FROM lead;
RESET lead_scoring.now;
SELECT lead_scoring.detach('visit');
SELECT lead_scoring.detach('lead');
DROP TABLE lead, visit, lead_scoring.stage_change;

CREATE ROLE ls_clock_user;
SET ROLE ls_clock_user;
SET lead_scoring.now = '2020-01-01 00:00+00';
RESET ROLE;
DROP ROLE ls_clock_user;
DROP EXTENSION lead_scoring;
