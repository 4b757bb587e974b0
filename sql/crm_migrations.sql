-- The CRM's own migrations on attached tables, run by the CRM's own (unprivileged) role: renames
-- are followed (mapping, rules, row filter: never a silently dropped rule), a column replaced under
-- its old name (Twenty's enum migration) is taken over, columns the extension does not read are
-- never pinned, and only a drop of a column the extension reads is refused, at ALTER time.
-- doc/crm_schemas.md, "The CRM's migrations".
CREATE EXTENSION lead_scoring;
\set SHOW_CONTEXT never
-- the event trigger functions refuse to be called otherwise
SELECT lead_scoring.follow_ddl_start();
SELECT lead_scoring.follow_ddl_end();
CREATE ROLE ls_crm_app LOGIN;
CREATE SCHEMA ws AUTHORIZATION ls_crm_app;
SET ROLE ls_crm_app;
CREATE TYPE ws.opportunity_stage_enum AS ENUM ('NEW', 'MEETING', 'PROPOSAL', 'CUSTOMER');
CREATE TABLE ws.person (id integer PRIMARY KEY, name text, "jobTitle" text, city text,
                        "createdAt" timestamptz NOT NULL DEFAULT now(), "deletedAt" timestamptz);
CREATE TABLE ws.activity (id serial PRIMARY KEY, "personId" integer, name text NOT NULL,
                          "happensAt" timestamptz NOT NULL DEFAULT now(), "linkedRecord" text, "utmSource" text,
                          "deletedAt" timestamptz);
CREATE TABLE ws.opportunity (id serial PRIMARY KEY, "pointOfContactId" integer, amount numeric NOT NULL,
                             stage ws.opportunity_stage_enum NOT NULL DEFAULT 'NEW', "closeDate" timestamptz,
                             notes text);
RESET ROLE;
SELECT lead_scoring.attach_leads('ws.person', created_column => 'createdAt', row_filter => '"deletedAt" IS NULL');
SELECT lead_scoring.attach_events('ws.activity', lead_column => 'personId', type_column => 'name',
                                  time_column => 'happensAt', channel_column => 'utmSource',
                                  row_filter => '"deletedAt" IS NULL');
SELECT lead_scoring.attach_deals('ws.opportunity', lead_column => 'pointOfContactId', status_column => 'stage',
                                 closed_column => 'closeDate');
UPDATE lead_scoring.settings SET won_statuses = '{customer}';
INSERT INTO lead_scoring.rule (name, kind, event_type, column_name, op, value, points) VALUES
    ('pricing page', 'engagement', 'visit', 'linkedRecord', 'contains', 'pricing', 15),
    ('executive', 'fit', NULL, 'jobTitle', 'contains', 'chief', 20);

SET ROLE ls_crm_app;
INSERT INTO ws.person (id, name, "jobTitle") VALUES (1, 'Ann', 'chief of staff'), (2, 'Ben', NULL);
INSERT INTO ws.activity ("personId", name, "linkedRecord", "utmSource") VALUES
    (1, 'visit', '/pricing', 'ads'), (2, 'visit', '/pricing', 'ads'), (2, 'visit', '/blog', 'seo');
INSERT INTO ws.opportunity ("pointOfContactId", amount, stage) VALUES (1, 500, 'MEETING');

-- the event triggers run their queries as the extension's owner: a planted text equality ahead of
-- pg_catalog on the migrating role's search_path is never called
RESET ROLE;
CREATE TABLE public.hijack_log (what text);
GRANT INSERT ON public.hijack_log TO PUBLIC;
CREATE FUNCTION public.texteq_hijack(text, text) RETURNS boolean LANGUAGE sql
    AS $$ INSERT INTO public.hijack_log VALUES ('text ='); SELECT true $$;
CREATE OPERATOR public.= (LEFTARG = text, RIGHTARG = text, FUNCTION = public.texteq_hijack);
CREATE OPERATOR public.<> (LEFTARG = text, RIGHTARG = text, FUNCTION = public.texteq_hijack);
SET ROLE ls_crm_app;
SET search_path = public, pg_catalog;
-- renames: an events column a rule reads, a fit rule's column, a mapped column, a row filter's column
ALTER TABLE ws.activity RENAME COLUMN "linkedRecord" TO "linkedUrl";
ALTER TABLE ws.person RENAME COLUMN "jobTitle" TO "position";
ALTER TABLE ws.activity RENAME COLUMN "happensAt" TO "occurredAt";
ALTER TABLE ws.activity RENAME COLUMN "deletedAt" TO "removedAt";
RESET search_path;
-- the application goes on writing with the new names
INSERT INTO ws.activity ("personId", name, "linkedUrl", "utmSource") VALUES (1, 'visit', '/pricing/plans', 'seo');
UPDATE ws.activity SET "removedAt" = now() WHERE "personId" = 2 AND "linkedUrl" = '/blog';
INSERT INTO ws.person (id, name, position) VALUES (3, 'Cy', 'chief revenue officer');
RESET ROLE;
SELECT * FROM public.hijack_log;
DROP OPERATOR public.= (text, text);
DROP OPERATOR public.<> (text, text);
DROP FUNCTION public.texteq_hijack(text, text);
DROP TABLE public.hijack_log;
SELECT name, column_name FROM lead_scoring.rule ORDER BY name;
SELECT kind, time_column, row_filter FROM lead_scoring.attachment WHERE kind = 'events';
-- stored scores equal the computed ones: no rule was dropped
SELECT id, score, lead_scoring.score(id) AS computed FROM ws.person ORDER BY id;
SELECT lead_id, event_type, channel FROM lead_scoring.events ORDER BY event_ref;

-- columns the extension does not read are never pinned: the CRM drops and retypes them freely
SET ROLE ls_crm_app;
ALTER TABLE ws.opportunity DROP COLUMN notes;
ALTER TABLE ws.person ALTER COLUMN city TYPE varchar(80);
ALTER TABLE ws.person DROP COLUMN city;
-- a drop of a column the extension reads is refused before anything happens, naming the attachment
ALTER TABLE ws.opportunity DROP COLUMN "closeDate";
ALTER TABLE ws.activity DROP COLUMN "linkedUrl";
ALTER TABLE ws.activity DROP COLUMN "removedAt";
ALTER TABLE ws.person DROP COLUMN position CASCADE;

-- Twenty's migration adding an option to an enum: rename the column away, a new enum, a new column
-- under the old name, copy, drop the old column and type
BEGIN;
ALTER TABLE ws.opportunity RENAME COLUMN stage TO "stage_old_5f1e";
ALTER TYPE ws.opportunity_stage_enum RENAME TO opportunity_stage_enum_old;
CREATE TYPE ws.opportunity_stage_enum AS ENUM ('NEW', 'SCREENING', 'MEETING', 'PROPOSAL', 'CUSTOMER');
ALTER TABLE ws.opportunity ADD COLUMN stage ws.opportunity_stage_enum NOT NULL DEFAULT 'NEW';
UPDATE ws.opportunity SET stage = "stage_old_5f1e"::text::ws.opportunity_stage_enum;
ALTER TABLE ws.opportunity DROP COLUMN "stage_old_5f1e";
DROP TYPE ws.opportunity_stage_enum_old;
COMMIT;
-- the new option works, and a won deal moves its lead
INSERT INTO ws.opportunity ("pointOfContactId", amount, stage) VALUES (2, 300, 'SCREENING');
UPDATE ws.opportunity SET stage = 'CUSTOMER', "closeDate" = now() WHERE "pointOfContactId" = 1;
RESET ROLE;
SELECT status_column FROM lead_scoring.attachment WHERE kind = 'deals';
SELECT lead_id, amount, status, outcome FROM lead_scoring.deals ORDER BY deal_ref;
SELECT id, stage FROM ws.person ORDER BY id;

-- a rename rolled back leaves everything as it was
BEGIN;
ALTER TABLE ws.activity RENAME COLUMN "utmSource" TO source;
ROLLBACK;
SELECT channel_column FROM lead_scoring.attachment WHERE kind = 'events';
INSERT INTO ws.activity ("personId", name, "utmSource") VALUES (3, 'visit', 'partner');
SELECT count(*) FROM lead_scoring.events WHERE channel = 'partner';

SELECT lead_scoring.detach('ws.opportunity'), lead_scoring.detach('ws.activity'), lead_scoring.detach('ws.person');
-- detached tables are the CRM's alone again
ALTER TABLE ws.activity DROP COLUMN "linkedUrl";
DROP TABLE ws.opportunity, ws.activity, ws.person, lead_scoring.stage_change;
DROP TYPE ws.opportunity_stage_enum;
DROP SCHEMA ws;
DROP ROLE ls_crm_app;
DROP EXTENSION lead_scoring;
