-- Dated exchange rates (Salesforce's "dated exchange rates"): a deal's amount is converted at the rate
-- in force at its close time, or at its created time while it is open (now without either); a deal
-- dated before the first rate of its currency has no amount, and check_currency_rates() names it.
-- The reports read the converted amounts: manager_report, channel_report and attribution() agree.
-- doc/crm_schemas.md, "Currencies".
CREATE EXTENSION lead_scoring;
SET client_min_messages = warning;
SET TimeZone = 'UTC';  -- the report periods below are UTC days
CREATE SCHEMA crm;
CREATE TABLE crm.lead (id integer PRIMARY KEY);
CREATE TABLE crm.event (id serial PRIMARY KEY, lead_id integer NOT NULL, event_type text NOT NULL,
                        occurred_at timestamptz NOT NULL, channel text);
-- naive UTC times, as Odoo and Rails keep them
CREATE TABLE crm.deal (id integer PRIMARY KEY, lead_id integer, amount numeric, currency varchar(3),
                       status text NOT NULL, closed_at timestamp, created_at timestamp);
SELECT lead_scoring.attach_leads('crm.lead');
SELECT lead_scoring.attach_events('crm.event', channel_column => 'channel');
-- refused: a created_column that is no time
SELECT lead_scoring.attach_deals('crm.deal', currency_column => 'currency', created_column => 'currency');
SELECT lead_scoring.attach_deals('crm.deal', currency_column => 'currency', created_column => 'created_at',
                                 time_zone => 'UTC');
SELECT created_column FROM lead_scoring.attachment WHERE kind = 'deals';
-- the reports are in USD; the euro was worth 1.10 USD from January, 1.05 USD from March 1st (UTC)
INSERT INTO lead_scoring.currency_rate (currency, rate) VALUES ('USD', 1);
INSERT INTO lead_scoring.currency_rate (currency, valid_from, rate) VALUES
    ('EUR', '2026-01-01 00:00+00', 1.10), ('EUR', '2026-03-01 00:00+00', 1.05);
SET lead_scoring.now = '2026-03-20 12:00:00+00';
INSERT INTO crm.lead VALUES (1), (2), (3);
INSERT INTO crm.event (lead_id, event_type, occurred_at, channel) VALUES
    (1, 'visit', '2026-01-10 12:00+00', 'ads'), (2, 'visit', '2026-01-10 12:00+00', 'seo'),
    (3, 'visit', '2026-01-10 12:00+00', 'ads');
INSERT INTO crm.deal VALUES
    (10, 1, 1000, 'EUR', 'won', '2026-02-15 12:00', '2026-01-20 12:00'),   -- February's rate: 1,100
    (11, 2, 1000, 'eur ', 'won', '2026-03-10 12:00', '2026-01-20 12:00'),  -- March's rate: 1,050
    (12, 3, 1000, 'EUR', 'won', '2026-02-28 23:59', '2026-01-20 12:00'),   -- the last minute of February: 1,100
    (13, 3, 1000, 'EUR', 'won', '2026-03-01 00:00', '2026-01-20 12:00'),   -- the first of March: 1,050
    (14, 1, 500, 'USD', 'won', '2026-02-15 12:00', '2026-01-20 12:00'),    -- 500
    (15, 2, 1000, 'EUR', 'open', NULL, '2026-02-20 12:00'),                -- open, created in February: 1,100
    (16, 2, 1000, 'EUR', 'open', NULL, NULL),                              -- open, no created time: now's, 1,050
    (17, 1, 1000, 'EUR', 'won', '2025-12-15 12:00', '2025-12-01 12:00');   -- before the first EUR rate: none
SELECT deal_ref, amount, outcome, closed_at AT TIME ZONE 'UTC' AS closed_utc FROM lead_scoring.deals ORDER BY deal_ref;
-- the deal before the first rate is named
SELECT lead_scoring.check_currency_rates('crm.deal');

-- by hand: February 1,100 + 1,100 + 500 = 2,700 USD; March 1,050 + 1,050 = 2,100 USD; December none
SELECT sum(revenue) AS february FROM lead_scoring.manager_report('2026-02-01', '2026-03-01');
SELECT sum(revenue) AS march FROM lead_scoring.manager_report('2026-03-01', '2026-04-01');
SELECT sum(revenue) AS december FROM lead_scoring.manager_report('2025-12-01', '2026-01-01');
SELECT sum(revenue) AS february FROM lead_scoring.channel_report('linear', '2026-02-01', '2026-02-28');
SELECT sum(revenue) AS march FROM lead_scoring.channel_report('linear', '2026-03-01', '2026-03-31');
SELECT channel, revenue FROM lead_scoring.channel_report('first_touch', '2026-02-01', '2026-03-31') ORDER BY channel;
SELECT sum(credit) AS credits FROM lead_scoring.attribution('linear') WHERE value IS NOT NULL;

-- a new rate from April on changes neither February nor March; the open deal without a created time
-- takes the rate in force now
INSERT INTO lead_scoring.currency_rate (currency, valid_from, rate) VALUES ('EUR', '2026-04-01 00:00+00', 1.20);
SELECT sum(revenue) AS february FROM lead_scoring.manager_report('2026-02-01', '2026-03-01');
SELECT sum(revenue) AS march FROM lead_scoring.manager_report('2026-03-01', '2026-04-01');
SELECT deal_ref, amount FROM lead_scoring.deals WHERE outcome = 'open' ORDER BY deal_ref;
SET lead_scoring.now = '2026-04-02 12:00:00+00';
SELECT deal_ref, amount FROM lead_scoring.deals WHERE outcome = 'open' ORDER BY deal_ref;
-- the open deal created in February is won in April: converted at April's rate from then on
UPDATE crm.deal SET status = 'won', closed_at = '2026-04-02 12:00' WHERE id = 15;
SELECT deal_ref, amount, outcome FROM lead_scoring.deals WHERE deal_ref = '15';
-- a rate from the beginning for December's deal: it counts, no warning
INSERT INTO lead_scoring.currency_rate (currency, valid_from, rate) VALUES ('EUR', '2025-01-01 00:00+00', 1.00);
SELECT lead_scoring.check_currency_rates('crm.deal');
SELECT sum(revenue) AS december FROM lead_scoring.manager_report('2025-12-01', '2026-01-01');
-- one rate per currency and time
INSERT INTO lead_scoring.currency_rate (currency, valid_from, rate) VALUES ('EUR', '2026-03-01 00:00+00', 2);
RESET lead_scoring.now;

SELECT lead_scoring.detach('crm.deal'), lead_scoring.detach('crm.event'), lead_scoring.detach('crm.lead');
DROP SCHEMA crm CASCADE;
DROP TABLE lead_scoring.stage_change;
DROP EXTENSION lead_scoring;
