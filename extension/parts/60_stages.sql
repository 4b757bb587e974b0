-- ---------------------------------------------------------------------------
-- The handoff log's reports: handoffs, funnel, stage_durations, handoff_feedback,
-- manager_report and sales_queue.  They read the canonical views (leads, events, deals)
-- and stage_change, whose column types follow the leads table, so they are generated:
-- rebuild_views() creates them, in ord order, after every attach and detach.
--
-- These definitions run only inside rebuild_views(), whose search_path is pinned to
-- pg_catalog, pg_temp: built-in functions and operators resolve to pg_catalog, and the
-- stored views keep the resolved objects.  The extension's own objects, including the
-- funnel_stage operators, are qualified.
-- ---------------------------------------------------------------------------

INSERT INTO @extschema@.generated_view (ord, name, kind, definition) VALUES
-- One row per handoff: a change from a marketing-owned stage (or from nothing, at
-- creation) to a sales-owned stage.  Leads already in a sales stage when attach_leads ran
-- (reason 'attached') have no handoff moment and are left out.
(600, 'handoffs', 'view', $def$
CREATE VIEW @extschema@.handoffs AS
SELECT c.lead_id,
       c.changed_at AS handed_off_at,
       coalesce(c.owner, l.owner) AS owner,
       least(fe.at, nc.at) AS first_response_at,
       least(fe.at, nc.at) - c.changed_at AS response_time,
       CASE WHEN least(fe.at, nc.at) IS NOT NULL
            THEN CASE WHEN least(fe.at, nc.at) - c.changed_at <= s.sla THEN 'met' ELSE 'breached' END
            WHEN @extschema@.clock() - c.changed_at > s.sla THEN 'overdue'
            ELSE 'waiting'
       END AS status,
       c.to_stage AS stage,
       c.changed_at + s.sla AS due_at,
       c.change_id
  FROM @extschema@.stage_change c
 CROSS JOIN @extschema@.settings s
  JOIN @extschema@.leads l ON l.lead_id = c.lead_id
  -- the first response: sales' first event, or the lead's next stage change (lateral joins on the lead
  -- id, which Citus pushes down to the lead's shards; doc/scale-out.md, "Reports")
  LEFT JOIN LATERAL (SELECT min(e.occurred_at) AS at FROM @extschema@.events e
                      WHERE e.lead_id = c.lead_id AND e.owner = 'sales' AND e.occurred_at >= c.changed_at) fe ON true
  LEFT JOIN LATERAL (SELECT n.changed_at AS at FROM @extschema@.stage_change n
                      WHERE n.lead_id = c.lead_id AND (n.changed_at, n.change_id) > (c.changed_at, c.change_id)
                      ORDER BY n.changed_at, n.change_id LIMIT 1) nc ON true
 WHERE @extschema@.stage_owner(c.to_stage) = 'sales'
   AND (c.from_stage IS NULL OR @extschema@.stage_owner(c.from_stage) = 'marketing')
   AND c.reason <> 'attached'
   AND NOT (c.from_stage IS NULL AND c.reason = 'crm stage')
$def$),

-- One row per stage.  Along the main line (new .. customer) a lead has reached a stage when it
-- was ever in it or in a later main-line stage (skipped stages count as passed); recycled,
-- disqualified and lost count the leads that were ever in them.
(610, 'funnel', 'view', $def$
CREATE VIEW @extschema@.funnel AS
WITH reached AS (
    SELECT c.lead_id, c.to_stage AS stage FROM @extschema@.stage_change c
     WHERE EXISTS (SELECT FROM @extschema@.leads l WHERE l.lead_id = c.lead_id)
    UNION
    SELECT l.lead_id, l.stage FROM @extschema@.leads l
), furthest AS (
    SELECT r.lead_id, max(@extschema@.stage_rank(r.stage)) AS rank
      FROM reached r
     WHERE @extschema@.stage_rank(r.stage) <= @extschema@.stage_rank('customer')
     GROUP BY r.lead_id
), current AS (
    SELECT l.stage, count(*) AS leads FROM @extschema@.leads l GROUP BY l.stage
), counts AS (
    SELECT f.stage,
           coalesce((SELECT n.leads FROM current n WHERE n.stage OPERATOR(@extschema@.=) f.stage), 0) AS now_in,
           CASE WHEN @extschema@.stage_rank(f.stage) <= @extschema@.stage_rank('customer')
                THEN (SELECT count(*) FROM furthest u WHERE u.rank >= @extschema@.stage_rank(f.stage))
                ELSE (SELECT count(DISTINCT r.lead_id) FROM reached r WHERE r.stage OPERATOR(@extschema@.=) f.stage)
           END AS ever_reached
      FROM @extschema@.funnel_stages() AS f(stage)
)
SELECT c.stage, c.now_in, c.ever_reached,
       CASE WHEN @extschema@.stage_rank(c.stage) < @extschema@.stage_rank('customer')
            THEN round(lead(c.ever_reached) OVER (ORDER BY @extschema@.stage_rank(c.stage))::numeric
                       / nullif(c.ever_reached, 0), 3)
       END AS conversion_to_next
  FROM counts c
 ORDER BY @extschema@.stage_rank(c.stage)
$def$),

-- Time spent in each stage, one stint per stay: from the change into the stage to the lead's
-- next change.  leads_left counts stays that ended (a lead that left a stage twice counts twice).
-- Times are computed in seconds and shown with whole days split off (justify_hours).
(620, 'stage_durations', 'view', $def$
CREATE VIEW @extschema@.stage_durations AS
WITH stints AS (
    SELECT c.to_stage AS stage,
           extract(epoch FROM lead(c.changed_at) OVER (PARTITION BY c.lead_id ORDER BY c.changed_at, c.change_id)
                              - c.changed_at)::float8 AS seconds
      FROM @extschema@.stage_change c
     WHERE EXISTS (SELECT FROM @extschema@.leads l WHERE l.lead_id = c.lead_id)
)
SELECT f.stage,
       count(t.seconds) AS leads_left,
       justify_hours(make_interval(secs => avg(t.seconds))) AS avg_time,
       justify_hours(make_interval(secs => percentile_cont(0.5) WITHIN GROUP (ORDER BY t.seconds))) AS median_time,
       justify_hours(make_interval(secs => percentile_cont(0.9) WITHIN GROUP (ORDER BY t.seconds))) AS p90_time
  FROM @extschema@.funnel_stages() AS f(stage)
  LEFT JOIN stints t ON t.stage OPERATOR(@extschema@.=) f.stage AND t.seconds IS NOT NULL
 GROUP BY f.stage
 ORDER BY @extschema@.stage_rank(f.stage)
$def$),

-- Sales' verdict on marketing's leads, per first-touch channel (the channel of the lead's
-- earliest event that has one; '(none)' without): leads handed off, accepted (reached sql,
-- opportunity or customer), recycled (with the reasons given and how often), won (reached
-- customer or has a won deal).
(630, 'handoff_feedback', 'view', $def$
CREATE VIEW @extschema@.handoff_feedback AS
WITH handed AS (
    SELECT DISTINCT h.lead_id FROM @extschema@.handoffs h
), per_lead AS (
    SELECT h.lead_id,
           coalesce((SELECT e.channel FROM @extschema@.events e
                      WHERE e.lead_id = h.lead_id AND e.channel IS NOT NULL
                      ORDER BY e.occurred_at, e.source, e.event_ref LIMIT 1), '(none)') AS channel,
           EXISTS (SELECT FROM @extschema@.stage_change c
                    WHERE c.lead_id = h.lead_id
                      AND @extschema@.stage_rank(c.to_stage) BETWEEN @extschema@.stage_rank('sql')
                                                                 AND @extschema@.stage_rank('customer')) AS accepted,
           EXISTS (SELECT FROM @extschema@.stage_change c
                    WHERE c.lead_id = h.lead_id AND c.to_stage OPERATOR(@extschema@.=) 'recycled') AS recycled,
           EXISTS (SELECT FROM @extschema@.stage_change c
                    WHERE c.lead_id = h.lead_id AND c.to_stage OPERATOR(@extschema@.=) 'customer')
           OR EXISTS (SELECT FROM @extschema@.deals d WHERE d.lead_id = h.lead_id AND d.outcome = 'won') AS won
      FROM handed h
), reasons AS (
    SELECT p.channel, c.reason, count(*) AS times
      FROM per_lead p
      JOIN @extschema@.stage_change c ON c.lead_id = p.lead_id AND c.to_stage OPERATOR(@extschema@.=) 'recycled'
     GROUP BY p.channel, c.reason
)
SELECT p.channel,
       count(*) AS handed_off,
       count(*) FILTER (WHERE p.accepted) AS accepted,
       count(*) FILTER (WHERE p.recycled) AS recycled,
       (SELECT array_agg(format('%s (%s)', r.reason, r.times) ORDER BY r.times DESC, r.reason)
          FROM reasons r WHERE r.channel = p.channel) AS recycle_reasons,
       count(*) FILTER (WHERE p.won) AS won
  FROM per_lead p
 GROUP BY p.channel
 ORDER BY count(*) DESC, p.channel
$def$),

-- Per owner, for handoffs received and deals closed in [from_time, to_time).
(640, 'manager_report', 'function', $def$
CREATE FUNCTION @extschema@.manager_report(from_time timestamptz, to_time timestamptz)
RETURNS TABLE (owner text, handoffs bigint, median_response interval, sla_met_pct numeric,
               converted bigint, deals_won bigint, win_rate numeric, revenue numeric, avg_deal numeric,
               profit numeric)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $fn$
#variable_conflict use_column
BEGIN
-- one query; PL/pgSQL binds the arguments before Citus plans it (doc/scale-out.md, "Reports")
RETURN QUERY
WITH received AS (
    SELECT h.owner, h.lead_id, h.response_time, h.status,
           EXISTS (SELECT FROM @extschema@.stage_change c
                    WHERE c.lead_id = h.lead_id
                      AND c.to_stage OPERATOR(@extschema@.=) ANY ('{opportunity,customer}'::@extschema@.funnel_stage[])
                      AND (c.changed_at, c.change_id) >= (h.handed_off_at, h.change_id)) AS converted
      FROM @extschema@.handoffs h
     WHERE h.handed_off_at >= from_time AND h.handed_off_at < to_time
), by_handoffs AS (
    SELECT r.owner,
           count(*) AS handoffs,
           justify_hours(make_interval(secs => percentile_cont(0.5) WITHIN GROUP
                                           (ORDER BY extract(epoch FROM r.response_time)::float8))) AS median_response,
           round(100.0 * count(*) FILTER (WHERE r.status = 'met')
                 / nullif(count(*) FILTER (WHERE r.status <> 'waiting'), 0), 1) AS sla_met_pct,
           count(DISTINCT r.lead_id) FILTER (WHERE r.converted) AS converted
      FROM received r
     GROUP BY r.owner
), closed AS (
    SELECT coalesce(d.owner, l.owner) AS owner, d.outcome, d.amount, d.cost
      FROM @extschema@.deals d
      LEFT JOIN @extschema@.leads l ON l.lead_id = d.lead_id
     WHERE d.outcome <> 'open' AND d.closed_at >= from_time AND d.closed_at < to_time
), by_deals AS (
    SELECT c.owner,
           count(*) FILTER (WHERE c.outcome = 'won') AS won,
           count(*) FILTER (WHERE c.outcome = 'lost') AS lost,
           coalesce(sum(c.amount) FILTER (WHERE c.outcome = 'won'), 0) AS revenue,
           coalesce(sum(c.cost) FILTER (WHERE c.outcome = 'won'), 0) AS cost
      FROM closed c
     GROUP BY c.owner
), owners AS (
    SELECT b.owner FROM by_handoffs b UNION SELECT b.owner FROM by_deals b
)
SELECT o.owner,
       coalesce(h.handoffs, 0),
       h.median_response,
       h.sla_met_pct,
       coalesce(h.converted, 0),
       coalesce(d.won, 0),
       round(d.won::numeric / nullif(d.won + d.lost, 0), 3),
       coalesce(d.revenue, 0),
       round(d.revenue / nullif(d.won, 0), 2),
       coalesce(d.revenue, 0) - coalesce(d.cost, 0)
  FROM owners o
  LEFT JOIN by_handoffs h ON h.owner IS NOT DISTINCT FROM o.owner
  LEFT JOIN by_deals d ON d.owner IS NOT DISTINCT FROM o.owner
 ORDER BY o.owner NULLS LAST;
END
$fn$
$def$),

-- Handoffs still waiting for sales (waiting or overdue), oldest first, with what sales needs to
-- call with the right offer: score and grade, the first and the last touch (channel, campaign,
-- keyword), and the three rules that weigh most in the score.  After the scoring wrappers (5xx).
(690, 'sales_queue', 'view', $def$
CREATE VIEW @extschema@.sales_queue AS
WITH waiting AS MATERIALIZED (
    -- the rows, gathered first (on Citus from the lead's shards); then the score explanations, which
    -- read each lead's row and events themselves (doc/scale-out.md, "Reports")
    SELECT h.lead_id, h.handed_off_at, h.owner, h.stage, h.status, h.due_at, l.score,
           ft.channel AS first_channel, ft.campaign AS first_campaign, ft.keyword AS first_keyword,
           lt.channel AS last_channel, lt.campaign AS last_campaign, lt.keyword AS last_keyword
      FROM @extschema@.handoffs h
      LEFT JOIN @extschema@.leads l ON l.lead_id = h.lead_id
      LEFT JOIN LATERAL (SELECT e.channel, e.campaign, e.keyword FROM @extschema@.events e
                          WHERE e.lead_id = h.lead_id AND e.channel IS NOT NULL
                          ORDER BY e.occurred_at, e.source, e.event_ref LIMIT 1) ft ON true
      LEFT JOIN LATERAL (SELECT e.channel, e.campaign, e.keyword FROM @extschema@.events e
                          WHERE e.lead_id = h.lead_id AND e.channel IS NOT NULL
                          ORDER BY e.occurred_at DESC, e.source DESC, e.event_ref DESC LIMIT 1) lt ON true
     WHERE h.status IN ('waiting', 'overdue')
)
SELECT w.lead_id, w.handed_off_at, w.owner, w.stage, w.status,
       @extschema@.clock() - w.handed_off_at AS waiting_for, w.due_at,
       w.score, @extschema@.grade(w.lead_id) AS grade,
       w.first_channel, w.first_campaign, w.first_keyword,
       w.last_channel, w.last_campaign, w.last_keyword,
       ARRAY(SELECT x.rule || ' ' || CASE WHEN x.points > 0 THEN '+' ELSE '' END
                    || trim_scale(round(x.points::numeric, 1))::text
               FROM @extschema@.explain(w.lead_id, @extschema@.clock()) AS x
              WHERE x.points <> 0
              ORDER BY abs(x.points) DESC, x.rule
              LIMIT 3) AS top_reasons
  FROM waiting w
 ORDER BY w.handed_off_at, w.lead_id
$def$);
