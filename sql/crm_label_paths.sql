-- An event type's label along a path of foreign keys (attach_events(labels => '{"type_id": "category_id.name"}')):
-- every table on the path gets the labels trigger, so a change anywhere on it — the name in the last table, the
-- step in the first — is a change of the rules: the states counted before are stale and rescored online, and
-- single-row writes, batches and the refresh agree with score().  doc/crm_schemas.md, "Event type labels".
CREATE EXTENSION lead_scoring;
\set SHOW_CONTEXT never
SET client_min_messages = warning;
CREATE SCHEMA crm;
CREATE TABLE crm.lead (id integer PRIMARY KEY);
CREATE TABLE crm.category (id integer PRIMARY KEY, name text NOT NULL);
CREATE TABLE crm.activity_type (id integer PRIMARY KEY, category_id integer NOT NULL REFERENCES crm.category,
                                sequence integer);
CREATE TABLE crm.activity (id serial PRIMARY KEY, lead_id integer NOT NULL,
                           type_id integer NOT NULL REFERENCES crm.activity_type, at timestamptz NOT NULL);
INSERT INTO crm.category VALUES (1, 'Email'), (2, 'Call'), (3, 'Meeting');
INSERT INTO crm.activity_type VALUES (10, 1, 1), (20, 2, 2), (30, 3, 3);
SELECT lead_scoring.attach_leads('crm.lead');
SELECT lead_scoring.attach_events('crm.activity', type_column => 'type_id', time_column => 'at',
                                  labels => '{"type_id": "category_id.name"}');
-- both tables of the path have the trigger
SELECT tgrelid::regclass, tgname FROM pg_trigger WHERE tgname = 'zz_lead_scoring_labels' ORDER BY tgrelid::regclass::text;
INSERT INTO lead_scoring.rule (name, kind, event_type, points) VALUES
    ('calls', 'engagement', 'Call', 20), ('meetings', 'engagement', 'Meeting', 30);
SET lead_scoring.now = '2026-03-02 10:00:00+00';
INSERT INTO crm.lead VALUES (1), (2), (3);
INSERT INTO crm.activity (lead_id, type_id, at) VALUES (1, 20, '2026-03-02 09:00+00'), (2, 10, '2026-03-02 09:00+00'),
    (3, 10, '2026-03-02 09:00+00');
SELECT DISTINCT event_type FROM lead_scoring.events ORDER BY 1;
-- by hand: lead 1 a call, 20; leads 2 and 3 an e-mail, no rule: 0
SELECT id, score, lead_scoring.score(id) AS computed FROM crm.lead ORDER BY id;
SELECT * FROM lead_scoring.rescore_progress();

-- the name at the end of the path changes: "Email" is "Meeting" now; the states are stale
UPDATE crm.category SET name = 'Meeting' WHERE id = 1;
SELECT * FROM lead_scoring.rescore_progress();
-- lead 3's next e-mail is read under the new labels (two meetings: 60), a batch for lead 2 (one meeting, two
-- calls: 70), the refresh for lead 1 (unchanged: 20)
INSERT INTO crm.activity (lead_id, type_id, at) VALUES (3, 10, '2026-03-02 09:30+00');
INSERT INTO crm.activity (lead_id, type_id, at) VALUES (2, 20, '2026-03-02 09:30+00'), (2, 20, '2026-03-02 09:40+00');
CALL lead_scoring.refresh_online();
SELECT id, score, lead_scoring.score(id) AS computed FROM crm.lead ORDER BY id;
SELECT * FROM lead_scoring.rescore_progress();

-- the step at the start of the path changes: type 10 is a call now (lead 2: 3 × 20 = 60, lead 3: 2 × 20 = 40)
UPDATE crm.activity_type SET category_id = 2 WHERE id = 10;
SELECT pending AS stale FROM lead_scoring.rescore_progress();
CALL lead_scoring.refresh_online();
SELECT id, score, lead_scoring.score(id) AS computed FROM crm.lead ORDER BY id;

-- renamed and renamed back with nothing written in between: still another rule set, the states stale
BEGIN;
UPDATE crm.category SET name = 'Demo' WHERE id = 2;
UPDATE crm.category SET name = 'Call' WHERE id = 2;
COMMIT;
SELECT pending > 0 AS stale FROM lead_scoring.rescore_progress();
CALL lead_scoring.refresh_online();
SELECT id, score, lead_scoring.score(id) AS computed FROM crm.lead ORDER BY id;
-- a change rolled back changes nothing
BEGIN;
UPDATE crm.category SET name = 'Demo' WHERE id = 2;
ROLLBACK;
SELECT pending AS stale FROM lead_scoring.rescore_progress();

-- the label column renamed by the CRM's migration: followed; dropping a table on the path refused
SET client_min_messages = notice;
ALTER TABLE crm.category RENAME COLUMN name TO title;
SET client_min_messages = warning;
SELECT labels FROM lead_scoring.attachment WHERE kind = 'events';
INSERT INTO crm.activity (lead_id, type_id, at) VALUES (1, 30, '2026-03-02 09:50+00');
SELECT id, score, lead_scoring.score(id) AS computed FROM crm.lead ORDER BY id;
DROP TABLE crm.category CASCADE;
-- detach removes the trigger from every table of the path
SELECT lead_scoring.detach('crm.activity');
SELECT count(*) FROM pg_trigger WHERE tgname = 'zz_lead_scoring_labels';
SELECT lead_scoring.detach('crm.lead');
DROP SCHEMA crm CASCADE;
DROP TABLE lead_scoring.stage_change;
DROP EXTENSION lead_scoring;
