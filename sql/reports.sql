-- The handoff reports on a small CRM with fixed timestamps and hand-computed expectations.
-- Two managers differ: alice answers her leads within minutes; bob leaves leads waiting past the
-- SLA (1 hour) and recycles leads, giving reasons.
--
-- The CRM is written through the triggers like any application writes it, one step at a time;
-- each step runs at a fixed time set with lead_scoring.now (superuser-only), which the log's
-- changed_at and the SLA clock of the reports follow.
CREATE EXTENSION lead_scoring;
SET timezone = 'UTC';
-- the funnel_stage operators live in the extension's schema
SET search_path = public, lead_scoring;
CREATE SCHEMA crm;
CREATE TABLE crm.lead (id int PRIMARY KEY, name text, manager text);
CREATE TABLE crm.activity (id int PRIMARY KEY, lead_id int NOT NULL, kind text NOT NULL, at timestamptz NOT NULL,
                           source text, campaign text, term text);
CREATE TABLE crm.deal (id int PRIMARY KEY, lead_id int NOT NULL, amount numeric NOT NULL, status text NOT NULL,
                       closed_at timestamptz, cost numeric);
SELECT lead_scoring.attach_leads('crm.lead', owner_column => 'manager');
SELECT lead_scoring.attach_events('crm.activity', type_column => 'kind', time_column => 'at',
                                  channel_column => 'source', campaign_column => 'campaign', keyword_column => 'term');
SELECT lead_scoring.attach_deals('crm.deal', cost_column => 'cost');
INSERT INTO lead_scoring.event_type VALUES ('call', 'sales'), ('sales_email', 'sales');
-- a few scoring rules, for the sales queue's context (no thresholds: stages move by hand and by deals)
INSERT INTO lead_scoring.rule (name, kind, event_type, column_name, op, value, points) VALUES
    ('named', 'fit', NULL, 'name', 'not_null', NULL, 10),
    ('spam', 'fit', NULL, 'name', 'contains', 'spam', -50),
    ('ad click', 'engagement', 'ad_click', NULL, NULL, NULL, 10),
    ('page view', 'engagement', 'page_view', NULL, NULL, NULL, 5),
    ('form', 'engagement', 'form', NULL, NULL, NULL, 25);

-- Leads 1-3 are alice's, 4-9 bob's, 10-11 nobody's yet.  Events carry their own times.
INSERT INTO crm.activity VALUES
    -- marketing touches (the first one of each lead is its first touch)
    (1, 1, 'ad_click', '2024-03-04 08:50', 'google', 'spring', 'crm software'),
    (2, 1, 'form', '2024-03-04 08:55', NULL, NULL, NULL),
    (3, 2, 'ad_click', '2024-03-04 09:20', 'google', 'spring', 'lead scoring'),
    (4, 3, 'ad_click', '2024-03-04 11:30', 'facebook', 'retarget', NULL),
    (5, 4, 'ad_click', '2024-03-04 09:40', 'facebook', 'retarget', NULL),
    (6, 5, 'ad_click', '2024-03-04 10:30', 'linkedin', 'abm', NULL),
    (7, 7, 'ad_click', '2024-03-04 09:00', 'google', 'brand', 'cyberdyne'),
    (8, 7, 'page_view', '2024-03-20 09:00', 'newsletter', 'march', NULL),
    (9, 8, 'ad_click', '2024-03-06 08:30', 'linkedin', 'abm', NULL),
    (10, 9, 'ad_click', '2024-03-08 08:00', 'google', 'brand', 'wayne'),
    (11, 10, 'page_view', '2024-03-04 12:00', 'google', NULL, NULL),
    (12, 11, 'ad_click', '2024-03-04 13:00', 'facebook', NULL, NULL),
    -- sales' responses
    (20, 1, 'call', '2024-03-04 10:05', NULL, NULL, NULL),
    (21, 2, 'sales_email', '2024-03-04 10:45', NULL, NULL, NULL),
    (22, 4, 'call', '2024-03-04 13:00', NULL, NULL, NULL),
    (23, 8, 'call', '2024-03-06 09:30', NULL, NULL, NULL),
    (24, 9, 'call', '2024-03-08 09:50', NULL, NULL, NULL),
    -- a sales call made before the handoff is not a response to it
    (25, 5, 'call', '2024-03-04 10:40', NULL, NULL, NULL);

