-- bench/attribution_sql.sql — hand-written window-function SQL for three attribution models, giving
-- the weights lead_scoring.attribution() gives (doc/attribution.md) for conversion 'deal', lookback 90 days,
-- half-life 7 days: views :schema.hand_linear, hand_time_decay, hand_position_based with columns
-- (conversion_id, lead_id, converted_at, value, event_ref, channel, touched_at, weight, credit).
-- Conversions are won deals; touchpoints the lead's events with a channel at or before the
-- conversion and inside the lookback; first/last by (time, id).  (Conversions without any touchpoint,
-- reported by lead_scoring under '(none)', do not occur in the bench data and are left out here.)
--   -v schema=b_plain
\set ON_ERROR_STOP 1
CREATE VIEW :schema.hand_touchpoints AS
SELECT d.id AS conversion_id, d.lead_id, d.closed_at AS converted_at, d.amount AS value,
       e.id AS event_id, e.channel, e.occurred_at AS touched_at,
       row_number() OVER w AS pos,
       count(*) OVER (PARTITION BY d.id) AS n
FROM :schema.deals d
JOIN :schema.events e
  ON e.lead_id = d.lead_id AND e.channel IS NOT NULL
 AND e.occurred_at <= d.closed_at AND e.occurred_at >= d.closed_at - interval '90 days'
WHERE lower(d.status) IN ('won', 'closed won', 'paid') AND d.closed_at IS NOT NULL
WINDOW w AS (PARTITION BY d.id ORDER BY e.occurred_at, e.id);

CREATE VIEW :schema.hand_linear AS
SELECT conversion_id, lead_id, converted_at, value, event_id::text AS event_ref, channel, touched_at,
       1.0::float8 / n AS weight, value / n AS credit
FROM :schema.hand_touchpoints;

CREATE VIEW :schema.hand_time_decay AS
SELECT conversion_id, lead_id, converted_at, value, event_ref, channel, touched_at,
       w / sum(w) OVER (PARTITION BY conversion_id) AS weight,
       value * (w / sum(w) OVER (PARTITION BY conversion_id))::numeric AS credit
FROM (SELECT t.*, t.event_id::text AS event_ref,
             0.5::float8 ^ (extract(epoch FROM t.converted_at - t.touched_at) / extract(epoch FROM interval '7 days')) AS w
      FROM :schema.hand_touchpoints t) x;

CREATE VIEW :schema.hand_position_based AS
SELECT conversion_id, lead_id, converted_at, value, event_id::text AS event_ref, channel, touched_at, weight,
       value * weight::numeric AS credit
FROM (SELECT t.*, CASE WHEN n = 1 THEN 1.0::float8
                       WHEN n = 2 THEN 0.5
                       WHEN pos = 1 OR pos = n THEN 0.4
                       ELSE 0.2 / (n - 2) END AS weight
      FROM :schema.hand_touchpoints t) x;
