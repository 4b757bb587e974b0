-- demo/generate.sql — six months of a B2B company's demand funnel, written into the CRM tables the
-- way the application writes them: plain INSERT and UPDATE, in time order.
--
-- Variables (psql -v):  leads (10000), events (200000, approximate), seed (0.42), slot ('1 hour'),
-- lead_scoring (true: the extension is attached; false: plain CRM, for testing the generator alone).
--
-- How it works.  First a plan is drawn, set-based and seeded (setseed): the contacts with their
-- channel, campaign, keyword, profile and a hidden "buying intent"; their activities; and, for those
-- who ask for a demo, what sales does (responds after the manager's usual delay, qualifies,
-- recycles with a reason or disqualifies, opens a deal, wins or loses it).  Then the plan is replayed
-- slot by slot (one hour by default) in time order: each slot inserts its new contacts, its
-- activities, applies sales' stage changes, opens and closes deals, and lets each manager work the
-- leads lead_scoring handed to them that nobody planned for (the queue review).  Each slot is a few
-- ordinary statements, so the extension's triggers score, promote and log as they would live.
--
-- Six channels differ in lead volume, intent and cost: paid_search (good, expensive), social_ads (many,
-- weak), webinar (many, low conversion), email (partner newsletters), organic (good, cheap), referral
-- (few, best).  Four account managers differ: Alice answers within minutes, Bob after hours (past the
-- 4 h SLA), Carol recycles many leads back to marketing with reasons, Dan is slow-ish but wins most.

\set ON_ERROR_STOP 1
\if :{?leads}
\else
\set leads 10000
\endif
\if :{?events}
\else
\set events 200000
\endif
\if :{?seed}
\else
\set seed 0.42
\endif
\if :{?slot}
\else
\set slot '1 hour'
\endif
\if :{?lead_scoring}
\else
\set lead_scoring true
\endif

SET client_min_messages = warning;
-- Same seed, same plan: keep every random() call in one backend and in a fixed order.
SET max_parallel_workers_per_gather = 0;
SELECT setseed(:seed) \g /dev/null

-- The simulated time line: 26 weeks ending at the current hour, cut into replay slots.
CREATE TEMP TABLE g_time AS
SELECT date_trunc('hour', now()) - interval '182 days' AS t_start,
       date_trunc('hour', now())                       AS t_end,
       :'slot'::interval                               AS slot;

-- Slot number of a timestamp, and the end of a slot (the moment the slot is written).
CREATE FUNCTION pg_temp.slot_of(t timestamptz) RETURNS integer LANGUAGE sql STABLE AS
$$ SELECT floor(extract(epoch FROM t - g.t_start) / extract(epoch FROM g.slot))::integer FROM g_time g $$;
CREATE FUNCTION pg_temp.slot_end(s integer) RETURNS timestamptz LANGUAGE sql STABLE AS
$$ SELECT g.t_start + (s + 1) * g.slot FROM g_time g $$;
-- A standard normal deviate (Box-Muller).
CREATE FUNCTION pg_temp.gauss() RETURNS float8 LANGUAGE sql VOLATILE AS
$$ SELECT sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()) $$;
-- A random element of an array.
CREATE FUNCTION pg_temp.any_of(a text[]) RETURNS text LANGUAGE sql VOLATILE AS
$$ SELECT a[1 + floor(random() * cardinality(a))::integer] $$;

-- ---------------------------------------------------------------------------------------------
-- Reference data: sales team, channels, campaigns and keywords with their quality and cost.
-- ---------------------------------------------------------------------------------------------
INSERT INTO crm.sales_reps (rep_name, region, hired_on) VALUES
    ('Alice Moreau', 'US',     '2021-03-01'),
    ('Bob Kessler',  'US',     '2019-09-16'),
    ('Carol Jensen', 'Europe', '2022-01-10'),
    ('Dan Okafor',   'Rest of world', '2020-06-01');

-- How each manager works: response delay (log-normal: median, spread), how often they recycle or
-- disqualify after the first call, their win rate and deal size.
CREATE TEMP TABLE g_rep (rep text PRIMARY KEY, median_delay interval, spread float8,
                         p_recycle float8, p_disqualify float8, p_win float8, deal_factor float8);
INSERT INTO g_rep VALUES
    ('Alice Moreau', '12 minutes',     0.8, 0.15, 0.05, 0.36, 1.0),
    ('Bob Kessler',  '7 hours',        0.6, 0.15, 0.05, 0.24, 0.9),
    ('Carol Jensen', '70 minutes',     0.8, 0.45, 0.08, 0.38, 1.0),
    ('Dan Okafor',   '150 minutes',    0.9, 0.12, 0.05, 0.50, 1.3);

-- Channels: share of new contacts, base buying intent, share of junk sign-ups, share without phone.
CREATE TEMP TABLE g_channel (channel text PRIMARY KEY, share float8, intent float8, junk float8, no_phone float8,
                             lo float8, hi float8);