-- Monday, March 4th
SET lead_scoring.now = '2024-03-04 09:00';
INSERT INTO crm.lead (id, name, manager) VALUES (1, 'Acme', 'alice');
SET lead_scoring.now = '2024-03-04 09:20';
INSERT INTO crm.lead (id, name, manager) VALUES (2, 'Globex', 'alice');
SET lead_scoring.now = '2024-03-04 09:30';
UPDATE crm.lead SET stage = 'mql' WHERE id = 1;
SET lead_scoring.now = '2024-03-04 09:40';
INSERT INTO crm.lead (id, name, manager) VALUES (4, 'Umbrella', 'bob');
SET lead_scoring.now = '2024-03-04 09:50';
UPDATE crm.lead SET stage = 'mql' WHERE id = 4;
SET lead_scoring.now = '2024-03-04 10:00';
UPDATE crm.lead SET stage = 'sal' WHERE id IN (1, 4);
UPDATE crm.lead SET stage = 'mql' WHERE id = 2;
SET lead_scoring.now = '2024-03-04 10:30';
UPDATE crm.lead SET stage = 'sal' WHERE id = 2;
INSERT INTO crm.lead (id, name, manager) VALUES (5, 'Hooli', 'bob');
SET lead_scoring.now = '2024-03-04 11:00';
UPDATE crm.lead SET stage = 'sql' WHERE id = 1;
UPDATE crm.lead SET stage = 'sal' WHERE id = 5;
SET lead_scoring.now = '2024-03-04 11:30';
INSERT INTO crm.lead (id, name, manager) VALUES (3, 'Initech', 'alice');
SET lead_scoring.now = '2024-03-04 12:00';
UPDATE crm.lead SET stage = 'sal' WHERE id = 3;
INSERT INTO crm.lead (id, name) VALUES (10, 'Wonka');
SET lead_scoring.now = '2024-03-04 12:20';
UPDATE crm.lead SET stage = 'sql' WHERE id = 3;
SET lead_scoring.now = '2024-03-04 13:00';
INSERT INTO crm.lead (id, name) VALUES (11, 'Spam Inc');
SET lead_scoring.now = '2024-03-04 13:05';
SET lead_scoring.reason = 'no budget';
UPDATE crm.lead SET stage = 'recycled' WHERE id = 4;
RESET lead_scoring.reason;
SET lead_scoring.now = '2024-03-04 13:10';
UPDATE crm.lead SET stage = 'disqualified' WHERE id = 11;
-- a partner's lead comes in as sales-accepted: handed off at creation
SET lead_scoring.now = '2024-03-04 14:00';
INSERT INTO crm.lead (id, name, manager, stage) VALUES (6, 'Tyrell', 'bob', 'sal');
-- the rest of the month
SET lead_scoring.now = '2024-03-05 09:00';
INSERT INTO crm.deal VALUES (101, 1, 1000, 'negotiating', NULL, 200);
SET lead_scoring.now = '2024-03-05 11:00';
SET lead_scoring.reason = 'bad timing';
UPDATE crm.lead SET stage = 'recycled' WHERE id = 5;
RESET lead_scoring.reason;
SET lead_scoring.now = '2024-03-06 08:30';
INSERT INTO crm.lead (id, name, manager) VALUES (8, 'Stark', 'bob');
SET lead_scoring.now = '2024-03-06 08:45';
UPDATE crm.lead SET stage = 'mql' WHERE id = 8;
SET lead_scoring.now = '2024-03-06 09:00';
UPDATE crm.lead SET stage = 'sal' WHERE id = 8;
SET lead_scoring.now = '2024-03-06 10:00';
INSERT INTO crm.deal VALUES (201, 2, 800, 'negotiating', NULL, 100);
UPDATE crm.lead SET stage = 'sql' WHERE id = 8;
SET lead_scoring.now = '2024-03-07 09:00';
INSERT INTO crm.deal VALUES (801, 8, 500, 'negotiating', NULL, 400);
SET lead_scoring.now = '2024-03-08 08:00';
INSERT INTO crm.lead (id, name, manager) VALUES (9, 'Wayne', 'bob');
SET lead_scoring.now = '2024-03-08 09:00';
UPDATE crm.lead SET stage = 'sal' WHERE id = 9;
SET lead_scoring.now = '2024-03-08 10:00';
INSERT INTO crm.deal VALUES (901, 9, 700, 'negotiating', NULL, 50);
SET lead_scoring.now = '2024-03-10 15:00';
UPDATE crm.deal SET status = 'won', closed_at = '2024-03-10 15:00' WHERE id = 101;
SET lead_scoring.now = '2024-03-12 09:00';
INSERT INTO crm.deal VALUES (102, 1, 300, 'negotiating', NULL, 50);   -- a customer's second deal
SET lead_scoring.now = '2024-03-12 12:00';
UPDATE crm.deal SET status = 'lost', closed_at = '2024-03-12 12:00' WHERE id = 201;
SET lead_scoring.now = '2024-03-14 10:00';
UPDATE crm.deal SET status = 'won', closed_at = '2024-03-14 10:00' WHERE id = 102;
SET lead_scoring.now = '2024-03-15 09:00';
UPDATE crm.deal SET status = 'lost', closed_at = '2024-03-15 09:00' WHERE id = 901;
SET lead_scoring.now = '2024-03-20 09:00';
UPDATE crm.deal SET status = 'won', closed_at = '2024-03-20 09:00' WHERE id = 801;
SET lead_scoring.now = '2024-03-20 09:50';
INSERT INTO crm.lead (id, name, manager, stage) VALUES (7, 'Cyberdyne', 'bob', 'sal');

