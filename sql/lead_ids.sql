-- Lead ids: a unique NOT NULL key of the leads table, compared byte for byte (no nondeterministic
-- collation on any lead id column), that never changes (doc/scoring.md, "Lead ids").
\set SHOW_CONTEXT never
CREATE EXTENSION lead_scoring;
CREATE COLLATION lid_ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
-- duplicates: an id that is not unique and NOT NULL is refused
CREATE TABLE lid_leads (id text, name text);
INSERT INTO lid_leads VALUES ('1', 'a'), ('1', 'b');
SELECT lead_scoring.attach_leads('lid_leads');
ALTER TABLE lid_leads ALTER id SET NOT NULL;
SELECT lead_scoring.attach_leads('lid_leads');
CREATE UNIQUE INDEX lid_partial ON lid_leads (id) WHERE id > '100';
CREATE UNIQUE INDEX lid_pair ON lid_leads (id, name);
SELECT lead_scoring.attach_leads('lid_leads');
DELETE FROM lid_leads WHERE name = 'b';
CREATE UNIQUE INDEX lid_unique ON lid_leads (id);
SELECT lead_scoring.attach_leads('lid_leads');
-- ... and taking it away later is refused when the command ends
DROP INDEX lid_unique;
ALTER TABLE lid_leads ALTER id DROP NOT NULL;
-- replacing the key: the new one first
ALTER TABLE lid_leads ADD PRIMARY KEY (id);
DROP INDEX lid_unique;
ALTER TABLE lid_leads DROP CONSTRAINT lid_leads_pkey;
SELECT indexrelid::regclass FROM pg_index WHERE indrelid = 'lid_leads'::regclass ORDER BY 1;
-- nondeterministic collations on lead id columns are refused
CREATE TABLE lid_events (id serial PRIMARY KEY, lead_id text NOT NULL, event_type text NOT NULL,
                         occurred_at timestamptz NOT NULL DEFAULT now());
SELECT lead_scoring.attach_events('lid_events');
SELECT lead_scoring.detach('lid_events');
SELECT lead_scoring.detach('lid_leads');
CREATE TABLE lid_text_leads (id text COLLATE lid_ci PRIMARY KEY);
SELECT lead_scoring.attach_leads('lid_text_leads');
ALTER TABLE lid_text_leads ALTER id TYPE text COLLATE "C";
SELECT lead_scoring.attach_leads('lid_text_leads');
CREATE TABLE lid_text_events (id serial PRIMARY KEY, lead_id text COLLATE lid_ci NOT NULL, event_type text NOT NULL,
                              occurred_at timestamptz NOT NULL DEFAULT now());
SELECT lead_scoring.attach_events('lid_text_events');
CREATE TABLE lid_text_deals (id int PRIMARY KEY, lead_id text COLLATE lid_ci NOT NULL, amount numeric NOT NULL,
                             status text NOT NULL, closed_at timestamptz);
SELECT lead_scoring.attach_deals('lid_text_deals');
ALTER TABLE lid_text_events ALTER lead_id TYPE text COLLATE "C";
SELECT lead_scoring.attach_events('lid_text_events');
INSERT INTO lead_scoring.rule (name, kind, event_type, points) VALUES ('any', 'engagement', '*', 10);
INSERT INTO lid_text_leads VALUES ('abc'), ('ABC');
INSERT INTO lid_text_events (lead_id, event_type) VALUES ('ABC', 'visit');
SELECT id, score, lead_scoring.score(id) FROM lid_text_leads ORDER BY id COLLATE "C";
-- a lead's id never changes
UPDATE lid_text_leads SET id = 'abcd' WHERE id = 'abc';
UPDATE lid_text_leads SET id = id;
SELECT lead_id, to_stage, reason FROM lead_scoring.stage_change ORDER BY change_id;
SELECT lead_scoring.detach('lid_text_events');
SELECT lead_scoring.detach('lid_text_leads');
DROP TABLE lid_leads, lid_events, lid_text_leads, lid_text_events, lid_text_deals;
DROP COLLATION lid_ci;
SET client_min_messages = warning;
DROP EXTENSION lead_scoring CASCADE;
DROP SCHEMA lead_scoring CASCADE;
RESET client_min_messages;
