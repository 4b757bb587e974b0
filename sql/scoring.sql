-- The score: doc/scoring.md's formula (max_hits, max_points, half-life, rounding, floor and ceiling),
-- explain and grade, and how the stored score is kept exact by every kind of write.
CREATE EXTENSION lead_scoring;
SET client_min_messages = warning;
\set SHOW_CONTEXT never

CREATE TABLE leads (id bigint PRIMARY KEY, email text, size integer);
CREATE TABLE events (
    id          bigserial PRIMARY KEY,
    lead_id     bigint,
    event_type  text NOT NULL,
    occurred_at timestamptz NOT NULL,
    url         text
);
INSERT INTO leads VALUES (1, 'ann@example.com', 500), (2, 'bob@example.com', 10), (3, NULL, NULL);
SELECT lead_scoring.attach_leads('leads');
SELECT lead_scoring.attach_events('events');

-- max_hits: only the earliest events count; max_points caps the rule's total
INSERT INTO lead_scoring.rule (name, kind, column_name, op, value, points) VALUES
    ('enterprise', 'fit', 'size', '>=', '200', 30);
INSERT INTO lead_scoring.rule (name, kind, event_type, points, max_hits, max_points) VALUES
    ('first two forms', 'engagement', 'form', 20, 2, NULL),
    ('views, at most 5 points', 'engagement', 'view', 2, NULL, 5);
INSERT INTO events (lead_id, event_type, occurred_at) VALUES
    (1, 'form', '2024-01-03'), (1, 'form', '2024-01-01'), (1, 'form', '2024-01-02'),
    (1, 'view', '2024-01-01'), (1, 'view', '2024-01-02'), (1, 'view', '2024-01-03'), (1, 'view', '2024-01-04');
SELECT id, score FROM leads ORDER BY id;
SELECT * FROM lead_scoring.explain(1);

-- half-life: an event one half-life old is worth half its points, two half-lives a quarter;
-- events after 'at' do not count (and do not use up max_hits)
DELETE FROM lead_scoring.rule;
INSERT INTO lead_scoring.rule (name, kind, event_type, points, max_hits, half_life) VALUES
    ('webinar', 'engagement', 'webinar', 20, 1, '7 days'),
    ('demo', 'engagement', 'demo', 8, NULL, '1 day');
INSERT INTO events (lead_id, event_type, occurred_at) VALUES
    (2, 'webinar', '2024-03-01 12:00+00'), (2, 'webinar', '2024-03-05 12:00+00'),
    (2, 'demo', '2024-03-07 12:00+00'), (2, 'demo', '2024-03-08 12:00+00');
SELECT at, lead_scoring.score(2, at) AS score, (SELECT sum(points) FROM lead_scoring.explain(2, at)) AS unrounded
  FROM unnest(ARRAY['2024-02-01 00:00+00', '2024-03-01 12:00+00', '2024-03-05 11:59+00', '2024-03-08 12:00+00',
                    '2024-03-15 12:00+00']::timestamptz[]) at;
SELECT * FROM lead_scoring.explain(2, '2024-03-08 12:00+00');

-- rounding is half away from zero: 2.5 -> 3 and -2.5 -> -3
DELETE FROM lead_scoring.rule;
INSERT INTO lead_scoring.rule (name, kind, event_type, points, half_life) VALUES
    ('plus five', 'engagement', 'plus', 5, '1 day'), ('minus five', 'engagement', 'minus', -5, '1 day');
INSERT INTO events (lead_id, event_type, occurred_at) VALUES (3, 'plus', '2024-01-01'), (1, 'minus', '2024-01-01');
SELECT id, lead_scoring.score(id, '2024-01-02') AS score,
       (SELECT sum(points) FROM lead_scoring.explain(id, '2024-01-02')) AS unrounded
  FROM leads WHERE id IN (1, 3) ORDER BY id;

-- negative points: max_points bounds the size of the contribution (here at -7)
UPDATE lead_scoring.rule SET max_points = 7, half_life = NULL WHERE name = 'minus five';
INSERT INTO events (lead_id, event_type, occurred_at) VALUES (1, 'minus', '2024-01-02');
SELECT * FROM lead_scoring.explain(1) WHERE kind = 'engagement';

-- floor and ceiling (a settings change rescores every lead when it commits)
DELETE FROM lead_scoring.rule;
INSERT INTO lead_scoring.rule (name, kind, column_name, op, value, points) VALUES
    ('enterprise', 'fit', 'size', '>=', '200', 150), ('no email', 'fit', 'email', 'invalid_email', NULL, -40);
SELECT id, score FROM leads ORDER BY id;
UPDATE lead_scoring.settings SET score_floor = -10, score_ceiling = 100;
SELECT id, score, lead_scoring.score(id), (SELECT sum(points) FROM lead_scoring.explain(id)) AS unrounded
  FROM leads ORDER BY id;
UPDATE lead_scoring.settings SET score_floor = NULL, score_ceiling = NULL;
SELECT id, score FROM leads ORDER BY id;

-- grade: fit band A-D (settings.fit_grade_bands) and engagement band 1-4 (engagement_grade_bands)
DELETE FROM lead_scoring.rule;
INSERT INTO lead_scoring.rule (name, kind, column_name, op, value, points) VALUES
    ('enterprise', 'fit', 'size', '>=', '200', 45), ('mid', 'fit', 'size', '>=', '10', 20);
INSERT INTO lead_scoring.rule (name, kind, event_type, points) VALUES ('form', 'engagement', 'form', 20);
SELECT id, score, lead_scoring.grade(id) FROM leads ORDER BY id;
UPDATE lead_scoring.settings SET fit_grade_bands = '{80,60,20}', engagement_grade_bands = '{100,50,1}';
SELECT id, score, lead_scoring.grade(id) FROM leads ORDER BY id;
UPDATE lead_scoring.settings SET fit_grade_bands = DEFAULT, engagement_grade_bands = DEFAULT;