INSERT INTO g_channel (channel, share, intent, junk, no_phone) VALUES
    ('paid_search', 0.24, 0.42, 0.04, 0.15),
    ('social_ads',  0.26, 0.20, 0.15, 0.35),
    ('webinar',     0.16, 0.22, 0.03, 0.20),
    ('email',       0.08, 0.30, 0.05, 0.25),
    ('organic',     0.18, 0.42, 0.06, 0.25),
    ('referral',    0.08, 0.62, 0.01, 0.10);
UPDATE g_channel c SET lo = x.lo, hi = x.hi
FROM (SELECT channel, sum(share) OVER w - share AS lo, sum(share) OVER w AS hi
      FROM g_channel WINDOW w AS (ORDER BY channel)) x
WHERE x.channel = c.channel;

-- Campaigns (and keywords for paid search) that bring new contacts; '%' in a campaign name is
-- replaced by the month (monthly webinars and newsletters).  daily_cost feeds crm.ad_spend.
CREATE TEMP TABLE g_campaign (channel text, campaign text, keyword text, share float8, intent_adj float8,
                              daily_cost numeric, lo float8, hi float8);
INSERT INTO g_campaign (channel, campaign, keyword, share, intent_adj, daily_cost) VALUES
    ('paid_search', 'brand',       'northwind crm',          0.20,  0.15,  60),
    ('paid_search', 'brand',       'northwind pricing',      0.08,  0.20,  30),
    ('paid_search', 'generic',     'crm software',           0.22, -0.10, 260),
    ('paid_search', 'generic',     'lead scoring',           0.14,  0.00, 120),
    ('paid_search', 'generic',     'sales pipeline tool',    0.10, -0.05,  90),
    ('paid_search', 'competitor',  'hubspot alternative',    0.16,  0.05, 150),
    ('paid_search', 'competitor',  'salesforce alternative', 0.10,  0.00, 120),
    ('social_ads',  'linkedin-abm',        NULL, 0.30,  0.10, 260),
    ('social_ads',  'facebook-lookalike',  NULL, 0.50, -0.08, 170),
    ('social_ads',  'linkedin-retarget',   NULL, 0.20,  0.05,  80),
    ('webinar',     'webinar-%',           NULL, 1.00,  0.00, 190),
    ('email',       'partner-newsletter',  NULL, 0.60,  0.00,  70),
    ('email',       'sponsored-digest',    NULL, 0.40, -0.05,  45),
    ('organic',     'blog',                NULL, 0.65,  0.00,  90),
    ('organic',     'docs',                NULL, 0.35,  0.08,  30),
    ('referral',    'customer-referral',   NULL, 0.70,  0.05,  25),
    ('referral',    'partner-program',     NULL, 0.30,  0.00,  45);
UPDATE g_campaign c SET lo = x.lo, hi = x.hi
FROM (SELECT ctid AS row_id, sum(share) OVER w - share AS lo, sum(share) OVER w AS hi
      FROM g_campaign WINDOW w AS (PARTITION BY channel ORDER BY campaign, keyword NULLS FIRST)) x
WHERE x.row_id = c.ctid;

-- ---------------------------------------------------------------------------------------------
-- The contacts.
-- ---------------------------------------------------------------------------------------------
CREATE TEMP TABLE g_lead AS
SELECT 100000 + n AS contact_id,
       random() AS r_channel, random() AS r_campaign, random() AS r_junk, random() AS r_phone,
       -- sign-ups grow over the six months (density rises linearly), mostly in office hours
       (SELECT t_start FROM g_time)
         + floor(182 * sqrt(random())) * interval '1 day'
         + (7 + 13 * random() ^ 1.3) * interval '1 hour' AS signed_up_at,
       random() AS r_email, random() AS r_country, random() AS r_industry, random() AS r_rep,
       pg_temp.gauss() AS g_size, pg_temp.gauss() AS g_intent
FROM generate_series(1, :leads) AS n;
ALTER TABLE g_lead ADD channel text, ADD campaign text, ADD keyword text, ADD intent float8,
    ADD junk boolean, ADD first_name text, ADD last_name text, ADD email text, ADD phone text,
    ADD job_title text, ADD company text, ADD employees integer, ADD industry text, ADD country text,
    ADD account_manager text, ADD hot_at timestamptz;
-- Nobody signs up in the future: sign-ups of the current, unfinished day come before the slot being written.
UPDATE g_lead SET signed_up_at = (SELECT t_end FROM g_time) - interval '1 minute' * (5 + 300 * r_email)
WHERE signed_up_at >= (SELECT t_end FROM g_time) - interval '5 minutes';

UPDATE g_lead l SET channel = c.channel, junk = l.r_junk < c.junk
FROM g_channel c WHERE l.r_channel >= c.lo AND l.r_channel < c.hi;
UPDATE g_lead l SET campaign = replace(c.campaign, '%', to_char(l.signed_up_at, 'YYYY-MM')), keyword = c.keyword,
       intent = c.intent_adj