-- The reports are read at 10:00 on March 20th.
SET lead_scoring.now = '2024-03-20 10:00';
SELECT lead_id, from_stage, to_stage, changed_at, reason, owner FROM lead_scoring.stage_change
 ORDER BY changed_at, change_id;

-- handoffs: 9 of them.  Responses: lead 1 call after 5 min, 2 e-mail after 15 min, 3 moved on
-- after 20 min (a stage change answers too), 4 call after 3 h, 5 recycled after a day (its call
-- came before the handoff), 6 nothing (overdue), 7 handed off 10 minutes ago (waiting),
-- 8 call after 30 min, 9 call after 50 min.
SELECT lead_id, handed_off_at, owner, first_response_at, response_time, status, stage, due_at
  FROM lead_scoring.handoffs ORDER BY handed_off_at, lead_id;
-- an hour later lead 7 is overdue
SET lead_scoring.now = '2024-03-20 11:00';
SELECT lead_id, status FROM lead_scoring.handoffs WHERE lead_id = 7;
SET lead_scoring.now = '2024-03-20 10:00';

-- the sales queue: the handoffs still waiting, oldest first, with their context
--   lead 6: no touch; named +10 -> score 10, grade D4 (fit 10, engagement 0)
--   lead 7: first touch google/brand/cyberdyne, last newsletter/march; ad click +10, named +10,
--           page view +5 -> score 25, grade D3 (fit 10, engagement 15)
SELECT * FROM lead_scoring.sales_queue;

-- the funnel: along the main line a lead counts in every stage up to the furthest it reached
--   furthest: customer 1, 8; opportunity 2, 9; sql 3; sal 4, 5, 6, 7; new 10, 11
--   ever_reached: new 11, iql 9, mql 9, sal 9, sql 5, opportunity 4, customer 2;
--   recycled 2 (4, 5), disqualified 1 (11), lost 2 (2, 9)
--   conversion: 9/11 = 0.818, 1, 1, 5/9 = 0.556, 4/5 = 0.8, 2/4 = 0.5
SELECT * FROM lead_scoring.funnel;
SELECT sum(now_in) AS leads FROM lead_scoring.funnel;

