-- The per-row and per-lead shortcuts of bulk loads (doc/benchmarks.md, "Bulk loads, per row and
-- per lead"; doc/internals.md, "The stage log of a batch rewrite"):
-- - the stage changes of a batch rewrite are inserted into stage_change with one INSERT per batch:
--   the same rows in the same order as one INSERT per lead (lead_scoring.direct_rewrite = off),
--   stage_change's own triggers fire for each; with another AFTER row trigger on the leads table
--   (which could read the log while the batch is rewritten) they are inserted one by one;
-- - a statement's leads with integer ids in a dense range are kept in an array indexed by id: int2,
--   int4, int8 ids, negative ids, gaps, NULL ids, ids at the ends of the type, every score exact;
-- - engagement rules are tested by event type: rules of every type ('*'), several rules of one
--   type, types no rule names.
CREATE EXTENSION lead_scoring;
SET client_min_messages = warning;
\set SHOW_CONTEXT never
SET lead_scoring.now = '2026-03-01 12:00+00';

CREATE TABLE leads (id bigint PRIMARY KEY, email text);
CREATE TABLE events (id bigserial PRIMARY KEY, lead_id bigint, event_type text NOT NULL,
                     page text, occurred_at timestamptz NOT NULL DEFAULT '2026-03-01 11:00+00');
INSERT INTO leads SELECT g, 'p' || g || '@example.com' FROM generate_series(1, 40) g;
SELECT lead_scoring.attach_leads('leads');
SELECT lead_scoring.attach_events('events');
INSERT INTO lead_scoring.threshold VALUES ('iql', 10), ('mql', 30);
INSERT INTO lead_scoring.rule (name, kind, event_type, column_name, op, value, points, max_points) VALUES
    ('visit', 'engagement', 'visit', NULL, NULL, NULL, 5, 20),
    ('pricing visit', 'engagement', 'visit', 'page', 'prefix', '/pricing', 10, NULL),
    ('anything', 'engagement', '*', NULL, NULL, NULL, 1, 3),
    ('anything on pricing', 'engagement', '*', 'page', 'prefix', '/pricing', 2, NULL),
    ('demo', 'engagement', 'demo', NULL, NULL, NULL, 30, NULL);

-- stage_change's statements and rows, counted by its own triggers
CREATE TABLE log_writes (kind text, n int);
CREATE FUNCTION count_log_statement() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO log_writes VALUES ('statement', (SELECT count(*) FROM new_rows));
    RETURN NULL;
END $$;
CREATE FUNCTION count_log_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO log_writes VALUES ('row', 1);
    RETURN NULL;
END $$;
CREATE TRIGGER count_statements AFTER INSERT ON lead_scoring.stage_change
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION count_log_statement();
CREATE TRIGGER count_rows AFTER INSERT ON lead_scoring.stage_change
    FOR EACH ROW EXECUTE FUNCTION count_log_row();
CREATE VIEW log_counts AS
    SELECT count(*) FILTER (WHERE kind = 'statement') AS statements,
           coalesce(sum(n) FILTER (WHERE kind = 'statement'), 0) AS rows_in_statements,
           count(*) FILTER (WHERE kind = 'row') AS row_triggers
      FROM log_writes;
-- the log's rows written since mark(), in change_id order
CREATE TABLE marks (m bigint);
CREATE FUNCTION mark() RETURNS void LANGUAGE sql AS $$
    DELETE FROM marks; DELETE FROM log_writes;
    INSERT INTO marks SELECT coalesce(max(change_id), 0) FROM lead_scoring.stage_change
$$;
CREATE VIEW logged AS
    SELECT count(*) AS n,
           md5(string_agg(concat_ws(',', lead_id, from_stage, to_stage, score, actor, reason, owner, changed_at),
                          ';' ORDER BY change_id)) AS digest
      FROM lead_scoring.stage_change, marks WHERE change_id > marks.m;
-- a load of 40 leads: 26 of them change stage, 14 (only 'open' events) do not
CREATE FUNCTION load_events() RETURNS void LANGUAGE sql AS $$
    INSERT INTO events (lead_id, event_type, page)
    SELECT 1 + g % 40, CASE WHEN g % 40 >= 26 THEN 'open' ELSE (ARRAY['visit', 'visit', 'demo'])[1 + (g / 40) % 3] END,
           CASE WHEN g % 3 = 0 THEN '/pricing' END
      FROM generate_series(0, 40 * 3 - 1) g
$$;

-- one INSERT per batch, its rows counted by stage_change's triggers as usual
BEGIN;
SELECT mark();
SELECT load_events();
SELECT * FROM log_counts;
SELECT n, digest FROM logged \gset batch_
SELECT count(*) AS inexact FROM leads WHERE score <> lead_scoring.score(id);
SELECT c.lead_id, c.from_stage, c.to_stage, c.score, c.reason
  FROM lead_scoring.stage_change c, marks WHERE c.change_id > marks.m ORDER BY c.change_id LIMIT 4;
ROLLBACK;
-- the same load as UPDATE statements: one INSERT per lead, the same rows in the same order
BEGIN;
SET LOCAL lead_scoring.direct_rewrite = off;
SELECT mark();
SELECT load_events();
SELECT * FROM log_counts;
SELECT n = :batch_n AS same_count, digest = :'batch_digest' AS same_rows_same_order FROM logged;
ROLLBACK;

-- another AFTER row trigger on the leads table sees the log as each lead is written: one INSERT per
-- lead, as before
CREATE TABLE seen_log (lead_id bigint, changes bigint);
CREATE FUNCTION crm_after() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO seen_log SELECT NEW.id, count(*) FROM lead_scoring.stage_change c, marks WHERE c.change_id > marks.m;
    RETURN NULL;
END $$;
CREATE TRIGGER crm_after AFTER UPDATE ON leads FOR EACH ROW EXECUTE FUNCTION crm_after();
BEGIN;
SELECT mark();
SELECT load_events();
SELECT * FROM log_counts;
-- the leads after the first changing one saw its row
SELECT count(*) FILTER (WHERE changes > 0) AS saw_earlier_changes, count(*) AS writes FROM seen_log;
ROLLBACK;
DROP TRIGGER crm_after ON leads;

-- a BEFORE row trigger of the CRM's: one INSERT per lead too
CREATE FUNCTION crm_before() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RETURN NEW;
END $$;
CREATE TRIGGER crm_before BEFORE UPDATE ON leads FOR EACH ROW EXECUTE FUNCTION crm_before();
BEGIN;
SELECT mark();
SELECT load_events();
SELECT * FROM log_counts;
ROLLBACK;
DROP TRIGGER crm_before ON leads;
DROP TRIGGER count_statements ON lead_scoring.stage_change;
DROP TRIGGER count_rows ON lead_scoring.stage_change;

-- integer ids: a COPY whose leads span no more ids than it has rows (an array indexed by id), and
-- statements whose ids are too sparse for one (hashed); scores exact either way
CREATE FUNCTION check_exact() RETURNS TABLE (leads bigint, scored bigint, inexact bigint) LANGUAGE sql AS $$
    SELECT count(*), count(*) FILTER (WHERE score <> 0), count(*) FILTER (WHERE score <> lead_scoring.score(id))
      FROM leads
$$;
INSERT INTO leads VALUES (-5, 'neg5@example.com'), (-1, 'neg1@example.com'), (0, 'zero@example.com'),
    (9223372036854775807, 'max@example.com'), (-9223372036854775808, 'min@example.com'),
    (1000000, 'far@example.com');
-- dense: ids -5 .. 40 with gaps (-4 .. -2 are no leads), NULL ids, 100 rows
INSERT INTO events (lead_id, event_type, page)
SELECT CASE WHEN g % 17 = 0 THEN NULL ELSE -5 + g % 46 END, (ARRAY['visit', 'demo', 'open'])[1 + g % 3],
       CASE WHEN g % 5 = 0 THEN '/pricing/x' END
  FROM generate_series(1, 100) g;
SELECT * FROM check_exact();
-- sparse: the ends of int8 and a far id among the small ones (hashed)
INSERT INTO events (lead_id, event_type, page)
SELECT (ARRAY[9223372036854775807, -9223372036854775808, 1000000, 1, 2, 3, 0, -1])[1 + g % 8], 'visit', '/pricing'
  FROM generate_series(1, 100) g;
SELECT * FROM check_exact();
SELECT id, score, stage FROM leads WHERE id IN (9223372036854775807, -9223372036854775808, 1000000, -5, 0) ORDER BY id;
SELECT lead_scoring.detach('events');
SELECT lead_scoring.detach('leads');
DROP TABLE events;
DROP TABLE leads;
DROP VIEW log_counts, logged;
DROP TABLE marks, log_writes, seen_log;
DROP FUNCTION count_log_statement(), count_log_row(), mark(), load_events(), crm_after(), crm_before(),
    check_exact();
-- (the log holds lead ids of the attached type)
TRUNCATE lead_scoring.stage_change;

-- int4 and int2 ids, dense
CREATE TABLE leads4 (id int PRIMARY KEY);
CREATE TABLE events4 (id serial PRIMARY KEY, lead_id int, event_type text NOT NULL, page text,
                      occurred_at timestamptz NOT NULL DEFAULT '2026-03-01 11:00+00');
INSERT INTO leads4 SELECT g FROM generate_series(-3, 2500) g;
SELECT lead_scoring.attach_leads('leads4');
SELECT lead_scoring.attach_events('events4');
COPY events4 (lead_id, event_type, page) FROM stdin;
-3	visit	/pricing
-3	demo	\N
0	open	\N
1	visit	\N
2	visit	/pricing
60	demo	\N
\N	demo	\N
\.
INSERT INTO events4 (lead_id, event_type, page)
SELECT -3 + g % 64, (ARRAY['visit', 'demo', 'open', 'visit'])[1 + g % 4], CASE WHEN g % 7 = 0 THEN '/pricing' END
  FROM generate_series(1, 200) g;
-- ids all over -3 .. 2500, the first one in the middle: the array grows down and up
INSERT INTO events4 (lead_id, event_type, page)
SELECT 2500 - (g * 7919) % 2504, (ARRAY['visit', 'demo', 'visit'])[1 + g % 3], CASE WHEN g % 5 = 0 THEN '/pricing' END
  FROM generate_series(1, 3000) g;
SELECT count(*) AS leads, count(*) FILTER (WHERE score <> lead_scoring.score(id)) AS inexact,
       count(*) FILTER (WHERE score > 0) AS scored, sum(score) AS total FROM leads4;
SELECT lead_scoring.detach('events4');
SELECT lead_scoring.detach('leads4');
DROP TABLE events4;
DROP TABLE leads4;
TRUNCATE lead_scoring.stage_change;
CREATE TABLE leads2 (id smallint PRIMARY KEY);
CREATE TABLE events2 (id serial PRIMARY KEY, lead_id smallint, event_type text NOT NULL, page text,
                      occurred_at timestamptz NOT NULL DEFAULT '2026-03-01 11:00+00');
INSERT INTO leads2 VALUES (-32768), (32767), (1), (2), (3);
INSERT INTO leads2 SELECT g FROM generate_series(10, 80) g;
SELECT lead_scoring.attach_leads('leads2');
SELECT lead_scoring.attach_events('events2');
INSERT INTO events2 (lead_id, event_type, page)
SELECT 10 + g % 71, (ARRAY['visit', 'demo', 'visit'])[1 + g % 3], CASE WHEN g % 4 = 0 THEN '/pricing' END
  FROM generate_series(1, 150) g;
INSERT INTO events2 (lead_id, event_type) SELECT (ARRAY[-32768, 32767, 1, 2, 3]::smallint[])[1 + g % 5], 'visit'
  FROM generate_series(1, 100) g;
SELECT count(*) AS leads, count(*) FILTER (WHERE score <> lead_scoring.score(id)) AS inexact,
       sum(score) AS total FROM leads2;
SELECT id, score FROM leads2 WHERE id IN (-32768, 32767, 1, 10) ORDER BY id;
SELECT lead_scoring.detach('events2');
SELECT lead_scoring.detach('leads2');
DROP TABLE events2;
DROP TABLE leads2;
DROP EXTENSION lead_scoring;
DROP SCHEMA lead_scoring CASCADE;
