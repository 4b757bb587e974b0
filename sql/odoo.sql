-- Odoo 17's CRM, its tables rebuilt from the model definitions (addons/crm, mail, utm, sale), attached
-- with documented calls only, and the application's write patterns replayed: the ORM's multi-row
-- INSERT ... RETURNING, batch writes, messages of every model in mail_message, lead merges (messages
-- move to the survivor, the others are archived), a quotation confirmed, a lead deleted with its
-- quotation's FK set to NULL, a field renamed by an upgrade.  Every number is one a user of Odoo
-- would compute by hand.  doc/odoo.md follows the same steps.
CREATE EXTENSION lead_scoring;
\set SHOW_CONTEXT never
SET client_min_messages = warning;
CREATE SCHEMA odoo;
SET search_path = odoo, public;

-- the tables, as Odoo's ORM creates them (ids are serial integers, datetimes naive UTC)
CREATE TABLE res_partner (id serial PRIMARY KEY, name varchar, email varchar, active boolean DEFAULT true,
                          create_date timestamp, write_date timestamp);
CREATE TABLE res_users (id serial PRIMARY KEY, login varchar NOT NULL UNIQUE,
                        partner_id integer NOT NULL REFERENCES res_partner ON DELETE RESTRICT,
                        active boolean DEFAULT true, share boolean, create_date timestamp, write_date timestamp);
CREATE TABLE utm_source (id serial PRIMARY KEY, name varchar NOT NULL, create_date timestamp);
CREATE TABLE utm_medium (id serial PRIMARY KEY, name varchar NOT NULL, active boolean, create_date timestamp);
CREATE TABLE utm_campaign (id serial PRIMARY KEY, name varchar NOT NULL, title jsonb, active boolean,
                           create_date timestamp);
CREATE TABLE crm_stage (id serial PRIMARY KEY, name jsonb NOT NULL, sequence integer, is_won boolean,
                        fold boolean, requirements text, team_id integer, create_date timestamp);
CREATE TABLE crm_lead (
    id serial PRIMARY KEY, name varchar NOT NULL, user_id integer REFERENCES res_users ON DELETE SET NULL,
    team_id integer, company_id integer, referred varchar, description text, active boolean DEFAULT true,
    type varchar NOT NULL, priority varchar, stage_id integer REFERENCES crm_stage ON DELETE RESTRICT,
    color integer, expected_revenue numeric, prorated_revenue numeric, recurring_revenue numeric,
    date_closed timestamp, date_action_last timestamp, date_open timestamp, day_open double precision,
    day_close double precision, date_last_stage_update timestamp, date_conversion timestamp, date_deadline date,
    partner_id integer REFERENCES res_partner ON DELETE SET NULL, contact_name varchar, partner_name varchar,
    function varchar, email_from varchar, email_normalized varchar, phone varchar, mobile varchar,
    website varchar, city varchar, probability double precision, automated_probability double precision,
    lost_reason_id integer, campaign_id integer REFERENCES utm_campaign ON DELETE SET NULL,
    medium_id integer REFERENCES utm_medium ON DELETE SET NULL,
    source_id integer REFERENCES utm_source ON DELETE SET NULL,
    create_uid integer, create_date timestamp, write_uid integer, write_date timestamp,
    CONSTRAINT crm_lead_check_probability CHECK (probability >= 0 AND probability <= 100));
CREATE TABLE mail_message (id serial PRIMARY KEY, subject varchar, date timestamp, body text, model varchar,
                           res_id integer, record_name varchar, message_type varchar NOT NULL,
                           author_id integer REFERENCES res_partner ON DELETE SET NULL, subtype_id integer,
                           create_uid integer, create_date timestamp, write_date timestamp);
CREATE INDEX mail_message_model_res_id_idx ON mail_message (model, res_id);
CREATE TABLE sale_order (id serial PRIMARY KEY, name varchar NOT NULL, state varchar,
                         date_order timestamp NOT NULL, partner_id integer NOT NULL REFERENCES res_partner,
                         amount_total numeric, user_id integer REFERENCES res_users,
                         opportunity_id integer REFERENCES crm_lead ON DELETE SET NULL,
                         campaign_id integer, medium_id integer, source_id integer,
                         create_date timestamp, write_date timestamp);

