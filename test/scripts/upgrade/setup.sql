-- A CRM that uses lead_scoring: attached tables, configuration, and grants to an application role and
-- an analyst role.  Run in both databases of test/scripts/upgrade.sh (the upgraded one and the fresh one).
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SELECT 'CREATE ROLE ls_upgrade_app LOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ls_upgrade_app') \gexec
SELECT 'CREATE ROLE ls_upgrade_analyst LOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ls_upgrade_analyst') \gexec

CREATE SCHEMA crm;
CREATE TABLE crm.leads (id bigint PRIMARY KEY, email text, phone text, company_size int, owner text,
                        created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE crm.events (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, lead_id bigint NOT NULL,
                         event_type text NOT NULL, occurred_at timestamptz NOT NULL DEFAULT now(),
                         channel text, campaign text, url text);
CREATE TABLE crm.deals (id bigint PRIMARY KEY, lead_id bigint NOT NULL, amount numeric NOT NULL,
                        status text NOT NULL DEFAULT 'open', closed_at timestamptz, owner text, cost numeric);

SELECT lead_scoring.attach_leads('crm.leads', owner_column => 'owner', created_column => 'created_at');
SELECT lead_scoring.attach_events('crm.events', channel_column => 'channel', campaign_column => 'campaign');
SELECT lead_scoring.attach_deals('crm.deals', owner_column => 'owner', cost_column => 'cost');

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

-- the application writes the CRM tables; the analyst reads the reports
GRANT USAGE ON SCHEMA crm TO ls_upgrade_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA crm TO ls_upgrade_app;
GRANT USAGE ON SCHEMA lead_scoring TO ls_upgrade_app, ls_upgrade_analyst;
GRANT SELECT ON lead_scoring.funnel, lead_scoring.sales_queue, lead_scoring.handoffs TO ls_upgrade_analyst;
GRANT SELECT ON lead_scoring.leads, lead_scoring.events, lead_scoring.deals TO ls_upgrade_analyst;
GRANT SELECT ON lead_scoring.stage_change TO ls_upgrade_analyst;
