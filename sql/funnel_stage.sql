-- The funnel_stage type: labels, aliases, bad input, ordering, indexes, binary I/O.
CREATE EXTENSION lead_scoring;
SET search_path = lead_scoring, public;

-- every label, in rank order, with its properties
SELECT s, stage_rank(s), s::integer AS cast_rank, stage_owner(s), stage_is_terminal(s)
FROM funnel_stages() AS s;

-- every alias, case-insensitive and trimmed; output is the canonical label
SELECT replace(replace(replace(a, E'\t', '\t'), E'\n', '\n'), E'\r', '\r') AS input,
       a::funnel_stage AS stage
FROM unnest(ARRAY[
    'inquiry', 'subscriber', 'information qualified lead', 'information-qualified lead', 'nql',
    'non-qualified lead', 'marketing qualified lead', 'sales accepted lead', 'sales qualified lead',
    'sqo', 'opp', 'won', 'closed won', 'junk', 'unqualified', 'closed lost', 'nurture',
    'NEW', ' Iql ', E'\tMQL\n', 'Closed Won', '  SQO ', E'\r\nNurture\t', 'Information-Qualified Lead',
    'WON', 'Sales Accepted Lead', 'oPpOrTuNiTy', 'Closed LOST', 'JUNK']) AS a;
-- surrounding white space does not count towards the length limit
SELECT (repeat(' ', 200) || 'customer' || repeat(E'\n', 200))::funnel_stage;

-- malformed literals: each fails with 22P02, quotes the input and hints at the labels
CREATE FUNCTION pg_temp.try_stage(input text) RETURNS TABLE (sqlstate text, message text, hint_lists_labels boolean)
LANGUAGE plpgsql AS $$
DECLARE
    st text; msg text; h text;
BEGIN
    PERFORM input::lead_scoring.funnel_stage;
    RETURN QUERY SELECT 'accepted'::text, NULL::text, NULL::boolean;
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, h = PG_EXCEPTION_HINT;
    RETURN QUERY SELECT st, msg, h LIKE 'Valid labels are new, iql, mql, sal, sql, opportunity, customer, recycled, disqualified and lost%';
END $$;

SELECT n, r.*
FROM unnest(ARRAY[
    '', ' ', E'\t\n ', 'neww', 'ne w', 'n', 'mqll', 'ml', 'sales', 'marketing', 'opportunities',
    'customers', 'closed', 'closed-won', 'closedwon', 'closed_lost', 'information qualified',
    'sales  accepted lead', '"new"', '''mql''', 'new;', 'new,mql', '0', '3', '-1', 'NULL',
    'nеw' /* Cyrillic е */, 'мql', 'new' || chr(160) /* no-break space is not trimmed */,
    'über', '新', 'mql' || repeat(' ', 10) || 'x', repeat('x', 1000), repeat('é', 100)])
    WITH ORDINALITY AS t(input, n),
    LATERAL pg_temp.try_stage(input) AS r
ORDER BY n;

-- a literal in a statement reports the same way
SELECT 'mqlx'::funnel_stage;
SELECT ''::funnel_stage;

-- comparison is by rank, not by label
SELECT 'new'::funnel_stage < 'iql', 'customer'::funnel_stage > 'opportunity',
       'lost'::funnel_stage >= 'recycled', 'sql'::funnel_stage <= 'sal',
       'mql'::funnel_stage = 'Marketing Qualified Lead', 'mql'::funnel_stage <> 'sal';

CREATE TABLE stage_sample (id serial PRIMARY KEY, s funnel_stage);
INSERT INTO stage_sample (s)
SELECT (ARRAY['lost', 'new', 'customer', 'mql', 'sal', 'iql', 'recycled', 'sql', 'opportunity',
              'disqualified'])[1 + i % 10]::funnel_stage
FROM generate_series(0, 999) AS i;
INSERT INTO stage_sample (s) VALUES (NULL);

SELECT s, count(*) FROM stage_sample GROUP BY s ORDER BY s;
SELECT s FROM stage_sample WHERE id <= 12 ORDER BY s DESC NULLS LAST, id;
SELECT min(s), max(s), count(DISTINCT s) FROM stage_sample;
SELECT min(s) FILTER (WHERE stage_owner(s) = 'sales'), max(s) FILTER (WHERE stage_owner(s) = 'marketing')
FROM stage_sample;

-- DISTINCT and GROUP BY through a sort ...
SET enable_hashagg = off;
EXPLAIN (COSTS OFF) SELECT DISTINCT s FROM stage_sample;
SELECT DISTINCT s FROM stage_sample ORDER BY 1;
EXPLAIN (COSTS OFF) SELECT s, count(*) FROM stage_sample GROUP BY s;
SELECT s, count(*) FROM stage_sample GROUP BY s ORDER BY 1;
RESET enable_hashagg;