INSERT INTO res_partner (name, email) VALUES ('Mitchell Admin', 'admin@example.com'), ('Marc Demo', 'marc@example.com'),
    ('Azure Interior', 'azure@example.com'), ('Deco Addict', 'deco@example.com');
INSERT INTO res_users (login, partner_id) VALUES ('admin', 1), ('demo', 2);
INSERT INTO utm_source (name) VALUES ('Search engine'), ('Newsletter');
INSERT INTO crm_stage (name, sequence, is_won) VALUES ('{"en_US": "New"}', 1, false), ('{"en_US": "Qualified"}', 2, false),
    ('{"en_US": "Proposition"}', 3, false), ('{"en_US": "Won"}', 70, true);

-- the DBA attaches the tables: UTC naive datetimes, messages of leads only, archived leads left out,
-- the lead's UTM source and campaign (keys into utm_source and utm_campaign) as its first touch
RESET search_path;
-- and the kanban columns Qualified, Proposition and Won are funnel stages (New is left to the scores)
-- owners are res_users ids: reports show the salesperson's name, res_users.partner_id -> res_partner.name
SELECT lead_scoring.attach_leads('odoo.crm_lead', owner_column => 'user_id', owner_label => 'partner_id.name',
                                 created_column => 'create_date',
                                 time_zone => 'UTC', row_filter => 'active', crm_stage_column => 'stage_id',
                                 crm_stage_map => '{"2": "sql", "3": "opportunity", "4": "customer"}',
                                 channel_column => 'source_id', campaign_column => 'campaign_id',
                                 labels => '{"source_id": "name", "campaign_id": "name"}');
SELECT lead_scoring.attach_events('odoo.mail_message', lead_column => 'res_id', type_column => 'message_type',
                                  time_column => 'date', time_zone => 'UTC', row_filter => $$model = 'crm.lead'$$);
SELECT lead_scoring.attach_deals('odoo.sale_order', lead_column => 'opportunity_id', amount_column => 'amount_total',
                                 status_column => 'state', closed_column => 'date_order', owner_column => 'user_id',
                                 owner_label => 'partner_id.name', time_zone => 'UTC');
-- Odoo's confirmed quotation is 'sale', a cancelled one 'cancel'
UPDATE lead_scoring.settings SET won_statuses = '{sale,done}', lost_statuses = '{cancel}';
INSERT INTO lead_scoring.rule (name, kind, event_type, column_name, op, value, points, max_points) VALUES
    ('valid email', 'fit', NULL, 'email_from', 'valid_email', NULL, 10, NULL),
    ('emails', 'engagement', 'email', NULL, NULL, NULL, 10, 30),
    ('comments', 'engagement', 'comment', NULL, NULL, NULL, 5, NULL);
INSERT INTO lead_scoring.threshold VALUES ('mql', 30);

-- the ORM writes in UTC whatever the server's TimeZone; the session here is Brussels
SET TimeZone = 'Europe/Brussels';
SET lead_scoring.now = '2026-03-02 09:00:00+00';
SET search_path = odoo, public;
INSERT INTO crm_lead (name, type, user_id, email_from, stage_id, source_id, create_date, write_date) VALUES
    ('Office chairs', 'lead', 1, 'azure@example.com', 1, 1, '2026-03-02 08:00:00', '2026-03-02 08:00:00'),
    ('Desks', 'lead', 2, 'deco@example.com', 1, 2, '2026-03-02 08:05:00', '2026-03-02 08:05:00'),
    ('Desks (duplicate)', 'lead', 2, 'deco@', 1, 2, '2026-03-02 08:06:00', '2026-03-02 08:06:00'),
    ('Lamps', 'opportunity', 1, NULL, 2, NULL, '2026-03-02 08:10:00', '2026-03-02 08:10:00')
RETURNING id, name, stage, score;

