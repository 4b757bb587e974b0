-- A batch rewrite of leads from an events trigger runs under a resource owner of its own, released
-- into the statement's when the batch is done (doc/internals.md, "The resource owner of a batch
-- rewrite"):
-- - the locks it took stay held until the end of the transaction (passed to the statement's owner),
--   after a COPY and after an INSERT ... SELECT;
-- - nothing leaks (no WARNING) through a COPY, a nested batch (a CRM trigger on the leads table writing
--   events of other leads) and errors inside a batch caught by a savepoint and by a PL/pgSQL handler,
--   after which the next batch scores as before.
CREATE EXTENSION lead_scoring;
SET client_min_messages = warning;
\set SHOW_CONTEXT never
SET lead_scoring.now = '2026-03-01 12:00+00';

CREATE TABLE leads (id bigint PRIMARY KEY, email text);
CREATE TABLE events (id bigserial PRIMARY KEY, lead_id bigint, event_type text NOT NULL,
                     occurred_at timestamptz NOT NULL DEFAULT '2026-03-01 11:00+00');
INSERT INTO leads SELECT g, 'p' || g || '@example.com' FROM generate_series(1, 40) g;
SELECT lead_scoring.attach_leads('leads');
SELECT lead_scoring.attach_events('events');
INSERT INTO lead_scoring.threshold VALUES ('iql', 10), ('mql', 30);
INSERT INTO lead_scoring.rule (name, kind, event_type, points) VALUES ('visit', 'engagement', 'visit', 5);
CREATE VIEW my_locks AS
    SELECT c.relname, l.mode FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
     WHERE l.pid = pg_backend_pid() AND l.locktype = 'relation' AND c.relname IN ('leads', 'stage_change')
     ORDER BY 1, 2;

-- the locks of the rewrite outlive the batch: COPY of 2 events into each of 20 leads
BEGIN;
SELECT * FROM my_locks;
COPY events (lead_id, event_type) FROM STDIN;
1	visit
2	visit
3	visit
4	visit
5	visit
6	visit
7	visit
8	visit
9	visit
10	visit
11	visit
12	visit
13	visit
14	visit
15	visit
16	visit
17	visit
18	visit
19	visit
20	visit
1	visit
2	visit
3	visit
4	visit
5	visit
6	visit
7	visit
8	visit
9	visit
10	visit
11	visit
12	visit
13	visit
14	visit
15	visit
16	visit
17	visit
18	visit
19	visit
20	visit
\.
SELECT * FROM my_locks;
COMMIT;
BEGIN;
INSERT INTO events (lead_id, event_type) SELECT 21 + g % 20, 'visit' FROM generate_series(1, 40) g;
SELECT * FROM my_locks;
COMMIT;
SELECT score, stage, count(*) FROM leads GROUP BY 1, 2 ORDER BY 1, 2;

-- a nested batch: a CRM trigger on the leads table writes an event for five other leads when one of
-- leads 100 to 109 reaches iql (each of the ten in the outer batch, 50 leads in nested batches of 5)
CREATE FUNCTION spread() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.stage = 'iql' AND OLD.stage = 'new' AND NEW.id BETWEEN 100 AND 109 THEN
        INSERT INTO events (lead_id, event_type) SELECT 200 + 5 * (NEW.id - 100) + g, 'visit' FROM generate_series(0, 4) g;
    END IF;
    RETURN NULL;
END $$;
INSERT INTO leads SELECT g, 'q' || g || '@example.com' FROM generate_series(100, 310) g;
CREATE TRIGGER spread AFTER UPDATE ON leads FOR EACH ROW EXECUTE FUNCTION spread();
BEGIN;
INSERT INTO events (lead_id, event_type) SELECT 100 + g % 10, 'visit' FROM generate_series(1, 20) g;
SELECT * FROM my_locks;
COMMIT;
SELECT count(*) FILTER (WHERE score = 5) AS spread_to, count(*) FILTER (WHERE stage = 'iql') AS iql
  FROM leads WHERE id >= 100;
DROP TRIGGER spread ON leads;

-- an error inside a batch: a CRM BEFORE trigger refuses lead 37
CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.id = 37 AND current_setting('test.refuse', true) = 'on' THEN
        RAISE EXCEPTION 'lead 37 refused';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER refuse BEFORE UPDATE ON leads FOR EACH ROW EXECUTE FUNCTION refuse();
SET test.refuse = on;
BEGIN;
SAVEPOINT s;
INSERT INTO events (lead_id, event_type) SELECT 31 + g % 10, 'visit' FROM generate_series(1, 20) g;
ROLLBACK TO SAVEPOINT s;
INSERT INTO events (lead_id, event_type) SELECT 1 + g % 10, 'visit' FROM generate_series(1, 20) g;
COMMIT;
DO $$
BEGIN
    INSERT INTO events (lead_id, event_type) SELECT 31 + g % 10, 'visit' FROM generate_series(1, 20) g;
EXCEPTION WHEN raise_exception THEN
    RAISE WARNING 'caught: %', SQLERRM;
END $$;
RESET test.refuse;
INSERT INTO events (lead_id, event_type) SELECT 31 + g % 10, 'visit' FROM generate_series(1, 20) g;
-- every lead's score is its events' points (5 each, no cap)
SELECT count(*) AS leads, count(*) FILTER (WHERE l.score = 5 * (SELECT count(*) FROM events e WHERE e.lead_id = l.id)) AS exact
  FROM leads l;

DROP VIEW my_locks;
DROP TRIGGER refuse ON leads;
DROP EXTENSION lead_scoring CASCADE;
DROP SCHEMA lead_scoring CASCADE;
DROP TABLE events, leads;
DROP FUNCTION spread(), refuse();