-- ... and through hashing
SET enable_sort = off;
EXPLAIN (COSTS OFF) SELECT DISTINCT s FROM stage_sample;
SELECT array_agg(s ORDER BY s) FROM (SELECT DISTINCT s FROM stage_sample) AS d;
EXPLAIN (COSTS OFF) SELECT s, count(*) FROM stage_sample GROUP BY s;
SELECT array_agg(c ORDER BY s) FROM (SELECT s, count(*) AS c FROM stage_sample GROUP BY s) AS g;
RESET enable_sort;

-- joins: hash join and merge join both use the type's operators
CREATE TABLE stage_names AS SELECT s, stage_owner(s) AS owner FROM funnel_stages() AS s;
ANALYZE stage_sample, stage_names;
SET enable_mergejoin = off; SET enable_nestloop = off;
EXPLAIN (COSTS OFF) SELECT n.owner, count(*) FROM stage_sample x JOIN stage_names n USING (s) GROUP BY 1;
SELECT n.owner, count(*) FROM stage_sample x JOIN stage_names n USING (s) GROUP BY 1 ORDER BY 1;
RESET enable_mergejoin; SET enable_hashjoin = off;
EXPLAIN (COSTS OFF) SELECT n.owner, count(*) FROM stage_sample x JOIN stage_names n USING (s) GROUP BY 1;
SELECT n.owner, count(*) FROM stage_sample x JOIN stage_names n USING (s) GROUP BY 1 ORDER BY 1;
RESET enable_hashjoin; RESET enable_nestloop;

-- a btree index and a hash index, both chosen by the planner
CREATE INDEX stage_sample_btree ON stage_sample (s);
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT count(*) FROM stage_sample WHERE s = 'sal';
SELECT count(*) FROM stage_sample WHERE s = 'sal';
EXPLAIN (COSTS OFF) SELECT count(*) FROM stage_sample WHERE s BETWEEN 'sal' AND 'customer';
SELECT count(*) FROM stage_sample WHERE s BETWEEN 'sal' AND 'customer';
DROP INDEX stage_sample_btree;
CREATE INDEX stage_sample_hash ON stage_sample USING hash (s);
EXPLAIN (COSTS OFF) SELECT count(*) FROM stage_sample WHERE s = 'opp';
SELECT count(*) FROM stage_sample WHERE s = 'opp';
RESET enable_seqscan;

-- hash support functions agree with each other and with equality
SELECT count(DISTINCT funnel_stage_hash(s)) AS distinct_hashes,
       bool_and(funnel_stage_hash_extended(s, 0) & 4294967295 = funnel_stage_hash(s)::bigint & 4294967295)
           AS extended_seed0_matches,
       count(DISTINCT funnel_stage_hash_extended(s, 42)) AS distinct_seeded
FROM funnel_stages() AS s;

-- casts
SELECT 'sal'::funnel_stage::text, 'Closed Won'::text::funnel_stage, 'opp'::varchar::funnel_stage,
       'lost'::funnel_stage::integer;
CREATE TABLE stage_assign (s funnel_stage, t text);
INSERT INTO stage_assign VALUES ('sql'::text, 'mql'::funnel_stage);
INSERT INTO stage_assign VALUES ('sql'::varchar, NULL);
SELECT * FROM stage_assign;
SELECT 3::funnel_stage;   -- no cast from integer: the rank is not a label

-- binary COPY round trip
SELECT '/tmp/lead_scoring_stage_' || pg_backend_pid() || '.bin' AS copyfile \gset
COPY (SELECT id, s FROM stage_sample ORDER BY id) TO :'copyfile' WITH (FORMAT binary);
CREATE TABLE stage_copy (id int, s funnel_stage);
COPY stage_copy FROM :'copyfile' WITH (FORMAT binary);
SELECT count(*) AS copied, count(*) FILTER (WHERE c.s IS NOT DISTINCT FROM o.s) AS identical
FROM stage_copy c JOIN stage_sample o USING (id);

-- a rank out of range in binary input is refused with 22P03
CREATE TABLE rank_source (id int, s int);
INSERT INTO rank_source VALUES (1, 10);
COPY rank_source TO :'copyfile' WITH (FORMAT binary);
COPY stage_copy FROM :'copyfile' WITH (FORMAT binary);
TRUNCATE rank_source;
INSERT INTO rank_source VALUES (1, -1);
COPY rank_source TO :'copyfile' WITH (FORMAT binary);
COPY stage_copy FROM :'copyfile' WITH (FORMAT binary);
-- a field of the wrong width is refused too
CREATE TABLE wide_source (id int, s bigint);
INSERT INTO wide_source VALUES (1, 3);
COPY wide_source TO :'copyfile' WITH (FORMAT binary);
COPY stage_copy FROM :'copyfile' WITH (FORMAT binary);
SELECT count(*) FROM stage_copy;

-- the wire format is the rank as a 4-byte integer
SELECT funnel_stage_send(s) FROM funnel_stages() AS s;

DROP TABLE stage_sample, stage_names, stage_assign, stage_copy, rank_source, wide_source;
DROP EXTENSION lead_scoring;
