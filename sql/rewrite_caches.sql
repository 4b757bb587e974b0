-- What the executor-level rewrite of lead rows keeps across statements in a backend (src/lead_rewrite.h,
-- doc/internals.md "Rewriting lead rows"): every statement below runs in this one session, each
-- after the cache was used, and each shows the change made between two statements taking effect.
CREATE EXTENSION lead_scoring;
SET client_min_messages = warning;
\set SHOW_CONTEXT never
SET lead_scoring.now = '2026-03-01 12:00+00';

CREATE TABLE leads (id bigint PRIMARY KEY, email text NOT NULL, note text);
CREATE TABLE events (id bigserial PRIMARY KEY, lead_id bigint, event_type text NOT NULL,
                     occurred_at timestamptz NOT NULL DEFAULT '2026-03-01 11:00+00');
INSERT INTO leads (id, email) SELECT g, 'l' || g || '@example.com' FROM generate_series(1, 4) g;
SELECT lead_scoring.attach_leads('leads');
SELECT lead_scoring.attach_events('events');
INSERT INTO lead_scoring.threshold VALUES ('mql', 40);
INSERT INTO lead_scoring.rule (name, kind, event_type, points) VALUES ('visits', 'engagement', 'visit', 10);
CREATE VIEW log AS SELECT lead_id, from_stage, to_stage, score FROM lead_scoring.stage_change
    WHERE to_stage <> 'new' ORDER BY changed_at, lead_id;

-- 1. The WHEN conditions of the leads table's row UPDATE triggers, compiled once per backend.
CREATE TABLE crm_log (n serial, lead_id bigint, old_score int, new_score int);
CREATE FUNCTION crm_log() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO crm_log (lead_id, old_score, new_score) VALUES (NEW.id, OLD.score, NEW.score);
    RETURN NULL;
END $$;
CREATE FUNCTION interesting(old_score int, new_score int) RETURNS boolean
    LANGUAGE sql IMMUTABLE AS 'SELECT new_score >= old_score + 10';
CREATE TRIGGER crm_log AFTER UPDATE ON leads FOR EACH ROW
    WHEN (OLD.score IS DISTINCT FROM NEW.score) EXECUTE FUNCTION crm_log();
INSERT INTO events (lead_id, event_type) VALUES (1, 'visit');
INSERT INTO events (lead_id, event_type) VALUES (1, 'visit');
SELECT lead_id, old_score, new_score FROM crm_log ORDER BY n;
-- the condition replaced (same trigger, same OID): the next rewrite uses the new one
CREATE OR REPLACE TRIGGER crm_log AFTER UPDATE ON leads FOR EACH ROW
    WHEN (false) EXECUTE FUNCTION crm_log();
INSERT INTO events (lead_id, event_type) VALUES (1, 'visit');
SELECT count(*) AS logged FROM crm_log;
CREATE OR REPLACE TRIGGER crm_log AFTER UPDATE ON leads FOR EACH ROW
    WHEN (interesting(OLD.score, NEW.score)) EXECUTE FUNCTION crm_log();
INSERT INTO events (lead_id, event_type) VALUES (2, 'visit');
SELECT lead_id, old_score, new_score FROM crm_log ORDER BY n;
-- a function the condition calls, replaced
CREATE OR REPLACE FUNCTION interesting(old_score int, new_score int) RETURNS boolean
    LANGUAGE sql IMMUTABLE AS 'SELECT new_score >= old_score + 1000';
INSERT INTO events (lead_id, event_type) VALUES (2, 'visit');
SELECT count(*) AS logged FROM crm_log;
CREATE OR REPLACE FUNCTION interesting(old_score int, new_score int) RETURNS boolean
    LANGUAGE sql IMMUTABLE AS 'SELECT new_score >= old_score + 10';