-- stage durations, one stint per stay that ended:
--   new: 30, 40, 30, 10, 30, 15, 60, 10 min -> avg 28m07.5s, median 30m, p90 40 + 0.3 * 20 = 46m
--   mql: 30, 30, 10, 15 min -> avg 21m15s, median 22m30s, p90 30m
--   sal: 60, 2850, 20, 185, 1440, 60, 60 min -> avg 4675/7 min = 11:07:51.428571, median 1 h,
--        p90 1440 + 0.4 * 1410 = 2004 min = 1 day 09:24
--   sql: 22 h, 23 h -> avg and median 22:30, p90 22:54
--   opportunity: 126, 146, 167, 312 h -> avg 187.75 h = 7 days 19:45, median 156.5 h = 6 days 12:30,
--        p90 167 + 0.7 * 145 = 268.5 h = 11 days 04:30
SELECT * FROM lead_scoring.stage_durations;

-- feedback per first-touch channel (lead 7's first touch is google, its later newsletter visit
-- does not change that; lead 6 has no touch at all)
--   google: 1, 2, 7, 9 handed off; 1, 2, 9 accepted; 1 won
--   facebook: 3, 4; 3 accepted; 4 recycled for "no budget"
--   linkedin: 5, 8; 8 accepted and won; 5 recycled for "bad timing"
SELECT * FROM lead_scoring.handoff_feedback;

-- the managers, for March:
--   alice: 3 handoffs, responses 5/15/20 min -> median 15 min, all met -> 100.0 %, converted 1 and 2,
--          deals 101 and 102 won (1000 + 300, costs 200 + 50), 201 lost -> win rate 2/3,
--          revenue 1300, average deal 650, profit 1050
--   bob:   6 handoffs, responses 30 min, 50 min, 3 h, 1 day -> median (50 min + 3 h) / 2 = 1:55;
--          met 8 and 9, breached 4 and 5, overdue 6, lead 7 still waiting (not judged yet)
--          -> 2/5 = 40.0 %;
--          converted 8 and 9; deal 801 won (500, cost 400), 901 lost -> win rate 0.5,
--          revenue 500, average 500, profit 100
SELECT * FROM lead_scoring.manager_report('2024-03-01', '2024-04-01');
-- a narrower window: handoffs of March 6-8 (bob's 8 and 9), no deal closed in it
SELECT * FROM lead_scoring.manager_report('2024-03-06', '2024-03-09');
-- [from, to) is half-open: a handoff at exactly 'to' belongs to the next period
SELECT owner, handoffs FROM lead_scoring.manager_report('2024-03-04 10:00', '2024-03-04 10:30');
SELECT owner, handoffs FROM lead_scoring.manager_report('2024-03-04 10:30', '2024-03-04 10:31');

-- the SLA comes from settings: with 4 hours, bob's 3-hour call meets it
UPDATE lead_scoring.settings SET sla = '4 hours';
SELECT lead_id, response_time, status FROM lead_scoring.handoffs WHERE owner = 'bob' ORDER BY lead_id;
SELECT owner, sla_met_pct FROM lead_scoring.manager_report('2024-03-01', '2024-04-01');
UPDATE lead_scoring.settings SET sla = '1 hour';

-- a recycled lead that comes back is handed off again; the recycle answered the first handoff
SET lead_scoring.now = '2024-03-25 09:00';
UPDATE crm.lead SET stage = 'sal' WHERE id = 4;
INSERT INTO crm.activity VALUES (26, 4, 'call', '2024-03-25 09:10', NULL, NULL, NULL);
SET lead_scoring.now = '2024-03-25 10:00';
SELECT lead_id, handed_off_at, first_response_at, response_time, status FROM lead_scoring.handoffs
 WHERE lead_id = 4 ORDER BY handed_off_at;
SELECT stage, leads_left, avg_time FROM lead_scoring.stage_durations WHERE stage = 'recycled';

-- the reports read only through the canonical views: detaching the events table empties the
-- response side (first_response_at now comes from stage changes only)
SELECT lead_scoring.detach('crm.activity');
SELECT lead_id, first_response_at, status FROM lead_scoring.handoffs WHERE lead_id IN (1, 2) ORDER BY lead_id;

SELECT lead_scoring.detach('crm.deal');
SELECT lead_scoring.detach('crm.lead');
DROP SCHEMA crm CASCADE;
DROP TABLE lead_scoring.stage_change;
RESET lead_scoring.now;
DROP EXTENSION lead_scoring;
