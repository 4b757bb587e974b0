-- User code never runs with the extension owner's rights (doc/security.md, "What runs as whom").
-- The leads table's own triggers, CHECK constraints and index expressions run beneath the
-- extension's writes of lead rows (events, deals, rescores, rule changes): they run as the
-- leads table's owner, in a security-restricted operation, with the caller's search_path.
CREATE EXTENSION lead_scoring;
CREATE ROLE ls_crm_owner;
CREATE ROLE ls_app LOGIN;
CREATE SCHEMA crm AUTHORIZATION ls_crm_owner;
CREATE TABLE public.ran_as (what text, role name, path text);
GRANT INSERT ON public.ran_as TO PUBLIC;

SET ROLE ls_crm_owner;
CREATE TABLE crm.crm_stage (id int PRIMARY KEY, name text);
INSERT INTO crm.crm_stage VALUES (1, 'Prospect');
CREATE TABLE crm.leads (id bigint PRIMARY KEY, email text, stage_id int NOT NULL DEFAULT 1);
CREATE TABLE crm.events (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, lead_id bigint NOT NULL,
                         event_type text NOT NULL, occurred_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE crm.deals (id bigint PRIMARY KEY, lead_id bigint NOT NULL, amount numeric NOT NULL,
                        status text NOT NULL DEFAULT 'open', closed_at timestamptz);
GRANT USAGE ON SCHEMA crm TO ls_app;
GRANT SELECT, INSERT ON crm.events, crm.deals TO ls_app;
GRANT SELECT, INSERT ON crm.leads TO ls_app;
-- the CRM owner's code, the way an attacker owning a CRM schema would write it: it records who
-- runs it, then tries to make itself superuser
CREATE FUNCTION crm.escalate(what text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.ran_as VALUES (what, current_user, current_setting('search_path'));
    BEGIN
        EXECUTE 'ALTER ROLE ls_crm_owner SUPERUSER';
    EXCEPTION WHEN insufficient_privilege THEN NULL;
    END;
    RETURN true;
END $$;
CREATE FUNCTION crm.leads_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM crm.escalate(TG_OP || ' trigger');
    RETURN NEW;
END $$;
CREATE TRIGGER a_user_trigger BEFORE UPDATE ON crm.leads FOR EACH ROW EXECUTE FUNCTION crm.leads_trigger();
ALTER TABLE crm.leads ADD CONSTRAINT user_check CHECK (crm.escalate('check constraint'));
RESET ROLE;

SELECT lead_scoring.attach_leads('crm.leads');
SELECT lead_scoring.attach_events('crm.events');
SELECT lead_scoring.attach_deals('crm.deals');
INSERT INTO lead_scoring.rule (name, kind, event_type, points) VALUES ('webinar', 'engagement', 'webinar', 10);
INSERT INTO lead_scoring.threshold VALUES ('mql', 20);
TRUNCATE public.ran_as;

-- the application writes events and deals: the leads table's code runs as its owner
\c - ls_app
INSERT INTO crm.leads (id, email) VALUES (1, 'ann@example.com'), (2, 'bo@example.com');
INSERT INTO crm.events (lead_id, event_type) VALUES (1, 'webinar');
INSERT INTO crm.events (lead_id, event_type) SELECT l, 'webinar' FROM generate_series(1, 2) l, generate_series(1, 4);
INSERT INTO crm.deals VALUES (10, 2, 500);
\c - postgres
SELECT what, role, count(*) FROM public.ran_as GROUP BY 1, 2 ORDER BY 1, 2;
SELECT rolname, rolsuper FROM pg_roles WHERE rolname IN ('ls_crm_owner', 'ls_app') ORDER BY 1;
SELECT id, stage, score FROM crm.leads ORDER BY id;
TRUNCATE public.ran_as;

-- a superuser's rescore_all(), rule change and rescore() do not lend it their rights either
SELECT lead_scoring.rescore_all() >= 0 AS rescored;
UPDATE lead_scoring.rule SET points = 11;
SELECT lead_scoring.rescore(1);
SELECT what, role, count(*) FROM public.ran_as GROUP BY 1, 2 ORDER BY 1, 2;
SELECT rolname, rolsuper FROM pg_roles WHERE rolname = 'ls_crm_owner';
TRUNCATE public.ran_as;

-- an index expression of the CRM owner's, evaluated as lead rows are rewritten
SET ROLE ls_crm_owner;
CREATE FUNCTION crm.indexed(bigint, int) RETURNS bigint LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    PERFORM crm.escalate('index expression');
    RETURN $1 + $2;
END $$;
CREATE INDEX ON crm.leads (crm.indexed(id, score));
RESET ROLE;
TRUNCATE public.ran_as;
INSERT INTO crm.events (lead_id, event_type) VALUES (2, 'webinar');
SELECT what, role, count(*) FROM public.ran_as GROUP BY 1, 2 ORDER BY 1, 2;
SELECT rolname, rolsuper FROM pg_roles WHERE rolname = 'ls_crm_owner';
TRUNCATE public.ran_as;

-- an enum event type whose owner gave it a cast to text: the extension reads event types with
-- the enum's output function, never through the cast
SET ROLE ls_crm_owner;
CREATE TYPE crm.activity_kind AS ENUM ('webinar', 'visit');
CREATE FUNCTION crm.kind_text(crm.activity_kind) RETURNS text LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    PERFORM crm.escalate('cast to text');
    RETURN $1::name::text;
END $$;
CREATE CAST (crm.activity_kind AS text) WITH FUNCTION crm.kind_text(crm.activity_kind);
CREATE TABLE crm.activity (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, lead_id bigint NOT NULL,
                           kind crm.activity_kind NOT NULL, at timestamptz NOT NULL DEFAULT now());
GRANT INSERT ON crm.activity TO ls_app;
RESET ROLE;
SET client_min_messages = warning;
SELECT lead_scoring.attach_events('crm.activity', type_column => 'kind', time_column => 'at');
RESET client_min_messages;
TRUNCATE public.ran_as;
\c - ls_app
INSERT INTO crm.activity (lead_id, kind) SELECT l, 'webinar' FROM generate_series(1, 2) l, generate_series(1, 3);
\c - postgres
SELECT lead_scoring.rescore_all() >= 0 AS rescored;
UPDATE lead_scoring.rule SET points = 10;
SELECT lead_scoring.score(1), lead_scoring.rescore(2);
SELECT what, role, count(*) FROM public.ran_as WHERE what = 'cast to text' GROUP BY 1, 2 ORDER BY 1, 2;
SELECT rolname, rolsuper FROM pg_roles WHERE rolname = 'ls_crm_owner';
SELECT lead_scoring.detach('crm.activity');
TRUNCATE public.ran_as;

-- the writes are security-restricted operations, as VACUUM's and REFRESH's are: the CRM code
-- cannot leave a temporary object behind for the superuser to run later
SET ROLE ls_crm_owner;
CREATE OR REPLACE FUNCTION crm.leads_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    CREATE TEMP TABLE planted (x int);
    RETURN NEW;
END $$;
RESET ROLE;
INSERT INTO crm.events (lead_id, event_type) VALUES (1, 'webinar');
SET ROLE ls_crm_owner;
DROP TRIGGER a_user_trigger ON crm.leads;
RESET ROLE;

-- the CRM's own trigger reads its tables unqualified, with the caller's search_path, also when
-- it fires beneath attach_*, detach and rescore(), whose own search_path is pinned
SET ROLE ls_crm_owner;
CREATE FUNCTION crm.stage_name() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.ran_as SELECT 'stage ' || name, current_user, current_setting('search_path')
      FROM crm_stage WHERE id = NEW.stage_id;
    RETURN NEW;
END $$;
CREATE TRIGGER b_stage_name BEFORE UPDATE ON crm.leads FOR EACH ROW EXECUTE FUNCTION crm.stage_name();
RESET ROLE;
SET search_path = crm, public;
TRUNCATE public.ran_as;
SELECT lead_scoring.rescore(2);
SELECT lead_scoring.detach('crm.events');
SELECT lead_scoring.attach_events('crm.events');
SELECT what, role, path, count(*) FROM public.ran_as WHERE what LIKE 'stage%' GROUP BY 1, 2, 3 ORDER BY 1, 2, 3;
-- our own functions still run with their pinned search_path
SELECT proname, proconfig FROM pg_proc
 WHERE pronamespace = 'lead_scoring'::regnamespace AND proname IN ('attach_events', 'detach', 'rescore')
 ORDER BY 1;
RESET search_path;
SET ROLE ls_crm_owner;
DROP TRIGGER b_stage_name ON crm.leads;
RESET ROLE;

DROP SCHEMA crm CASCADE;
DROP EXTENSION lead_scoring;
DROP SCHEMA lead_scoring CASCADE;
DROP TABLE public.ran_as;
DROP ROLE ls_crm_owner;
DROP ROLE ls_app;