INSERT INTO events (lead_id, event_type) VALUES (2, 'visit');
SELECT lead_id, old_score, new_score FROM crm_log ORDER BY n;
-- disabled, enabled, dropped
ALTER TABLE leads DISABLE TRIGGER crm_log;
INSERT INTO events (lead_id, event_type) VALUES (3, 'visit');
ALTER TABLE leads ENABLE TRIGGER crm_log;
INSERT INTO events (lead_id, event_type) VALUES (3, 'visit');
DROP TRIGGER crm_log ON leads;
INSERT INTO events (lead_id, event_type) VALUES (3, 'visit');
SELECT lead_id, old_score, new_score FROM crm_log ORDER BY n;
-- the stage log's own condition (OLD.stage <> NEW.stage): promotions are logged, rewrites without
-- a stage change are not
INSERT INTO events (lead_id, event_type) VALUES (1, 'visit'), (1, 'visit');
INSERT INTO events (lead_id, event_type) VALUES (1, 'visit');
SELECT * FROM log;
-- a rewrite whose WHEN condition writes events (a rewrite nested in a rewrite's trigger)
CREATE FUNCTION visit_again(lead bigint, new_score int) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    IF new_score < 30 THEN
        INSERT INTO events (lead_id, event_type) VALUES (lead, 'visit');
    END IF;
    RETURN new_score >= 30;
END $$;
CREATE TRIGGER crm_log AFTER UPDATE ON leads FOR EACH ROW
    WHEN (visit_again(NEW.id, NEW.score)) EXECUTE FUNCTION crm_log();
INSERT INTO events (lead_id, event_type) VALUES (4, 'visit');
SELECT id, score, stage, score = lead_scoring.score(id) AS exact FROM leads ORDER BY id;
SELECT lead_id, old_score, new_score FROM crm_log ORDER BY n;
DROP TRIGGER crm_log ON leads;
-- after an error while the conditions were in use, the next rewrite uses them again
CREATE FUNCTION refuse(new_score int) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    IF new_score > 60 THEN
        RAISE EXCEPTION 'score % refused', new_score;
    END IF;
    RETURN true;
END $$;
CREATE TRIGGER crm_log AFTER UPDATE ON leads FOR EACH ROW WHEN (refuse(NEW.score)) EXECUTE FUNCTION crm_log();
INSERT INTO events (lead_id, event_type) VALUES (1, 'visit');
INSERT INTO events (lead_id, event_type) VALUES (2, 'visit');
SELECT lead_id, old_score, new_score FROM crm_log ORDER BY n DESC LIMIT 1;
DROP TRIGGER crm_log ON leads;

-- 2. The id index, found once and then opened alone; the other indexes opened when a rewrite is
-- not HOT.  An index on the score: every rewrite that changes it writes index entries
CREATE VIEW by_index AS SELECT id, score FROM leads WHERE score >= 0;
INSERT INTO events (lead_id, event_type) VALUES (4, 'visit');
CREATE INDEX leads_score ON leads (score);
INSERT INTO events (lead_id, event_type) VALUES (4, 'visit');
INSERT INTO events (lead_id, event_type) VALUES (3, 'visit');
SET enable_seqscan = off;
SET enable_bitmapscan = off;
EXPLAIN (COSTS OFF) SELECT * FROM by_index;
SELECT * FROM by_index ORDER BY id;
-- another unique index on the id, the primary key dropped: the new index is found
CREATE UNIQUE INDEX leads_id ON leads (id);
ALTER TABLE leads DROP CONSTRAINT leads_pkey;
INSERT INTO events (lead_id, event_type) VALUES (3, 'visit');
SELECT * FROM by_index ORDER BY id;
-- an index on the id and the score (the id index no longer the only one on id)
CREATE UNIQUE INDEX leads_id_score ON leads (id, score);
INSERT INTO events (lead_id, event_type) VALUES (2, 'visit');
SELECT * FROM by_index ORDER BY id;
EXPLAIN (COSTS OFF) SELECT id, score FROM leads WHERE id = 2 AND score >= 0;
SELECT id, score FROM leads WHERE id = 2 AND score >= 0;
RESET enable_seqscan;
RESET enable_bitmapscan;
SELECT id, score, stage, score = lead_scoring.score(id) AS exact FROM leads ORDER BY id;
DROP VIEW by_index;
DROP INDEX leads_id_score, leads_score;

-- ALTER COLUMN (the table rewritten, its indexes rebuilt), a column added and one dropped, then detach
-- and attach again (new triggers)
ALTER TABLE leads ALTER COLUMN note TYPE varchar(200);
INSERT INTO events (lead_id, event_type) VALUES (1, 'visit');
ALTER TABLE leads ADD COLUMN extra int DEFAULT 7, DROP COLUMN note;
INSERT INTO events (lead_id, event_type) VALUES (1, 'visit');
SELECT id, extra FROM leads WHERE id = 1;
SELECT lead_scoring.detach('events');
SELECT lead_scoring.detach('leads');
SELECT lead_scoring.attach_leads('leads');
SELECT lead_scoring.attach_events('events');
INSERT INTO events (lead_id, event_type) VALUES (2, 'visit');
SELECT id, score, stage, score = lead_scoring.score(id) AS exact FROM leads ORDER BY id;
SELECT * FROM log;

-- DROP EXTENSION and CREATE EXTENSION in this session: new triggers, new functions
DROP VIEW log;
DROP EXTENSION lead_scoring CASCADE;
CREATE EXTENSION lead_scoring;
SELECT lead_scoring.attach_leads('leads');
SELECT lead_scoring.attach_events('events');
INSERT INTO lead_scoring.threshold VALUES ('mql', 40);
INSERT INTO lead_scoring.rule (name, kind, event_type, points) VALUES ('visits', 'engagement', 'visit', 10);
SELECT lead_scoring.rescore_all();
INSERT INTO events (lead_id, event_type) VALUES (3, 'visit');
INSERT INTO events (lead_id, event_type) VALUES (3, 'visit');
SELECT id, score, stage, score = lead_scoring.score(id) AS exact FROM leads ORDER BY id;
SELECT lead_id, from_stage, to_stage, score FROM lead_scoring.stage_change WHERE to_stage <> 'new'
    ORDER BY changed_at, lead_id;

DROP TABLE leads, events, crm_log CASCADE;
DROP FUNCTION crm_log(), interesting(int, int), visit_again(bigint, int), refuse(int);
DROP EXTENSION lead_scoring CASCADE;
DROP SCHEMA IF EXISTS lead_scoring CASCADE;