FROM g_campaign c WHERE c.channel = l.channel AND l.r_campaign >= c.lo AND l.r_campaign < c.hi;

UPDATE g_lead SET
    first_name = pg_temp.any_of('{James,Mary,John,Patricia,Robert,Jennifer,Michael,Linda,David,Elizabeth,William,Susan,Richard,Jessica,Thomas,Sarah,Carlos,Sofia,Lukas,Emma,Hiroshi,Priya,Ahmed,Fatima,Lars,Ingrid,Pierre,Chloe,Mateo,Aisha}'),
    last_name  = pg_temp.any_of('{Smith,Johnson,Williams,Brown,Jones,Garcia,Miller,Davis,Rodriguez,Martinez,Muller,Schmidt,Dubois,Laurent,Rossi,Bianchi,Tanaka,Sato,Patel,Sharma,Khan,Nielsen,Larsen,Jansen,Visser,Silva,Santos,Kowalski,Novak,OBrien}'),
    company    = pg_temp.any_of('{Blue,Nova,Bright,Cedar,Iron,Silver,Pioneer,Summit,Vertex,Harbor,Atlas,Maple,Quantum,Redwood,Evergreen,Granite,Lumen,Orbit}')
                 || ' ' || pg_temp.any_of('{Labs,Systems,Health,Retail,Logistics,Partners,Analytics,Foods,Media,Capital,Works,Energy,Bank,Software}'),
    employees  = greatest(1, round(exp(ln(35) + 1.5 * g_size)))::integer,
    job_title  = pg_temp.any_of('{"Head of Sales","VP Marketing","Marketing Director","Founder","Chief Revenue Officer","Owner",'
                                 '"Marketing Manager","Sales Manager","Account Executive","SDR","Marketing Specialist",'
                                 '"Operations Analyst","Consultant","Student","Developer","Office Manager","Growth Marketer","RevOps Lead"}'),
    industry   = CASE WHEN r_industry < 0.24 THEN 'Software' WHEN r_industry < 0.36 THEN 'Financial services'
                      WHEN r_industry < 0.46 THEN 'Healthcare' WHEN r_industry < 0.56 THEN 'Retail'
                      WHEN r_industry < 0.68 THEN 'Manufacturing' WHEN r_industry < 0.78 THEN 'Education'
                      WHEN r_industry < 0.85 THEN 'Government' WHEN r_industry < 0.93 THEN 'Media' ELSE 'Non-profit' END,
    country    = CASE WHEN r_country < 0.45 THEN 'US' WHEN r_country < 0.55 THEN 'GB' WHEN r_country < 0.63 THEN 'DE'
                      WHEN r_country < 0.69 THEN 'FR' WHEN r_country < 0.73 THEN 'NL' WHEN r_country < 0.78 THEN 'CA'
                      WHEN r_country < 0.86 THEN 'IN' WHEN r_country < 0.91 THEN 'BR' WHEN r_country < 0.95 THEN 'AU'
                      ELSE 'SG' END;

-- Junk sign-ups (bots, "test", students farming the free e-book) say nothing about a company.
UPDATE g_lead SET employees = NULL, industry = NULL, job_title = (ARRAY[NULL, 'test', 'Student', 'x'])[1 + floor(r_phone * 4)::integer],
       company = (ARRAY['-', 'none', 'test', 'asdf'])[1 + floor(r_email * 4)::integer]
WHERE junk;

UPDATE g_lead SET
    account_manager = CASE WHEN country = 'US' THEN (CASE WHEN r_rep < 0.5 THEN 'Alice Moreau' ELSE 'Bob Kessler' END)
                           WHEN country IN ('GB', 'DE', 'FR', 'NL') THEN 'Carol Jensen'
                           ELSE 'Dan Okafor' END,
    email = CASE
        WHEN junk THEN (ARRAY['test@test', 'asdf', NULL, 'none', lower(first_name) || '@'])[1 + floor(r_email * 5)::integer]
        WHEN r_email < 0.12 OR (employees < 20 AND r_email < 0.5)
            THEN lower(first_name || '.' || last_name) || (ARRAY['@gmail.com', '@yahoo.com', '@outlook.com'])[1 + floor(r_email * 100)::integer % 3]
        ELSE lower(first_name || '.' || last_name) || '@' || lower(replace(company, ' ', '')) || '.com' END,
    phone = CASE
        WHEN junk THEN (ARRAY[NULL, '123', '000-0000', 'n/a'])[1 + floor(r_phone * 4)::integer]
        WHEN r_phone < (SELECT no_phone FROM g_channel c WHERE c.channel = g_lead.channel) THEN NULL
        WHEN country IN ('US', 'CA') THEN
            (CASE WHEN r_phone < 0.6 THEN '(' || (200 + floor(random() * 700))::integer || ') 555-' || lpad(floor(random() * 10000)::integer::text, 4, '0')
                  ELSE '+1 ' || (200 + floor(random() * 700))::integer || ' 555 ' || lpad(floor(random() * 10000)::integer::text, 4, '0') END)
        ELSE '+' || (CASE country WHEN 'GB' THEN '44 20' WHEN 'DE' THEN '49 30' WHEN 'FR' THEN '33 1' WHEN 'NL' THEN '31 20'
                                  WHEN 'IN' THEN '91 22' WHEN 'BR' THEN '55 11' WHEN 'AU' THEN '61 2' ELSE '65 6' END)
             || ' ' || lpad(floor(random() * 100000000)::integer::text, 8, '0') END;

