-- attribution_totals() with more groups than its table first holds (doc/attribution.md, "Per-channel
-- totals"): a conversion whose touches add groups while they are summed keeps every credit and cost.
CREATE EXTENSION lead_scoring;
SET search_path = lead_scoring, public;
SET timezone = 'UTC';
CREATE SCHEMA shop;
CREATE TABLE shop.leads (id integer PRIMARY KEY, created timestamptz);
CREATE TABLE shop.events (id integer PRIMARY KEY, lead_id integer, kind text, at timestamptz,
                          source text, campaign text, term text);
CREATE TABLE shop.deals (id integer PRIMARY KEY, lead_id integer, amount numeric, status text,
                         closed_at timestamptz, cost numeric);
SET client_min_messages = warning;
SELECT attach_leads('shop.leads', created_column => 'created');
SELECT attach_events('shop.events', type_column => 'kind', time_column => 'at', channel_column => 'source',
                     campaign_column => 'campaign', keyword_column => 'term');
SELECT attach_deals('shop.deals', cost_column => 'cost');
RESET client_min_messages;
-- one lead with 300 touches, each in a campaign (and keyword) of its own, then a won deal of 1000
-- costing 300: its one conversion brings 300 new groups, the table grows several times meanwhile
INSERT INTO shop.leads VALUES (1, '2024-03-01');
INSERT INTO shop.events
SELECT i, 1, 'click', '2024-03-01'::timestamptz + i * interval '1 minute', 'ads', 'c' || i, 'k' || i
  FROM generate_series(1, 300) i;
INSERT INTO shop.deals VALUES (1, 1, 1000, 'won', '2024-03-10', 300);
-- every model, every level: the totals add up to the deal's amount and cost
SELECT m.model, l.level, count(*) AS groups, round(sum(t.conversions)::numeric, 9) AS conversions,
       sum(t.credit) AS credit,
       sum(t.cost) AS cost
  FROM unnest(ARRAY['first_touch', 'last_touch', 'linear', 'time_decay', 'position_based', 'w_shaped',
                    'full_path']) m(model),
       unnest(ARRAY['channel', 'campaign', 'keyword']) l(level),
       LATERAL attribution_totals(m.model, 'deal', NULL, NULL, NULL, NULL, l.level) t
 GROUP BY 1, 2 ORDER BY 1, 2;
-- and each campaign's credit is the sum of attribution()'s credits of its touches
SELECT m.model,
       (SELECT count(*)
          FROM (SELECT a.campaign, sum(a.credit) AS credit FROM attribution(m.model) a GROUP BY 1) r
          FULL JOIN attribution_totals(m.model, 'deal', NULL, NULL, NULL, NULL, 'campaign') t USING (campaign)
         WHERE r.credit IS DISTINCT FROM t.credit) AS differing
  FROM unnest(ARRAY['first_touch', 'linear', 'time_decay', 'position_based']) m(model)
 ORDER BY 1;
SET client_min_messages = warning;
DROP SCHEMA shop CASCADE;
DROP TABLE lead_scoring.stage_change;
DROP EXTENSION lead_scoring;
