-- The CRM's lead ids widened from integer to bigint (Rails' change_column :leads, :id, :bigint and the
-- foreign keys after it, in one migration; Odoo's integer ids): the leads id, the events' and deals'
-- lead columns, then the extension's log follow, the generated views and lead-typed functions are created
-- again with the new type and their privileges.  Between the ALTERs nothing is written; a migration left
-- half-done cannot commit.  doc/crm_schemas.md, "The CRM's migrations".
CREATE EXTENSION lead_scoring;
\set SHOW_CONTEXT never
SET client_min_messages = notice;
CREATE ROLE ls_widen_app LOGIN;
CREATE ROLE ls_widen_analyst LOGIN;
CREATE SCHEMA crm AUTHORIZATION ls_widen_app;
SET ROLE ls_widen_app;
CREATE TABLE crm.lead (id serial PRIMARY KEY, name text);
CREATE TABLE crm.event (id serial PRIMARY KEY, lead_id integer NOT NULL REFERENCES crm.lead ON DELETE CASCADE,
                        event_type text NOT NULL, occurred_at timestamptz NOT NULL, channel text);
CREATE TABLE crm.deal (id serial PRIMARY KEY, lead_id integer REFERENCES crm.lead ON DELETE SET NULL,
                       amount numeric NOT NULL, status text NOT NULL, closed_at timestamptz);
GRANT USAGE ON SCHEMA crm TO ls_widen_analyst;
GRANT SELECT ON crm.lead, crm.event TO ls_widen_analyst;
RESET ROLE;
SET client_min_messages = warning;
SELECT lead_scoring.attach_leads('crm.lead');
SELECT lead_scoring.attach_events('crm.event', channel_column => 'channel');
SELECT lead_scoring.attach_deals('crm.deal');
INSERT INTO lead_scoring.rule (name, kind, event_type, points) VALUES ('visit', 'engagement', 'visit', 10);
INSERT INTO lead_scoring.threshold VALUES ('mql', 20);
GRANT USAGE ON SCHEMA lead_scoring TO ls_widen_analyst;
GRANT SELECT ON lead_scoring.leads TO ls_widen_analyst;
GRANT EXECUTE ON FUNCTION lead_scoring.score(integer, timestamptz) TO ls_widen_analyst;
SET lead_scoring.now = '2026-03-02 10:00:00+00';
SET ROLE ls_widen_app;
INSERT INTO crm.lead (name) VALUES ('Ann'), ('Ben');
INSERT INTO crm.event (lead_id, event_type, occurred_at, channel) VALUES
    (1, 'visit', '2026-03-01 12:00+00', 'ads'), (1, 'visit', '2026-03-01 13:00+00', 'ads'),
    (2, 'visit', '2026-03-01 12:00+00', 'seo');
INSERT INTO crm.deal (lead_id, amount, status, closed_at) VALUES (1, 1000, 'won', '2026-03-02 09:00+00');
RESET ROLE;
SELECT id, stage, score FROM crm.lead ORDER BY id;
SELECT count(*) AS log_rows FROM lead_scoring.stage_change;

-- still refused: a lead id type the logs cannot take from integer (text, uuid)
SET ROLE ls_widen_app;
ALTER TABLE crm.event ALTER COLUMN lead_id TYPE text;
-- a migration committed ALTER by ALTER: refused at its first commit, nothing changed
ALTER TABLE crm.lead ALTER COLUMN id TYPE bigint;
SELECT pg_typeof(id) FROM crm.lead LIMIT 1;

-- the migration, in one transaction: the leads id, then the foreign keys
SET client_min_messages = notice;
BEGIN;
ALTER TABLE crm.lead ALTER COLUMN id TYPE bigint;
-- between the ALTERs nothing is written to the attached tables
SAVEPOINT s;
INSERT INTO crm.event (lead_id, event_type, occurred_at) VALUES (1, 'visit', '2026-03-02 09:00+00');
ROLLBACK TO SAVEPOINT s;
ALTER TABLE crm.event ALTER COLUMN lead_id TYPE bigint;
ALTER TABLE crm.deal ALTER COLUMN lead_id TYPE bigint;
ALTER SEQUENCE crm.lead_id_seq AS bigint;
COMMIT;
SET client_min_messages = warning;
RESET ROLE;
SELECT pg_typeof(lead_id) AS log_type FROM lead_scoring.stage_change LIMIT 1;
SELECT lead_scoring.lead_id_type();
SELECT pg_typeof(lead_id) FROM lead_scoring.leads LIMIT 1;
SELECT p.oid::regprocedure FROM pg_proc p WHERE p.proname = 'score'
   AND p.pronamespace = 'lead_scoring'::regnamespace ORDER BY 1;
-- the analyst's privileges followed the generated objects
SET ROLE ls_widen_analyst;
SELECT lead_id, score FROM lead_scoring.leads ORDER BY lead_id;
SELECT lead_scoring.score(1::bigint);
RESET ROLE;
SELECT has_function_privilege('ls_widen_analyst', 'lead_scoring.score(bigint, timestamptz)', 'EXECUTE');

-- ids beyond integer work: a lead, its events and a deal, scored and reported
SET ROLE ls_widen_app;
INSERT INTO crm.lead (id, name) VALUES (5000000000, 'Cy');
INSERT INTO crm.event (lead_id, event_type, occurred_at, channel) VALUES
    (5000000000, 'visit', '2026-03-02 08:00+00', 'ads'), (5000000000, 'visit', '2026-03-02 08:30+00', 'ads');
INSERT INTO crm.deal (lead_id, amount, status, closed_at) VALUES (5000000000, 500, 'won', '2026-03-02 09:30+00');
RESET ROLE;
SELECT id, stage, score, lead_scoring.score(id) AS computed FROM crm.lead ORDER BY id;
SELECT lead_id, from_stage, to_stage FROM lead_scoring.stage_change WHERE lead_id = 5000000000 ORDER BY change_id;
SELECT sum(revenue) AS revenue FROM lead_scoring.manager_report('2026-03-01', '2026-03-31');
SELECT channel, revenue FROM lead_scoring.channel_report('first_touch', '2026-03-01', '2026-03-31') ORDER BY channel;
SELECT lead_scoring.rescore_all();
SELECT id, score, lead_scoring.score(id) AS computed FROM crm.lead ORDER BY id;
RESET lead_scoring.now;

SELECT lead_scoring.detach('crm.deal'), lead_scoring.detach('crm.event'), lead_scoring.detach('crm.lead');
DROP SCHEMA crm CASCADE;
DROP TABLE lead_scoring.stage_change;
DROP EXTENSION lead_scoring;
DROP ROLE ls_widen_app;
REVOKE ALL ON SCHEMA lead_scoring FROM ls_widen_analyst;
DROP ROLE ls_widen_analyst;