-- Hidden buying intent: channel and campaign, plus fit, plus noise.  Junk never buys.
UPDATE g_lead l SET intent = CASE WHEN l.junk THEN 0.01 ELSE
        least(0.97, greatest(0.01, c.intent + l.intent
            + CASE WHEN l.job_title ~ '(?i)(head|director|vp|chief|founder|owner)' THEN 0.08 ELSE 0 END
            + CASE WHEN l.employees >= 50 THEN 0.05 ELSE 0 END
            + CASE WHEN l.industry IN ('Software', 'Financial services', 'Healthcare', 'Retail') THEN 0.04 ELSE 0 END
            + 0.14 * l.g_intent)) END
FROM g_channel c WHERE c.channel = l.channel;

-- Who asks for a demo, and when (sooner for higher intent).  Later than now: not (yet).
UPDATE g_lead SET hot_at = signed_up_at + interval '1 hour' * (2 + 24 * 16 * (1.25 - intent) * -ln(1 - random()))
WHERE random() < least(0.9, 0.85 * intent ^ 2);
UPDATE g_lead SET hot_at = NULL WHERE hot_at >= (SELECT t_end FROM g_time);

-- ---------------------------------------------------------------------------------------------
-- What sales does with the demo requests.
-- ---------------------------------------------------------------------------------------------
CREATE TEMP TABLE g_sales AS
SELECT l.contact_id, l.account_manager AS rep, l.intent, l.employees, l.company, l.hot_at,
       -- the CRM shows the lead to sales when its slot is written; the clock starts there
       pg_temp.slot_end(pg_temp.slot_of(l.hot_at))
         + r.median_delay * exp(r.spread * pg_temp.gauss()) AS response_at,
       random() AS r_outcome, random() AS r_deal, random() AS r_win,
       interval '1 hour' * (2 + 70 * random()) AS think_time,
       interval '1 day' * (1 + 6 * random()) AS to_deal,
       interval '1 day' * (7 + 53 * random()) AS to_close,
       r.p_recycle, r.p_disqualify, r.p_win, r.deal_factor,
       pg_temp.any_of('{"no budget this quarter","not the decision maker","timing: revisit next quarter","just researching","under contract with a competitor"}') AS recycle_reason,
       pg_temp.any_of('{"student project","competitor","no such company","outside our markets"}') AS disqualify_reason,
       exp(ln(9000) + 0.5 * pg_temp.gauss()) AS base_amount
FROM g_lead l JOIN g_rep r ON r.rep = l.account_manager
WHERE l.hot_at IS NOT NULL;
ALTER TABLE g_sales ADD outcome text, ADD decided_at timestamptz, ADD opened_at timestamptz,
    ADD closed_at timestamptz, ADD won boolean, ADD amount numeric(12,2), ADD cost numeric(12,2);
UPDATE g_sales SET
    outcome = CASE WHEN r_outcome < p_disqualify THEN 'disqualified'
                   WHEN r_outcome < p_disqualify + p_recycle + 0.25 * (0.5 - intent) THEN 'recycled'
                   ELSE 'sql' END,
    decided_at = response_at + think_time;
UPDATE g_sales SET opened_at = decided_at + to_deal WHERE outcome = 'sql' AND r_deal < 0.85;
UPDATE g_sales SET closed_at = opened_at + to_close,
       won = r_win < p_win + 0.5 * (intent - 0.45),
       amount = round((base_amount * deal_factor * (1 + least(employees, 5000) / 1500.0))::numeric, -2)
WHERE opened_at IS NOT NULL;
UPDATE g_sales SET cost = round(amount * (0.15 + 0.2 * r_deal)::numeric, 2) WHERE amount IS NOT NULL;

-- ---------------------------------------------------------------------------------------------
-- The activities.
-- ---------------------------------------------------------------------------------------------
CREATE TEMP TABLE g_event (contact_id bigint, kind text, at timestamptz, utm_source text, utm_campaign text,
                           utm_term text, page_url text, done_by text);

