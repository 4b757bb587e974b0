-- attach's row_filter: which rows of an attached table are CRM rows.  Odoo's mail_message holds the
-- messages of every model (model = 'crm.lead'), Twenty soft-deletes with "deletedAt", Odoo archives
-- leads with active = false.  doc/crm_schemas.md, "Row filters".
CREATE EXTENSION lead_scoring;
SET search_path = lead_scoring, public;
\set SHOW_CONTEXT never
CREATE SCHEMA crm;
CREATE TABLE crm.lead (id integer PRIMARY KEY, name text, active boolean NOT NULL DEFAULT true);
CREATE TABLE crm.mail_message (id serial PRIMARY KEY, model varchar NOT NULL, res_id integer NOT NULL,
                               message_type varchar NOT NULL, date timestamptz NOT NULL DEFAULT now());
CREATE TABLE crm.opportunity (id integer PRIMARY KEY, lead_id integer, amount numeric NOT NULL,
                              status text NOT NULL, closed_at timestamptz, "deletedAt" timestamptz);

-- refused: not boolean, not immutable, another table, a function outside pg_catalog, a query
SELECT attach_leads('crm.lead', row_filter => 'id');
SELECT attach_leads('crm.lead', row_filter => 'id < random() * 10');
SELECT attach_leads('crm.lead', row_filter => 'EXISTS (SELECT FROM crm.opportunity)');
CREATE FUNCTION public.is_live(boolean) RETURNS boolean LANGUAGE sql IMMUTABLE AS 'SELECT $1';
SELECT attach_leads('crm.lead', row_filter => 'public.is_live(active)');
SELECT attach_leads('crm.lead', row_filter => 'true) FROM pg_class WHERE (true');
SELECT attach_leads('crm.lead', row_filter => 'true; DROP TABLE crm.lead');
SELECT count(*) AS attached FROM attachment;

SELECT attach_leads('crm.lead', row_filter => 'active');
SELECT attach_events('crm.mail_message', lead_column => 'res_id', type_column => 'message_type',
                     time_column => 'date', row_filter => $$model = 'crm.lead'$$);
SELECT attach_deals('crm.opportunity', row_filter => '"deletedAt" IS NULL');
-- stored as schema-qualified SQL
SELECT relid, row_filter FROM attachment ORDER BY kind;

INSERT INTO rule (name, kind, event_type, points) VALUES ('email', 'engagement', 'email', 10);
INSERT INTO crm.lead (id, name) VALUES (1, 'Ann'), (2, 'Ben'), (3, 'Cy');

-- a hostile search_path with a planted text equality changes nothing
CREATE TABLE public.hijack_log (what text);
CREATE FUNCTION public.texteq_hijack(text, text) RETURNS boolean LANGUAGE sql
    AS $$ INSERT INTO public.hijack_log VALUES ('text ='); SELECT true $$;
CREATE OPERATOR public.= (LEFTARG = text, RIGHTARG = text, FUNCTION = public.texteq_hijack);
SET search_path = public, pg_catalog;

-- an e-mail on partner 1 does not score lead 1 (multi-row insert with RETURNING, as the ORM does)
INSERT INTO crm.mail_message (model, res_id, message_type) VALUES
    ('crm.lead', 1, 'email'), ('res.partner', 1, 'email'), ('res.partner', 2, 'email'), ('crm.lead', 3, 'email')
RETURNING id, model, res_id;
SELECT id, score, lead_scoring.score(id) AS computed FROM crm.lead ORDER BY id;
SELECT count(*) AS events, count(*) FILTER (WHERE lead_id = 1) AS of_lead_1 FROM lead_scoring.events;
-- a batch update moving messages into and out of the filter rescores both sides
UPDATE crm.mail_message SET model = CASE WHEN id IN (1, 4) THEN 'res.partner' ELSE 'crm.lead' END
 WHERE res_id IN (1, 3);
SELECT id, score, lead_scoring.score(id) AS computed FROM crm.lead ORDER BY id;
SELECT lead_scoring.rescore_all();
SELECT * FROM public.hijack_log;
DROP OPERATOR public.= (text, text);
RESET search_path;
SET search_path = lead_scoring, public;

-- deals: a soft-deleted deal is no deal; soft-deleting a won deal moves nothing
INSERT INTO crm.opportunity VALUES (10, 2, 500, 'won', now(), NULL), (11, 3, 900, 'won', now(), now());
SELECT id, stage FROM crm.lead ORDER BY id;
SELECT deal_ref, lead_id, amount, outcome FROM lead_scoring.deals ORDER BY deal_ref;
UPDATE crm.opportunity SET "deletedAt" = now() WHERE id = 10;
SELECT id, stage FROM crm.lead ORDER BY id;
SELECT count(*) AS live_deals FROM lead_scoring.deals;
-- restoring a soft-deleted deal counts as a new deal
UPDATE crm.opportunity SET "deletedAt" = NULL WHERE id = 11;
SELECT id, stage FROM crm.lead ORDER BY id;

-- leads: an archived lead is not in the canonical view or the funnel
UPDATE crm.lead SET active = false WHERE id = 1;
SELECT lead_id, stage FROM lead_scoring.leads ORDER BY lead_id;
SELECT stage, now_in FROM lead_scoring.funnel WHERE now_in > 0 ORDER BY stage;

SELECT detach('crm.opportunity'), detach('crm.mail_message'), detach('crm.lead');
DROP TABLE crm.opportunity, crm.mail_message, crm.lead, stage_change, public.hijack_log;
DROP FUNCTION public.is_live(boolean), public.texteq_hijack(text, text);
DROP SCHEMA crm;
DROP EXTENSION lead_scoring;
