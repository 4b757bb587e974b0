-- Rewriting lead rows without an UPDATE statement (doc/internals.md, "Rewriting lead rows"): every
-- rewrite fires the leads table's row triggers (leads_before and the CRM's own), checks its
-- constraints, computes its generated columns and keeps its indexes, as the UPDATE it replaces
-- did.  Where the two would differ (statement triggers, transition tables, rules, inheritance
-- children) the UPDATE runs instead: each such case is shown here by what only the UPDATE does.
CREATE EXTENSION lead_scoring;
SET client_min_messages = warning;
\set SHOW_CONTEXT never
SET lead_scoring.now = '2026-03-01 12:00+00';

CREATE TABLE companies (id int PRIMARY KEY);
INSERT INTO companies VALUES (1), (2);
CREATE TABLE leads (id bigint PRIMARY KEY, email text NOT NULL, company_id int REFERENCES companies,
                    touched int NOT NULL DEFAULT 0, note text,
                    CONSTRAINT one_email EXCLUDE USING btree (email WITH =));
CREATE TABLE lead_notes (lead_id bigint REFERENCES leads, body text);
CREATE TABLE events (id bigserial PRIMARY KEY, lead_id bigint, event_type text NOT NULL,
                     occurred_at timestamptz NOT NULL DEFAULT '2026-03-01 11:00+00');
INSERT INTO leads (id, email, company_id) VALUES
    (1, 'a@example.com', 1), (2, 'b@example.com', 2), (3, 'c@example.com', NULL), (4, 'd@example.com', 1),
    (5, 'e@example.com', 2), (6, 'f@example.com', 2);
INSERT INTO lead_notes VALUES (1, 'met at the fair');
SELECT lead_scoring.attach_leads('leads');
SELECT lead_scoring.attach_events('events');
INSERT INTO lead_scoring.threshold VALUES ('mql', 40);
INSERT INTO lead_scoring.rule (name, kind, event_type, points) VALUES
    ('visits', 'engagement', 'visit', 10),
    ('demo', 'engagement', 'demo', 50);
-- a generated column and an index on the score, a CHECK on it
ALTER TABLE leads ADD COLUMN band text GENERATED ALWAYS AS (CASE WHEN score >= 40 THEN 'hot' ELSE 'cold' END) STORED;
CREATE INDEX leads_score ON leads (score);
CREATE INDEX leads_band ON leads (band);
ALTER TABLE leads ADD CONSTRAINT score_cap CHECK (score <= 100);
-- the CRM's own row triggers: a BEFORE trigger that counts the writes and skips frozen leads, an
-- AFTER trigger that logs them
CREATE TABLE crm_log (lead_id bigint, old_score int, new_score int, band text, touched int);
CREATE FUNCTION crm_before() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.note = 'frozen' AND NEW.note = 'frozen' THEN
        RETURN NULL;
    END IF;
    NEW.touched := OLD.touched + 1;
    RETURN NEW;
END $$;
CREATE FUNCTION crm_after() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO crm_log VALUES (NEW.id, OLD.score, NEW.score, NEW.band, NEW.touched);
    RETURN NULL;
END $$;
CREATE TRIGGER crm_before BEFORE UPDATE ON leads FOR EACH ROW EXECUTE FUNCTION crm_before();
CREATE TRIGGER crm_after AFTER UPDATE ON leads FOR EACH ROW EXECUTE FUNCTION crm_after();
CREATE VIEW check_leads AS
    SELECT id, score, stage, band, touched, score = lead_scoring.score(id) AS exact FROM leads ORDER BY id;

-- one event (one lead), events of a few leads (lead by lead), of more leads (a batch), COPY
INSERT INTO events (lead_id, event_type) VALUES (1, 'visit');
INSERT INTO events (lead_id, event_type) VALUES (1, 'demo'), (2, 'visit'), (2, 'visit'), (4, 'visit');
INSERT INTO events (lead_id, event_type) VALUES (2, 'visit'), (3, 'visit'), (4, 'visit'), (5, 'visit'), (6, 'visit');
COPY events (lead_id, event_type) FROM stdin;
3	visit
4	visit
5	visit
6	visit
5	visit
\.
SELECT * FROM check_leads;
SELECT * FROM crm_log ORDER BY lead_id, new_score;
-- the stage log: lead 1 reached mql
SELECT lead_id, from_stage, to_stage, score FROM lead_scoring.stage_change
 WHERE from_stage IS DISTINCT FROM to_stage AND reason <> 'created' ORDER BY lead_id;
-- the indexes on score and band find the rewritten rows
SET enable_seqscan = off;
SET enable_bitmapscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM leads WHERE score = 30;
SELECT id FROM leads WHERE score = 30 ORDER BY id;
SELECT id FROM leads WHERE band = 'hot' ORDER BY id;
SELECT id FROM leads WHERE score = 0 ORDER BY id;
RESET enable_seqscan;
RESET enable_bitmapscan;

-- a CRM trigger that skips the row: the rewrite keeps it as it is (and says so: not exact)
UPDATE leads SET note = 'frozen' WHERE id = 3;
TRUNCATE crm_log;
INSERT INTO events (lead_id, event_type) VALUES (3, 'visit');
SELECT * FROM check_leads WHERE id = 3;
SELECT count(*) AS logged FROM crm_log;
UPDATE leads SET note = NULL WHERE id = 3;