-- messages are posted on every model: those on partners 1 and 2 are not the leads' messages
INSERT INTO mail_message (model, res_id, message_type, subject, date, create_date) VALUES
    ('crm.lead', 1, 'email', 'Quote request', '2026-03-02 08:30:00', '2026-03-02 08:30:00'),
    ('crm.lead', 1, 'email', 'Re: Quote request', '2026-03-02 08:40:00', '2026-03-02 08:40:00'),
    ('res.partner', 1, 'email', 'Newsletter', '2026-03-02 08:41:00', '2026-03-02 08:41:00'),
    ('res.partner', 2, 'email', 'Newsletter', '2026-03-02 08:41:00', '2026-03-02 08:41:00'),
    ('crm.lead', 2, 'email', 'Desks?', '2026-03-02 08:45:00', '2026-03-02 08:45:00'),
    ('crm.lead', 3, 'email', 'Desks??', '2026-03-02 08:46:00', '2026-03-02 08:46:00'),
    ('crm.lead', 3, 'comment', 'called back', '2026-03-02 08:50:00', '2026-03-02 08:50:00'),
    ('crm.lead', 4, 'notification', 'Stage changed', '2026-03-02 08:51:00', '2026-03-02 08:51:00')
RETURNING id, model, res_id;
-- by hand: lead 1 valid email 10 + 2 e-mails 20 = 30 (mql); lead 2 10 + 10 = 20; lead 3 (invalid e-mail) 10 + 5 = 15;
-- lead 4 nothing
SELECT id, name, stage, score, lead_scoring.score(id) AS computed FROM crm_lead ORDER BY id;

-- Odoo merges leads 2 and 3: the messages move to the survivor 2, lead 3 is archived
UPDATE mail_message SET res_id = 2 WHERE model = 'crm.lead' AND res_id = 3;
UPDATE crm_lead SET active = false, write_date = '2026-03-02 09:00:00' WHERE id = 3;
-- by hand: lead 2 = 10 + 2 e-mails 20 + comment 5 = 35 (mql); lead 3 keeps no message: 0
SELECT id, active, stage, score, lead_scoring.score(id) AS computed FROM crm_lead ORDER BY id;
-- the archived duplicate is not a lead any more; leads 1, 2 and 4 (in sql) have passed mql
SELECT lead_id, stage FROM lead_scoring.leads ORDER BY lead_id;
SELECT stage, now_in, ever_reached FROM lead_scoring.funnel WHERE stage IN ('new', 'mql') ORDER BY stage;

-- a batch write of the ORM (two cards dragged to Proposition) and a quotation confirmed for lead 1
UPDATE crm_lead SET stage_id = 3, date_last_stage_update = '2026-03-02 09:10:00' WHERE id IN (1, 2);
INSERT INTO sale_order (name, state, date_order, partner_id, amount_total, user_id, opportunity_id) VALUES
    ('S00001', 'draft', '2026-03-02 09:20:00', 3, 1200, 1, 1),
    ('S00002', 'draft', '2026-03-02 09:25:00', 4, 800, 2, 2) RETURNING id, name;
UPDATE sale_order SET state = 'sale' WHERE name = 'S00001';
UPDATE sale_order SET state = 'cancel' WHERE name = 'S00002';
SELECT id, stage_id, stage FROM crm_lead ORDER BY id;
-- lead 4 was created in Qualified by a salesperson: no handoff; leads 1 and 2 dragged from mql are
SELECT lead_id, owner, stage, status FROM lead_scoring.handoffs ORDER BY lead_id;
SELECT deal_ref, lead_id, amount, outcome, owner FROM lead_scoring.deals ORDER BY deal_ref;
-- by hand: Mitchell Admin won 1,200 (S00001), Marc Demo lost 800 (S00002); each had one handoff, met
SELECT owner, handoffs, sla_met_pct, deals_won, revenue FROM lead_scoring.manager_report('2026-03-01', '2026-03-31') ORDER BY owner;
-- a salesperson renamed in Odoo (res_partner.name) is renamed where the owner is read now; the log
-- keeps the name the lead was handed off to
UPDATE res_partner SET name = 'Marc Demo-Smith' WHERE id = 2;
SELECT l.lead_id, l.owner, h.owner AS handed_off_to FROM lead_scoring.leads l
  LEFT JOIN lead_scoring.handoffs h USING (lead_id) WHERE l.lead_id IN (1, 2) ORDER BY l.lead_id;
UPDATE res_partner SET name = 'Marc Demo' WHERE id = 2;

-- the UTM kept on the lead is each lead's first touch, by name
SELECT lead_id, event_type, channel FROM lead_scoring.events WHERE source = 'odoo.crm_lead'::regclass ORDER BY lead_id;
SELECT channel, touchpoints, new_leads FROM lead_scoring.channel_report('first_touch', '2026-03-01', '2026-03-31')
 ORDER BY channel;

