-- The columns won_filter, lost_filter and the opportunities' row filter (deal_filter) read, under the
-- CRM's own migrations: a column replaced under its old name (Twenty's enum migration: rename away, new
-- column, copy, drop the old one) is followed as the row filter's is, and a drop of a column they read is
-- refused with our message (2BP01, naming the attachment and the way out).
-- doc/crm_schemas.md, "The CRM's migrations".
CREATE EXTENSION lead_scoring;
\set SHOW_CONTEXT never
CREATE ROLE ls_filter_app LOGIN;
CREATE SCHEMA crm AUTHORIZATION ls_filter_app;
SET ROLE ls_filter_app;
CREATE TYPE crm.lead_kind AS ENUM ('lead', 'opportunity');
CREATE TYPE crm.order_state AS ENUM ('draft', 'sale', 'cancel');
CREATE TABLE crm.lead (id serial PRIMARY KEY, name text, active boolean DEFAULT true, kind crm.lead_kind NOT NULL,
                       probability integer, revenue numeric, date_closed timestamptz, note text);
CREATE TABLE crm.sale_order (id serial PRIMARY KEY, lead_id integer, amount numeric, state crm.order_state,
                             ordered timestamptz);
RESET ROLE;
SELECT lead_scoring.attach_leads('crm.lead', row_filter => 'active');
SELECT lead_scoring.attach_deals('crm.lead', lead_column => 'id', amount_column => 'revenue', status_column => NULL,
                                 closed_column => 'date_closed', won_filter => 'active AND probability = 100',
                                 lost_filter => 'NOT active AND probability = 0',
                                 row_filter => $$kind = 'opportunity'$$);
SELECT lead_scoring.attach_deals('crm.sale_order', lead_column => 'lead_id', amount_column => 'amount',
                                 status_column => NULL, closed_column => 'ordered',
                                 won_filter => $$state = 'sale'$$, lost_filter => $$state = 'cancel'$$);
SET ROLE ls_filter_app;
INSERT INTO crm.lead (name, kind, probability, revenue, date_closed) VALUES
    ('Chairs', 'opportunity', 100, 1000, '2026-03-03 10:00+00'), ('Desks', 'opportunity', 20, 2000, NULL),
    ('Visitor', 'lead', 10, 0, NULL);
INSERT INTO crm.sale_order (lead_id, amount, state, ordered) VALUES
    (2, 300, 'sale', '2026-03-04 10:00+00'), (3, 40, 'cancel', '2026-03-04 10:00+00');
RESET ROLE;
SELECT source::text, deal_ref, amount, outcome FROM lead_scoring.deals ORDER BY source::text, deal_ref;

-- a drop of a column only the filters read: refused by our message, naming the filter and the way out
SET ROLE ls_filter_app;
ALTER TABLE crm.lead DROP COLUMN probability;
ALTER TABLE crm.lead DROP COLUMN kind CASCADE;
ALTER TABLE crm.sale_order DROP COLUMN state;
-- columns nothing reads still go
ALTER TABLE crm.lead DROP COLUMN note;
-- a new type the filters no longer apply to: refused when the statement ends, naming the filter; a type
-- they still read is followed
ALTER TABLE crm.lead ALTER COLUMN probability TYPE text;
ALTER TABLE crm.lead ALTER COLUMN probability TYPE bigint;

-- the enum migration on the column of the opportunities' row filter (the leads table's deals part) and of
-- a deals table's won_filter and lost_filter: each followed, the generated views let the old column go
BEGIN;
ALTER TABLE crm.lead RENAME COLUMN kind TO kind_old;
ALTER TYPE crm.lead_kind RENAME TO lead_kind_old;
CREATE TYPE crm.lead_kind AS ENUM ('lead', 'opportunity', 'partner');
ALTER TABLE crm.lead ADD COLUMN kind crm.lead_kind;
UPDATE crm.lead SET kind = kind_old::text::crm.lead_kind;
ALTER TABLE crm.lead DROP COLUMN kind_old;
ALTER TABLE crm.lead ALTER COLUMN kind SET NOT NULL;
DROP TYPE crm.lead_kind_old;
ALTER TABLE crm.sale_order RENAME COLUMN state TO state_old;
ALTER TYPE crm.order_state RENAME TO order_state_old;
CREATE TYPE crm.order_state AS ENUM ('draft', 'sent', 'sale', 'cancel');
ALTER TABLE crm.sale_order ADD COLUMN state crm.order_state;
UPDATE crm.sale_order SET state = state_old::text::crm.order_state;
ALTER TABLE crm.sale_order DROP COLUMN state_old;
DROP TYPE crm.order_state_old;
COMMIT;
-- the application writes with the new enums: a sent quotation is open, a new opportunity is a deal
INSERT INTO crm.sale_order (lead_id, amount, state, ordered) VALUES (1, 50, 'sent', '2026-03-05 10:00+00');
INSERT INTO crm.lead (name, kind, probability, revenue, date_closed) VALUES
    ('Lamps', 'opportunity', 100, 700, '2026-03-06 10:00+00');
