-- An event type kept as an integer key into a lookup table (Odoo's mail_activity.activity_type_id ->
-- mail_activity_type, whose names are translated JSON) is the type column, mapped with attach's labels:
-- rules name the lookup's label; the scoring engine reads the keys straight from the index (no row
-- filter here) and from SQL, and both agree with score().  doc/crm_schemas.md, "CRM-native columns".
CREATE EXTENSION lead_scoring;
\set SHOW_CONTEXT never
SET client_min_messages = warning;
CREATE SCHEMA crm;
CREATE TABLE crm.lead (id integer PRIMARY KEY);
CREATE TABLE crm.activity_type (id integer PRIMARY KEY, name jsonb NOT NULL, code text);
CREATE TABLE crm.activity (id serial PRIMARY KEY, lead_id integer NOT NULL,
                           type_id integer NOT NULL REFERENCES crm.activity_type, at timestamptz NOT NULL);
CREATE TABLE crm.untyped (id serial PRIMARY KEY, lead_id integer NOT NULL, type_id integer NOT NULL,
                          at timestamptz NOT NULL);
INSERT INTO crm.activity_type VALUES (1, '{"en_US": "Email"}', 'mail'), (2, '{"en_US": "Call"}', 'call'),
    (3, '{"en_US": "Meeting"}', 'meet');
SELECT lead_scoring.attach_leads('crm.lead');
-- refused: an integer type column without labels; labels on a column without a foreign key; a label
-- path on a column that is not jsonb; a label column that does not exist
SELECT lead_scoring.attach_events('crm.activity', type_column => 'type_id', time_column => 'at');
SELECT lead_scoring.attach_events('crm.untyped', type_column => 'type_id', time_column => 'at',
                                  labels => '{"type_id": "name"}');
SELECT lead_scoring.attach_events('crm.activity', type_column => 'type_id', time_column => 'at',
                                  labels => '{"type_id": "code.en_US"}');
SELECT lead_scoring.attach_events('crm.activity', type_column => 'type_id', time_column => 'at',
                                  labels => '{"type_id": "title"}');
SELECT lead_scoring.attach_events('crm.activity', type_column => 'type_id', time_column => 'at',
                                  labels => '{"type_id": "name.en_US"}');
-- a rule naming no label of the lookup table would never fire: refused, the hint naming the label
INSERT INTO lead_scoring.rule (name, kind, event_type, points) VALUES ('calls', 'engagement', 'call', 20);
INSERT INTO lead_scoring.rule (name, kind, event_type, points) VALUES ('demos', 'engagement', 'Demo', 20);
INSERT INTO lead_scoring.rule (name, kind, event_type, points, max_points) VALUES
    ('calls', 'engagement', 'Call', 20, NULL), ('meetings', 'engagement', 'Meeting', 30, 30);

SET lead_scoring.now = '2026-03-02 10:00:00+00';
INSERT INTO crm.lead VALUES (1), (2), (3);
-- one by one, then a multi-row insert (the statement's rows go through the rules' type filter)
INSERT INTO crm.activity (lead_id, type_id, at) VALUES (1, 2, '2026-03-02 09:00+00');
INSERT INTO crm.activity (lead_id, type_id, at) VALUES (1, 3, '2026-03-02 09:10+00'), (1, 3, '2026-03-02 09:20+00'),
    (2, 1, '2026-03-02 09:00+00'), (2, 2, '2026-03-02 09:05+00'), (3, 1, '2026-03-02 09:00+00');
-- by hand: lead 1 = call 20 + meetings 30 (capped) = 50; lead 2 = call 20; lead 3 = an e-mail, no rule: 0
SELECT id, score, lead_scoring.score(id) AS computed FROM crm.lead ORDER BY id;
SELECT rule, hits, points FROM lead_scoring.explain(1) ORDER BY rule;
SELECT lead_id, event_type FROM lead_scoring.events ORDER BY event_ref;
-- a type changed by a batch update, and a full rescore, agree
UPDATE crm.activity SET type_id = 2 WHERE lead_id = 3;
SELECT lead_scoring.rescore_all();
SELECT id, score, lead_scoring.score(id) AS computed FROM crm.lead ORDER BY id;

RESET lead_scoring.now;
SELECT lead_scoring.detach('crm.activity'), lead_scoring.detach('crm.lead');
DROP SCHEMA crm CASCADE;
DROP TABLE lead_scoring.stage_change;
DROP EXTENSION lead_scoring;
