-- bench/data.sql — seeded bench data, written to CSV files that every variant loads alike.
--   -v leads=100000 -v events=1000000 -v dir=/path (writable by the server)
-- leads.csv: leads with fit attributes (valid or clearly invalid emails, phones present or NULL);
-- events.csv: events over the last 90 days, every one with a channel (all are touchpoints);
-- deals.csv: one won deal per lead, closed after its last event.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SET max_parallel_workers_per_gather = 0;
SELECT setseed(0.17) \g /dev/null

CREATE TEMP TABLE d_lead AS
SELECT n AS id,
       CASE WHEN random() < 0.9 THEN 'person' || n || '@company' || (n % 997) || '.com'
            ELSE (ARRAY['asdf', 'test@', 'none', 'x@y'])[1 + floor(random() * 4)::integer] END AS email,
       CASE WHEN random() < 0.8 THEN '+1 415 555 ' || lpad((n % 10000)::text, 4, '0') END AS phone,
       (ARRAY['Head of Sales', 'VP Marketing', 'Marketing Manager', 'Analyst', 'Founder', 'Developer',
              'Sales Director', 'Consultant'])[1 + floor(random() * 8)::integer] AS job_title,
       greatest(1, round(exp(ln(40) + 1.5 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()))))::integer AS employees,
       (ARRAY['Software', 'Financial services', 'Healthcare', 'Retail', 'Manufacturing', 'Education'])[1 + floor(random() * 6)::integer] AS industry,
       (ARRAY['US', 'GB', 'DE', 'FR', 'IN', 'BR'])[1 + floor(random() * 6)::integer] AS country,
       now() - interval '95 days' + interval '1 hour' * floor(random() * 100) AS created_at
FROM generate_series(1, :leads) AS n;

CREATE TEMP TABLE d_event AS
SELECT n AS id, 1 + floor(random() * :leads)::bigint AS lead_id, k.kind AS event_type,
       now() - interval '90 days' + interval '1 second' * floor(random() * 89 * 86400) AS occurred_at,
       c.channel, c.channel || '-' || (1 + floor(r2 * 3)::integer) AS campaign,
       CASE WHEN c.channel = 'paid_search' THEN (ARRAY['crm software', 'lead scoring', 'hubspot alternative', 'sales pipeline'])[1 + floor(r2 * 4)::integer] END AS keyword,
       CASE WHEN k.kind = 'page_view' THEN (CASE WHEN r2 < 0.15 THEN '/pricing' ELSE '/features' END) END AS page_url
FROM (SELECT n, random() AS r1, random() AS r2, random() AS r3 FROM generate_series(1, :events) AS n) g,
     LATERAL (SELECT CASE WHEN r1 < 0.40 THEN 'page_view' WHEN r1 < 0.60 THEN 'email_open' WHEN r1 < 0.68 THEN 'email_click'
                          WHEN r1 < 0.80 THEN 'ad_click' WHEN r1 < 0.85 THEN 'content_download'
                          WHEN r1 < 0.89 THEN 'webinar_attended' WHEN r1 < 0.90 THEN 'demo_request'
                          WHEN r1 < 0.91 THEN 'email_unsubscribe' ELSE 'call' END AS kind) k,
     LATERAL (SELECT (ARRAY['paid_search', 'social_ads', 'webinar', 'email', 'organic', 'referral'])[1 + floor(r3 * 6)::integer] AS channel) c;

CREATE TEMP TABLE d_deal AS
SELECT id, id AS lead_id, round((2000 + 48000 * random())::numeric, 2) AS amount, 'won' AS status,
       now() - interval '30 minutes' AS closed_at,
       (ARRAY['ann', 'ben', 'cat'])[1 + floor(random() * 3)::integer] AS owner,
       round((500 + 5000 * random())::numeric, 2) AS cost
FROM d_lead;

COPY d_lead TO :'leads_file' (FORMAT csv);
COPY (SELECT * FROM d_event ORDER BY id) TO :'events_file' (FORMAT csv);
COPY d_deal TO :'deals_file' (FORMAT csv);
