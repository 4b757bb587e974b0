-- Attaching CRM tables: validation, quoting, partitioned events tables, detach.
CREATE EXTENSION lead_scoring;
SET client_min_messages = warning;
\set SHOW_CONTEXT never

-- names that need quoting everywhere: schema, tables and columns with capitals, spaces and quotes
CREATE SCHEMA "Sales Ops";
CREATE TABLE "Sales Ops"."Crm ""Leads""" (
    "Lead Id"   text PRIMARY KEY,
    "E-Mail"    text,
    "Size"      integer,
    "Stage"     lead_scoring.funnel_stage NOT NULL DEFAULT 'new'
);
CREATE TABLE "Sales Ops"."Touch Points" (
    "Touch #"   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    "Lead Ref"  text,
    "What"      varchar(40) NOT NULL,
    "When"      timestamptz NOT NULL,
    "Page URL"  text
);
INSERT INTO "Sales Ops"."Crm ""Leads""" ("Lead Id", "E-Mail", "Size") VALUES
    ('O''Brien, "Pat"', 'pat@example.com', 300), ('x; DROP TABLE y', 'nobody', 5);
INSERT INTO "Sales Ops"."Touch Points" ("Lead Ref", "What", "When", "Page URL") VALUES
    ('O''Brien, "Pat"', 'page view', '2024-01-01', '/pricing');

-- every validation fails with an error naming the table and column, and changes nothing
SELECT lead_scoring.attach_events('"Sales Ops"."Touch Points"', lead_column => 'Lead Ref');  -- no leads table yet
CREATE VIEW leads_view AS SELECT * FROM "Sales Ops"."Crm ""Leads""";
SELECT lead_scoring.attach_leads('leads_view', id_column => 'Lead Id');
SELECT lead_scoring.attach_leads('"Sales Ops"."Crm ""Leads"""', id_column => 'lead id');
SELECT lead_scoring.attach_leads('"Sales Ops"."Crm ""Leads"""', id_column => 'Lead Id', stage_column => 'E-Mail');
SELECT lead_scoring.attach_leads('"Sales Ops"."Crm ""Leads"""', id_column => 'Lead Id', stage_column => 'Stage',
                                 score_column => 'E-Mail');
SELECT lead_scoring.attach_leads('"Sales Ops"."Crm ""Leads"""', id_column => 'Lead Id', stage_column => 'Stage',
                                 created_column => 'E-Mail');
CREATE TABLE pointy (p point);
SELECT lead_scoring.attach_leads('pointy', id_column => 'p');
SELECT count(*) AS attachments FROM lead_scoring.attachment;
SELECT attname FROM pg_attribute WHERE attrelid = '"Sales Ops"."Crm ""Leads"""'::regclass AND attnum > 0 ORDER BY attnum;

-- the real thing: the score column is added, existing rows are scored
INSERT INTO lead_scoring.rule (name, kind, column_name, op, value, points) VALUES
    ('big company', 'fit', 'Size', '>=', '100', 10),
    ('good email', 'fit', 'E-Mail', 'valid_email', NULL, 5);
SELECT lead_scoring.attach_leads('"Sales Ops"."Crm ""Leads"""', id_column => 'Lead Id', stage_column => 'Stage');
SELECT "Lead Id", "Stage", score FROM "Sales Ops"."Crm ""Leads""" ORDER BY 1;
SELECT relid, kind, id_column, stage_column, score_column FROM lead_scoring.attachment;

-- one leads table per database
CREATE TABLE other_leads (id text PRIMARY KEY);
SELECT lead_scoring.attach_leads('other_leads');
SELECT lead_scoring.attach_leads('"Sales Ops"."Crm ""Leads"""', id_column => 'Lead Id', stage_column => 'Stage');

-- events: wrong lead column type, missing column, wrong time type, no primary key
CREATE TABLE bad_events (id int PRIMARY KEY, lead_id integer, event_type text, occurred_at timestamptz, n int);
SELECT lead_scoring.attach_events('bad_events');
SELECT lead_scoring.attach_events('"Sales Ops"."Touch Points"', lead_column => 'Lead Ref');
SELECT lead_scoring.attach_events('"Sales Ops"."Touch Points"', lead_column => 'Lead Ref', type_column => 'What',
                                  time_column => 'Page URL');
