-- Leads outside the leads row filter (Odoo's archived leads, active = false; Twenty's soft-deleted
-- people) are no leads of the engine either: not scored, not promoted, no handoff and no NOTIFY
-- while outside; a write that moves the stage itself (a deal, a card, a person) is still followed and
-- logged.  When they come back (unarchived, restored), they are rescored from their events, and a
-- promotion then is a handoff like any other.  doc/crm_schemas.md, "Row filters".
CREATE EXTENSION lead_scoring;
\set SHOW_CONTEXT never
SET client_min_messages = warning;
CREATE SCHEMA crm;
CREATE TABLE crm.lead (id integer PRIMARY KEY, name text, user_id text, active boolean NOT NULL DEFAULT true);
CREATE TABLE crm.message (id serial PRIMARY KEY, res_id integer NOT NULL, message_type text NOT NULL,
                          date timestamptz NOT NULL);
CREATE TABLE crm.sale_order (id integer PRIMARY KEY, opportunity_id integer, amount numeric, state text,
                             date_order timestamptz);
SELECT lead_scoring.attach_leads('crm.lead', owner_column => 'user_id', row_filter => 'active');
SELECT lead_scoring.attach_events('crm.message', lead_column => 'res_id', type_column => 'message_type',
                                  time_column => 'date');
SELECT lead_scoring.attach_deals('crm.sale_order', lead_column => 'opportunity_id', amount_column => 'amount',
                                 status_column => 'state', closed_column => 'date_order');
UPDATE lead_scoring.settings SET won_statuses = '{sale}';
INSERT INTO lead_scoring.rule (name, kind, event_type, points) VALUES ('emails', 'engagement', 'email', 10);
INSERT INTO lead_scoring.threshold VALUES ('mql', 20), ('sal', 30);

SET lead_scoring.now = '2026-03-02 10:00:00+00';
INSERT INTO crm.lead (id, name, user_id) VALUES (1, 'Chairs', 'alice'), (2, 'Desks', 'bob'), (3, 'Lamps', 'bob');
INSERT INTO crm.message (res_id, message_type, date) VALUES (1, 'email', '2026-03-02 09:00+00'),
    (2, 'email', '2026-03-02 09:00+00');
-- a lead archived with 10 points keeps them; one inserted archived is not scored at all
UPDATE crm.lead SET active = false WHERE id IN (1, 3);
INSERT INTO crm.lead (id, name, user_id, active) VALUES (4, 'Sofas', 'alice', false);
LISTEN lead_scoring_handoff;
-- while archived: more e-mails (30 points by hand: sal, a handoff) change nothing for 1 and 4, and no
-- NOTIFY arrives (none is shown below)
INSERT INTO crm.message (res_id, message_type, date) VALUES
    (1, 'email', '2026-03-02 09:10+00'), (1, 'email', '2026-03-02 09:20+00'),
    (4, 'email', '2026-03-02 09:10+00'), (4, 'email', '2026-03-02 09:20+00'), (4, 'email', '2026-03-02 09:30+00');
-- one by one, as a batch, and through rescore(): still nothing
INSERT INTO crm.message (res_id, message_type, date) VALUES (3, 'email', '2026-03-02 09:40+00');
SELECT lead_scoring.rescore(1);
SELECT lead_scoring.rescore_all();
-- a rename of the archived lead is no reason to score it either
UPDATE crm.lead SET name = 'Office chairs' WHERE id = 1;
SELECT id, active, stage, score, lead_scoring.score(id) AS computed FROM crm.lead ORDER BY id;
SELECT lead_id, to_stage, reason FROM lead_scoring.stage_change WHERE from_stage IS NOT NULL ORDER BY change_id;
UNLISTEN *;
SELECT lead_id, owner, status FROM lead_scoring.handoffs ORDER BY lead_id;

-- a deal won for an archived lead still moves it (a business event, logged); no handoff, no score
INSERT INTO crm.sale_order VALUES (10, 3, 500, 'sale', '2026-03-02 10:00+00');
SELECT id, stage, score FROM crm.lead WHERE id = 3;

-- unarchived: rescored from every event (30 points: sal), the promotion is a handoff now
SET lead_scoring.now = '2026-03-02 11:00:00+00';
UPDATE crm.lead SET active = true WHERE id IN (1, 4);
SELECT id, active, stage, score, lead_scoring.score(id) AS computed FROM crm.lead ORDER BY id;
SELECT lead_id, from_stage, to_stage, changed_at, reason FROM lead_scoring.stage_change
 WHERE lead_id IN (1, 4) ORDER BY change_id;
SELECT lead_id, owner, status FROM lead_scoring.handoffs ORDER BY lead_id;

RESET lead_scoring.now;
SELECT lead_scoring.detach('crm.sale_order'), lead_scoring.detach('crm.message'), lead_scoring.detach('crm.lead');
DROP SCHEMA crm CASCADE;
DROP TABLE lead_scoring.stage_change;
DROP EXTENSION lead_scoring;
