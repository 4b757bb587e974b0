-- The CRM's own stage (Odoo's stage_id, a kanban column) mapped onto funnel stages: a card move is a
-- funnel move, logged with its time; a backwards drag is logged, never an error unless the attachment
-- enforces the transition rules; a record created directly in a sales stage is no marketing handoff.
-- doc/crm_schemas.md, "The CRM's own stage".
CREATE EXTENSION lead_scoring;
\set SHOW_CONTEXT never
SET client_min_messages = warning;
CREATE SCHEMA crm;
CREATE TABLE crm.stage (id integer PRIMARY KEY, name text NOT NULL, sequence integer);
INSERT INTO crm.stage VALUES (1, 'New', 1), (2, 'Qualified', 2), (3, 'Proposition', 3), (4, 'Won', 70);
CREATE TABLE crm.lead (id integer PRIMARY KEY, name text, user_id text,
                       stage_id integer REFERENCES crm.stage ON DELETE RESTRICT);
INSERT INTO crm.lead VALUES (1, 'before attach, qualified', 'alice', 2), (2, 'before attach, new', 'bob', 1);

-- refused maps
SELECT lead_scoring.attach_leads('crm.lead', crm_stage_map => '{"1": "mql"}');
SELECT lead_scoring.attach_leads('crm.lead', crm_stage_column => 'stage_id', crm_stage_map => '{"one": "mql"}');
SELECT lead_scoring.attach_leads('crm.lead', crm_stage_column => 'stage_id', crm_stage_map => '{"1": "hot"}');

SET lead_scoring.now = '2026-03-02 10:00:00+00';
SELECT lead_scoring.attach_leads('crm.lead', owner_column => 'user_id', crm_stage_column => 'stage_id',
    crm_stage_map => '{"1": "mql", "2": "sql", "3": "opportunity", "4": "customer"}');
-- the leads found take their CRM stage's funnel stage, as the past ('attached')
SELECT id, stage FROM crm.lead ORDER BY id;

-- a salesperson creates a lead directly in "Qualified": no marketing handoff
INSERT INTO crm.lead VALUES (3, 'created qualified', 'alice', 2), (4, 'created new', 'bob', 1);
-- cards dragged forwards, backwards, forwards (enforce_transitions is on: still no error), then won
UPDATE crm.lead SET stage_id = 2 WHERE id = 4;
SET lead_scoring.now = '2026-03-02 10:20:00+00';
UPDATE crm.lead SET stage_id = 3 WHERE id IN (3, 4);
SET lead_scoring.now = '2026-03-02 10:30:00+00';
UPDATE crm.lead SET stage_id = 2 WHERE id = 3;
SET lead_scoring.now = '2026-03-02 10:40:00+00';
UPDATE crm.lead SET stage_id = 4 WHERE id = 3;
-- other writes that keep the CRM stage do not move the funnel
UPDATE crm.lead SET name = 'renamed' WHERE id = 4;
SELECT id, stage_id, stage FROM crm.lead ORDER BY id;
SELECT lead_id, from_stage, to_stage, changed_at, reason FROM lead_scoring.stage_change
 WHERE lead_id IN (3, 4) ORDER BY lead_id, change_id;
-- the only handoff is lead 4's drag from "New" (mql, marketing) to "Qualified" (sql, sales);
-- lead 3, created in a sales stage, never shows as overdue
SET lead_scoring.now = '2026-03-02 13:00:00+00';
SELECT lead_id, owner, status FROM lead_scoring.handoffs ORDER BY lead_id;
SELECT lead_id FROM lead_scoring.sales_queue ORDER BY lead_id;

-- with crm_stage_enforce => true a backwards drag is refused, naming the rule
SELECT lead_scoring.detach('crm.lead');
SELECT lead_scoring.attach_leads('crm.lead', owner_column => 'user_id', crm_stage_column => 'stage_id',
    crm_stage_map => '{"1": "mql", "2": "sql", "3": "opportunity", "4": "customer"}', crm_stage_enforce => true);
UPDATE crm.lead SET stage_id = 2 WHERE id = 4;
SELECT id, stage_id, stage FROM crm.lead WHERE id = 4;

RESET lead_scoring.now;
SELECT lead_scoring.detach('crm.lead');
DROP SCHEMA crm CASCADE;
DROP TABLE lead_scoring.stage_change;
DROP EXTENSION lead_scoring;