-- The touch that brought the contact in, just before the sign-up, and the sign-up itself.
INSERT INTO g_event
SELECT contact_id, CASE channel WHEN 'paid_search' THEN 'ad_click' WHEN 'social_ads' THEN 'ad_click'
                                WHEN 'webinar' THEN 'webinar_registered' WHEN 'email' THEN 'email_click'
                                ELSE 'page_view' END,
       signed_up_at - interval '1 minute' * (1 + 10 * random()),
       channel, campaign, keyword,
       CASE channel WHEN 'organic' THEN pg_temp.any_of('{/blog/lead-scoring-101,/blog/mql-vs-sql,/docs/getting-started}')
                    WHEN 'referral' THEN '/partners' WHEN 'webinar' THEN NULL ELSE '/landing/' || coalesce(replace(keyword, ' ', '-'), campaign) END,
       NULL
FROM g_lead;
INSERT INTO g_event
SELECT contact_id, CASE channel WHEN 'organic' THEN 'content_download' ELSE 'form_submit' END, signed_up_at,
       NULL, NULL, NULL, NULL, NULL
FROM g_lead WHERE channel <> 'webinar';
-- Webinar registrants: about half attend, a few days later.
INSERT INTO g_event
SELECT contact_id, 'webinar_attended', signed_up_at + interval '1 day' * (1 + 9 * random()), 'webinar', campaign, NULL, NULL, NULL
FROM g_lead WHERE channel = 'webinar' AND random() < 0.45;

-- Before a demo request: pricing page views in the days before, often a touch right before
-- (searching the brand, clicking a newsletter), then the request.
INSERT INTO g_event
SELECT l.contact_id, 'page_view', greatest(l.signed_up_at, l.hot_at - interval '1 day' * 5 * random()), NULL, NULL, NULL, '/pricing', NULL
FROM g_lead l, LATERAL generate_series(1, 1 + floor(random() * 3)::integer) WHERE l.hot_at IS NOT NULL;
INSERT INTO g_event
SELECT contact_id, t.kind, hot_at - interval '1 minute' * (2 + 20 * random()), t.src, t.camp, t.term, t.page, NULL
FROM (SELECT l.*, random() AS r FROM g_lead l WHERE l.hot_at IS NOT NULL) l,
     LATERAL (SELECT * FROM (VALUES
         (0.00, 0.30, 'ad_click',    'paid_search', 'brand',                                      'northwind pricing', '/pricing'),
         (0.30, 0.50, 'email_click', 'email',       'newsletter-' || to_char(l.hot_at, 'YYYY-MM'), NULL,                '/demo'),
         (0.50, 0.62, 'page_view',   'organic',     'docs',                                       NULL,                '/docs/getting-started'),
         (0.62, 0.70, 'page_view',   'referral',    'customer-referral',                          NULL,                '/customers'),
         (0.70, 0.75, 'ad_click',    'social_ads',  'linkedin-retarget',                          NULL,                '/demo'))
         AS v(lo, hi, kind, src, camp, term, page)
         WHERE l.r >= v.lo AND l.r < v.hi) t;
INSERT INTO g_event
SELECT contact_id, 'demo_request', hot_at, NULL, NULL, NULL, '/demo', NULL FROM g_lead WHERE hot_at IS NOT NULL;

-- Sales' own activities: the first call, the meeting that decides, follow-up emails.
INSERT INTO g_event
SELECT contact_id, 'call', response_at, NULL, NULL, NULL, NULL, rep FROM g_sales;
INSERT INTO g_event
SELECT contact_id, 'meeting', decided_at - interval '1 hour', NULL, NULL, NULL, NULL, rep FROM g_sales WHERE outcome = 'sql';
INSERT INTO g_event
SELECT contact_id, 'sales_email', response_at + (coalesce(closed_at, decided_at + interval '10 days') - response_at) * random(),
       NULL, NULL, NULL, NULL, rep
FROM g_sales, LATERAL generate_series(1, 1 + floor(random() * 4)::integer);

-- Nothing after the current hour: that is the future.
DELETE FROM g_event WHERE at >= (SELECT t_end FROM g_time);


-- Nurture: the contact keeps reading, opening emails and clicking ads, most in the first weeks and
-- more when the intent is higher.  The number per contact is scaled so that the total lands near
-- :events (everything else is drawn by now).
CREATE TEMP TABLE g_volume AS
SELECT contact_id, signed_up_at, intent,
       least(120, extract(epoch FROM (SELECT t_end FROM g_time) - signed_up_at) / 86400) AS active_days,
       (0.2 + intent) * (0.5 + random()) AS rate
FROM g_lead WHERE NOT junk;
CREATE TEMP TABLE g_nurture AS
SELECT v.contact_id, v.intent,
       v.signed_up_at + interval '1 day' * v.active_days * random() ^ 1.6 AS at,
       random() AS r_kind, random() AS r_page
FROM g_volume v,
     LATERAL generate_series(1, round(v.rate * v.active_days *
         (SELECT (:events - (SELECT count(*) FROM g_event)) / sum(rate * active_days)
          FROM g_volume))::integer);
