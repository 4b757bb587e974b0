-- Odoo's opportunity is the lead row itself: crm_lead attached as its own deals table (documented calls
-- only), each opportunity the deal of its own lead, with Odoo's own won_status: won when active with
-- probability 100 (action_set_won, the Won stage), lost when archived with probability 0
-- (action_set_lost, a lost reason), pending otherwise.  The revenue, won and lost numbers are Odoo's
-- pipeline analysis, by hand.  doc/odoo.md, doc/crm_schemas.md "Opportunities on the lead row".
CREATE EXTENSION lead_scoring;
\set SHOW_CONTEXT never
SET client_min_messages = warning;
CREATE SCHEMA odoo;
CREATE TABLE odoo.res_users (id serial PRIMARY KEY, login varchar NOT NULL UNIQUE);
CREATE TABLE odoo.utm_source (id serial PRIMARY KEY, name varchar NOT NULL);
CREATE TABLE odoo.crm_stage (id serial PRIMARY KEY, name jsonb NOT NULL, sequence integer, is_won boolean);
CREATE TABLE odoo.crm_lost_reason (id serial PRIMARY KEY, name jsonb NOT NULL, active boolean DEFAULT true);
CREATE TABLE odoo.crm_lead (
    id serial PRIMARY KEY, name varchar NOT NULL, user_id integer REFERENCES odoo.res_users ON DELETE SET NULL,
    active boolean DEFAULT true, type varchar NOT NULL, stage_id integer REFERENCES odoo.crm_stage,
    expected_revenue numeric, probability double precision, date_closed timestamp,
    lost_reason_id integer REFERENCES odoo.crm_lost_reason ON DELETE SET NULL,
    source_id integer REFERENCES odoo.utm_source ON DELETE SET NULL, create_date timestamp);
INSERT INTO odoo.res_users (login) VALUES ('admin'), ('demo');
INSERT INTO odoo.utm_source (name) VALUES ('Search engine'), ('Newsletter');
INSERT INTO odoo.crm_stage (name, sequence, is_won) VALUES ('{"en_US": "New"}', 1, false),
    ('{"en_US": "Qualified"}', 2, false), ('{"en_US": "Proposition"}', 3, false), ('{"en_US": "Won"}', 70, true);
INSERT INTO odoo.crm_lost_reason (name) VALUES ('{"en_US": "Too expensive"}');

SELECT lead_scoring.attach_leads('odoo.crm_lead', owner_column => 'user_id', owner_label => 'login',
                                 created_column => 'create_date', time_zone => 'UTC', row_filter => 'active',
                                 crm_stage_column => 'stage_id',
                                 crm_stage_map => '{"2": "sql", "3": "opportunity", "4": "customer"}',
                                 channel_column => 'source_id', labels => '{"source_id": "name"}');
-- refused: a lead column other than the id (each row is the deal of its own lead); no way to tell won from lost
SELECT lead_scoring.attach_deals('odoo.crm_lead', lead_column => 'user_id', amount_column => 'expected_revenue',
                                 status_column => NULL, won_filter => 'probability = 100');
SELECT lead_scoring.attach_deals('odoo.crm_lead', lead_column => 'id', amount_column => 'expected_revenue',
                                 status_column => NULL, owner_column => 'user_id', owner_label => 'login',
                                 time_zone => 'UTC');
SELECT lead_scoring.attach_deals('odoo.crm_lead', lead_column => 'id', amount_column => 'expected_revenue',
                                 status_column => NULL, closed_column => 'date_closed',
                                 won_filter => 'active AND probability = 100',
                                 lost_filter => 'NOT active AND probability = 0',
                                 row_filter => $$type = 'opportunity'$$,
                                 owner_column => 'user_id', owner_label => 'login', time_zone => 'UTC');
SELECT kind, amount_column, won_filter, lost_filter, deal_filter FROM lead_scoring.attachment;

SET lead_scoring.now = '2026-03-02 09:00:00+00';
-- the ORM creates a lead and four opportunities
INSERT INTO odoo.crm_lead (name, user_id, type, stage_id, expected_revenue, probability, source_id, create_date) VALUES
    ('Website visitor', 1, 'lead', 1, 0, 10, 2, '2026-03-02 08:00'),
    ('Chairs', 1, 'opportunity', 2, 1000, 20, 1, '2026-03-02 08:00'),
    ('Desks', 2, 'opportunity', 2, 2000, 20, 2, '2026-03-02 08:00'),
    ('Lamps', 2, 'opportunity', 3, 3000, 60, NULL, '2026-03-02 08:00'),
    ('Sofas', 1, 'opportunity', 3, 500, 60, 1, '2026-03-02 08:00')
