-- The handoff reports on a small CRM with fixed timestamps and hand-computed expectations.
-- Two managers differ: alice answers her leads within minutes; bob leaves leads waiting past the
-- SLA (1 hour) and recycles leads, giving reasons.
--
-- The stage changes are made through the triggers like any application would make them; their
-- changed_at (now() of the writing transaction) is then pinned to the timeline below by the
-- superuser, who owns the log (the only role that may change it).
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

-- Leads 1-3 are alice's, 4-9 bob's, 10-11 nobody's yet.
INSERT INTO crm.lead (id, name, manager) VALUES
    (1, 'Acme', 'alice'), (2, 'Globex', 'alice'), (3, 'Initech', 'alice'),
    (4, 'Umbrella', 'bob'), (5, 'Hooli', 'bob'), (8, 'Stark', 'bob'), (9, 'Wayne', 'bob'),
    (10, 'Wonka', NULL), (11, 'Spam Inc', NULL);
-- 6 and 7 come in straight from a partner as sales-accepted: handed off at creation
INSERT INTO crm.lead (id, name, manager, stage) VALUES (6, 'Tyrell', 'bob', 'sal'), (7, 'Cyberdyne', 'bob', 'sal');

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

-- the funnel, as the CRM's users move it
UPDATE crm.lead SET stage = 'mql' WHERE id IN (1, 2, 4, 8);
UPDATE crm.lead SET stage = 'sal' WHERE id IN (1, 2, 3, 4, 5, 8, 9);
UPDATE crm.lead SET stage = 'sql' WHERE id IN (1, 3, 8);
INSERT INTO crm.deal VALUES (101, 1, 1000, 'negotiating', NULL, 200), (201, 2, 800, 'negotiating', NULL, 100),
                            (801, 8, 500, 'negotiating', NULL, 400), (901, 9, 700, 'negotiating', NULL, 50);
SET lead_scoring.reason = 'no budget';
UPDATE crm.lead SET stage = 'recycled' WHERE id = 4;
SET lead_scoring.reason = 'bad timing';
UPDATE crm.lead SET stage = 'recycled' WHERE id = 5;
RESET lead_scoring.reason;
UPDATE crm.lead SET stage = 'disqualified' WHERE id = 11;
UPDATE crm.deal SET status = 'won', closed_at = '2024-03-10 15:00' WHERE id = 101;
INSERT INTO crm.deal VALUES (102, 1, 300, 'negotiating', NULL, 50);   -- a customer's second deal
UPDATE crm.deal SET status = 'won', closed_at = '2024-03-14 10:00' WHERE id = 102;
UPDATE crm.deal SET status = 'lost', closed_at = '2024-03-12 12:00' WHERE id = 201;
UPDATE crm.deal SET status = 'lost', closed_at = '2024-03-15 09:00' WHERE id = 901;
UPDATE crm.deal SET status = 'won', closed_at = '2024-03-20 09:00' WHERE id = 801;

-- the timeline
UPDATE lead_scoring.stage_change c SET changed_at = t.at
  FROM (VALUES
    (1, 'new', '2024-03-04 09:00'::timestamptz), (1, 'mql', '2024-03-04 09:30'), (1, 'sal', '2024-03-04 10:00'),
    (1, 'sql', '2024-03-04 11:00'), (1, 'opportunity', '2024-03-05 09:00'), (1, 'customer', '2024-03-10 15:00'),
    (2, 'new', '2024-03-04 09:20'), (2, 'mql', '2024-03-04 10:00'), (2, 'sal', '2024-03-04 10:30'),
    (2, 'opportunity', '2024-03-06 10:00'), (2, 'lost', '2024-03-12 12:00'),
    (3, 'new', '2024-03-04 11:30'), (3, 'sal', '2024-03-04 12:00'), (3, 'sql', '2024-03-04 12:20'),
    (4, 'new', '2024-03-04 09:40'), (4, 'mql', '2024-03-04 09:50'), (4, 'sal', '2024-03-04 10:00'),
    (4, 'recycled', '2024-03-04 13:05'),
    (5, 'new', '2024-03-04 10:30'), (5, 'sal', '2024-03-04 11:00'), (5, 'recycled', '2024-03-05 11:00'),
    (6, 'sal', '2024-03-04 14:00'),
    (7, 'sal', now() - interval '10 minutes'),
    (8, 'new', '2024-03-06 08:30'), (8, 'mql', '2024-03-06 08:45'), (8, 'sal', '2024-03-06 09:00'),
    (8, 'sql', '2024-03-06 10:00'), (8, 'opportunity', '2024-03-07 09:00'), (8, 'customer', '2024-03-20 09:00'),
    (9, 'new', '2024-03-08 08:00'), (9, 'sal', '2024-03-08 09:00'), (9, 'opportunity', '2024-03-08 10:00'),
    (9, 'lost', '2024-03-15 09:00'),
    (10, 'new', '2024-03-04 12:00'),
    (11, 'new', '2024-03-04 13:00'), (11, 'disqualified', '2024-03-04 13:10')) AS t(lead, stage, at)
 WHERE c.lead_id = t.lead AND c.to_stage = t.stage::lead_scoring.funnel_stage;
-- every row of the log is on the timeline, and the log is what the CRM did
SELECT count(*) AS rows_in_log, count(DISTINCT (lead_id, to_stage)) AS distinct_lead_stages,
       count(*) FILTER (WHERE changed_at < '2024-04-01') AS in_march,
       count(*) FILTER (WHERE lead_id = 7 AND changed_at > now() - interval '11 minutes') AS lead_7_today
  FROM lead_scoring.stage_change;
SELECT lead_id, from_stage, to_stage, changed_at, reason, owner FROM lead_scoring.stage_change
 WHERE lead_id <> 7 ORDER BY changed_at, lead_id;

-- handoffs: 9 of them.  Responses: lead 1 call after 5 min, 2 e-mail after 15 min, 3 moved on
-- after 20 min (a stage change answers too), 4 call after 3 h, 5 recycled after a day (its call
-- came before the handoff), 6 nothing (overdue), 7 handed off 10 minutes ago (waiting),
-- 8 call after 30 min, 9 call after 50 min.
SELECT lead_id, handed_off_at, owner, first_response_at, response_time, status, stage, due_at
  FROM lead_scoring.handoffs WHERE lead_id <> 7 ORDER BY handed_off_at, lead_id;
SELECT lead_id, owner, status, first_response_at, due_at - handed_off_at AS sla
  FROM lead_scoring.handoffs WHERE lead_id = 7;

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
--   bob:   5 handoffs (lead 7 is today's), responses 30 min, 50 min, 3 h, 1 day -> median
--          (50 min + 3 h) / 2 = 1:55; met 8 and 9, breached 4 and 5, overdue 6 -> 2/5 = 40.0 %;
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
SELECT lead_id, response_time, status FROM lead_scoring.handoffs WHERE owner = 'bob' AND lead_id <> 7
 ORDER BY lead_id;
SELECT owner, sla_met_pct FROM lead_scoring.manager_report('2024-03-01', '2024-04-01');
UPDATE lead_scoring.settings SET sla = '1 hour';

-- a recycled lead that comes back is handed off again; the recycle answered the first handoff
UPDATE crm.lead SET stage = 'sal' WHERE id = 4;
UPDATE lead_scoring.stage_change SET changed_at = '2024-03-25 09:00' WHERE lead_id = 4 AND from_stage = 'recycled';
INSERT INTO crm.activity VALUES (26, 4, 'call', '2024-03-25 09:10', NULL, NULL, NULL);
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
DROP EXTENSION lead_scoring;
