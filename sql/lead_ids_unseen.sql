-- Events of several leads in one statement, some of the leads not (yet) in the leads table, with text
-- ids: the leads found are rescored in one batch, the others looked for again after the batch
-- (doc/scoring.md, "Lead ids").  Text ids of a few bytes carry short headers; the batch's arrays of
-- ids must leave the statement's own ids where they were, or the second look reads freed memory.
\set SHOW_CONTEXT never
CREATE EXTENSION lead_scoring;
CREATE TABLE lu_leads (id text PRIMARY KEY, name text);
CREATE TABLE lu_events (id serial PRIMARY KEY, lead_id text NOT NULL, event_type text NOT NULL,
                        occurred_at timestamptz NOT NULL DEFAULT now());
SELECT lead_scoring.attach_leads('lu_leads');
SELECT lead_scoring.attach_events('lu_events');
INSERT INTO lead_scoring.rule (name, kind, event_type, points) VALUES ('any', 'engagement', '*', 10);
INSERT INTO lu_leads SELECT 'L' || i, 'n' || i FROM generate_series(1, 40) i;
-- sixty leads' events in one statement, twenty of the leads unknown (interleaved in id order)
INSERT INTO lu_events (lead_id, event_type) SELECT 'L' || i, 'visit' FROM generate_series(1, 60) i;
DELETE FROM lu_events WHERE lead_id IN ('L3', 'L45', 'L50', 'L7', 'L9', 'L55');
UPDATE lu_events SET event_type = 'demo' WHERE lead_id >= 'L2';
SELECT count(*) AS leads, count(*) FILTER (WHERE score = lead_scoring.score(id)) AS exact,
       sum(score) AS total FROM lu_leads;
SELECT lead_scoring.detach('lu_events');
SELECT lead_scoring.detach('lu_leads');
DROP TABLE lu_leads, lu_events;
SET client_min_messages = warning;
DROP EXTENSION lead_scoring CASCADE;
DROP SCHEMA lead_scoring CASCADE;
RESET client_min_messages;