SELECT lead_scoring.attach_events('"Sales Ops"."Touch Points"', lead_column => 'Lead Ref', type_column => 'When',
                                  time_column => 'When');
CREATE TABLE keyless (lead_id text, event_type text, occurred_at timestamptz);
SELECT lead_scoring.attach_events('keyless');
SELECT count(*) AS attachments FROM lead_scoring.attachment;

INSERT INTO lead_scoring.rule (name, kind, event_type, column_name, op, value, points) VALUES
    ('pricing page', 'engagement', 'page view', 'Page URL', 'contains', 'pricing', 7);
SELECT lead_scoring.attach_events('"Sales Ops"."Touch Points"', lead_column => 'Lead Ref', type_column => 'What',
                                  time_column => 'When');
-- attached twice
SELECT lead_scoring.attach_events('"Sales Ops"."Touch Points"', lead_column => 'Lead Ref', type_column => 'What',
                                  time_column => 'When');
-- the event that was there before is counted, and new ones are
SELECT "Lead Id", score FROM "Sales Ops"."Crm ""Leads""" ORDER BY 1;
INSERT INTO "Sales Ops"."Touch Points" ("Lead Ref", "What", "When", "Page URL") VALUES
    ('x; DROP TABLE y', 'page view', '2024-01-02', '/Pricing/enterprise');
SELECT "Lead Id", score, lead_scoring.score("Lead Id"), lead_scoring.grade("Lead Id")
  FROM "Sales Ops"."Crm ""Leads""" ORDER BY 1;
SELECT * FROM lead_scoring.explain('O''Brien, "Pat"');
SELECT lead_scoring.score('no such lead');
-- the wrapper has the leads table's id type; the C function behind it checks the type
SELECT pg_get_function_identity_arguments('lead_scoring.score'::regproc);
SELECT lead_scoring.score_lead(42, now());

