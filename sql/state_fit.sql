-- The fit points kept in the engagement state (doc/scoring.md, "The engagement state"): an event
-- reuses them when the row's fit columns and the configuration hash to the key stored with them,
-- and computes them again otherwise — a fit column changed by a write leads_before did not see, a
-- toasted column, a rule or setting changed.  The state's bytes are read here (native byte order:
-- fields are copied between states, never decoded by SQL).
CREATE EXTENSION lead_scoring;
SET client_min_messages = warning;
\set SHOW_CONTEXT never
SET lead_scoring.now = '2026-03-01 12:00+00';

CREATE TABLE leads (id bigint PRIMARY KEY, employees integer, title text);
CREATE TABLE events (id bigserial PRIMARY KEY, lead_id bigint, event_type text NOT NULL,
                     occurred_at timestamptz NOT NULL DEFAULT '2026-03-01 11:00+00');
INSERT INTO leads VALUES (1, 10, 'Analyst'), (2, 500, 'Head of Sales'), (3, 10, NULL);
SELECT lead_scoring.attach_leads('leads');
SELECT lead_scoring.attach_events('events');
INSERT INTO lead_scoring.rule (name, kind, column_name, op, value, event_type, points) VALUES
    ('big', 'fit', 'employees', '>=', '50', NULL, 10),
    ('boss', 'fit', 'title', 'regex', '(Head|Chief)', NULL, 15),
    ('visit', 'engagement', NULL, NULL, NULL, 'visit', 1);
CREATE VIEW check_scores AS
    SELECT id, score, score = lead_scoring.score(id) AS exact FROM leads ORDER BY id;
-- the state's fit points (bytes 37-44) and their key (45-52): kept by every write of leads_before
CREATE VIEW fit_kept AS
    SELECT id, substring(lead_scoring_state FROM 45 FOR 8) <> '\x0000000000000000' AS key_kept
      FROM leads ORDER BY id;
INSERT INTO events (lead_id, event_type) VALUES (1, 'visit'), (2, 'visit'), (3, 'visit');
SELECT * FROM check_scores;
SELECT * FROM fit_kept;

-- used: lead 1's state given lead 2's fit points under its own key (a write no trigger sees) is
-- scored with them at its next event — the points are not computed again
ALTER TABLE leads DISABLE TRIGGER zz_lead_scoring_score;
UPDATE leads l SET lead_scoring_state = overlay(l.lead_scoring_state PLACING
                   substring(o.lead_scoring_state FROM 37 FOR 8) FROM 37 FOR 8)
  FROM leads o WHERE l.id = 1 AND o.id = 2;
ALTER TABLE leads ENABLE TRIGGER zz_lead_scoring_score;
INSERT INTO events (lead_id, event_type) VALUES (1, 'visit');
SELECT id, score FROM leads WHERE id = 1;
SELECT lead_scoring.rescore_all();
SELECT * FROM check_scores;

-- not used: a fit column changed where leads_before did not see it (the state stays the same)
ALTER TABLE leads DISABLE TRIGGER zz_lead_scoring_score;
UPDATE leads SET employees = 800 WHERE id = 1;
UPDATE leads SET title = 'Chief of Staff' WHERE id = 3;
ALTER TABLE leads ENABLE TRIGGER zz_lead_scoring_score;
INSERT INTO events (lead_id, event_type) VALUES (1, 'visit'), (3, 'visit');
SELECT * FROM check_scores;

-- not used: a toasted fit column (its stored bytes are not its value): computed every time
UPDATE leads SET title = 'Head of ' || repeat('very long department name ', 400) WHERE id = 2;
SELECT pg_column_compression(title) IS NOT NULL AS compressed FROM leads WHERE id = 2;
INSERT INTO events (lead_id, event_type) VALUES (2, 'visit');
INSERT INTO events (lead_id, event_type) VALUES (2, 'visit');
SELECT * FROM check_scores;
SELECT * FROM fit_kept;

-- not used: a rule changed (the rescore keeps the points of the stored states it can, under their
-- old keys, which no longer match), and a setting a fit rule reads
UPDATE lead_scoring.rule SET points = 20 WHERE name = 'big';
INSERT INTO events (lead_id, event_type) VALUES (1, 'visit'), (3, 'visit');
CALL lead_scoring.refresh_online();
SELECT * FROM check_scores;
INSERT INTO lead_scoring.rule (name, kind, column_name, op, points) VALUES ('reachable', 'fit', 'title', 'valid_phone', 5);
UPDATE leads SET title = '020 7946 0958' WHERE id = 3;
INSERT INTO events (lead_id, event_type) VALUES (3, 'visit');
SELECT * FROM check_scores;
UPDATE lead_scoring.settings SET default_phone_country = 'GB';
INSERT INTO events (lead_id, event_type) VALUES (3, 'visit');
SELECT * FROM check_scores;

DROP VIEW check_scores, fit_kept;
DROP EXTENSION lead_scoring CASCADE;
DROP SCHEMA lead_scoring CASCADE;
DROP TABLE leads, events;
