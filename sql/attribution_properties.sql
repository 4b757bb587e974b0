-- Properties of attribution() on a seeded random data set, for every model and conversion kind:
-- each conversion's weights sum to 1 (within 1e-9) and its credits to its value (exactly), every
-- row lies inside the conversion's window, and the touches are exactly the lead's touchpoints
-- in the window.  Linear and time-decay weights are also recomputed independently in SQL.
CREATE EXTENSION lead_scoring;
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET intervalstyle = 'postgres';

CREATE SCHEMA crm;
CREATE TABLE crm.leads (id bigint PRIMARY KEY, created timestamptz);
CREATE TABLE crm.events (id bigint PRIMARY KEY, lead_id bigint, kind text, at timestamptz,
                         channel text, campaign text, keyword text);
CREATE TABLE crm.deals (id bigint PRIMARY KEY, lead_id bigint, amount numeric, status text,
                        closed_at timestamptz, cost numeric);
SELECT lead_scoring.attach_leads('crm.leads', created_column => 'created');
SELECT lead_scoring.attach_events('crm.events', type_column => 'kind', time_column => 'at',
                                  channel_column => 'channel', campaign_column => 'campaign',
                                  keyword_column => 'keyword');
SELECT lead_scoring.attach_deals('crm.deals', cost_column => 'cost');
ALTER TABLE crm.deals DISABLE TRIGGER USER;     -- stage changes are generated below, at fixed times

SELECT setseed(0.25);
-- 300 leads created over 200 days of 2024
INSERT INTO crm.leads
SELECT g, timestamptz '2024-01-01' + (random() * 200) * interval '1 day' FROM generate_series(1, 300) g;
-- 6000 events, 80 % with a channel; times on whole hours so that ties occur
INSERT INTO crm.events
SELECT g, 1 + floor(random() * 300), 'click',
       timestamptz '2023-12-01' + floor(random() * 260 * 24) * interval '1 hour',
       CASE WHEN random() < 0.8 THEN (ARRAY['search', 'social', 'email', 'display', 'referral'])[1 + floor(random() * 5)] END,
       'c' || floor(random() * 4), CASE WHEN random() < 0.5 THEN 'k' || floor(random() * 6) END
FROM generate_series(1, 6000) g;
-- 200 deals: amounts with 0 to 3 decimals, a few without amount, one very large; won or lost
INSERT INTO crm.deals
SELECT g, 1 + floor(random() * 300),
       CASE WHEN g % 50 = 0 THEN NULL WHEN g = 77 THEN 12345678901234.5 ELSE round((random() * 10000)::numeric, (g % 4)) END,
       CASE WHEN random() < 0.7 THEN 'won' ELSE 'lost' END,
       timestamptz '2024-01-15' + (random() * 230) * interval '1 day', round((random() * 100)::numeric, 2)
FROM generate_series(1, 200) g;
-- a stage history per lead: forward moves at random times after creation, some skipping stages
INSERT INTO lead_scoring.stage_change (lead_id, from_stage, to_stage, changed_at, actor, reason)
SELECT l.id, NULL, 'new', l.created, 'test', 'created' FROM crm.leads l;
INSERT INTO lead_scoring.stage_change (lead_id, from_stage, to_stage, changed_at, actor, reason)
SELECT l.id, NULL, s.stage::lead_scoring.funnel_stage, l.created + s.n * (1 + random() * 10) * interval '1 day',
       'test', 'manual'
FROM crm.leads l,
     LATERAL (SELECT stage, n FROM unnest(ARRAY['mql', 'sal', 'sql', 'opportunity', 'customer'])
              WITH ORDINALITY u(stage, n)) s
WHERE random() < 0.6 AND s.n <= 1 + (l.id % 5);

CREATE TEMP TABLE per_conversion AS
SELECT m AS model, k AS conversion, a.conversion_id, min(a.value) AS value, sum(a.weight) AS weight_sum,
       sum(a.credit) AS credit_sum, min(a.weight) AS min_weight, count(a.event_ref) AS touches,
       bool_and(a.touched_at IS NULL OR (a.touched_at <= a.converted_at
                                         AND a.touched_at >= a.converted_at - interval '60 days')) AS in_window
