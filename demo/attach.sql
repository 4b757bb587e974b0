-- demo/attach.sql — what the DBA and marketing ops do once: install lead_scoring, attach it to the
-- CRM's own tables (mapping the CRM's column names), and configure scoring as a marketing team would.
-- This is the only file of the demo, with the marked sections of generate.sql and report.sql, that
-- talks to the extension.

CREATE EXTENSION lead_scoring;

-- ---------------------------------------------------------------------------------------------
-- 1. Attach: one call per table, naming the CRM's columns.
-- ---------------------------------------------------------------------------------------------
-- contacts gets two new columns, lifecycle (funnel_stage) and lead_score (integer).
-- (\o hides the calls' empty results.)
\o /dev/null
SELECT lead_scoring.attach_leads('crm.contacts',
           id_column      => 'contact_id',
           stage_column   => 'lifecycle',
           score_column   => 'lead_score',
           owner_column   => 'account_manager',
           created_column => 'signed_up_at');

SELECT lead_scoring.attach_events('crm.activities',
           lead_column     => 'contact_ref',
           type_column     => 'kind',
           time_column     => 'happened_at',
           channel_column  => 'utm_source',
           campaign_column => 'utm_campaign',
           keyword_column  => 'utm_term');

SELECT lead_scoring.attach_deals('crm.opportunities',
           id_column     => 'opportunity_id',
           lead_column   => 'contact_ref',
           amount_column => 'deal_value',
           status_column => 'deal_stage',
           closed_column => 'closed_on',
           owner_column  => 'sales_rep',
           cost_column   => 'cost_of_sale');
\o

-- ---------------------------------------------------------------------------------------------
-- 2. Which activities are sales' work (they stop the SLA clock); the rest count as marketing.
-- ---------------------------------------------------------------------------------------------
INSERT INTO lead_scoring.event_type (name, owner) VALUES
    ('call',               'sales'),
    ('sales_email',        'sales'),
    ('meeting',            'sales'),
    ('ad_click',           'marketing'),
    ('page_view',          'marketing'),
    ('email_open',         'marketing'),
    ('email_click',        'marketing'),
    ('email_unsubscribe',  'marketing'),
    ('webinar_registered', 'marketing'),
    ('webinar_attended',   'marketing'),
    ('content_download',   'marketing'),
    ('form_submit',        'marketing'),
    ('demo_request',       'marketing');

-- ---------------------------------------------------------------------------------------------
-- 3. Scoring rules, as marketing ops would write them.
--    fit: who the contact is; engagement: what they did, decaying, capped.
-- ---------------------------------------------------------------------------------------------
INSERT INTO lead_scoring.rule (name, kind, event_type, column_name, op, value, points, max_points, max_hits, half_life) VALUES
    -- fit
    ('Company with 50+ employees', 'fit', NULL, 'employees', '>=',      '50',                              10, NULL, NULL, NULL),
    ('Company with 500+ employees','fit', NULL, 'employees', '>=',      '500',                              5, NULL, NULL, NULL),
    ('Target industry',            'fit', NULL, 'industry',  'in',      'Software,Financial services,Healthcare,Retail', 10, NULL, NULL, NULL),
    ('Decision maker',             'fit', NULL, 'job_title', 'regex',   '(?i)(head|director|vp|chief|founder|owner)', 15, NULL, NULL, NULL),
    ('Target market',              'fit', NULL, 'country',   'in',      'US,GB,DE,FR,NL,CA',                5, NULL, NULL, NULL),
    ('Free-mail address',          'fit', NULL, 'email',     'regex',   '@(gmail|yahoo|hotmail|outlook)\.', -5, NULL, NULL, NULL),
    ('Invalid email',              'fit', NULL, 'email',     'invalid_email', NULL,                       -30, NULL, NULL, NULL),
    ('Missing phone',              'fit', NULL, 'phone',     'is_null', NULL,                             -10, NULL, NULL, NULL),
    ('Invalid phone',              'fit', NULL, 'phone',     'invalid_phone', NULL,                       -10, NULL, NULL, NULL),
    -- engagement
    ('Demo request',               'engagement', 'demo_request',      NULL, NULL, NULL,                    50, NULL,    1, '60 days'),
    ('Pricing page view',          'engagement', 'page_view',         'page_url', 'prefix', '/pricing',    10,   20, NULL, '14 days'),
    ('Webinar attended',           'engagement', 'webinar_attended',  NULL, NULL, NULL,                     8, NULL,    2, '60 days'),
    ('Content download',           'engagement', 'content_download',  NULL, NULL, NULL,                     5,   15, NULL, '45 days'),
    ('Email click',                'engagement', 'email_click',       NULL, NULL, NULL,                     3,    9, NULL, '30 days'),
    ('Email open',                 'engagement', 'email_open',        NULL, NULL, NULL,                     1,    3, NULL, '14 days'),
    ('Site visit',                 'engagement', 'page_view',         NULL, NULL, NULL,                     1,    5, NULL, '7 days'),
    ('Unsubscribed',               'engagement', 'email_unsubscribe', NULL, NULL, NULL,                   -20, NULL,    1, NULL);

-- Thresholds: 15 points = information-qualified, 45 = marketing-qualified, 70 = hand to sales
-- (a demo request from a contact who fits, or a very engaged one who fits very well).
INSERT INTO lead_scoring.threshold (stage, min_score) VALUES
    ('iql', 15),
    ('mql', 45),
    ('sal', 70);

-- Settings: sales must respond within 4 hours; contacts that are junk from the start (fake email,
-- no phone) never reach sales; scores stay within -50..150; phones without a country code are US.
-- Grades (lead_scoring.grade): the fit rules above give at most 45 points, so fit A is 30 or more
-- (a decision maker at a mid-sized target company), B 15, C 0, D below; engagement 1 is 50 or
-- more (a recent demo request), 2 is 25, 3 is 10, 4 below.
UPDATE lead_scoring.settings
   SET sla                    = '4 hours',
       disqualify_below       = -25,
       score_floor            = -50,
       score_ceiling          = 150,
       default_phone_country  = 'US',
       fit_grade_bands        = '{30,15,0}',
       engagement_grade_bands = '{50,25,10}';
