-- attach_deals' stage_map everywhere: the deals found at attach (backfill) and the deals written
-- before their lead (moved when the lead is inserted) take the funnel stage of the deal's own stage,
-- as a deal inserted or dragged after its lead does.  doc/crm_schemas.md, "The CRM's own stage".
CREATE EXTENSION lead_scoring;
\set SHOW_CONTEXT never
SET client_min_messages = warning;
CREATE SCHEMA crm;
CREATE TYPE crm.deal_stage AS ENUM ('NEW', 'MEETING', 'PROPOSAL', 'CUSTOMER', 'LOST');
CREATE TABLE crm.person (id integer PRIMARY KEY);
CREATE TABLE crm.opportunity (id integer PRIMARY KEY, person_id integer, amount numeric NOT NULL,
                              stage crm.deal_stage NOT NULL, closed timestamptz);
INSERT INTO crm.person VALUES (1), (2), (3), (4);
-- person 1: one deal in NEW (mapped: sql); person 2: NEW and PROPOSAL (opportunity, the furthest);
-- person 3: won (CUSTOMER, closed) and LOST; person 4: LOST only (unmapped: the outcome rule, lost)
INSERT INTO crm.opportunity VALUES (10, 1, 100, 'NEW', NULL), (20, 2, 200, 'NEW', NULL),
    (21, 2, 210, 'PROPOSAL', NULL), (30, 3, 300, 'CUSTOMER', '2026-02-01 12:00+00'),
    (31, 3, 310, 'LOST', '2026-02-03 12:00+00'), (40, 4, 400, 'LOST', '2026-02-05 12:00+00');
UPDATE lead_scoring.settings SET won_statuses = '{customer}', lost_statuses = '{lost}';
SET lead_scoring.now = '2026-03-02 10:00:00+00';
SELECT lead_scoring.attach_leads('crm.person');
SELECT lead_scoring.attach_deals('crm.opportunity', lead_column => 'person_id', status_column => 'stage',
                                 closed_column => 'closed',
                                 stage_map => '{"NEW": "sql", "MEETING": "opportunity", "PROPOSAL": "opportunity",
                                                "CUSTOMER": "customer"}');
-- the past, by the deals' own stages: 1 sql (an unmapped backfill said opportunity), 2 opportunity,
-- 3 customer (dated by its won deal), 4 lost (dated by its lost deal)
SELECT id, stage FROM crm.person ORDER BY id;
SELECT lead_id, from_stage, to_stage, changed_at, reason FROM lead_scoring.stage_change
 WHERE from_stage IS NOT NULL ORDER BY lead_id, change_id;

-- deals written before their person (an import, or a sync that writes opportunities first)
INSERT INTO crm.opportunity VALUES (50, 5, 500, 'NEW', NULL), (60, 6, 600, 'NEW', NULL),
    (61, 6, 610, 'MEETING', NULL), (70, 7, 700, 'LOST', '2026-03-01 12:00+00');
INSERT INTO crm.person VALUES (5), (6), (7);
-- 5 takes NEW's sql (not opportunity), 6 MEETING's opportunity, 7 (lost only) lost
SELECT id, stage FROM crm.person WHERE id >= 5 ORDER BY id;
SELECT lead_id, from_stage, to_stage, reason FROM lead_scoring.stage_change
 WHERE lead_id >= 5 ORDER BY lead_id, change_id;
-- and a drag after that is followed as before
UPDATE crm.opportunity SET stage = 'CUSTOMER', closed = '2026-03-02 10:00+00' WHERE id = 50;
SELECT id, stage FROM crm.person WHERE id = 5;

RESET lead_scoring.now;
SELECT lead_scoring.detach('crm.opportunity'), lead_scoring.detach('crm.person');
DROP SCHEMA crm CASCADE;
DROP TABLE lead_scoring.stage_change;
DROP EXTENSION lead_scoring;
