-- bench/rescore_sql.sql — the best hand-written SQL for "rescore every lead": one set-based query
-- computing the same scores as lead_scoring.rescore_all() from the same rules (b_pl.rule, identical
-- to lead_scoring.rule in the bench), as a view :schema.hand_scores(id, score) over :schema's tables.
-- bench/run.sh times "UPDATE :schema.leads SET score = hand_scores.score" against rescore_all(), and
-- counts the leads whose scores differ.
--   -v schema=b_plain (or b_ext)
\set ON_ERROR_STOP 1
CREATE VIEW :schema.hand_scores AS
WITH matched AS (
    -- every (event, engagement rule) pair that matches, up to now
    SELECT e.lead_id, e.id, e.occurred_at, r.rule_id, r.points, r.max_points, r.max_hits, r.half_life
    FROM :schema.events e
    JOIN b_pl.rule r
      ON r.kind = 'engagement' AND r.active
     AND (r.event_type = '*' OR r.event_type = e.event_type)
     AND (r.column_name IS NULL
          OR b_pl.matches(CASE r.column_name WHEN 'page_url' THEN e.page_url WHEN 'channel' THEN e.channel
                                             WHEN 'campaign' THEN e.campaign WHEN 'keyword' THEN e.keyword
                                             WHEN 'event_type' THEN e.event_type END,
                          false, r.op, r.value))
    WHERE e.occurred_at <= now()
), counted AS (
    -- rules without max_hits count every event; the others only the first max_hits by (time, id)
    SELECT lead_id, occurred_at, rule_id, points, max_points, half_life FROM matched WHERE max_hits IS NULL
    UNION ALL
    SELECT lead_id, occurred_at, rule_id, points, max_points, half_life
    FROM (SELECT m.*, row_number() OVER (PARTITION BY lead_id, rule_id ORDER BY occurred_at, id) AS n
          FROM matched m WHERE max_hits IS NOT NULL) x
    WHERE n <= max_hits
), per_rule AS (
    SELECT lead_id, max_points,
           sum(points * CASE WHEN half_life IS NULL THEN 1
                             ELSE 0.5::float8 ^ (extract(epoch FROM now() - occurred_at) / extract(epoch FROM half_life)) END) AS total
    FROM counted
    GROUP BY lead_id, rule_id, max_points
), engagement AS (
    SELECT lead_id,
           sum(CASE WHEN max_points IS NULL THEN total
                    WHEN total >= 0 THEN least(total, max_points)
                    ELSE greatest(total, -abs(max_points)) END) AS points
    FROM per_rule
    GROUP BY lead_id
)
SELECT l.id,
       least(coalesce(s.score_ceiling, 2147483647),
             greatest(coalesce(s.score_floor, -2147483648),
                      round((f.points + coalesce(g.points, 0))::numeric)))::integer AS score
FROM :schema.leads l
CROSS JOIN b_pl.settings s
CROSS JOIN LATERAL (SELECT to_jsonb(l) AS doc) j
CROSS JOIN LATERAL (SELECT coalesce(sum(r.points), 0) AS points
                    FROM b_pl.rule r
                    WHERE r.kind = 'fit' AND r.active
                      AND b_pl.matches(j.doc ->> r.column_name, jsonb_typeof(j.doc -> r.column_name) = 'number',
                                       r.op, r.value)) f
LEFT JOIN engagement g ON g.lead_id = l.id;