INSERT INTO g_event
SELECT contact_id, kind, at,
       CASE kind WHEN 'email_click' THEN 'email' WHEN 'ad_click' THEN (CASE WHEN r_page < 0.5 THEN 'social_ads' ELSE 'paid_search' END)
                 WHEN 'organic_visit' THEN 'organic' WHEN 'referral_visit' THEN 'referral'
                 WHEN 'webinar_attended' THEN 'webinar' END,
       CASE kind WHEN 'email_click' THEN 'newsletter-' || to_char(at, 'YYYY-MM')
                 WHEN 'ad_click' THEN (CASE WHEN r_page < 0.5 THEN 'linkedin-retarget' ELSE 'brand' END)
                 WHEN 'organic_visit' THEN 'blog' WHEN 'referral_visit' THEN 'customer-referral'
                 WHEN 'webinar_attended' THEN 'webinar-' || to_char(at, 'YYYY-MM') END,
       CASE WHEN kind = 'ad_click' AND r_page >= 0.5 THEN 'northwind crm' END,
       CASE kind WHEN 'pricing_view' THEN '/pricing'
                 WHEN 'page_view' THEN (ARRAY['/', '/features', '/integrations', '/customers', '/docs/api', '/blog/pipeline-reviews', '/about', '/security'])[1 + floor(r_page * 8)::integer]
                 WHEN 'organic_visit' THEN '/blog/' || (ARRAY['funnel-metrics', 'sla-for-sales', 'lead-scoring-101', 'attribution-models'])[1 + floor(r_page * 4)::integer]
                 WHEN 'referral_visit' THEN '/customers' END,
       NULL
FROM (SELECT n.*, CASE
          WHEN r_kind < 0.34 THEN 'page_view'
          WHEN r_kind < 0.36 + 0.08 * intent THEN 'pricing_view'
          WHEN r_kind < 0.62 THEN 'email_open'
          WHEN r_kind < 0.68 + 0.06 * intent THEN 'email_click'
          WHEN r_kind < 0.77 THEN 'ad_click'
          WHEN r_kind < 0.84 THEN 'organic_visit'
          WHEN r_kind < 0.87 + 0.04 * intent THEN 'content_download'
          WHEN r_kind < 0.91 THEN 'webinar_attended'
          WHEN r_kind < 0.92 THEN 'referral_visit'
          WHEN r_kind < 0.93 - 0.01 * intent THEN 'email_unsubscribe'
          ELSE 'page_view' END AS kind
      FROM g_nurture n) n
WHERE n.at < (SELECT t_end FROM g_time);
-- Planning names of page views become the CRM's kind.
UPDATE g_event SET kind = 'page_view' WHERE kind IN ('pricing_view', 'organic_visit', 'referral_visit');

-- ---------------------------------------------------------------------------------------------
-- The marketing spend (exported from the ad platforms into crm.ad_spend).
-- ---------------------------------------------------------------------------------------------
INSERT INTO crm.ad_spend (spend_day, source, campaign, term, spend)
SELECT d::date, c.channel, replace(c.campaign, '%', to_char(d, 'YYYY-MM')), c.keyword,
       round(c.daily_cost * (CASE WHEN extract(isodow FROM d) > 5 THEN 0.6 ELSE 1.1 END) * (0.75 + 0.5 * random())::numeric, 2)
FROM generate_series((SELECT t_start FROM g_time)::date, (SELECT t_end FROM g_time)::date, interval '1 day') AS d,
     g_campaign c
UNION ALL
SELECT d::date, 'email', 'newsletter-' || to_char(d, 'YYYY-MM'), NULL, round((35 + 10 * random())::numeric, 2)
FROM generate_series((SELECT t_start FROM g_time)::date, (SELECT t_end FROM g_time)::date, interval '1 day') AS d;

-- ---------------------------------------------------------------------------------------------
-- The replay plan: every write, in its slot.
-- ---------------------------------------------------------------------------------------------
CREATE TEMP TABLE a_contact AS
SELECT pg_temp.slot_of(signed_up_at) AS slot, contact_id, first_name, last_name, email, phone, job_title, company,
       employees, industry, country, account_manager, signed_up_at
FROM g_lead;
-- An activity is written in its own slot, never before its contact exists.
CREATE TEMP TABLE a_event AS
SELECT greatest(pg_temp.slot_of(e.at), c.slot) AS slot, e.*
FROM g_event e JOIN a_contact c USING (contact_id);
-- Sales' stage changes: qualify, recycle (with the reason), disqualify.
CREATE TEMP TABLE a_stage AS
SELECT pg_temp.slot_of(decided_at) AS slot, contact_id, rep AS actor, outcome AS to_stage,
       CASE outcome WHEN 'recycled' THEN recycle_reason WHEN 'disqualified' THEN disqualify_reason END AS reason
