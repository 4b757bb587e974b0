-- Analysts in a default session (search_path "$user", public): funnel_stage's operators and
-- min/max are found without naming the schema, plan like built-in types (index, hash and merge
-- joins), and the 0.1.0 qualified names still work.  doc/funnel.md, "Where the operators live".
CREATE EXTENSION lead_scoring;
SET search_path = "$user", public;
CREATE SCHEMA crm;
CREATE TABLE crm.leads (id bigint PRIMARY KEY, name text);
SELECT lead_scoring.attach_leads('crm.leads');
INSERT INTO crm.leads (id, name) VALUES (1, 'a'), (2, 'b'), (3, 'c'), (4, 'd'), (5, 'e');
UPDATE crm.leads SET stage = 'mql' WHERE id IN (2, 3);
UPDATE crm.leads SET stage = 'sal' WHERE id = 3;
UPDATE crm.leads SET stage = 'lost' WHERE id = 4;

-- the ten queries of an analyst, as written
SELECT id FROM crm.leads WHERE stage = 'mql' ORDER BY id;
SELECT id FROM crm.leads WHERE stage <> 'lost' ORDER BY id;
SELECT id FROM crm.leads WHERE stage >= 'mql' ORDER BY id;
SELECT id FROM crm.leads WHERE stage < 'mql' AND stage <= 'new' ORDER BY id;
SELECT id FROM crm.leads WHERE stage > 'sql' ORDER BY id;
SELECT id FROM crm.leads WHERE stage IN ('mql', 'sal') ORDER BY id;
SELECT id, CASE WHEN stage = 'new' THEN 'untouched' ELSE 'worked' END FROM crm.leads ORDER BY id;
SELECT max(stage), min(stage), count(DISTINCT stage) FROM crm.leads;
SELECT a.id, b.id FROM crm.leads a JOIN crm.leads b ON a.stage = b.stage AND a.id < b.id ORDER BY 1, 2;
SELECT lead_id, from_stage FROM lead_scoring.stage_change WHERE to_stage = 'sal' ORDER BY change_id;
SELECT stage, count(*) FROM crm.leads GROUP BY stage ORDER BY stage;

-- the bare operators are the operator classes' members: an index on the stage serves them, and
-- joins hash and merge
CREATE TABLE crm.sample (s lead_scoring.funnel_stage);
INSERT INTO crm.sample SELECT (ARRAY['new','mql','sal','customer'])[1 + g % 4]::lead_scoring.funnel_stage
  FROM generate_series(1, 2000) g;
CREATE INDEX ON crm.sample (s);
ANALYZE crm.sample;
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT count(*) FROM crm.sample WHERE s = 'sal';
EXPLAIN (COSTS OFF) SELECT count(*) FROM crm.sample WHERE s >= 'customer';
RESET enable_seqscan;
SET enable_nestloop = off; SET enable_mergejoin = off;
EXPLAIN (COSTS OFF) SELECT count(*) FROM crm.leads l JOIN crm.sample x ON x.s = l.stage;
SELECT count(*) FROM crm.leads l JOIN crm.sample x ON x.s = l.stage;
RESET enable_mergejoin; SET enable_hashjoin = off;
EXPLAIN (COSTS OFF) SELECT count(*) FROM crm.leads l JOIN crm.sample x ON x.s = l.stage;
SELECT count(*) FROM crm.leads l JOIN crm.sample x ON x.s = l.stage;
RESET enable_nestloop; RESET enable_hashjoin;

-- the 0.1.0 spellings keep working (aliases of the same functions)
SELECT count(*) FROM crm.leads WHERE stage OPERATOR(lead_scoring.=) 'mql';
SELECT count(*) FROM crm.leads WHERE stage OPERATOR(lead_scoring.>=) 'mql' AND stage OPERATOR(lead_scoring.<>) 'lost';
SELECT lead_scoring.max(stage), lead_scoring.min(stage) FROM crm.leads;

-- with the extension's schema in the path, the pg_catalog operators still win (no ambiguity)
SET search_path = lead_scoring, public;
SELECT amopstrategy, o.oprname, o.oprnamespace::regnamespace FROM pg_amop JOIN pg_operator o ON o.oid = amopopr
 WHERE amopfamily = (SELECT opcfamily FROM pg_opclass WHERE opcname = 'funnel_stage_ops') ORDER BY 1;
SELECT 'lead_scoring.funnel_stage'::regtype = ALL (ARRAY[oprleft, oprright]) AS bare_eq_is_ours, oprnamespace::regnamespace
  FROM pg_operator WHERE oid = 'pg_catalog.=(lead_scoring.funnel_stage, lead_scoring.funnel_stage)'::regoperator;
SELECT count(*) FROM crm.leads WHERE stage = 'mql';
SELECT max(stage) FROM crm.leads;

-- exactly these objects of the extension live outside its schema
SELECT d.classid::regclass AS catalog, coalesce(o.oprname::text, p.proname::text) AS name,
       coalesce(o.oprnamespace, p.pronamespace)::regnamespace AS schema
  FROM pg_depend d
  JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'lead_scoring'
  LEFT JOIN pg_operator o ON d.classid = 'pg_operator'::regclass AND o.oid = d.objid
  LEFT JOIN pg_proc p ON d.classid = 'pg_proc'::regclass AND p.oid = d.objid
 WHERE d.deptype = 'e' AND coalesce(o.oprnamespace, p.pronamespace) = 'pg_catalog'::regnamespace
 ORDER BY 1, 2;

RESET search_path;
SELECT lead_scoring.detach('crm.leads');
DROP TABLE crm.sample, crm.leads;
DROP SCHEMA crm;
DROP TABLE lead_scoring.stage_change;
DROP EXTENSION lead_scoring;

-- an upgraded 0.1.0 database gets the same: operators moved (indexes and constraints keep them)
CREATE EXTENSION lead_scoring VERSION '0.1.0';
CREATE TABLE public.stage_sample (s lead_scoring.funnel_stage);
CREATE INDEX stage_sample_s ON public.stage_sample (s);
ALTER EXTENSION lead_scoring UPDATE TO '0.2.0';
SET search_path = "$user", public;
INSERT INTO stage_sample VALUES ('mql'), ('sal');
SELECT s FROM stage_sample WHERE s = 'mql' OR s > 'mql' ORDER BY s;
SELECT max(s), min(s) FROM stage_sample;
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT s FROM stage_sample WHERE s = 'sal';
RESET enable_seqscan;
INSERT INTO lead_scoring.threshold VALUES ('new', 1);
RESET search_path;
DROP TABLE public.stage_sample;
DROP EXTENSION lead_scoring;
