-- Attaching a CRM with history: what attach finds is the CRM's past.  Existing deals seed the
-- stages (won -> customer, open -> opportunity, lost -> lost) dated by the deals' close times;
-- threshold promotions found at attach are logged as 'attached'; no handoff is opened, nothing goes
-- overdue, and no NOTIFY is sent for the past.  doc/crm_schemas.md, "Attaching a CRM with history".
CREATE EXTENSION lead_scoring;
\set SHOW_CONTEXT never
SET client_min_messages = warning;
CREATE SCHEMA crm;
CREATE TABLE crm.lead (id integer PRIMARY KEY, owner text, created timestamptz NOT NULL);
CREATE TABLE crm.event (id serial PRIMARY KEY, lead_id integer NOT NULL, kind text NOT NULL, at timestamptz NOT NULL);
CREATE TABLE crm.deal (id integer PRIMARY KEY, lead_id integer, amount numeric NOT NULL, status text NOT NULL,
                       closed timestamptz);
-- a year of history
INSERT INTO crm.lead VALUES (1, 'alice', '2025-01-10'), (2, 'bob', '2025-02-10'), (3, 'bob', '2025-03-10'),
                            (4, 'alice', '2025-04-10'), (5, 'alice', '2025-05-10');
INSERT INTO crm.event (lead_id, kind, at) VALUES (1, 'demo', '2025-01-11'), (2, 'demo', '2025-02-11'),
    (3, 'demo', '2025-03-11'), (4, 'demo', '2025-04-11');
INSERT INTO crm.deal VALUES (10, 1, 1000, 'won', '2025-02-01'), (11, 2, 500, 'lost', '2025-03-01'),
                            (12, 3, 700, 'open', NULL);
INSERT INTO lead_scoring.rule (name, kind, event_type, points) VALUES ('demo', 'engagement', 'demo', 50);
INSERT INTO lead_scoring.threshold VALUES ('mql', 30), ('sal', 50);

LISTEN lead_scoring_handoff;
SET lead_scoring.now = '2026-03-02 10:00:00+00';
SELECT lead_scoring.attach_leads('crm.lead', owner_column => 'owner', created_column => 'created');
SELECT lead_scoring.attach_events('crm.event', lead_column => 'lead_id', type_column => 'kind', time_column => 'at');
SELECT lead_scoring.attach_deals('crm.deal', status_column => 'status', closed_column => 'closed');
-- stages from the CRM's state: 1 won, 2 lost, 3 open deal, 4 promoted by its score, 5 untouched
SELECT id, stage, score FROM crm.lead ORDER BY id;
-- the log, all 'attached': creation rows dated by the CRM, promotions by the last event that earned
-- them, deal moves by the deals' close times
SELECT lead_id, from_stage, to_stage, changed_at, reason FROM lead_scoring.stage_change ORDER BY lead_id, change_id;
-- nothing of the past is a handoff (and no NOTIFY was received above); an hour later nothing is overdue
SET lead_scoring.now = '2026-03-02 11:30:00+00';
SELECT count(*) AS handoffs FROM lead_scoring.handoffs;
SELECT count(*) AS queued FROM lead_scoring.sales_queue;

UNLISTEN *;

-- the present works as before: a new lead promoted is a handoff
INSERT INTO crm.lead VALUES (6, 'bob', '2026-03-02 11:30:00+00');
INSERT INTO crm.event (lead_id, kind, at) VALUES (6, 'demo', '2026-03-02 11:30:00+00');
SELECT lead_id, owner, status FROM lead_scoring.handoffs;

RESET lead_scoring.now;
SELECT lead_scoring.detach('crm.deal'), lead_scoring.detach('crm.event'), lead_scoring.detach('crm.lead');
DROP SCHEMA crm CASCADE;
DROP TABLE lead_scoring.stage_change;
DROP EXTENSION lead_scoring;