-- every write keeps the stored score exact
DELETE FROM lead_scoring.rule;
INSERT INTO lead_scoring.rule (name, kind, column_name, op, value, points) VALUES
    ('big', 'fit', 'size', '>=', '100', 10);
INSERT INTO lead_scoring.rule (name, kind, event_type, column_name, op, value, points) VALUES
    ('pricing', 'engagement', 'view', 'url', 'contains', 'pricing', 3),
    ('forms', 'engagement', 'form', NULL, NULL, NULL, 7);
CREATE VIEW check_scores AS
    SELECT id, score, score = lead_scoring.score(id) AS exact FROM leads ORDER BY id;
SELECT * FROM check_scores;
-- events: a row, many rows, COPY, UPDATE (type, lead), DELETE
INSERT INTO events (lead_id, event_type, occurred_at, url) VALUES (2, 'view', '2024-02-01', '/pricing');
INSERT INTO events (lead_id, event_type, occurred_at, url)
    SELECT 1 + g % 3, 'view', '2024-02-01'::timestamptz + g * interval '1 hour', '/pricing/' || g
      FROM generate_series(1, 30) g;
COPY events (lead_id, event_type, occurred_at, url) FROM stdin;
3	form	2024-02-03 10:00:00+00	\N
3	form	2024-02-03 11:00:00+00	\N
2	noise	2024-02-03 11:00:00+00	\N
\.
SELECT * FROM check_scores;
UPDATE events SET event_type = 'form' WHERE lead_id = 2 AND url = '/pricing';
UPDATE events SET lead_id = 1 WHERE lead_id = 3 AND event_type = 'form';
SELECT * FROM check_scores;
DELETE FROM events WHERE lead_id = 1 AND event_type = 'view';
SELECT * FROM check_scores;
-- leads: an UPDATE of a column a fit rule tests; an INSERT of a lead whose events came first
UPDATE leads SET size = 150 WHERE id = 2;
INSERT INTO events (lead_id, event_type, occurred_at) VALUES (4, 'form', '2024-03-01');
INSERT INTO leads VALUES (4, 'dee@example.com', 1000);
SELECT * FROM check_scores;
-- an application cannot write a score: the trigger computes it
UPDATE leads SET score = 999 WHERE id = 1;
SELECT * FROM check_scores;

-- a rule change rescores every lead when its transaction commits (not before)
BEGIN;
UPDATE lead_scoring.rule SET points = 100 WHERE name = 'forms';
SELECT id, score, lead_scoring.score(id) AS will_be FROM leads ORDER BY id;
COMMIT;
SELECT * FROM check_scores;
-- ... and so do TRUNCATEs
TRUNCATE lead_scoring.rule;
SELECT * FROM check_scores;
INSERT INTO lead_scoring.rule (name, kind, event_type, points) VALUES ('forms', 'engagement', 'form', 7);
TRUNCATE events;
SELECT * FROM check_scores;

-- rescore, rescore_all and refresh_scores write the score now; they return what they wrote
INSERT INTO events (lead_id, event_type, occurred_at) VALUES (1, 'form', now() + interval '1 hour');
SELECT id, score, lead_scoring.score(id) AS now, lead_scoring.score(id, now() + interval '2 hours') AS later
  FROM leads WHERE id = 1;
SELECT lead_scoring.rescore(1), lead_scoring.rescore(42) AS no_such_lead;
SELECT lead_scoring.rescore_all() AS rewritten, lead_scoring.refresh_scores() AS refreshed;

-- wrong argument types are refused
SELECT lead_scoring.score_lead('1'::text, now());
SELECT lead_scoring.explain_lead(1.5, now());
SELECT lead_scoring.rescore_lead(true);

-- an application role with INSERT, UPDATE and SELECT on its own tables only
CREATE ROLE ls_app;
GRANT INSERT, UPDATE, SELECT ON leads, events TO ls_app;
GRANT USAGE ON SEQUENCE events_id_seq TO ls_app;
SET ROLE ls_app;
INSERT INTO leads VALUES (10, 'app@example.com', 300);
INSERT INTO events (lead_id, event_type, occurred_at) VALUES (10, 'form', '2024-01-01');
INSERT INTO events (lead_id, event_type, occurred_at) VALUES (10, 'form', '2024-01-02'), (10, 'form', '2024-01-03'),
    (1, 'form', '2024-01-03'), (2, 'form', '2024-01-03'), (4, 'form', '2024-01-03'), (3, 'form', '2024-01-03');
COPY events (lead_id, event_type, occurred_at) FROM stdin;
10	form	2024-01-04 00:00:00+00
\.
UPDATE leads SET size = 5 WHERE id = 10;
SELECT id, score FROM leads ORDER BY id;
SELECT lead_scoring.score(10);            -- the extension's schema is not granted
RESET ROLE;
GRANT USAGE ON SCHEMA lead_scoring TO ls_app;
SET ROLE ls_app;
SELECT lead_scoring.score(10), lead_scoring.grade(10), (SELECT sum(points) FROM lead_scoring.explain(10));
SELECT lead_scoring.rescore(10);          -- maintenance is the DBA's
SELECT * FROM lead_scoring.rule;          -- and so is the configuration
RESET ROLE;
SELECT * FROM check_scores;

DROP VIEW check_scores;
SELECT lead_scoring.detach('events');
SELECT lead_scoring.detach('leads');
DROP TABLE leads, events;
DROP EXTENSION lead_scoring CASCADE;
DROP SCHEMA lead_scoring CASCADE;
DROP ROLE ls_app;
