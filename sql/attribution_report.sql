-- channel_report on a fixed data set, against figures computed by hand; the channels view.
CREATE EXTENSION lead_scoring;
SET search_path = lead_scoring, public;
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET intervalstyle = 'postgres';

CREATE SCHEMA shop;
CREATE TABLE shop.leads (id integer PRIMARY KEY, created timestamptz);
CREATE TABLE shop.events (id integer PRIMARY KEY, lead_id integer, kind text, at timestamptz,
                     source text, campaign text, term text);
CREATE TABLE shop.deals (id integer PRIMARY KEY, lead_id integer, amount numeric, status text,
                    closed_at timestamptz, cost numeric);
SELECT attach_leads('shop.leads', created_column => 'created');
SELECT attach_events('shop.events', type_column => 'kind', time_column => 'at', channel_column => 'source',
                     campaign_column => 'campaign', keyword_column => 'term');
SELECT attach_deals('shop.deals', cost_column => 'cost');
-- stage milestones are written into stage_change at fixed times; deals load without their triggers
ALTER TABLE shop.deals DISABLE TRIGGER USER;

-- March 2024.  Lead 1: google g1/k1 (Mar 1), created Mar 2, email e1 (Mar 5); mql Mar 6, sal Mar 7,
-- customer Mar 10 with a won deal of 1000 (deal cost 100).
-- Lead 2: created Mar 3 with a google g1/k2 touch at that moment; mql Mar 3, sal Mar 4; won deal of
-- 500 on Mar 20 (deal cost 50).  Lead 3: created Mar 4 with an email e1 touch; mql Mar 5.
-- Lead 4: everything in January and February (outside the period).  Lead 5: created Mar 5, no touch.
INSERT INTO shop.leads VALUES (1, '2024-03-02'), (2, '2024-03-03'), (3, '2024-03-04'), (4, '2024-02-01'),
                         (5, '2024-03-05');
INSERT INTO shop.events VALUES (1, 1, 'click', '2024-03-01', 'google', 'g1', 'k1'),
                          (2, 1, 'open', '2024-03-05', 'email', 'e1', NULL),
                          (3, 2, 'click', '2024-03-03', 'google', 'g1', 'k2'),
                          (4, 3, 'open', '2024-03-04', 'email', 'e1', NULL),
                          (5, 4, 'click', '2024-01-31', 'google', 'g1', 'k1'),
                          (6, 1, 'visit', '2024-03-06', NULL, NULL, NULL);
INSERT INTO stage_change (lead_id, from_stage, to_stage, changed_at, actor, reason) VALUES
    (1, 'new', 'mql', '2024-03-06', 'test', 'threshold'), (1, 'mql', 'sal', '2024-03-07', 'test', 'threshold'),
    (1, 'sal', 'customer', '2024-03-10', 'test', 'deal won'),
    (2, 'new', 'mql', '2024-03-03', 'test', 'threshold'), (2, 'mql', 'sal', '2024-03-04', 'test', 'threshold'),
    (3, 'new', 'mql', '2024-03-05', 'test', 'threshold'),
    (4, 'new', 'customer', '2024-02-15', 'test', 'deal won');
INSERT INTO shop.deals VALUES (1, 1, 1000, 'won', '2024-03-10', 100), (2, 2, 500, 'won', '2024-03-20', 50),
                         (3, 4, 800, 'won', '2024-02-15', 80), (4, 3, 300, 'open', NULL, 10);
INSERT INTO marketing_cost VALUES
    ('2024-03-01', 'google', 'g1', 'k1', 300), ('2024-03-02', 'google', 'g1', 'k2', 200),
    ('2024-03-15', 'google', NULL, NULL, 100), ('2024-03-01', 'email', 'e1', NULL, 150),
    ('2024-03-31', 'linkedin', NULL, NULL, 80),
    ('2024-02-01', 'google', NULL, NULL, 999), ('2024-04-01', 'email', NULL, NULL, 999);

