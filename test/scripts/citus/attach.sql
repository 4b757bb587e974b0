-- Attach the CRM tables and configure lead_scoring (test/scripts/citus.sh).
SET client_min_messages = warning;
-- row filters every row passes: evaluated on the shards' rows, whose columns are numbered differently
-- (schema.sql)
SELECT lead_scoring.attach_leads('crm.leads', owner_column => 'owner', created_column => 'created_at',
                                 row_filter => 'company_size IS NOT NULL OR email IS NOT NULL');
SELECT lead_scoring.attach_events('crm.events', channel_column => 'channel', campaign_column => 'campaign');
SELECT lead_scoring.attach_deals('crm.deals', owner_column => 'owner', cost_column => 'cost',
                                 row_filter => 'amount > 0');
INSERT INTO lead_scoring.rule (name, kind, event_type, column_name, op, value, points, max_points, max_hits, half_life) VALUES
  ('valid email',  'fit',        NULL,           'email',        'valid_email', NULL,       10, NULL, NULL, NULL),
  ('no phone',     'fit',        NULL,           'phone',        'is_null',     NULL,      -10, NULL, NULL, NULL),
  ('mid-size',     'fit',        NULL,           'company_size', '>=',          '50',       20, NULL, NULL, NULL),
  ('pricing page', 'engagement', 'page_view',    'url',          'contains',    '/pricing', 15,   30, NULL, '14 days'),
  ('webinar',      'engagement', 'webinar',      NULL,           NULL,          NULL,       20, NULL,    1, NULL),
  ('demo request', 'engagement', 'demo_request', NULL,           NULL,          NULL,       40, NULL,    1, NULL);
INSERT INTO lead_scoring.threshold VALUES ('mql', 40), ('sal', 70);
INSERT INTO lead_scoring.event_type VALUES ('call', 'sales');
INSERT INTO lead_scoring.transition_override VALUES ('customer', 'recycled', true);
UPDATE lead_scoring.settings SET sla = '2 hours', disqualify_below = -50;
INSERT INTO lead_scoring.marketing_cost (spend_date, channel, campaign, amount) VALUES
  ('2026-01-01', 'paid_search', 'brand', 100), ('2026-01-01', 'email', 'nov-webinar', 40);