FROM unnest(ARRAY['first_touch', 'last_touch', 'linear', 'time_decay', 'position_based', 'w_shaped',
                  'full_path', 'markov']) AS m,
     unnest(ARRAY['deal', 'lead', 'mql', 'sal', 'sql', 'opportunity', 'customer']) AS k,
     LATERAL lead_scoring.attribution(m, k, '60 days', '3 days') a
GROUP BY m, k, a.conversion_id;

-- one line per model and conversion kind: the failure counts must all be 0
SELECT model, conversion, count(*) AS conversions,
       count(*) FILTER (WHERE touches = 0) AS without_touch, max(touches) AS max_touches,
       count(*) FILTER (WHERE abs(weight_sum - 1) > 1e-9) AS weights_not_1,
       count(*) FILTER (WHERE value IS NOT NULL AND credit_sum IS DISTINCT FROM value) AS credits_not_value,
       count(*) FILTER (WHERE value IS NULL AND credit_sum IS NOT NULL) AS credit_without_value,
       count(*) FILTER (WHERE min_weight < 0) AS negative_weights,
       count(*) FILTER (WHERE NOT in_window) AS outside_window
FROM per_conversion GROUP BY model, conversion ORDER BY conversion, model;

-- every model sees the same conversions with the same touches
SELECT conversion, count(DISTINCT (conversion_id, touches)) AS distinct_conversions, count(*) / 8 AS per_model
FROM per_conversion GROUP BY conversion ORDER BY conversion;

-- the touches of each won deal are exactly the lead's touchpoints in the window, computed in SQL
WITH expected AS (
    SELECT d.id::text AS conversion_id, e.id::text AS event_ref
    FROM crm.deals d JOIN crm.events e ON e.lead_id = d.lead_id AND e.channel IS NOT NULL
     AND e.at <= d.closed_at AND e.at >= d.closed_at - interval '60 days'
    WHERE d.status = 'won'
), got AS (
    SELECT conversion_id, event_ref FROM lead_scoring.attribution('linear', 'deal', '60 days')
    WHERE event_ref IS NOT NULL
)
SELECT (SELECT count(*) FROM expected) AS expected_rows,
       (SELECT count(*) FROM (SELECT * FROM expected EXCEPT ALL SELECT * FROM got) x) AS missing,
       (SELECT count(*) FROM (SELECT * FROM got EXCEPT ALL SELECT * FROM expected) x) AS extra;

-- linear and time-decay weights recomputed in SQL: 1/n, and 0.5^(age/half-life) normalised
WITH a AS (
    SELECT 'linear' AS model, * FROM lead_scoring.attribution('linear', 'deal', '60 days', '3 days')
    UNION ALL
    SELECT 'time_decay', * FROM lead_scoring.attribution('time_decay', 'deal', '60 days', '3 days')
), sql_weights AS (
    SELECT model, weight,
           CASE model WHEN 'linear' THEN 1.0 / count(*) OVER w
           ELSE 0.5 ^ (extract(epoch FROM converted_at - touched_at) / 259200)
                / sum(0.5 ^ (extract(epoch FROM converted_at - touched_at) / 259200)) OVER w END AS expected
    FROM a WHERE event_ref IS NOT NULL
    WINDOW w AS (PARTITION BY model, conversion_id)
)
SELECT model, count(*) AS rows, max(abs(weight - expected)) < 1e-9 AS same_weights
FROM sql_weights GROUP BY model ORDER BY model;

-- position_based recomputed in SQL: 40/20/40, one touch 100, two 50/50 (ties in time broken by
-- the event's key)
WITH a AS (
    SELECT *, row_number() OVER w AS pos, count(*) OVER (PARTITION BY conversion_id) AS n
    FROM lead_scoring.attribution('position_based', 'deal', '60 days') WHERE event_ref IS NOT NULL
    WINDOW w AS (PARTITION BY conversion_id ORDER BY touched_at, event_ref::bigint)
)
SELECT count(*) AS rows,
       max(abs(weight - CASE WHEN n = 1 THEN 1 WHEN n = 2 THEN 0.5 WHEN pos IN (1, n) THEN 0.4
                             ELSE 0.2 / (n - 2) END)) < 1e-12 AS same_weights
FROM a;

-- clean up for the next test
SET client_min_messages = warning;
DROP SCHEMA crm CASCADE;
DROP EXTENSION lead_scoring CASCADE;
-- (stage_change is generated, not a member of the extension: it outlives DROP EXTENSION)
DROP SCHEMA IF EXISTS lead_scoring CASCADE;
