-- Revenue that no lead can be credited for — a won deal without a lead (Odoo: a quotation confirmed
-- without an opportunity), whose lead was deleted (FK set to NULL) or left (soft-deleted, merged
-- away: outside the leads row filter) — is credited to '(none)' by attribution() itself, so that for
-- every model the credits of a period sum to its won revenue and channel_report's revenue equals
-- manager_report's.  Leads that left count in no report: the mql and customer counts of funnel,
-- channel_report and attribution agree.  doc/crm_schemas.md, "Leads that leave".
CREATE EXTENSION lead_scoring;
SET client_min_messages = warning;
CREATE SCHEMA crm;
CREATE TABLE crm.lead (id integer PRIMARY KEY, "deletedAt" timestamptz);
CREATE TABLE crm.event (id serial PRIMARY KEY, lead_id integer NOT NULL, event_type text NOT NULL,
                        occurred_at timestamptz NOT NULL, channel text);
CREATE TABLE crm.deal (id integer PRIMARY KEY, lead_id integer REFERENCES crm.lead ON DELETE SET NULL,
                       amount numeric NOT NULL, status text NOT NULL, closed_at timestamptz);
SELECT lead_scoring.attach_leads('crm.lead', row_filter => '"deletedAt" IS NULL');
SELECT lead_scoring.attach_events('crm.event', channel_column => 'channel');
SELECT lead_scoring.attach_deals('crm.deal');
INSERT INTO lead_scoring.rule (name, kind, event_type, points) VALUES ('visit', 'engagement', 'visit', 10);
INSERT INTO lead_scoring.threshold VALUES ('mql', 10);
SET lead_scoring.now = '2026-03-10 12:00:00+00';
INSERT INTO crm.lead (id) VALUES (1), (2), (3), (4), (5);
INSERT INTO crm.event (lead_id, event_type, occurred_at, channel) VALUES
    (1, 'visit', '2026-03-01 12:00+00', 'ads'), (2, 'visit', '2026-03-01 12:00+00', 'seo'),
    (4, 'visit', '2026-03-01 12:00+00', 'ads'), (5, 'visit', '2026-03-02 12:00+00', 'seo');
-- 1000 from lead 1 (ads), 500 from lead 2 (deleted below), 300 from lead 3 (no touchpoint), 200 without a
-- lead, 400 from lead 4 (soft-deleted below)
INSERT INTO crm.deal VALUES (10, 1, 1000, 'won', '2026-03-05 12:00+00'), (11, 2, 500, 'won', '2026-03-05 12:00+00'),
                            (12, 3, 300, 'won', '2026-03-05 12:00+00'), (13, NULL, 200, 'won', '2026-03-05 12:00+00'),
                            (14, 4, 400, 'won', '2026-03-05 12:00+00');
DELETE FROM crm.lead WHERE id = 2;
UPDATE crm.lead SET "deletedAt" = '2026-03-06 12:00+00' WHERE id = 4;
-- lead 5 is merged into lead 1: its visit moves, the duplicate is soft-deleted
UPDATE crm.event SET lead_id = 1 WHERE lead_id = 5;
UPDATE crm.lead SET "deletedAt" = '2026-03-06 12:00+00' WHERE id = 5;

-- by hand: 2,400 won in March; 1,000 to lead 1's channels, 1,400 that no lead there is can be credited for
SELECT sum(revenue) AS manager_report_revenue FROM lead_scoring.manager_report('2026-03-01', '2026-03-31');
SELECT channel, revenue FROM lead_scoring.channel_report('first_touch', '2026-03-01', '2026-03-31') ORDER BY channel;
SELECT sum(revenue) AS channel_report_revenue FROM lead_scoring.channel_report('linear', '2026-03-01', '2026-03-31');
SELECT sum(revenue) AS by_campaign FROM lead_scoring.channel_report('first_touch', '2026-03-01', '2026-03-31', 'campaign');
-- attribution() itself: per model, the credits sum to the won revenue; '(none)' rows have no lead
SELECT m AS model, sum(a.credit) AS credits, sum(a.credit) FILTER (WHERE a.channel = '(none)') AS none,
       count(*) FILTER (WHERE a.channel = '(none)' AND a.lead_id IS NULL) AS leadless_rows
  FROM unnest(ARRAY['first_touch', 'last_touch', 'linear', 'time_decay', 'position_based', 'w_shaped', 'full_path',
                    'markov', 'shapley']) AS m,
       LATERAL lead_scoring.attribution(m) a
 GROUP BY m ORDER BY m;
SELECT conversion_id, lead_id, value, channel, credit FROM lead_scoring.attribution('linear')
 WHERE channel = '(none)' ORDER BY conversion_id;
SELECT channel, credit FROM lead_scoring.attribution_totals('linear', 'deal') ORDER BY channel;
-- outside the period nothing is added
SELECT count(*) AS rows_in_april FROM lead_scoring.channel_report('linear', '2026-04-01', '2026-04-30') WHERE revenue > 0;
SELECT count(*) AS april FROM lead_scoring.attribution('linear') WHERE converted_at >= '2026-04-01';

-- leads that left count nowhere: the leads there are, 1 (customer, with the merged visit) and 3
-- (customer: its won deal), reached mql; the deleted, soft-deleted and merged leads did too, but left
SELECT stage, ever_reached FROM lead_scoring.funnel WHERE stage IN ('mql', 'customer') ORDER BY stage;
SELECT sum(mqls) AS mqls, sum(customers) AS customers FROM lead_scoring.channel_report('linear');
SELECT channel, mqls, customers FROM lead_scoring.channel_report('linear') ORDER BY channel;
SELECT count(DISTINCT conversion_id) AS mql_conversions, sum(credit) AS mql_credits
  FROM lead_scoring.attribution('linear', 'mql');

RESET lead_scoring.now;
SELECT lead_scoring.detach('crm.deal'), lead_scoring.detach('crm.event'), lead_scoring.detach('crm.lead');
DROP SCHEMA crm CASCADE;
DROP TABLE lead_scoring.stage_change;
DROP EXTENSION lead_scoring;
