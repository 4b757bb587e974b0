-- Lookup labels changed in place: a change of the lookup table an events table's types are keys into
-- (Odoo's mail_activity_type renamed, a type added) is a change of the rules.  attach_events puts a
-- statement trigger on the lookup table that invalidates the compiled rules; their fingerprint holds the
-- labels, so the states counted under the old labels are stale and rescored online, as after a rule
-- change.  detach removes the trigger; a DROP of the lookup table (CASCADE) is refused with our message.
-- doc/crm_schemas.md, "CRM-native columns"; doc/scoring.md, "Rule changes: rescored online".
CREATE EXTENSION lead_scoring;
\set SHOW_CONTEXT never
SET client_min_messages = warning;
CREATE SCHEMA crm;
CREATE TABLE crm.lead (id integer PRIMARY KEY);
CREATE TABLE crm.activity_type (id integer PRIMARY KEY, name jsonb NOT NULL, sequence integer);
CREATE TABLE crm.activity (id serial PRIMARY KEY, lead_id integer NOT NULL,
                           type_id integer NOT NULL REFERENCES crm.activity_type, at timestamptz NOT NULL);
CREATE TABLE crm.activity_archive (id serial PRIMARY KEY, lead_id integer NOT NULL,
                                   type_id integer NOT NULL REFERENCES crm.activity_type, at timestamptz NOT NULL);
INSERT INTO crm.activity_type VALUES (1, '{"en_US": "Email"}', 1), (2, '{"en_US": "Call"}', 2),
    (3, '{"en_US": "Meeting"}', 3);
SELECT lead_scoring.attach_leads('crm.lead');
SELECT lead_scoring.attach_events('crm.activity', type_column => 'type_id', time_column => 'at',
                                  labels => '{"type_id": "name.en_US"}');
-- the lookup table has the trigger
SELECT tgrelid::regclass, tgname FROM pg_trigger WHERE tgname = 'zz_lead_scoring_labels';
INSERT INTO lead_scoring.rule (name, kind, event_type, points) VALUES
    ('calls', 'engagement', 'Call', 20), ('meetings', 'engagement', 'Meeting', 30);

SET lead_scoring.now = '2026-03-02 10:00:00+00';
INSERT INTO crm.lead VALUES (1), (2), (3);
INSERT INTO crm.activity (lead_id, type_id, at) VALUES (1, 2, '2026-03-02 09:00+00'), (2, 1, '2026-03-02 09:00+00'),
    (3, 1, '2026-03-02 09:00+00');
-- by hand: lead 1 a call, 20; leads 2 and 3 an e-mail, no rule: 0
SELECT id, score, lead_scoring.score(id) AS computed FROM crm.lead ORDER BY id;
SELECT * FROM lead_scoring.rescore_progress();

-- Odoo's user renames "Email" to "Meeting" in the settings (the same row): e-mails are meetings now.
-- The stored states were counted under the old labels: stale, as after a rule change
UPDATE crm.activity_type SET name = '{"en_US": "Meeting"}' WHERE id = 1;
SELECT * FROM lead_scoring.rescore_progress();
-- the next event of lead 3 is an e-mail: read under the new labels (its two e-mails are meetings now: 60),
-- through the index path of a single-row insert, and through a multi-row insert for lead 2
INSERT INTO crm.activity (lead_id, type_id, at) VALUES (3, 1, '2026-03-02 09:30+00');
INSERT INTO crm.activity (lead_id, type_id, at) VALUES (2, 2, '2026-03-02 09:30+00'), (2, 2, '2026-03-02 09:40+00');
SELECT id, score, lead_scoring.score(id) AS computed FROM crm.lead ORDER BY id;
-- the refresh rescores the leads nobody wrote
CALL lead_scoring.refresh_online();
SELECT id, score, lead_scoring.score(id) AS computed FROM crm.lead ORDER BY id;
SELECT * FROM lead_scoring.rescore_progress();

-- a type added: a rule may name it, and its events count
INSERT INTO crm.activity_type VALUES (4, '{"en_US": "Demo"}', 4);
INSERT INTO lead_scoring.rule (name, kind, event_type, points) VALUES ('demos', 'engagement', 'Demo', 50);
INSERT INTO crm.activity (lead_id, type_id, at) VALUES (1, 4, '2026-03-02 09:50+00');
SELECT id, score, lead_scoring.score(id) AS computed FROM crm.lead ORDER BY id;

-- renamed back: the states counted meanwhile are stale again (the same labels as before, but not the
-- same rows: a label changed and changed back is another rule set)
UPDATE crm.activity_type SET name = '{"en_US": "Email"}' WHERE id = 1;
SELECT pending > 0 AS stale FROM lead_scoring.rescore_progress();
INSERT INTO crm.activity (lead_id, type_id, at) VALUES (3, 2, '2026-03-02 09:55+00');
CALL lead_scoring.refresh_online();
SELECT id, score, lead_scoring.score(id) AS computed FROM crm.lead ORDER BY id;
-- a change in a transaction that rolls back changes nothing
BEGIN;
UPDATE crm.activity_type SET name = '{"en_US": "Call"}' WHERE id = 1;
INSERT INTO crm.activity (lead_id, type_id, at) VALUES (2, 1, '2026-03-02 09:58+00');
SELECT id, score, lead_scoring.score(id) AS computed FROM crm.lead WHERE id = 2;
ROLLBACK;
SELECT id, score, lead_scoring.score(id) AS computed FROM crm.lead ORDER BY id;

-- renamed and renamed back with nothing written in between — in one transaction, or in two — is still
-- a change: each row's version is in the rules' fingerprint, so every state is stale (as after a rule
-- switched off and on again), and the refresh rescores the leads to the same scores
CALL lead_scoring.refresh_online();
SELECT * FROM lead_scoring.rescore_progress();
BEGIN;
UPDATE crm.activity_type SET name = '{"en_US": "Call"}' WHERE id = 1;
UPDATE crm.activity_type SET name = '{"en_US": "Email"}' WHERE id = 1;
COMMIT;
SELECT * FROM lead_scoring.rescore_progress();
CALL lead_scoring.refresh_online();
SELECT * FROM lead_scoring.rescore_progress();
UPDATE crm.activity_type SET name = '{"en_US": "Call"}' WHERE id = 1;
UPDATE crm.activity_type SET name = '{"en_US": "Email"}' WHERE id = 1;
SELECT * FROM lead_scoring.rescore_progress();
CALL lead_scoring.refresh_online();
SELECT id, score, lead_scoring.score(id) AS computed FROM crm.lead ORDER BY id;

-- a second events table with the same lookup: one trigger; detaching one keeps it, detaching both removes it
SELECT lead_scoring.attach_events('crm.activity_archive', type_column => 'type_id', time_column => 'at',
                                  labels => '{"type_id": "name.en_US"}');
SELECT tgrelid::regclass, tgname FROM pg_trigger WHERE tgname = 'zz_lead_scoring_labels';
SELECT lead_scoring.detach('crm.activity_archive');
SELECT tgrelid::regclass, tgname FROM pg_trigger WHERE tgname = 'zz_lead_scoring_labels';

-- the lookup table, or the foreign key the labels are found through, dropped: refused (without CASCADE
-- by PostgreSQL, the foreign key depending on the table; with CASCADE by our message)
DROP TABLE crm.activity_type;
DROP TABLE crm.activity_type CASCADE;
ALTER TABLE crm.activity DROP CONSTRAINT activity_type_id_fkey;
SELECT count(*) AS events FROM lead_scoring.events;
-- the way out: detach, then the lookup table goes
SELECT lead_scoring.detach('crm.activity');
SELECT tgrelid::regclass, tgname FROM pg_trigger WHERE tgname = 'zz_lead_scoring_labels';
DROP TABLE crm.activity_type CASCADE;
RESET lead_scoring.now;

SELECT lead_scoring.detach('crm.lead');
DROP SCHEMA crm CASCADE;
DROP TABLE lead_scoring.stage_change;
DROP EXTENSION lead_scoring;
