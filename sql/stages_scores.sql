-- Threshold promotion and disqualify_below with real scores from the scoring rules: leads move
-- when their own row is written and when their events are.
CREATE EXTENSION lead_scoring;
CREATE TABLE lead (id int PRIMARY KEY, name text, email text);
CREATE TABLE activity (id int PRIMARY KEY, lead_id int NOT NULL, kind text NOT NULL, at timestamptz NOT NULL);
SET search_path = lead_scoring, public;
SET timezone = 'UTC';
SELECT attach_leads('lead');
SELECT attach_events('activity', type_column => 'kind', time_column => 'at');
INSERT INTO rule (name, kind, event_type, column_name, op, value, points) VALUES
    ('valid email', 'fit', NULL, 'email', 'valid_email', NULL, 40),
    ('no email', 'fit', NULL, 'email', 'is_null', NULL, -30),
    ('webinar', 'engagement', 'webinar', NULL, NULL, NULL, 15),
    ('demo request', 'engagement', 'demo', NULL, NULL, NULL, 30);
INSERT INTO threshold VALUES ('iql', 10), ('mql', 40), ('sal', 70);
UPDATE settings SET disqualify_below = -10;
SET lead_scoring.now = '2024-05-01 09:00';

CREATE FUNCTION pg_temp.log(l int) RETURNS TABLE (from_stage funnel_stage, to_stage funnel_stage, score int,
                                                   reason text, changed_at timestamptz)
LANGUAGE sql AS $$
    SELECT from_stage, to_stage, score, reason, changed_at FROM lead_scoring.stage_change
     WHERE lead_id = l ORDER BY change_id $$;

-- a lead created with a valid e-mail scores 40: created as mql
INSERT INTO lead VALUES (1, 'Ann', 'ann@example.com');
-- a webinar (55) keeps it in mql; a demo request (85) hands it to sales, from the event's trigger
SET lead_scoring.now = '2024-05-01 09:05';
INSERT INTO activity VALUES (1, 1, 'webinar', '2024-05-01 09:05');
SET lead_scoring.now = '2024-05-01 09:10';
INSERT INTO activity VALUES (2, 1, 'demo', '2024-05-01 09:10');
SELECT * FROM pg_temp.log(1);

-- a lead without e-mail scores -30, below disqualify_below: disqualified at creation
INSERT INTO lead VALUES (2, 'Bob', NULL);
SELECT * FROM pg_temp.log(2);

-- a lead with a bad e-mail scores 0 and stays new; one statement with two demo requests (60)
-- crosses two thresholds at once: one change, straight to the highest (mql)
INSERT INTO lead VALUES (3, 'Cy', 'not an address');
INSERT INTO activity VALUES (3, 3, 'demo', '2024-05-01 09:10'), (4, 3, 'demo', '2024-05-01 09:10');
SELECT * FROM pg_temp.log(3);
-- a falling score never demotes: without one demo request (30) lead 3 stays mql
DELETE FROM activity WHERE id = 4;
SELECT id, stage, score FROM lead WHERE id = 3;

-- a rule change is rescored online (at the lead's next write or the refresh), and the new scores
-- promote
BEGIN;
UPDATE rule SET points = 70 WHERE name = 'demo request';
SELECT id, stage, score FROM lead WHERE id = 3;
COMMIT;
SELECT id, stage, score FROM lead WHERE id = 3;
CALL lead_scoring.refresh_online();
SELECT id, stage, score FROM lead WHERE id = 3;
SELECT * FROM pg_temp.log(3);

-- sales recycles lead 1 (the writer's change wins in that write) ...
SET lead_scoring.now = '2024-05-02 09:00';
SET lead_scoring.reason = 'not now';
UPDATE lead SET stage = 'recycled' WHERE id = 1;
RESET lead_scoring.reason;
SELECT id, stage, score FROM lead WHERE id = 1;
-- ... and its next event does not hand it back: its score already met the sal threshold when it was recycled
SET lead_scoring.now = '2024-05-20 09:00';
INSERT INTO activity VALUES (5, 1, 'webinar', '2024-05-20 09:00');
SELECT id, stage, score FROM lead WHERE id = 1;
-- its engagement goes (score 40: below sal, and a falling score moves nobody); a new demo request lifts
-- it across the sal threshold (40 -> 110; demo requests are worth 70 since the rule change): it earned its way back
DELETE FROM activity WHERE lead_id = 1;
SELECT id, stage, score FROM lead WHERE id = 1;
SET lead_scoring.now = '2024-06-01 09:00';
INSERT INTO activity VALUES (6, 1, 'demo', '2024-06-01 09:00');
SELECT * FROM pg_temp.log(1);

DROP FUNCTION pg_temp.log(int);
RESET lead_scoring.now;
SELECT detach('activity');
SELECT detach('lead');
DROP TABLE lead, activity, stage_change;
DROP EXTENSION lead_scoring;