FROM g_sales WHERE decided_at < (SELECT t_end FROM g_time);
CREATE TEMP TABLE a_deal_open AS
SELECT pg_temp.slot_of(opened_at) AS slot, contact_id, company || ' - ' ||
           CASE WHEN employees >= 500 THEN 'Enterprise' WHEN employees >= 50 THEN 'Growth' ELSE 'Starter' END || ' plan' AS title,
       amount, cost, opened_at, rep
FROM g_sales WHERE opened_at < (SELECT t_end FROM g_time);
CREATE TEMP TABLE a_deal_close AS
SELECT pg_temp.slot_of(closed_at) AS slot, contact_id, CASE WHEN won THEN 'Closed Won' ELSE 'Closed Lost' END AS status,
       closed_at
FROM g_sales WHERE closed_at < (SELECT t_end FROM g_time);
-- When each manager works through the leads in their queue that nobody planned a call for (leads
-- the scores handed over without a demo request): Alice every two hours in office hours, Carol
-- twice a day, Dan every morning, Bob every other afternoon.
CREATE TEMP TABLE a_review AS
SELECT s.slot, r.rep
FROM generate_series(0, (SELECT pg_temp.slot_of(t_end) - 1 FROM g_time)) AS s(slot),
     LATERAL (SELECT extract(hour FROM pg_temp.slot_end(s.slot)) AS h, extract(doy FROM pg_temp.slot_end(s.slot)) AS d) t,
     LATERAL (VALUES ('Alice Moreau', t.h IN (9, 11, 13, 15, 17)),
                     ('Carol Jensen', t.h IN (10, 15)),
                     ('Dan Okafor',   t.h = 10),
                     ('Bob Kessler',  t.h = 16 AND t.d::integer % 2 = 0)) AS r(rep, works)
WHERE r.works AND (SELECT slot FROM g_time) = interval '1 hour';

CREATE INDEX ON a_contact (slot);
CREATE INDEX ON a_event (slot);
CREATE INDEX ON a_stage (slot);
CREATE INDEX ON a_deal_open (slot);
CREATE INDEX ON a_deal_close (slot);
CREATE INDEX ON a_review (slot);
CREATE INDEX ON g_sales (contact_id);
ANALYZE a_contact, a_event, a_stage, a_deal_open, a_deal_close, a_review, g_sales;

CREATE TEMP TABLE a_slot AS
SELECT slot, bool_or(k = 'c') AS contacts, bool_or(k = 'e') AS events, bool_or(k = 'd') AS demos,
       bool_or(k = 's') AS stages, bool_or(k = 'o') AS opens, bool_or(k = 'x') AS closes, bool_or(k = 'r') AS reviews
FROM (SELECT slot, 'c' AS k FROM a_contact UNION ALL SELECT slot, 'e' FROM a_event
      UNION ALL SELECT slot, 'd' FROM a_event WHERE kind = 'demo_request'
      UNION ALL SELECT slot, 's' FROM a_stage UNION ALL SELECT slot, 'o' FROM a_deal_open
      UNION ALL SELECT slot, 'x' FROM a_deal_close UNION ALL SELECT slot, 'r' FROM a_review) x
GROUP BY slot;

-- ---------------------------------------------------------------------------------------------
-- The replay.  With lead_scoring attached, lead_scoring.now (when the engine offers it) is set to
-- each slot's end so that scores, promotions and the stage_change log carry simulated time.
-- ---------------------------------------------------------------------------------------------
\if :lead_scoring
LOAD 'lead_scoring';
\endif
CREATE TEMP TABLE a_reviewed (contact_id bigint);
DO $replay$
DECLARE
    s      record;
    grp    record;
    ts     timestamptz;
    use_clock boolean := EXISTS (SELECT FROM pg_settings WHERE name = 'lead_scoring.now');