-- a constraint the new score breaks: the event's INSERT fails as a whole (terse: the failing row
-- holds the engagement state, whose bytes name the rules' OIDs)
\set VERBOSITY terse
INSERT INTO events (lead_id, event_type) VALUES (1, 'demo');
\set VERBOSITY default
SELECT count(*) AS demos_of_1 FROM events WHERE lead_id = 1 AND event_type = 'demo';
-- NOT NULL and the exclusion constraint hold on the rewritten rows (the rewrite leaves them be)
INSERT INTO events (lead_id, event_type) VALUES (2, 'demo');
SELECT * FROM check_leads WHERE id = 2;
-- the foreign keys: the rewrite is checked like any update of the row
INSERT INTO events (lead_id, event_type) VALUES (1, 'visit');
SELECT count(*) AS notes FROM lead_notes;
ALTER TABLE leads DROP CONSTRAINT score_cap;

-- a full rescore and the refresh write through the same triggers
UPDATE lead_scoring.rule SET points = 15 WHERE name = 'visits';
SELECT lead_scoring.rescore_all() > 0 AS rescored;
SELECT * FROM check_leads;
CALL lead_scoring.refresh_online();
SELECT * FROM check_leads;

-- fallback: a statement-level UPDATE trigger fires once for each rewrite (an UPDATE statement)
CREATE TABLE stmt_log (op text, n int);
CREATE FUNCTION stmt_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO stmt_log VALUES (TG_WHEN || ' ' || TG_LEVEL, NULL);
    RETURN NULL;
END $$;
CREATE TRIGGER crm_stmt AFTER UPDATE ON leads FOR EACH STATEMENT EXECUTE FUNCTION stmt_count();
INSERT INTO events (lead_id, event_type) VALUES (4, 'visit');
INSERT INTO events (lead_id, event_type) VALUES (3, 'visit'), (4, 'visit');
SELECT op, count(*) FROM stmt_log GROUP BY op;
SELECT * FROM check_leads;
DROP TRIGGER crm_stmt ON leads;
-- fallback: a transition table sees every row the rewrite wrote
CREATE FUNCTION new_rows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO stmt_log SELECT 'new rows', count(*) FROM new_leads;
    RETURN NULL;
END $$;
CREATE TRIGGER crm_new_rows AFTER UPDATE ON leads REFERENCING NEW TABLE AS new_leads
    FOR EACH STATEMENT EXECUTE FUNCTION new_rows();
TRUNCATE stmt_log;
INSERT INTO events (lead_id, event_type) VALUES (2, 'visit'), (3, 'visit'), (4, 'visit'), (5, 'visit'), (6, 'visit');
SELECT * FROM stmt_log;
SELECT * FROM check_leads;
DROP TRIGGER crm_new_rows ON leads;
-- fallback: a rule on the leads table runs with the rewrite
CREATE TABLE rule_log (lead_id bigint, score int);
CREATE RULE log_rewrites AS ON UPDATE TO leads DO ALSO INSERT INTO rule_log VALUES (NEW.id, NEW.score);
INSERT INTO events (lead_id, event_type) VALUES (2, 'visit');
SELECT count(*) AS rule_fired FROM rule_log WHERE lead_id = 2;
SELECT * FROM check_leads WHERE id = 2;
DROP RULE log_rewrites ON leads;
-- row-level security forced on the leads table: the rewrite runs as the owner outside the
-- policies, as before (doc/security.md)
ALTER TABLE leads ENABLE ROW LEVEL SECURITY;
ALTER TABLE leads FORCE ROW LEVEL SECURITY;
CREATE POLICY nothing ON leads USING (false);
INSERT INTO events (lead_id, event_type) VALUES (4, 'visit');
ALTER TABLE leads NO FORCE ROW LEVEL SECURITY;
SELECT * FROM check_leads WHERE id = 4;
DROP POLICY nothing ON leads;
ALTER TABLE leads DISABLE ROW LEVEL SECURITY;

-- privileges: the rewrite is the owner's UPDATE, refused when the owner may not update the table
CREATE ROLE ls_rewrite_owner;
ALTER TABLE leads OWNER TO ls_rewrite_owner;
GRANT INSERT ON crm_log TO ls_rewrite_owner;
REVOKE UPDATE ON leads FROM ls_rewrite_owner;
INSERT INTO events (lead_id, event_type) VALUES (4, 'visit');
GRANT UPDATE ON leads TO ls_rewrite_owner;
INSERT INTO events (lead_id, event_type) VALUES (4, 'visit');
SELECT * FROM check_leads WHERE id = 4;
ALTER TABLE leads OWNER TO CURRENT_USER;

-- fallback: a child table's rows are reached by the UPDATE (through the parent), not by the id index
CREATE TABLE leads_archive () INHERITS (leads);
CREATE TABLE child_log (lead_id bigint);
CREATE FUNCTION child_write() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO child_log VALUES (NEW.id);
    RETURN NEW;
END $$;
CREATE TRIGGER child_write BEFORE UPDATE ON leads_archive FOR EACH ROW EXECUTE FUNCTION child_write();
INSERT INTO leads_archive (id, email) VALUES (9, 'z@example.com');
INSERT INTO events (lead_id, event_type) VALUES (9, 'visit');
SELECT count(*) AS child_rewritten FROM child_log;
DROP TABLE leads_archive;

-- lead_scoring.direct_rewrite = off: every rewrite is an UPDATE statement again, with the same result
SET lead_scoring.direct_rewrite = off;
INSERT INTO events (lead_id, event_type) VALUES (5, 'visit');
INSERT INTO events (lead_id, event_type) VALUES (1, 'visit'), (2, 'visit'), (3, 'visit'), (5, 'visit'), (6, 'visit');
RESET lead_scoring.direct_rewrite;
SELECT * FROM check_leads;

DROP TABLE events, lead_notes, leads, companies, crm_log, stmt_log, rule_log, child_log CASCADE;
DROP FUNCTION crm_before(), crm_after(), stmt_count(), new_rows(), child_write();
DROP ROLE ls_rewrite_owner;
DROP EXTENSION lead_scoring;
DROP SCHEMA lead_scoring CASCADE;
