-- The scoring engine (doc/scoring.md, "The engagement state"): the state carried in the leads row,
-- the cases where it cannot be carried, the refresh and rule changes rescored online.
CREATE EXTENSION lead_scoring;
SET client_min_messages = warning;
\set SHOW_CONTEXT never
SET lead_scoring.now = '2026-03-01 12:00+00';

CREATE TABLE leads (id bigint PRIMARY KEY, email text);
CREATE TABLE events (id bigserial PRIMARY KEY, lead_id bigint, event_type text NOT NULL,
                     occurred_at timestamptz NOT NULL);
INSERT INTO leads VALUES (1, 'a@example.com'), (2, 'b@example.com'), (3, NULL);
SELECT lead_scoring.attach_leads('leads');
SELECT lead_scoring.attach_events('events');
INSERT INTO lead_scoring.rule (name, kind, event_type, points, max_hits, max_points, half_life) VALUES
    ('first form', 'engagement', 'form', 30, 1, NULL, NULL),
    ('visits', 'engagement', 'visit', 10, NULL, 25, '2 days'),
    ('calls', 'engagement', 'call', 5, 2, NULL, '1 day');
-- the column attach_leads added; every lead has a state once the refresh has run
SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute
 WHERE attrelid = 'leads'::regclass AND attname = 'lead_scoring_state';
SELECT * FROM lead_scoring.rescore_progress();
CALL lead_scoring.refresh_online();
SELECT * FROM lead_scoring.rescore_progress();
CREATE VIEW check_scores AS
    SELECT id, score, score = lead_scoring.score(id) AS exact,
           lead_scoring.state_is_current(lead_scoring_state) AS current
      FROM leads ORDER BY id;

-- carried forward: events in time order, out of order, several in one statement, COPY
INSERT INTO events (lead_id, event_type, occurred_at) VALUES (1, 'visit', '2026-03-01 00:00+00');
INSERT INTO events (lead_id, event_type, occurred_at) VALUES (1, 'visit', '2026-02-27 12:00+00');
INSERT INTO events (lead_id, event_type, occurred_at) VALUES
    (2, 'call', '2026-03-01 10:00+00'), (2, 'call', '2026-02-28 10:00+00'), (2, 'form', '2026-02-20 00:00+00'),
    (3, 'visit', '2026-03-01 11:00+00'), (3, 'visit', '2026-03-01 11:30+00'), (3, 'visit', '2026-03-01 11:45+00'),
    (1, 'call', '2026-03-01 11:00+00'), (1, 'form', '2026-03-01 11:00+00');
COPY events (lead_id, event_type, occurred_at) FROM stdin;
1	visit	2026-02-28 00:00:00+00
2	visit	2026-02-10 00:00:00+00
3	form	2026-01-01 00:00:00+00
\.
SELECT * FROM check_scores;
-- max_hits reached: a later event is not counted, an earlier one displaces a counted one (the
-- lead's events are read again)
INSERT INTO events (lead_id, event_type, occurred_at) VALUES (2, 'call', '2026-03-01 11:00+00');
INSERT INTO events (lead_id, event_type, occurred_at) VALUES (2, 'call', '2026-02-27 10:00+00');
INSERT INTO events (lead_id, event_type, occurred_at) VALUES (1, 'form', '2026-01-01 00:00+00');
SELECT * FROM check_scores;
SELECT * FROM lead_scoring.explain(2);

-- an event dated in the future counts once its time has come (the refresh, or the next write)
INSERT INTO events (lead_id, event_type, occurred_at) VALUES (3, 'call', '2026-03-01 18:00+00');
SELECT * FROM check_scores;
SET lead_scoring.now = '2026-03-01 19:00+00';
SELECT lead_scoring.refresh_scores() AS rewritten;
SELECT * FROM check_scores;

-- decay: the refresh moves every score to the new time from the state alone
SET lead_scoring.now = '2026-03-04 12:00+00';
SELECT lead_scoring.refresh_scores() AS rewritten;
SELECT * FROM check_scores;
SELECT lead_scoring.refresh_scores() AS rewritten_again;

-- UPDATE and DELETE of events re-read the lead
UPDATE events SET event_type = 'visit' WHERE lead_id = 2 AND event_type = 'form';
DELETE FROM events WHERE lead_id = 1 AND event_type = 'call';
SELECT * FROM check_scores;

-- an application cannot write the state: the trigger writes the one it computes
UPDATE leads SET lead_scoring_state = NULL, email = 'c@example.com' WHERE id = 3;
SELECT id, lead_scoring_state IS NOT NULL AS has_state FROM leads WHERE id = 3;
SELECT * FROM check_scores;

-- a rule change: nothing at commit; a lead written since is current, the others pending; a write
-- of the lead's own trigger (a user trigger on events updating the lead) before the statement's
-- events are carried does not count them twice
CREATE FUNCTION touch_lead() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE leads SET email = email WHERE id = NEW.lead_id;
    RETURN NULL;
END $$;
CREATE TRIGGER a_touch_lead AFTER INSERT ON events FOR EACH ROW EXECUTE FUNCTION touch_lead();
UPDATE lead_scoring.rule SET points = 40 WHERE name = 'first form';
SELECT * FROM lead_scoring.rescore_progress();
INSERT INTO events (lead_id, event_type, occurred_at) VALUES (1, 'visit', '2026-03-04 11:00+00');
SELECT * FROM check_scores;
BEGIN;
INSERT INTO events (lead_id, event_type, occurred_at) VALUES (2, 'visit', '2026-03-04 11:00+00');
INSERT INTO events (lead_id, event_type, occurred_at) VALUES (2, 'visit', '2026-03-04 11:30+00');
COMMIT;
DROP TRIGGER a_touch_lead ON events;
SELECT * FROM check_scores;
SELECT * FROM lead_scoring.rescore_progress();
-- in a transaction block refresh_online cannot commit: it runs as one transaction
BEGIN;
CALL lead_scoring.refresh_online(batch_size => 1);
SELECT * FROM lead_scoring.rescore_progress();
ROLLBACK;
CALL lead_scoring.refresh_online(batch_size => 1);
SELECT * FROM check_scores;
CALL lead_scoring.refresh_online(batch_size => 0);
-- a settings change makes every stored score pending too (its state stays valid: no event is read)
UPDATE lead_scoring.settings SET score_ceiling = 50;
SELECT * FROM lead_scoring.rescore_progress();
SELECT lead_scoring.refresh_scores() AS rewritten;
SELECT * FROM check_scores;
UPDATE lead_scoring.settings SET score_ceiling = NULL;
SELECT lead_scoring.refresh_scores() AS rewritten;

-- the maintenance calls are the DBA's
CREATE ROLE engine_app;
GRANT USAGE ON SCHEMA lead_scoring TO engine_app;
SET ROLE engine_app;
CALL lead_scoring.refresh_online();
SELECT lead_scoring.refresh_scores();
RESET ROLE;
REVOKE USAGE ON SCHEMA lead_scoring FROM engine_app;
DROP ROLE engine_app;
DROP VIEW check_scores;

SELECT lead_scoring.detach('events');
SELECT lead_scoring.detach('leads');
DROP TABLE leads, events;
DROP FUNCTION touch_lead();
DROP EXTENSION lead_scoring CASCADE;
DROP SCHEMA lead_scoring CASCADE;