-- activities are typed by a key into mail_activity_type, whose names are translated JSON: the rules
-- name the type's English label ("name.en_US"), mapped without a helper table
CREATE TABLE mail_activity_type (id serial PRIMARY KEY, name jsonb NOT NULL, category varchar, sequence integer);
CREATE TABLE mail_activity (id serial PRIMARY KEY, res_model varchar, res_id integer,
                            activity_type_id integer REFERENCES mail_activity_type ON DELETE RESTRICT,
                            summary varchar, date_deadline date NOT NULL, user_id integer REFERENCES res_users,
                            create_date timestamp);
INSERT INTO mail_activity_type (name, category) VALUES ('{"en_US": "Email", "fr_FR": "E-mail"}', 'default'),
    ('{"en_US": "Call", "fr_FR": "Appel"}', 'phonecall'), ('{"en_US": "Meeting", "fr_FR": "Réunion"}', 'meeting');
RESET search_path;
SELECT lead_scoring.attach_events('odoo.mail_activity', lead_column => 'res_id', type_column => 'activity_type_id',
                                  time_column => 'create_date', time_zone => 'UTC',
                                  row_filter => $$res_model = 'crm.lead'$$,
                                  labels => '{"activity_type_id": "name.en_US"}');
INSERT INTO lead_scoring.rule (name, kind, event_type, points) VALUES ('calls', 'engagement', 'Call', 20);
SET search_path = odoo, public;
INSERT INTO mail_activity (res_model, res_id, activity_type_id, summary, date_deadline, user_id, create_date) VALUES
    ('crm.lead', 4, 2, 'Call back', '2026-03-03', 1, '2026-03-02 08:52'),
    ('crm.lead', 4, 3, 'Demo', '2026-03-04', 1, '2026-03-02 08:53'),
    ('res.partner', 1, 2, 'Call the partner', '2026-03-03', 1, '2026-03-02 08:54')
RETURNING id, res_model, res_id;
-- by hand: Lamps (lead 4, no e-mail yet) = 20 (one call; no rule for meetings; the partner's call
-- is not the lead's); the activities carry their types' names
SELECT id, score, lead_scoring.score(id) AS computed FROM crm_lead WHERE id = 4;
SELECT lead_id, event_type FROM lead_scoring.events WHERE source = 'odoo.mail_activity'::regclass ORDER BY event_ref;
-- a call planned on lead 1 by the ORM's batch write of activity types counts too
UPDATE mail_activity SET res_id = 1 WHERE summary = 'Demo';
UPDATE mail_activity SET activity_type_id = 2 WHERE summary = 'Demo';
SELECT id, score, lead_scoring.score(id) AS computed FROM crm_lead WHERE id IN (1, 4) ORDER BY id;

-- the same readings in every session TimeZone (naive UTC declared at attach)
SET TimeZone = 'America/New_York';
SELECT lead_id, (created_at AT TIME ZONE 'UTC') AS created_utc FROM lead_scoring.leads ORDER BY lead_id;
SET TimeZone = 'UTC';
SELECT lead_id, (created_at AT TIME ZONE 'UTC') AS created_utc FROM lead_scoring.leads ORDER BY lead_id;

-- an upgrade renames a field the rules read: followed
ALTER TABLE crm_lead RENAME COLUMN email_from TO email_from_partner;
UPDATE crm_lead SET email_from_partner = 'lamps@example.com' WHERE id = 4;
SELECT id, score, lead_scoring.score(id) AS computed FROM crm_lead WHERE id = 4;
-- a lead deleted: its quotation keeps its revenue with opportunity_id set to NULL (ON DELETE SET NULL)
DELETE FROM crm_lead WHERE id = 2;
SELECT name, opportunity_id, state FROM sale_order ORDER BY id;
SELECT count(*) AS leads_left FROM lead_scoring.leads;

RESET lead_scoring.now;
RESET TimeZone;
RESET search_path;
SELECT lead_scoring.detach('odoo.sale_order'), lead_scoring.detach('odoo.mail_message'),
       lead_scoring.detach('odoo.mail_activity'), lead_scoring.detach('odoo.crm_lead');
DROP SCHEMA odoo CASCADE;
DROP TABLE lead_scoring.stage_change;
DROP EXTENSION lead_scoring;
