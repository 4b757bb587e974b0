-- The CRM's migrations that change a column's type (Rails' change_column, Odoo's upgrades widening a
-- varchar or an integer), run by the CRM's own role on attached tables: followed when the extension
-- can read the new type (the generated views, which pin the column, are dropped before the ALTER and
-- created again after it, their privileges kept), refused with our message naming the attachment
-- and the way out when it cannot.  A row filter whose column is replaced under its old name (rename
-- away, add, copy, drop: Twenty's enum migration) follows the new column.
-- doc/crm_schemas.md, "The CRM's migrations".
CREATE EXTENSION lead_scoring;
\set SHOW_CONTEXT never
CREATE ROLE ls_odoo LOGIN;
CREATE ROLE ls_analyst;
CREATE SCHEMA odoo AUTHORIZATION ls_odoo;
SET ROLE ls_odoo;
CREATE TABLE odoo.res_users (id serial PRIMARY KEY, login varchar(20) NOT NULL UNIQUE);
CREATE TABLE odoo.crm_lead (id serial PRIMARY KEY, name varchar(20), email_from varchar(30),
                            user_id integer REFERENCES odoo.res_users, active boolean DEFAULT true,
                            probability integer DEFAULT 10, create_date timestamp);
CREATE TABLE odoo.mail_message (id serial PRIMARY KEY, res_id integer, model varchar(16),
                                message_type varchar(12) NOT NULL, date timestamp NOT NULL);
CREATE TYPE odoo.so_state AS ENUM ('draft', 'sale', 'cancel');
CREATE TABLE odoo.sale_order (id serial PRIMARY KEY, opportunity_id integer, amount_total integer,
                              state odoo.so_state NOT NULL DEFAULT 'draft', date_order timestamp,
                              user_id integer REFERENCES odoo.res_users);
INSERT INTO odoo.res_users (login) VALUES ('admin'), ('demo');
RESET ROLE;
SELECT lead_scoring.attach_leads('odoo.crm_lead', owner_column => 'user_id', owner_label => 'login',
                                 created_column => 'create_date', time_zone => 'UTC',
                                 row_filter => 'active AND probability >= 0');
SELECT lead_scoring.attach_events('odoo.mail_message', lead_column => 'res_id', type_column => 'message_type',
                                  time_column => 'date', time_zone => 'UTC', row_filter => $$model = 'crm.lead'$$);
SELECT lead_scoring.attach_deals('odoo.sale_order', lead_column => 'opportunity_id', amount_column => 'amount_total',
                                 status_column => 'state', closed_column => 'date_order', time_zone => 'UTC',
                                 owner_column => 'user_id', owner_label => 'login',
                                 row_filter => $$state <> 'cancel'$$);
UPDATE lead_scoring.settings SET won_statuses = '{sale}';
INSERT INTO lead_scoring.rule (name, kind, event_type, column_name, op, value, points) VALUES
    ('emails', 'engagement', 'email', NULL, NULL, NULL, 10),
    ('valid email', 'fit', NULL, 'email_from', 'valid_email', NULL, 5);
GRANT SELECT ON lead_scoring.leads, lead_scoring.deals TO ls_analyst;
SET lead_scoring.now = '2026-03-02 10:00:00+00';

SET ROLE ls_odoo;
INSERT INTO odoo.crm_lead (name, email_from, user_id, create_date) VALUES
    ('Chairs', 'a@example.com', 1, '2026-03-01 09:00'), ('Desks', 'b@example.com', 2, '2026-03-01 09:05');
INSERT INTO odoo.mail_message (res_id, model, message_type, date) VALUES
    (1, 'crm.lead', 'email', '2026-03-01 10:00'), (2, 'crm.lead', 'email', '2026-03-01 10:00');
INSERT INTO odoo.sale_order (opportunity_id, amount_total, state, date_order, user_id) VALUES
    (1, 1200, 'sale', '2026-03-01 12:00', 1);

-- an upgrade widens columns the extension reads: the deals' amount (integer -> numeric(12,2)), the
-- events' type (varchar(12) -> varchar(64)), a rule's column (varchar(30) -> text), the users' login
-- that owner_label shows (a table that is not attached), the column of the leads' row filter
-- (integer -> bigint), a time column (timestamp -> timestamp(0))
ALTER TABLE odoo.sale_order ALTER COLUMN amount_total TYPE numeric(12,2);
ALTER TABLE odoo.mail_message ALTER COLUMN message_type TYPE varchar(64);
ALTER TABLE odoo.crm_lead ALTER COLUMN email_from TYPE text, ALTER COLUMN name TYPE varchar(200);
ALTER TABLE odoo.res_users ALTER COLUMN login TYPE varchar(64);
ALTER TABLE odoo.crm_lead ALTER COLUMN probability TYPE bigint;
ALTER TABLE odoo.mail_message ALTER COLUMN date TYPE timestamp(0);
-- the application goes on writing
INSERT INTO odoo.crm_lead (name, email_from, user_id, probability, create_date) VALUES
    ('Lamps with a much longer name than before', 'c@example.com', 2, 5000000000, '2026-03-01 09:10');
INSERT INTO odoo.mail_message (res_id, model, message_type, date) VALUES
    (3, 'crm.lead', 'email', '2026-03-01 11:00'), (3, 'crm.lead', 'user_notification_digest', '2026-03-01 11:05');
INSERT INTO odoo.sale_order (opportunity_id, amount_total, state, date_order, user_id) VALUES
    (3, 99.95, 'sale', '2026-03-01 13:00', 2);
RESET ROLE;
-- by hand: every lead 5 (valid e-mail) + 10 (one e-mail); the won revenue is 1,299.95, by login
SELECT id, stage, score, lead_scoring.score(id) AS computed FROM odoo.crm_lead ORDER BY id;
SELECT lead_id, owner, created_at AT TIME ZONE 'UTC' AS created_utc FROM lead_scoring.leads ORDER BY lead_id;
SELECT deal_ref, lead_id, amount, outcome, owner FROM lead_scoring.deals ORDER BY deal_ref;
SELECT owner, deals_won, revenue FROM lead_scoring.manager_report('2026-03-01', '2026-03-02') ORDER BY owner;
-- privileges granted on the generated views survive
SELECT has_table_privilege('ls_analyst', 'lead_scoring.leads', 'SELECT') AS leads,
       has_table_privilege('ls_analyst', 'lead_scoring.deals', 'SELECT') AS deals;

-- a new type the extension cannot read is refused before anything runs, naming the attachment
SET ROLE ls_odoo;
-- (a lead id column widened alone, outside a migration of them all, cannot commit: crm_lead_id_widen)
ALTER TABLE odoo.mail_message ALTER COLUMN res_id TYPE bigint;
ALTER TABLE odoo.sale_order ALTER COLUMN amount_total TYPE text;
ALTER TABLE odoo.mail_message ALTER COLUMN date TYPE text;
ALTER TABLE odoo.crm_lead ALTER COLUMN id TYPE bigint;
ALTER TABLE odoo.crm_lead ALTER COLUMN id TYPE text;
-- a type whose values the row filter no longer reads: refused when the statement ends
ALTER TABLE odoo.crm_lead ALTER COLUMN active TYPE text;
-- a retype rolled back leaves the views as they were; one rolled back to a savepoint too, and the next one works
BEGIN;
ALTER TABLE odoo.sale_order ALTER COLUMN amount_total TYPE numeric;
ROLLBACK;
BEGIN;
SAVEPOINT s;
ALTER TABLE odoo.sale_order ALTER COLUMN amount_total TYPE numeric(14,2), ALTER COLUMN opportunity_id TYPE text;
ROLLBACK TO SAVEPOINT s;
-- (this one fails in PostgreSQL's rewrite, after the views were released)
ALTER TABLE odoo.sale_order ALTER COLUMN amount_total TYPE numeric(3,0);
ROLLBACK TO SAVEPOINT s;
ALTER TABLE odoo.sale_order ALTER COLUMN amount_total TYPE numeric(14,2);
COMMIT;
RESET ROLE;
SELECT count(*) AS deals FROM lead_scoring.deals;
SELECT pg_typeof(amount) FROM lead_scoring.deals LIMIT 1;

-- the deals' row filter reads state; Odoo-style enum migration replaces the column under its name
SET ROLE ls_odoo;
BEGIN;
ALTER TABLE odoo.sale_order RENAME COLUMN state TO state_old;
ALTER TYPE odoo.so_state RENAME TO so_state_old;
CREATE TYPE odoo.so_state AS ENUM ('draft', 'sent', 'sale', 'cancel');
ALTER TABLE odoo.sale_order ADD COLUMN state odoo.so_state NOT NULL DEFAULT 'draft';
UPDATE odoo.sale_order SET state = state_old::text::odoo.so_state;
ALTER TABLE odoo.sale_order DROP COLUMN state_old;
DROP TYPE odoo.so_state_old;
COMMIT;
INSERT INTO odoo.sale_order (opportunity_id, amount_total, state, date_order) VALUES
    (2, 50, 'cancel', '2026-03-01 14:00'), (2, 70, 'sent', '2026-03-01 14:00');
RESET ROLE;
SELECT status_column, row_filter FROM lead_scoring.attachment WHERE kind = 'deals';
-- the cancelled order is no deal; the sent one is open
SELECT lead_id, amount, status, outcome FROM lead_scoring.deals ORDER BY deal_ref;
SELECT id, stage FROM odoo.crm_lead ORDER BY id;

RESET lead_scoring.now;
SELECT lead_scoring.detach('odoo.sale_order'), lead_scoring.detach('odoo.mail_message'),
       lead_scoring.detach('odoo.crm_lead');
DROP SCHEMA odoo CASCADE;
DROP TABLE lead_scoring.stage_change;
DROP EXTENSION lead_scoring;
DROP ROLE ls_odoo;
DROP ROLE ls_analyst;