-- a partitioned events table, written through its parent (rows, multi-row, COPY)
CREATE TABLE "Sales Ops".visits (id bigint, lead text, kind text NOT NULL, at timestamp NOT NULL,
                                 PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
CREATE TABLE "Sales Ops".visits_2023 PARTITION OF "Sales Ops".visits FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');
CREATE TABLE "Sales Ops".visits_2024 PARTITION OF "Sales Ops".visits FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
SELECT lead_scoring.attach_events('"Sales Ops".visits', lead_column => 'lead', type_column => 'kind', time_column => 'at');
INSERT INTO lead_scoring.rule (name, kind, event_type, points) VALUES ('webinar', 'engagement', 'webinar', 20);
INSERT INTO "Sales Ops".visits VALUES (1, 'x; DROP TABLE y', 'webinar', '2023-05-01');
INSERT INTO "Sales Ops".visits VALUES (2, 'O''Brien, "Pat"', 'webinar', '2024-05-01'),
                                      (3, 'x; DROP TABLE y', 'webinar', '2024-06-01');
COPY "Sales Ops".visits FROM stdin;
4	O'Brien, "Pat"	webinar	2023-07-01 10:00:00
5	O'Brien, "Pat"	other	2023-07-01 11:00:00
\.
SELECT "Lead Id", score, score = lead_scoring.score("Lead Id") AS exact FROM "Sales Ops"."Crm ""Leads""" ORDER BY 1;
SELECT relid, kind, lead_column, type_column, time_column, key_columns FROM lead_scoring.attachment ORDER BY relid;
SELECT count(*) AS events FROM lead_scoring.events;

-- detach: triggers go, data stays, the record goes; the detached events no longer count
SELECT lead_scoring.detach('"Sales Ops"."Crm ""Leads"""');   -- events tables still attached
SELECT lead_scoring.detach('"Sales Ops".visits');
SELECT lead_scoring.detach('"Sales Ops".visits');
SELECT tgname FROM pg_trigger WHERE tgrelid = '"Sales Ops".visits'::regclass AND NOT tgisinternal;
INSERT INTO "Sales Ops".visits VALUES (6, 'x; DROP TABLE y', 'webinar', '2024-07-01');
SELECT "Lead Id", score FROM "Sales Ops"."Crm ""Leads""" ORDER BY 1;
SELECT lead_scoring.rescore_all();   -- detach rescored: nothing left to change
SELECT "Lead Id", score FROM "Sales Ops"."Crm ""Leads""" ORDER BY 1;
SELECT count(*) AS visits_kept FROM "Sales Ops".visits;
SELECT lead_scoring.detach('"Sales Ops"."Touch Points"');
SELECT lead_scoring.detach('"Sales Ops"."Crm ""Leads"""');
SELECT count(*) AS attachments FROM lead_scoring.attachment;
SELECT count(*) AS generated_functions FROM pg_proc
 WHERE pronamespace = 'lead_scoring'::regnamespace AND proname IN ('score', 'rescore', 'explain', 'grade');

-- stage_change is kept by detach (it is the log); it lives in the extension's schema
DROP VIEW leads_view;
DROP EXTENSION lead_scoring CASCADE;
DROP SCHEMA lead_scoring CASCADE;
DROP SCHEMA "Sales Ops" CASCADE;
DROP TABLE pointy, other_leads, bad_events, keyless;

-- every id type doc/scoring.md names: integer, bigint, uuid, text (each with its generated wrappers)
CREATE FUNCTION test_id_type(t regtype) RETURNS TABLE (id_type text, lead text, stored integer, score integer,
                                                       grade text, rescore integer, explained float8)
LANGUAGE plpgsql AS $$
BEGIN
    CREATE EXTENSION lead_scoring;
    EXECUTE format('CREATE TABLE crm_leads (id %s PRIMARY KEY, size int)', t);
    EXECUTE format('CREATE TABLE crm_events (id serial PRIMARY KEY, lead_id %s, event_type text, occurred_at timestamptz)', t);
    EXECUTE format($q$INSERT INTO crm_leads VALUES (%L::%s, 500), (%L::%s, 1)$q$,
                   CASE WHEN t = 'uuid'::regtype THEN 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11' WHEN t = 'text'::regtype THEN 'it''s' ELSE '1' END, t,
                   CASE WHEN t = 'uuid'::regtype THEN 'b0eebc99-9c0b-4ef8-bb6d-6bb9bd380a12' WHEN t = 'text'::regtype THEN 'a,b' ELSE '2' END, t);
    INSERT INTO lead_scoring.rule (name, kind, column_name, op, value, points) VALUES ('big', 'fit', 'size', '>', '100', 30);
    INSERT INTO lead_scoring.rule (name, kind, event_type, points, max_hits) VALUES ('visit', 'engagement', 'visit', 4, 2);
    PERFORM lead_scoring.attach_leads('crm_leads');
    PERFORM lead_scoring.attach_events('crm_events');
    INSERT INTO crm_events (lead_id, event_type, occurred_at) SELECT l.id, 'visit', '2024-01-01' FROM crm_leads l, generate_series(1, 3);
    INSERT INTO crm_events (lead_id, event_type, occurred_at) SELECT l.id, 'visit', '2024-01-02' FROM crm_leads l ORDER BY l.id LIMIT 1;
    RETURN QUERY EXECUTE $q$
        SELECT pg_typeof(l.id)::text, l.id::text, l.score, lead_scoring.score(l.id), lead_scoring.grade(l.id),
               lead_scoring.rescore(l.id), (SELECT sum(points) FROM lead_scoring.explain(l.id))
          FROM crm_leads l ORDER BY l.id$q$;
    SET CONSTRAINTS ALL IMMEDIATE;  -- the rescore after the rule changes, before DROP EXTENSION
    PERFORM lead_scoring.detach('crm_events');
    PERFORM lead_scoring.detach('crm_leads');
    DROP EXTENSION lead_scoring CASCADE;
    DROP SCHEMA lead_scoring CASCADE;
    DROP TABLE crm_leads, crm_events;
END $$;
SELECT * FROM test_id_type('integer');
SELECT * FROM test_id_type('bigint');
SELECT * FROM test_id_type('uuid');
SELECT * FROM test_id_type('text');
DROP FUNCTION test_id_type(regtype);
