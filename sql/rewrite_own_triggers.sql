-- The rewrite of a lead row calls the extension's own BEFORE trigger directly, and leaves out its
-- AFTER trigger when the stage stays, where nothing else could tell (doc/internals.md, "Rewriting
-- lead rows"): only when leads_before is the table's only row-level BEFORE UPDATE trigger and
-- fires in the session's replication role.  Each case is shown by what the trigger does or not.
CREATE EXTENSION lead_scoring;
SET client_min_messages = warning;
\set SHOW_CONTEXT never
SET lead_scoring.now = '2026-03-01 12:00+00';

CREATE TABLE leads (id bigint PRIMARY KEY, employees integer);
CREATE TABLE events (id bigserial PRIMARY KEY, lead_id bigint, event_type text NOT NULL,
                     occurred_at timestamptz NOT NULL DEFAULT '2026-03-01 11:00+00');
INSERT INTO leads VALUES (1, 10), (2, 500);
SELECT lead_scoring.attach_leads('leads');
SELECT lead_scoring.attach_events('events');
INSERT INTO lead_scoring.rule (name, kind, column_name, op, value, event_type, points) VALUES
    ('big', 'fit', 'employees', '>=', '50', NULL, 10),
    ('visit', 'engagement', NULL, NULL, NULL, 'visit', 4);
INSERT INTO lead_scoring.threshold (stage, min_score) VALUES ('iql', 12);
CREATE VIEW check_scores AS
    SELECT id, stage, score, score = lead_scoring.score(id) AS exact FROM leads ORDER BY id;

-- only the extension's triggers: scored, promoted, the promotion logged
INSERT INTO events (lead_id, event_type) VALUES (1, 'visit'), (2, 'visit');
INSERT INTO events (lead_id, event_type) VALUES (1, 'visit');
SELECT * FROM check_scores;
SELECT lead_id, from_stage, to_stage, reason FROM lead_scoring.stage_change ORDER BY change_id;

-- the BEFORE trigger disabled: the rewrite leaves the row as it is
ALTER TABLE leads DISABLE TRIGGER zz_lead_scoring_score;
INSERT INTO events (lead_id, event_type) VALUES (1, 'visit');
SELECT id, score FROM leads WHERE id = 1;
ALTER TABLE leads ENABLE TRIGGER zz_lead_scoring_score;

-- replication role replica (the events trigger set to fire always, the leads trigger not): the
-- rewrite runs, leads_before does not fire, as in an UPDATE applied by a subscriber
ALTER TABLE events ENABLE ALWAYS TRIGGER zz_lead_scoring_insert;
SET session_replication_role = replica;
INSERT INTO events (lead_id, event_type) VALUES (2, 'visit');
SELECT id, score FROM leads WHERE id = 2;
-- ... and when leads_before fires always, it fires in that role too
ALTER TABLE leads ENABLE ALWAYS TRIGGER zz_lead_scoring_score;
INSERT INTO events (lead_id, event_type) VALUES (2, 'visit');
SELECT id, score FROM leads WHERE id = 2;
RESET session_replication_role;
ALTER TABLE leads ENABLE TRIGGER zz_lead_scoring_score;
ALTER TABLE events ENABLE TRIGGER zz_lead_scoring_insert;
SELECT * FROM check_scores;

-- a CRM BEFORE trigger beside leads_before: both fire for every rewrite, the CRM's first
CREATE TABLE crm_log (lead_id bigint, what text, score integer);
CREATE FUNCTION crm_before() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO crm_log VALUES (NEW.id, TG_NAME, NEW.score);
    RETURN NEW;
END $$;
CREATE TRIGGER crm_before BEFORE UPDATE ON leads FOR EACH ROW EXECUTE FUNCTION crm_before();
INSERT INTO events (lead_id, event_type) VALUES (1, 'visit');
SELECT * FROM crm_log;
DROP TRIGGER crm_before ON leads;
-- (lead 1 missed the event of the disabled trigger: exact again after rescore_all below) it reached
-- iql now, and the move is logged
SELECT id, stage, score FROM leads WHERE id = 1;
SELECT lead_id, from_stage, to_stage, reason FROM lead_scoring.stage_change WHERE lead_id = 1 ORDER BY change_id;
-- a CRM AFTER UPDATE trigger: it fires for every rewrite, whether the stage moved or not
CREATE TRIGGER crm_after AFTER UPDATE ON leads FOR EACH ROW EXECUTE FUNCTION crm_before();
INSERT INTO events (lead_id, event_type) VALUES (1, 'visit');
INSERT INTO events (lead_id, event_type) VALUES (2, 'visit');
SELECT * FROM crm_log ORDER BY lead_id, score;
DROP TRIGGER crm_after ON leads;
-- a WHEN condition on leads_before (not the extension's, but honoured): the trigger manager decides
DROP TRIGGER zz_lead_scoring_score ON leads;
CREATE TRIGGER zz_lead_scoring_score BEFORE INSERT OR UPDATE ON leads FOR EACH ROW
    WHEN (NEW.employees < 100) EXECUTE FUNCTION lead_scoring.leads_before();
INSERT INTO events (lead_id, event_type) VALUES (1, 'visit'), (2, 'visit');
SELECT id, score FROM leads ORDER BY id;
DROP TRIGGER zz_lead_scoring_score ON leads;
CREATE TRIGGER zz_lead_scoring_score BEFORE INSERT OR UPDATE ON leads FOR EACH ROW
    EXECUTE FUNCTION lead_scoring.leads_before();
SELECT lead_scoring.rescore_all() > 0 AS rescored;
SELECT * FROM check_scores;

DROP VIEW check_scores;
DROP EXTENSION lead_scoring CASCADE;
DROP SCHEMA lead_scoring CASCADE;
DROP TABLE leads, events, crm_log;
DROP FUNCTION crm_before();