-- Linear model, channel level, by hand:
--   touchpoints in March: google 2 (events 1, 3), email 2 (events 2, 4)
--   new leads (first touch at or before creation): lead 1 google, lead 2 google, lead 3 email,
--     lead 5 (none)  ->  google 2, email 1, (none) 1
--   MQLs: lead 1 (google, email: 1/2 each), lead 2 google, lead 3 email  ->  google 1.5, email 1.5
--   SALs: lead 1 (1/2, 1/2), lead 2 google  ->  google 1.5, email 0.5
--   customers: lead 1  ->  google 0.5, email 0.5
--   deals: deal 1 (1000, cost 100) half each; deal 2 (500, cost 50) google
--     -> revenue google 1000, email 500; won deals google 1.5, email 0.5; deal cost google 100, email 50
--   marketing cost in March: google 300 + 200 + 100 = 600, email 150, linkedin 80
--   google:   CPL 600/2 = 300, CPO 600/1.5 = 400, ROMI (1000-600)/600 = 0.6667,
--             ROI (1000-100-600)/600 = 0.5
--   email:    CPL 150/1 = 150, CPO 150/0.5 = 300, ROMI (500-150)/150 = 2.3333, ROI (500-50-150)/150 = 2
--   linkedin: no lead, no deal: CPL and CPO NULL, ROMI = ROI = (0-80)/80 = -1
--   (none):   no cost: CPL 0/1 = 0, CPO, ROMI and ROI NULL
SELECT * FROM channel_report('linear', '2024-03-01', '2024-03-31');

-- Campaign level: the google spend without a campaign (100) stays on its own row.
--   google/g1: cost 500, CPL 500/2 = 250, CPO 500/1.5 = 333.33, ROMI (1000-500)/500 = 1,
--              ROI (1000-100-500)/500 = 0.8
SELECT * FROM channel_report('linear', '2024-03-01', '2024-03-31', 'campaign');

-- Keyword level:
--   google/g1/k1: lead 1's google touch: 1 touchpoint, 1 new lead, 0.5 MQL, 0.5 SAL, 0.5 customer,
--     revenue 500, won deals 0.5, deal cost 50, cost 300: CPL 300, CPO 600, ROMI 0.6667, ROI 0.5
--   google/g1/k2: lead 2: 1, 1, 1, 1, 0, revenue 500, won deals 1, deal cost 50, cost 200:
--     CPL 200, CPO 200, ROMI 1.5, ROI 1.25
SELECT * FROM channel_report('linear', '2024-03-01', '2024-03-31', 'keyword');

-- First-touch model: all of lead 1 goes to google (MQL, SAL, customer, the 1000 deal).
--   google: MQLs 2, SALs 2, customers 1, revenue 1500, won deals 2: CPO 300, ROMI 1.5, ROI 1.25
SELECT channel, mqls, sals, customers, revenue, cost, cpl, cpo, romi, roi
FROM channel_report('first_touch', '2024-03-01', '2024-03-31');

-- The period bounds are dates, both included: March 20 alone holds deal 2 only.
SELECT channel, touchpoints, new_leads, revenue, cost, cpo
FROM channel_report('linear', '2024-03-20', '2024-03-20');

-- Credits add up to the figures of the period whatever the model.
SELECT m AS model, sum(new_leads) AS new_leads, sum(mqls) AS mqls, sum(sals) AS sals,
       sum(customers) AS customers, sum(revenue) AS revenue, sum(cost) AS cost
FROM unnest(ARRAY['first_touch', 'last_touch', 'linear', 'time_decay', 'position_based', 'w_shaped',
                  'full_path', 'markov']) AS m,
     LATERAL channel_report(m, '2024-03-01', '2024-03-31')
GROUP BY m ORDER BY m;

-- The channels view: the last 30 days (today and the 29 days before) with the default model
-- (linear); "today" follows lead_scoring.clock().  On March 31 that is March 2 to 31:
--   touchpoints google 1 (event 3; event 1 on March 1 is out), email 2
--   cost google 200 + 100 = 300 (the March 1 spend is out): CPL 300 / 2 = 150, CPO 300 / 1.5 = 200,
--     ROMI (1000 - 300) / 300 = 2.3333, ROI (1000 - 100 - 300) / 300 = 2
--   email: no cost in the window: CPL and CPO 0, ROMI and ROI NULL;  linkedin: 80, as before
SET lead_scoring.now = '2024-03-31 12:00+00';
SELECT channel, touchpoints, new_leads, revenue, cost, cpl, cpo, romi, roi FROM channels;
RESET lead_scoring.now;

-- clean up for the next test
SET client_min_messages = warning;
DROP SCHEMA shop CASCADE;
DROP EXTENSION lead_scoring CASCADE;
-- (stage_change is generated, not a member of the extension: it outlives DROP EXTENSION)
DROP SCHEMA IF EXISTS lead_scoring CASCADE;
