-- The lead ids widened from integer to bigint in a transaction that wrote events, deals and stage moves
-- before the ALTERs (a migration run with the application's data fix-ups, a Rails migration that
-- seeds): what was written before the ALTERs is kept, converted with the log, and counts after them;
-- writes after the ALTERs, in the same transaction, use the new type.  doc/crm_schemas.md, "The CRM's
-- migrations".
CREATE EXTENSION lead_scoring;
\set SHOW_CONTEXT never
SET client_min_messages = warning;
CREATE SCHEMA crm;
CREATE TABLE crm.lead (id serial PRIMARY KEY, name text);
CREATE TABLE crm.event (id serial PRIMARY KEY, lead_id integer NOT NULL REFERENCES crm.lead ON DELETE CASCADE,
                        event_type text NOT NULL, occurred_at timestamptz NOT NULL, channel text);
CREATE TABLE crm.deal (id serial PRIMARY KEY, lead_id integer REFERENCES crm.lead ON DELETE SET NULL,
                       amount numeric NOT NULL, status text NOT NULL, closed_at timestamptz);
SELECT lead_scoring.attach_leads('crm.lead');
SELECT lead_scoring.attach_events('crm.event', channel_column => 'channel');
SELECT lead_scoring.attach_deals('crm.deal');
INSERT INTO lead_scoring.rule (name, kind, event_type, points) VALUES ('visit', 'engagement', 'visit', 10);
INSERT INTO lead_scoring.threshold VALUES ('mql', 20), ('sal', 30);
SET lead_scoring.now = '2026-03-02 10:00:00+00';
INSERT INTO crm.lead (name) VALUES ('Ann'), ('Ben');

BEGIN;
-- before the ALTERs: Ann reaches sal (three visits: a handoff), Ben one visit; one of Ann's visits was
-- Ben's (moved: both rescored); Ann's deal is won
INSERT INTO crm.event (lead_id, event_type, occurred_at, channel) VALUES
    (1, 'visit', '2026-03-01 12:00+00', 'ads'), (1, 'visit', '2026-03-01 13:00+00', 'ads'),
    (2, 'visit', '2026-03-01 12:00+00', 'seo'), (1, 'visit', '2026-03-01 14:00+00', 'seo');
UPDATE crm.event SET lead_id = 2 WHERE id = 4;
INSERT INTO crm.deal (lead_id, amount, status, closed_at) VALUES (1, 1000, 'won', '2026-03-02 09:00+00');
SELECT id, stage, score FROM crm.lead ORDER BY id;
ALTER TABLE crm.lead ALTER COLUMN id TYPE bigint;
ALTER TABLE crm.event ALTER COLUMN lead_id TYPE bigint;
ALTER TABLE crm.deal ALTER COLUMN lead_id TYPE bigint;
ALTER SEQUENCE crm.lead_id_seq AS bigint;
-- after them, in the same transaction: Ben's third visit hands him off; a lead past integer's range
INSERT INTO crm.event (lead_id, event_type, occurred_at, channel) VALUES (2, 'visit', '2026-03-02 08:00+00', 'seo');
INSERT INTO crm.lead (id, name) VALUES (3000000000, 'Cy');
INSERT INTO crm.event (lead_id, event_type, occurred_at, channel) VALUES
    (3000000000, 'visit', '2026-03-02 08:00+00', 'ads'), (3000000000, 'visit', '2026-03-02 08:30+00', 'ads');
COMMIT;
-- by hand: Ann 20 (sal at 30 before the move, then customer), Ben 30 (mql, then sal), Cy 20 (mql); every
-- score equals score()
SELECT id, stage, score, lead_scoring.score(id) AS computed FROM crm.lead ORDER BY id;
SELECT pg_typeof(lead_id) AS log_type, lead_id, from_stage, to_stage, reason FROM lead_scoring.stage_change
 ORDER BY lead_id, change_id;
SELECT lead_id, event_type, channel FROM lead_scoring.events ORDER BY lead_id, occurred_at;
SELECT lead_id, amount, outcome FROM lead_scoring.deals;
SELECT lead_id, stage FROM lead_scoring.handoffs ORDER BY lead_id;
SELECT channel, new_leads, mqls, customers, revenue
  FROM lead_scoring.channel_report('first_touch', '2026-03-01', '2026-03-31') ORDER BY channel;
-- the states read back after the migration: a rescore changes nothing
SELECT lead_scoring.rescore_all() IS NOT NULL AS rescored;
SELECT id, stage, score FROM crm.lead ORDER BY id;
RESET lead_scoring.now;

SELECT lead_scoring.detach('crm.deal'), lead_scoring.detach('crm.event'), lead_scoring.detach('crm.lead');
DROP SCHEMA crm CASCADE;
DROP TABLE lead_scoring.stage_change;
DROP EXTENSION lead_scoring;