UPDATE crm.lead SET kind = 'opportunity', probability = 100, revenue = 90, date_closed = '2026-03-07 10:00+00'
 WHERE name = 'Visitor';
RESET ROLE;
SELECT relid::regclass::text AS tbl, won_filter, lost_filter, deal_filter FROM lead_scoring.attachment
 WHERE won_filter IS NOT NULL ORDER BY 1;
SELECT source::text, deal_ref, amount, outcome FROM lead_scoring.deals ORDER BY source::text, deal_ref;
-- and the drop of the new columns is refused as before
SET ROLE ls_filter_app;
ALTER TABLE crm.lead DROP COLUMN kind;
ALTER TABLE crm.sale_order DROP COLUMN state;

-- a replacement whose type the filter does not apply to: the filter keeps reading the renamed column,
-- with a WARNING, and its drop is refused naming the filter
BEGIN;
ALTER TABLE crm.sale_order RENAME COLUMN state TO state_old;
ALTER TABLE crm.sale_order ADD COLUMN state integer;
ALTER TABLE crm.sale_order DROP COLUMN state_old;
ROLLBACK;
RESET ROLE;

-- the way out the hint names: detach_deals() takes the deals part of the leads table only (its deal
-- columns and filters); the leads attachment, its stages and log stay, and the column can go
SELECT id, name, stage FROM crm.lead ORDER BY id;
SELECT count(*) AS log_rows FROM lead_scoring.stage_change;
SELECT lead_scoring.detach_deals('crm.lead');
SELECT kind, amount_column, closed_column, won_filter, lost_filter, deal_filter, row_filter
  FROM lead_scoring.attachment ORDER BY kind;
SELECT source::text, count(*) FROM lead_scoring.deals GROUP BY 1 ORDER BY 1;
SELECT count(*) AS leads FROM lead_scoring.leads;
SELECT id, name, stage FROM crm.lead ORDER BY id;
SELECT count(*) AS log_rows FROM lead_scoring.stage_change;
SET ROLE ls_filter_app;
ALTER TABLE crm.lead DROP COLUMN probability;
INSERT INTO crm.lead (name, kind, revenue) VALUES ('Tables', 'opportunity', 10);
RESET ROLE;
SELECT source::text, count(*) FROM lead_scoring.deals GROUP BY 1 ORDER BY 1;
-- refused: no deals part left; the leads table itself is detached with detach(); attached again, the deals
-- part is back
SELECT lead_scoring.detach_deals('crm.lead');
SELECT lead_scoring.detach_deals('lead_scoring.settings');
SELECT lead_scoring.attach_deals('crm.lead', lead_column => 'id', amount_column => 'revenue', status_column => NULL,
                                 closed_column => 'date_closed', won_filter => 'active AND date_closed IS NOT NULL',
                                 lost_filter => 'NOT active', row_filter => $$kind = 'opportunity'$$);
SELECT source::text, deal_ref, amount, outcome FROM lead_scoring.deals ORDER BY source::text, deal_ref;
-- on a deals table, detach_deals() is detach()
SELECT lead_scoring.detach_deals('crm.sale_order');
SELECT kind FROM lead_scoring.attachment ORDER BY kind;
SELECT lead_scoring.detach('crm.lead');
DROP SCHEMA crm CASCADE;
DROP ROLE ls_filter_app;
DROP TABLE lead_scoring.stage_change;
DROP EXTENSION lead_scoring;