BEGIN
    FOR s IN SELECT * FROM a_slot ORDER BY slot LOOP
        ts := pg_temp.slot_end(s.slot);
        IF use_clock THEN
            PERFORM set_config('lead_scoring.now', ts::text, true);
        END IF;

        IF s.contacts THEN
            INSERT INTO crm.contacts (contact_id, first_name, last_name, email, phone, job_title, company, employees,
                                      industry, country, account_manager, signed_up_at)
            SELECT contact_id, first_name, last_name, email, phone, job_title, company, employees,
                   industry, country, account_manager, signed_up_at
            FROM a_contact WHERE slot = s.slot ORDER BY signed_up_at, contact_id;
        END IF;

        IF s.events THEN
            INSERT INTO crm.activities (contact_ref, kind, happened_at, utm_source, utm_campaign, utm_term, page_url, done_by)
            SELECT contact_id, kind, at, utm_source, utm_campaign, utm_term, page_url, done_by
            FROM a_event WHERE slot = s.slot ORDER BY at, contact_id;
        END IF;

        -- The demo-request form hands the contact to its account manager at once, whatever the score
        -- (a raised hand beats any threshold); contacts the score already handed over stay where they are.
        IF s.demos THEN
            PERFORM set_config('lead_scoring.actor', 'demo request form', true);
            PERFORM set_config('lead_scoring.reason', 'demo request', true);
            UPDATE crm.contacts SET lifecycle = 'sal'
             WHERE contact_id IN (SELECT contact_id FROM a_event WHERE slot = s.slot AND kind = 'demo_request')
               AND lifecycle::text IN ('new', 'iql', 'mql', 'recycled');
            PERFORM set_config('lead_scoring.actor', '', true);
            PERFORM set_config('lead_scoring.reason', '', true);
        END IF;

        -- Sales decisions, one statement per manager and reason so that the log records both.
        -- A decision applies only where the lead's stage allows it (it may have moved on).
        IF s.stages THEN
            FOR grp IN SELECT DISTINCT actor, to_stage, reason FROM a_stage WHERE slot = s.slot LOOP
                PERFORM set_config('lead_scoring.actor', grp.actor, true);
                PERFORM set_config('lead_scoring.reason', coalesce(grp.reason, ''), true);
                EXECUTE format(
                    'UPDATE crm.contacts SET lifecycle = %L
                      WHERE contact_id IN (SELECT contact_id FROM a_stage
                                            WHERE slot = $1 AND actor = $2 AND to_stage = $3
                                              AND reason IS NOT DISTINCT FROM $4)
                        AND lifecycle::text = ANY ($5)',
                    grp.to_stage)
                USING s.slot, grp.actor, grp.to_stage, grp.reason,
                      CASE grp.to_stage WHEN 'sql' THEN ARRAY['new', 'iql', 'mql', 'sal', 'recycled']
                                        WHEN 'recycled' THEN ARRAY['sal', 'sql']
                                        ELSE ARRAY['new', 'iql', 'mql', 'sal', 'sql', 'recycled'] END;
            END LOOP;
            PERFORM set_config('lead_scoring.actor', '', true);
            PERFORM set_config('lead_scoring.reason', '', true);
        END IF;

        IF s.opens THEN
            INSERT INTO crm.opportunities (contact_ref, title, deal_value, cost_of_sale, deal_stage, opened_at, sales_rep)
            SELECT contact_id, title, amount, cost, 'Open', opened_at, rep
            FROM a_deal_open WHERE slot = s.slot ORDER BY opened_at, contact_id;
        END IF;

        IF s.closes THEN
            UPDATE crm.opportunities o SET deal_stage = x.status, closed_on = x.closed_at
            FROM a_deal_close x
            WHERE x.slot = s.slot AND o.contact_ref = x.contact_id AND o.deal_stage = 'Open';
        END IF;

        -- Queue review: a manager calls the leads waiting in their queue that no plan covers (no demo
        -- request being worked on: the scores handed them over), and sends them back to marketing.  This reads the stage lead_scoring maintains.
        IF s.reviews THEN
            FOR grp IN SELECT rep FROM a_review WHERE slot = s.slot LOOP
                TRUNCATE a_reviewed;
                INSERT INTO a_reviewed
                SELECT c.contact_id FROM crm.contacts c
                WHERE c.account_manager = grp.rep AND c.lifecycle::text = 'sal'
                  AND NOT EXISTS (SELECT FROM g_sales p WHERE p.contact_id = c.contact_id
                                  AND p.hot_at <= ts AND p.response_at > ts - interval '14 days')
                  AND NOT EXISTS (SELECT FROM crm.activities a WHERE a.contact_ref = c.contact_id
                                  AND a.kind = 'call' AND a.happened_at > ts - interval '14 days');
                CONTINUE WHEN NOT FOUND;
                INSERT INTO crm.activities (contact_ref, kind, happened_at, done_by)
                SELECT contact_id, 'call', ts - interval '1 minute' * (1 + 50 * random()), grp.rep
                FROM a_reviewed ORDER BY contact_id;
                PERFORM set_config('lead_scoring.actor', grp.rep, true);
                PERFORM set_config('lead_scoring.reason', 'queue review: not sales-ready', true);
                UPDATE crm.contacts SET lifecycle = 'recycled'
                WHERE contact_id IN (SELECT contact_id FROM a_reviewed) AND lifecycle::text = 'sal';
                PERFORM set_config('lead_scoring.actor', '', true);
                PERFORM set_config('lead_scoring.reason', '', true);
            END LOOP;
        END IF;
    END LOOP;
END
$replay$;

-- ---------------------------------------------------------------------------------------------
-- lead_scoring only: load the spend, and bring every score's decay up to now (the nightly job).
-- ---------------------------------------------------------------------------------------------
\if :lead_scoring
INSERT INTO lead_scoring.marketing_cost (spend_date, channel, campaign, keyword, amount)
SELECT spend_day, source, campaign, term, spend FROM crm.ad_spend;
SELECT lead_scoring.refresh_scores() \g /dev/null
\endif

ANALYZE crm.contacts, crm.activities, crm.opportunities, crm.ad_spend;
RESET client_min_messages;
