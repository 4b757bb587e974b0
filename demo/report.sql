-- demo/report.sql — what marketing, sales and their managers look at, from lead_scoring's views.
\set ON_ERROR_STOP 1
\pset footer off
\pset null '-'
SET client_min_messages = warning;
SELECT now() - interval '182 days' AS report_from, now() AS report_to \gset

\echo
\echo '================================================================================'
\echo ' The data: six months of Northwind''s CRM, written through lead_scoring''s triggers'
\echo '================================================================================'
SELECT (SELECT count(*) FROM crm.contacts)      AS contacts,
       (SELECT count(*) FROM crm.activities)    AS activities,
       (SELECT count(*) FROM crm.activities WHERE utm_source IS NOT NULL) AS touchpoints,
       (SELECT count(*) FROM crm.opportunities) AS deals,
       (SELECT count(*) FROM lead_scoring.stage_change) AS stage_changes,
       (SELECT to_char(sum(amount), 'FM999,999,990') FROM lead_scoring.marketing_cost) AS marketing_spend;

\echo
\echo '-- 1. The funnel: where the contacts are now, how many ever reached each stage, and how many'
\echo '--    of those went on to the next one.'
SELECT stage, now_in, ever_reached,
       to_char(100 * conversion_to_next, 'FM990.0') || ' %' AS "to next stage"
FROM lead_scoring.funnel;

\echo
\echo '-- 2. The sales queue: the five oldest handoffs still waiting for sales, with what sales needs'
\echo '--    to call them with the right offer (source of the lead, and why it scored).'
\x on
SELECT c.first_name || ' ' || c.last_name || ', ' || coalesce(c.job_title, '?') || ' at ' || c.company AS contact,
       q.lead_id, q.handed_off_at, q.owner, q.stage, q.status,
       date_trunc('minute', q.waiting_for) AS waiting_for, q.due_at, q.score, q.grade,
       q.first_channel, q.first_campaign, q.first_keyword, q.last_channel, q.last_campaign, q.last_keyword,
       q.top_reasons
FROM lead_scoring.sales_queue AS q
JOIN crm.contacts AS c ON c.contact_id = q.lead_id
ORDER BY q.handed_off_at
LIMIT 5;
\x off

\echo
\echo '-- 3. Response-time SLA (4 hours) per account manager, over all handoffs.'
SELECT owner AS manager,
       count(*) AS handoffs,
       count(*) FILTER (WHERE status = 'met')      AS met,
       count(*) FILTER (WHERE status = 'breached') AS breached,
       count(*) FILTER (WHERE status = 'waiting')  AS waiting,
       count(*) FILTER (WHERE status = 'overdue')  AS overdue,
       to_char(100.0 * count(*) FILTER (WHERE status = 'met')
               / nullif(count(*) FILTER (WHERE status IN ('met', 'breached')), 0), 'FM990.0') || ' %' AS "met %",
       date_trunc('minute', percentile_cont(0.5) WITHIN GROUP (ORDER BY response_time)) AS "median response"
FROM lead_scoring.handoffs
GROUP BY owner
ORDER BY owner;

\echo
\echo '-- 4. Channels over the six months, credited by two attribution models side by side:'
\echo '--    last touch (what the ad platforms report) and Markov (each channel''s removal effect).'
WITH lt AS (SELECT * FROM lead_scoring.channel_report('last_touch', :'report_from'::date, :'report_to'::date)),
     mk AS (SELECT * FROM lead_scoring.channel_report('markov', :'report_from'::date, :'report_to'::date))
SELECT lt.channel,
       to_char(lt.cost, 'FM9,999,990')     AS cost,
       lt.new_leads                        AS "new leads",
       to_char(lt.cpl, 'FM9,990.00')       AS cpl,
       round(lt.customers, 1)              AS "customers LT",
       round(mk.customers, 1)              AS "customers MK",
       to_char(lt.revenue, 'FM99,999,990') AS "revenue LT",
       to_char(mk.revenue, 'FM99,999,990') AS "revenue MK",
       to_char(lt.romi, 'FM990.00')        AS "ROMI LT",
       to_char(mk.romi, 'FM990.00')        AS "ROMI MK",
       to_char(mk.roi, 'FM990.00')         AS "ROI MK"
FROM lt FULL JOIN mk USING (channel)
ORDER BY mk.revenue DESC NULLS LAST;

\echo
\echo '-- 5. Paid search by keyword (position-based model): which keywords pay for themselves.'
SELECT campaign, keyword, touchpoints, new_leads AS "new leads", round(customers, 1) AS customers,
       to_char(cost, 'FM9,999,990') AS cost, to_char(revenue, 'FM99,999,990') AS revenue,
       to_char(cpo, 'FM99,990') AS cpo, to_char(romi, 'FM990.00') AS romi
FROM lead_scoring.channel_report('position_based', :'report_from'::date, :'report_to'::date, 'keyword')
WHERE channel = 'paid_search'
ORDER BY romi DESC NULLS LAST;

\echo
\echo '-- 6. What sales did with marketing''s leads, per first-touch channel (and why they sent some back).'
SELECT channel AS "first touch", handed_off AS "handed off", accepted, recycled, won,
       array_to_string(recycle_reasons, '; ') AS "why sales sent leads back"
FROM lead_scoring.handoff_feedback;

\echo
\echo '-- 7. The managers: response, conversion, revenue and profit (revenue minus cost of sale).'
SELECT owner AS manager, handoffs,
       date_trunc('minute', median_response) AS "median response",
       to_char(sla_met_pct, 'FM990.0') || ' %' AS "SLA met",
       converted, deals_won AS won,
       to_char(100 * win_rate, 'FM990.0') || ' %' AS "win rate",
       to_char(revenue, 'FM99,999,990') AS revenue,
       to_char(avg_deal, 'FM999,990') AS "avg deal",
       to_char(profit, 'FM99,999,990') AS profit
FROM lead_scoring.manager_report(:'report_from'::timestamptz, :'report_to'::timestamptz)
ORDER BY revenue DESC NULLS LAST;
