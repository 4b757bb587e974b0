-- Revenue that no lead can be credited for — a won deal without a lead (Odoo: a quotation confirmed
-- without an opportunity) or whose lead was deleted (FK set to NULL) — shows in channel_report under
-- '(none)', so that the channel report's revenue equals manager_report's for the same period.
CREATE EXTENSION lead_scoring;
SET client_min_messages = warning;
CREATE SCHEMA crm;
CREATE TABLE crm.lead (id integer PRIMARY KEY);
CREATE TABLE crm.event (id serial PRIMARY KEY, lead_id integer NOT NULL, event_type text NOT NULL,
                        occurred_at timestamptz NOT NULL, channel text);
CREATE TABLE crm.deal (id integer PRIMARY KEY, lead_id integer REFERENCES crm.lead ON DELETE SET NULL,
                       amount numeric NOT NULL, status text NOT NULL, closed_at timestamptz);
SELECT lead_scoring.attach_leads('crm.lead');
SELECT lead_scoring.attach_events('crm.event', channel_column => 'channel');
SELECT lead_scoring.attach_deals('crm.deal');
SET lead_scoring.now = '2026-03-10 12:00:00+00';
INSERT INTO crm.lead VALUES (1), (2), (3);
INSERT INTO crm.event (lead_id, event_type, occurred_at, channel) VALUES
    (1, 'visit', '2026-03-01 12:00+00', 'ads'), (2, 'visit', '2026-03-01 12:00+00', 'seo');
-- 1000 from lead 1 (ads), 500 from lead 2 (deleted below), 300 from lead 3 (no touchpoint), 200 without a lead
INSERT INTO crm.deal VALUES (10, 1, 1000, 'won', '2026-03-05 12:00+00'), (11, 2, 500, 'won', '2026-03-05 12:00+00'),
                            (12, 3, 300, 'won', '2026-03-05 12:00+00'), (13, NULL, 200, 'won', '2026-03-05 12:00+00');
DELETE FROM crm.lead WHERE id = 2;
SELECT sum(revenue) AS manager_report_revenue FROM lead_scoring.manager_report('2026-03-01', '2026-03-31');
SELECT channel, revenue FROM lead_scoring.channel_report('linear', '2026-03-01', '2026-03-31') ORDER BY channel;
SELECT sum(revenue) AS channel_report_revenue FROM lead_scoring.channel_report('linear', '2026-03-01', '2026-03-31');
SELECT sum(revenue) AS by_campaign FROM lead_scoring.channel_report('first_touch', '2026-03-01', '2026-03-31', 'campaign');
-- outside the period nothing is added
SELECT count(*) AS rows_in_april FROM lead_scoring.channel_report('linear', '2026-04-01', '2026-04-30') WHERE revenue > 0;

RESET lead_scoring.now;
SELECT lead_scoring.detach('crm.deal'), lead_scoring.detach('crm.event'), lead_scoring.detach('crm.lead');
DROP SCHEMA crm CASCADE;
DROP TABLE lead_scoring.stage_change;
DROP EXTENSION lead_scoring;
