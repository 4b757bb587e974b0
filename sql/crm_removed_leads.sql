-- Leads that leave: a lead deleted, soft-deleted or merged away (outside the leads row filter) is
-- no lead of any report any more: not in the sales queue, not in its manager's SLA, not in the
-- funnel or the stage durations.  Its deals keep their revenue.  doc/crm_schemas.md, "Leads that leave".
CREATE EXTENSION lead_scoring;
\set SHOW_CONTEXT never
SET client_min_messages = warning;
CREATE SCHEMA crm;
CREATE TABLE crm.person (id integer PRIMARY KEY, owner text, "deletedAt" timestamptz);
CREATE TABLE crm.activity (id serial PRIMARY KEY, person_id integer NOT NULL, kind text NOT NULL,
                           at timestamptz NOT NULL);
CREATE TABLE crm.deal (id integer PRIMARY KEY, person_id integer REFERENCES crm.person ON DELETE SET NULL,
                       amount numeric NOT NULL, status text NOT NULL, closed timestamptz);
SELECT lead_scoring.attach_leads('crm.person', owner_column => 'owner', row_filter => '"deletedAt" IS NULL');
SELECT lead_scoring.attach_events('crm.activity', lead_column => 'person_id', type_column => 'kind', time_column => 'at');
SELECT lead_scoring.attach_deals('crm.deal', lead_column => 'person_id', status_column => 'status',
                                 closed_column => 'closed');
INSERT INTO lead_scoring.rule (name, kind, event_type, points) VALUES ('demo', 'engagement', 'demo', 30),
    ('download', 'engagement', 'download', 10);
INSERT INTO lead_scoring.threshold VALUES ('mql', 10), ('sal', 25);
INSERT INTO lead_scoring.event_type VALUES ('call', 'sales');

SET lead_scoring.now = '2026-03-02 10:00:00+00';
INSERT INTO crm.person (id, owner) VALUES (1, 'alice'), (2, 'alice'), (3, 'alice'), (4, 'bob'), (5, 'bob');
-- three handoffs to alice; two leads of bob reach mql
INSERT INTO crm.activity (person_id, kind, at) VALUES (1, 'demo', '2026-03-02 10:00+00'),
    (2, 'demo', '2026-03-02 10:00+00'), (3, 'demo', '2026-03-02 10:00+00'),
    (4, 'download', '2026-03-02 10:00+00'), (5, 'download', '2026-03-02 10:00+00');
INSERT INTO crm.activity (person_id, kind, at) VALUES (1, 'call', '2026-03-02 10:20+00');
INSERT INTO crm.deal VALUES (10, 3, 900, 'won', '2026-03-02 10:30+00');
-- lead 2 is soft-deleted before anyone answered; lead 3 (won) is deleted, its deal's FK set to NULL;
-- lead 5 is merged into lead 4 (its activity moves, the duplicate is soft-deleted)
UPDATE crm.person SET "deletedAt" = '2026-03-02 10:40+00' WHERE id = 2;
DELETE FROM crm.person WHERE id = 3;
UPDATE crm.activity SET person_id = 4 WHERE person_id = 5;
UPDATE crm.person SET "deletedAt" = '2026-03-02 10:45+00' WHERE id = 5;

-- a day later: lead 2 is not overdue, and alice's SLA counts lead 1 only (met: 1 of 1)
SET lead_scoring.now = '2026-03-03 10:00:00+00';
SELECT lead_id, owner, status FROM lead_scoring.handoffs ORDER BY lead_id;
SELECT lead_id FROM lead_scoring.sales_queue;
SELECT owner, handoffs, sla_met_pct, deals_won, revenue
  FROM lead_scoring.manager_report('2026-03-01', '2026-03-04') ORDER BY owner NULLS LAST;
-- the funnel counts the leads there are: 1 (sal) and 4 (mql, with the merged activity: 20), not the duplicate
SELECT stage, now_in, ever_reached FROM lead_scoring.funnel WHERE stage IN ('new', 'mql', 'sal') ORDER BY stage;
SELECT stage, leads_left FROM lead_scoring.stage_durations WHERE stage IN ('new', 'mql') ORDER BY stage;
-- the deleted lead's won deal keeps its revenue, with no lead
SELECT deal_ref, lead_id, amount, outcome FROM lead_scoring.deals;

RESET lead_scoring.now;
SELECT lead_scoring.detach('crm.deal'), lead_scoring.detach('crm.activity'), lead_scoring.detach('crm.person');
DROP SCHEMA crm CASCADE;
DROP TABLE lead_scoring.stage_change;
DROP EXTENSION lead_scoring;
