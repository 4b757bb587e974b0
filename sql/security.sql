-- The install script and the functions resist a hostile search_path.
-- A role without privileges plants look-alike functions and operators in public and puts
-- public ahead of pg_catalog; the extension must still install and use its own objects.
CREATE ROLE ls_hostile LOGIN;
GRANT CREATE ON SCHEMA public TO ls_hostile;
CREATE TABLE public.hijack_log (what text);
GRANT INSERT ON public.hijack_log TO PUBLIC;

SET ROLE ls_hostile;
CREATE FUNCTION public.pg_extension_config_dump(regclass, text) RETURNS void LANGUAGE sql
    AS $$ INSERT INTO public.hijack_log VALUES ('pg_extension_config_dump') $$;
CREATE FUNCTION public.btrim(text) RETURNS text LANGUAGE sql
    AS $$ INSERT INTO public.hijack_log VALUES ('btrim'); SELECT 'new' $$;
CREATE FUNCTION public.texteq_hijack(text, text) RETURNS boolean LANGUAGE sql
    AS $$ INSERT INTO public.hijack_log VALUES ('text ='); SELECT true $$;
CREATE OPERATOR public.= (LEFTARG = text, RIGHTARG = text, FUNCTION = public.texteq_hijack);
CREATE FUNCTION public.int4eq_hijack(integer, integer) RETURNS boolean LANGUAGE sql
    AS $$ INSERT INTO public.hijack_log VALUES ('int4 ='); SELECT true $$;
CREATE OPERATOR public.= (LEFTARG = integer, RIGHTARG = integer, FUNCTION = public.int4eq_hijack);
CREATE FUNCTION public.stage_rank(anyelement) RETURNS integer LANGUAGE sql
    AS $$ INSERT INTO public.hijack_log VALUES ('stage_rank'); SELECT 0 $$;
RESET ROLE;

SET search_path = public, pg_catalog;
CREATE EXTENSION lead_scoring;

-- every object of the extension is in its own schema, but for funnel_stage's operators and
-- min/max, which live in pg_catalog (doc/funnel.md, "Where the operators live"): none in public
SELECT count(*) AS objects_outside_schema
FROM pg_depend d
JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'lead_scoring'
LEFT JOIN pg_proc p ON d.classid = 'pg_proc'::regclass AND p.oid = d.objid
LEFT JOIN pg_type t ON d.classid = 'pg_type'::regclass AND t.oid = d.objid
LEFT JOIN pg_class c ON d.classid = 'pg_class'::regclass AND c.oid = d.objid
LEFT JOIN pg_operator o ON d.classid = 'pg_operator'::regclass AND o.oid = d.objid
WHERE d.deptype = 'e'
  AND coalesce(p.pronamespace, t.typnamespace, c.relnamespace, o.oprnamespace,
               'lead_scoring'::regnamespace) <> 'lead_scoring'::regnamespace
  AND NOT (coalesce(o.oprnamespace, p.pronamespace) = 'pg_catalog'::regnamespace
           AND 'lead_scoring.funnel_stage'::regtype IN (o.oprleft, p.proargtypes[0]));

-- the real config_dump ran (the look-alike did not)
SELECT 'lead_scoring.transition_override'::regclass = ANY (extconfig) AS overrides_dumped,
       (SELECT bool_and(c.relnamespace = 'lead_scoring'::regnamespace) FROM pg_class c WHERE c.oid = ANY (extconfig))
           AS all_config_in_schema
FROM pg_extension WHERE extname = 'lead_scoring';

-- the type's operators use the planner's own selectivity functions
SELECT DISTINCT oprrest::regproc::text FROM pg_operator WHERE oprnamespace = 'lead_scoring'::regnamespace ORDER BY 1;

-- the functions work with the hostile search_path in force, including the SPI look-up of overrides
INSERT INTO lead_scoring.transition_override VALUES ('new', 'recycled', true);
SELECT lead_scoring.can_transition('new', 'recycled'), lead_scoring.can_transition('recycled', 'new'),
       lead_scoring.stage_rank('lost'), lead_scoring.stage_owner('sal');
SELECT count(*) FROM lead_scoring.funnel_stages();

-- with public ahead of pg_catalog, the stage operators are still the extension's own
SELECT 'mql'::lead_scoring.funnel_stage < 'sal', 'mql'::lead_scoring.funnel_stage = 'mql',
       max(s) FROM (VALUES ('new'::lead_scoring.funnel_stage), ('sal')) v(s);

-- nothing planted was ever called
SELECT * FROM public.hijack_log;

-- a non-superuser can use the type but cannot rewrite the transition rules;
-- in a fresh session (nothing cached yet) it reads the rule book, which everyone may read
GRANT USAGE ON SCHEMA lead_scoring TO ls_hostile;
SELECT current_user AS superuser \gset
\c - ls_hostile
SELECT lead_scoring.can_transition('mql', 'sal'), lead_scoring.can_transition('new', 'recycled');
SELECT sla FROM lead_scoring.settings;
INSERT INTO lead_scoring.transition_override VALUES ('customer', 'new', true);
SET lead_scoring.enforce_transitions = off;
\c - :superuser

RESET search_path;
DROP EXTENSION lead_scoring;
DROP TABLE public.hijack_log;
DROP OWNED BY ls_hostile;
DROP ROLE ls_hostile;