RETURNING id, name, stage;
-- action_set_won on Chairs (the Won stage, probability 100, date_closed); action_set_lost on Desks
-- (archived, probability 0, a lost reason); Sofas won in April; Lamps stays in the pipeline
SET lead_scoring.now = '2026-03-03 10:00:00+00';
UPDATE odoo.crm_lead SET stage_id = 4, probability = 100, date_closed = '2026-03-03 10:00' WHERE name = 'Chairs';
UPDATE odoo.crm_lead SET active = false, probability = 0, lost_reason_id = 1, date_closed = '2026-03-03 11:00'
 WHERE name = 'Desks';
SET lead_scoring.now = '2026-04-02 10:00:00+00';
UPDATE odoo.crm_lead SET stage_id = 4, probability = 100, date_closed = '2026-04-02 10:00' WHERE name = 'Sofas';
RESET lead_scoring.now;

-- Odoo's won_status, by hand: March won 1,000 (Chairs, admin), lost 1 (Desks, demo); April won 500
SELECT name, CASE WHEN active AND probability = 100 THEN 'won' WHEN NOT active AND probability = 0 THEN 'lost'
                  ELSE 'pending' END AS won_status, expected_revenue, date_closed
  FROM odoo.crm_lead WHERE type = 'opportunity' ORDER BY id;
SELECT deal_ref, lead_id, amount, status, outcome, closed_at AT TIME ZONE 'UTC' AS closed_utc, owner
  FROM lead_scoring.deals ORDER BY deal_ref;
SELECT owner, deals_won, win_rate, revenue FROM lead_scoring.manager_report('2026-03-01', '2026-04-01');
SELECT owner, deals_won, win_rate, revenue FROM lead_scoring.manager_report('2026-04-01', '2026-05-01');
-- the won opportunity credits its own source; the funnel followed the kanban (Won: customer)
SELECT channel, revenue FROM lead_scoring.channel_report('first_touch', '2026-03-01', '2026-03-31') ORDER BY channel;
SELECT name, stage FROM odoo.crm_lead ORDER BY id;

-- won_filter and lost_filter on another deals table (without a status column): a deal moves its lead
-- when written, and when written before its lead, as the filters say
CREATE TABLE odoo.sale_order (id serial PRIMARY KEY, opportunity_id integer, amount_total numeric,
                              state varchar, date_order timestamp);
SELECT lead_scoring.attach_deals('odoo.sale_order', lead_column => 'opportunity_id', amount_column => 'amount_total',
                                 status_column => NULL, closed_column => 'date_order', time_zone => 'UTC',
                                 won_filter => $$state = 'sale'$$, lost_filter => $$state = 'cancel'$$);
SET lead_scoring.now = '2026-04-03 10:00:00+00';
INSERT INTO odoo.sale_order (opportunity_id, amount_total, state, date_order) VALUES
    (4, 3000, 'draft', '2026-04-03 10:00'), (7, 10, 'cancel', '2026-04-03 10:00');
SELECT name, stage FROM odoo.crm_lead WHERE id = 4;
UPDATE odoo.sale_order SET state = 'sale' WHERE opportunity_id = 4;
INSERT INTO odoo.crm_lead (id, name, type, expected_revenue, probability, create_date) VALUES
    (7, 'Imported', 'lead', 0, 10, '2026-04-03 10:00');
SELECT id, name, stage FROM odoo.crm_lead WHERE id IN (4, 7) ORDER BY id;
SELECT source::text, deal_ref, status, outcome FROM lead_scoring.deals WHERE source = 'odoo.sale_order'::regclass
 ORDER BY deal_ref;
RESET lead_scoring.now;
SELECT lead_scoring.detach('odoo.sale_order');

-- an upgrade renames columns that won_filter, lost_filter and the opportunities' filter read: followed,
-- and the generated views can be built again
ALTER TABLE odoo.crm_lead RENAME COLUMN probability TO probability_pct;
ALTER TABLE odoo.crm_lead RENAME COLUMN type TO lead_type;
SELECT won_filter, lost_filter, deal_filter FROM lead_scoring.attachment WHERE kind = 'leads';
UPDATE odoo.crm_lead SET stage_id = 4, probability_pct = 100, date_closed = '2026-04-04 10:00' WHERE name = 'Lamps';
SELECT lead_scoring.rebuild_views();
SELECT deal_ref, amount, outcome FROM lead_scoring.deals WHERE source = 'odoo.crm_lead'::regclass ORDER BY deal_ref;

-- the table is still attached once: detaching the leads table takes both
SELECT lead_scoring.detach('odoo.crm_lead');
SELECT count(*) AS attachments FROM lead_scoring.attachment;
DROP SCHEMA odoo CASCADE;
DROP TABLE lead_scoring.stage_change;
DROP EXTENSION lead_scoring;
