-- Property test of stored scores (used by scoring_property.sh).
-- Variables: idtype (lead id type), decay (on|off), seed (for setseed), nops (operations);
-- from_version (optional): install that released version, attach, then ALTER EXTENSION ... UPDATE
-- before the operations run (test/scripts/upgrade.sh);
-- citus (optional): the database is a Citus coordinator with workers (test/scripts/citus_property.sh):
-- the events' primary keys include the lead id, lead_scoring.citus_setup() distributes the tables after
-- they are attached, and the operations Citus refuses (an event moved to another lead by UPDATE, an event
-- without a lead: the distribution column) are written as Citus applications write them (the event
-- copied to the other lead and deleted) or not at all.
-- A random CRM is built, attached, scored by a rule set of every kind, then driven by a random
-- mix of single and multi-row INSERTs, COPY (events in and out of time order, some dated in the
-- future), UPDATEs, DELETEs, lead writes and rule and settings changes mid-stream, some of them in
-- transactions (committed or rolled back).  After every operation:
--   without decay: every stored score whose engagement state says it was computed under the
--     current rules equals lead_scoring.score(lead), before any refresh (the carried states are
--     exact; leads scored under earlier rules are only counted);
--   always: after refresh_scores() (in a transaction rolled back, so the run goes on with the
--     states the triggers carried), every stored score equals score(lead).
-- At the end: the same after a committed refresh, and score(lead, t) and the sum of
-- explain(lead, t) agree with an independent SQL implementation of the formula
-- (oracle_unrounded below).  scoring_property.sh then runs concurrent writers, refreshes and rule
-- changes against the same database and checks the first property again.
\set ON_ERROR_STOP 1
\pset footer off
SET client_min_messages = warning;
SELECT setseed(:seed);

\if :{?from_version}
CREATE EXTENSION lead_scoring VERSION :'from_version';
\else
CREATE EXTENSION lead_scoring;
\endif
CREATE TYPE ev_kind AS ENUM ('visit', 'download', 'webinar', 'call', 'noise');
SELECT format('CREATE FUNCTION on_citus() RETURNS boolean LANGUAGE sql IMMUTABLE AS $$ SELECT %L::boolean $$',
              :{?citus}) \gexec

-- lead number -> lead id; text ids carry a quote, a comma and a double quote
SELECT format($f$CREATE FUNCTION lid(i int) RETURNS %1$s LANGUAGE sql IMMUTABLE
                 AS $$ SELECT (CASE %2$L WHEN 'uuid' THEN md5('lead' || i)
                                         WHEN 'text' THEN 'L''o, "' || i ELSE i::text END)::%1$s $$$f$,
              :'idtype', :'idtype') \gexec

SELECT format('CREATE TABLE leads (id %s PRIMARY KEY, email text, phone text, company_size int,'
              ' country text, revenue numeric, signed_up date)', :'idtype') \gexec
SELECT format('CREATE TABLE events_a (id bigserial PRIMARY KEY, lead_id %s, event_type text NOT NULL,'
              ' occurred_at timestamptz NOT NULL, url text, duration int)', :'idtype') \gexec
-- on Citus, the primary keys of tables distributed by lead include the lead id
SELECT 'ALTER TABLE events_a DROP CONSTRAINT events_a_pkey, ADD PRIMARY KEY (id, lead_id)' WHERE on_citus() \gexec
SELECT format('CREATE TABLE events_b (id bigserial, lead_id %s, kind ev_kind NOT NULL, at timestamp NOT NULL,'
              ' channel text, PRIMARY KEY (id, at%s)) PARTITION BY RANGE (at)', :'idtype',
              CASE WHEN on_citus() THEN ', lead_id' END) \gexec
SELECT format('CREATE TABLE events_b_old PARTITION OF events_b FOR VALUES FROM (MINVALUE) TO (%L)',
              (now() - interval '20 days')::timestamp) \gexec
CREATE TABLE events_b_new PARTITION OF events_b DEFAULT;

CREATE FUNCTION rnd(n int) RETURNS int LANGUAGE sql AS $$ SELECT floor(random() * n)::int $$;
CREATE FUNCTION pick(a text[]) RETURNS text LANGUAGE sql AS $$ SELECT a[1 + rnd(cardinality(a))] $$;
CREATE FUNCTION rnd_email() RETURNS text LANGUAGE sql AS $$
    SELECT pick(ARRAY['ann@example.com', ' Bob@Example.org ', 'nobody', 'x@localhost', NULL, 'c.d+crm@mail.co.uk']) $$;
CREATE FUNCTION rnd_phone() RETURNS text LANGUAGE sql AS $$
    SELECT pick(ARRAY['+44 20 7946 0958', '020 7946 0958', '(415) 555-2671', '12', NULL, '+7 999 123-45-67']) $$;
-- times are often whole days, so that events of a lead tie and the primary key decides which come first
CREATE FUNCTION rnd_time(decay boolean) RETURNS timestamptz LANGUAGE sql AS $$
    SELECT CASE WHEN random() < 0.5 THEN date_trunc('day', now()) - interval '1 day' * (1 + rnd(30))
                ELSE date_trunc('second', now()) - interval '1 minute' - (random() * 40 * 86400) * interval '1 second' END
           + CASE WHEN decay AND random() < 0.05 THEN (random() * 3 * 86400) * interval '1 second' ELSE '0' END $$;
CREATE FUNCTION rnd_lead() RETURNS int LANGUAGE sql AS $$ SELECT 1 + rnd(340) $$;
CREATE FUNCTION lead_values(i int) RETURNS text LANGUAGE sql AS $$
    SELECT format('(lid(%s), %L, %L, %s, %L, %s, %L)', i, rnd_email(), rnd_phone(),
                  coalesce((rnd(500))::text, 'NULL'), pick(ARRAY['DE', 'FR', 'US', 'NL', 'de', NULL]),
                  round((random() * 1e6)::numeric, 2), date '2024-01-01' + rnd(700)) $$;
CREATE FUNCTION event_a_values(decay boolean) RETURNS text LANGUAGE sql AS $$
    SELECT format('(%s, %L, %L, %L, %s)',
                  CASE WHEN random() < 0.02 AND NOT on_citus() THEN 'NULL' ELSE format('lid(%s)', rnd_lead()) END,
                  pick(ARRAY['page_view', 'page_view', 'email_open', 'form', 'noise', 'Page_View']),
                  rnd_time(decay),
                  pick(ARRAY['/pricing', '/blog/x', '/Pricing/plans', '/docs', NULL]),
                  coalesce(rnd(600)::text, 'NULL')) $$;
CREATE FUNCTION event_b_values(decay boolean) RETURNS text LANGUAGE sql AS $$
    SELECT format('(lid(%s), %L, %L, %L)', rnd_lead(),
                  pick(ARRAY['visit', 'download', 'webinar', 'call', 'noise']),
                  rnd_time(decay)::timestamp, pick(ARRAY['ads', 'email', 'seo', NULL])) $$;

-- initial data: leads and events exist before the tables are attached
SELECT format('INSERT INTO leads VALUES %s', string_agg(lead_values(i), ', ')) FROM generate_series(1, 300) i \gexec
SELECT format('INSERT INTO events_a (lead_id, event_type, occurred_at, url, duration) VALUES %s',
              string_agg(event_a_values(:'decay'), ', ')) FROM generate_series(1, 1500) \gexec
SELECT format('INSERT INTO events_b (lead_id, kind, at, channel) VALUES %s',
              string_agg(event_b_values(:'decay'), ', ')) FROM generate_series(1, 800) \gexec

-- rules of every kind
INSERT INTO lead_scoring.rule (name, kind, column_name, op, value, points) VALUES
    ('big', 'fit', 'company_size', '>=', '200', 20),
    ('tiny', 'fit', 'company_size', '<', '10', -5),
    ('mid', 'fit', 'company_size', '<=', '120', 3),
    ('over 50', 'fit', 'company_size', '>', '50', 2),
    ('exactly 7', 'fit', 'company_size', '=', '7', 11),
    ('not US', 'fit', 'country', '<>', 'US', 1),
    ('EU', 'fit', 'country', 'in', 'DE, FR, NL', 8),
    ('rich', 'fit', 'revenue', '>=', '500000.50', 4),
    ('recent', 'fit', 'signed_up', '>=', '2025-01-01', 2),
    ('corporate mail', 'fit', 'email', 'contains', 'EXAMPLE', 3),
    ('ann', 'fit', 'email', 'prefix', 'Ann', 1),
    ('uk mail', 'fit', 'email', 'regex', '\.uk$', 2),
    ('no country', 'fit', 'country', 'is_null', NULL, -3),
    ('has phone', 'fit', 'phone', 'not_null', NULL, 1),
    ('good email', 'fit', 'email', 'valid_email', NULL, 5),
    ('bad email', 'fit', 'email', 'invalid_email', NULL, -10),
    ('good phone', 'fit', 'phone', 'valid_phone', 'GB', 5),
    ('bad phone', 'fit', 'phone', 'invalid_phone', NULL, -7);
INSERT INTO lead_scoring.rule (name, kind, event_type, column_name, op, value, points, max_points, max_hits) VALUES
    ('page views', 'engagement', 'page_view', NULL, NULL, NULL, 1, 15, NULL),
    ('pricing', 'engagement', 'page_view', 'url', 'contains', 'pricing', 6, NULL, 3),
    ('docs', 'engagement', '*', 'url', 'prefix', '/DOCS', 2, 10, NULL),
    ('long read', 'engagement', '*', 'duration', '>=', '300', 3, NULL, 4),
    ('no url', 'engagement', 'page_view', 'url', 'is_null', NULL, -1, 3, NULL),
    ('first form', 'engagement', 'form', NULL, NULL, NULL, 25, NULL, 1),
    ('webinar', 'engagement', 'webinar', NULL, NULL, NULL, 15, 40, 2),
    ('paid channel', 'engagement', '*', 'channel', 'in', 'ads, email', 2, 12, NULL),
    ('download', 'engagement', 'download', 'channel', 'not_null', NULL, 4, NULL, NULL),
    ('calls', 'engagement', 'call', NULL, NULL, NULL, 5, 20, 5);
UPDATE lead_scoring.rule SET half_life = interval '1 day' * (1 + rule_id % 9) WHERE :'decay' AND kind = 'engagement'
   AND name IN ('page views', 'pricing', 'long read', 'webinar', 'paid channel', 'calls');

-- events_a's lead index holds every column the rules read: all-visible pages are read from the index alone
CREATE INDEX events_a_lead ON events_a (lead_id, occurred_at) INCLUDE (event_type, url, duration);
VACUUM events_a;
SELECT lead_scoring.attach_leads('leads');
SELECT lead_scoring.attach_events('events_a');
SELECT lead_scoring.attach_events('events_b', type_column => 'kind', time_column => 'at',
                                  channel_column => 'channel');
\if :{?from_version}
ALTER EXTENSION lead_scoring UPDATE;
\endif
\if :{?citus}
-- attached first, then distributed by lead and colocated, the configuration replicated to the workers
SELECT lead_scoring.citus_setup();
\endif

-- rules added and changed while the CRM runs
CREATE TABLE rule_template (name text, kind text, event_type text, column_name text, op text, value text,
                            points int, max_points int, max_hits int, half_life interval);
INSERT INTO rule_template VALUES
    ('t emails', 'engagement', 'email_open', NULL, NULL, NULL, 2, 9, NULL, '3 days'),
    ('t visits', 'engagement', 'visit', NULL, NULL, NULL, 1, NULL, 10, '5 days'),
    ('t any', 'engagement', '*', NULL, NULL, NULL, 1, 7, NULL, NULL),
    ('t blog', 'engagement', 'page_view', 'url', 'regex', '^/blog', 3, NULL, 2, '2 days'),
    ('t seo', 'engagement', '*', 'channel', '=', 'seo', 2, NULL, NULL, NULL),
    ('t short', 'engagement', '*', 'duration', '<', '30', -2, 6, NULL, NULL),
    ('t small', 'fit', NULL, 'company_size', 'in', '1,2,3,4,5', -4, NULL, NULL, NULL),
    ('t fr', 'fit', NULL, 'country', '=', 'FR', 6, NULL, NULL, NULL),
    ('t no phone', 'fit', NULL, 'phone', 'is_null', NULL, -2, NULL, NULL, NULL);

-- the operations, as SQL text (generated here so that the seed fixes them)
CREATE FUNCTION gen_op(decay boolean, depth int) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    x float8 := random();
    n int;
    t rule_template;
    lines text[];
BEGIN
    IF x < 0.20 THEN
        IF random() < 0.6 THEN
            RETURN format('INSERT INTO events_a (lead_id, event_type, occurred_at, url, duration) VALUES %s;',
                          event_a_values(decay));
        END IF;
        RETURN format('INSERT INTO events_b (lead_id, kind, at, channel) VALUES %s;', event_b_values(decay));
    ELSIF x < 0.32 THEN
        n := 2 + rnd(40);
        IF random() < 0.5 THEN
            RETURN format('INSERT INTO events_a (lead_id, event_type, occurred_at, url, duration) VALUES %s;',
                          (SELECT string_agg(event_a_values(decay), ', ') FROM generate_series(1, n)));
        END IF;
        RETURN format('INSERT INTO events_b (lead_id, kind, at, channel) VALUES %s;',
                      (SELECT string_agg(event_b_values(decay), ', ') FROM generate_series(1, n)));
    ELSIF x < 0.42 THEN
        -- COPY, text format
        n := 5 + rnd(150);
        SELECT array_agg(concat_ws(E'\t', CASE WHEN random() < 0.02 AND NOT on_citus() THEN '\N' ELSE lid(rnd_lead())::text END,
                                   pick(ARRAY['page_view', 'email_open', 'form', 'noise']), rnd_time(decay)::text,
                                   coalesce(pick(ARRAY['/pricing', '/blog/y', '/docs/a', NULL]), '\N'),
                                   coalesce(rnd(600)::text, '\N')))
          INTO lines FROM generate_series(1, n);
        RETURN E'COPY events_a (lead_id, event_type, occurred_at, url, duration) FROM STDIN;\n'
               || array_to_string(lines, E'\n') || E'\n\\.';
    ELSIF x < 0.50 THEN
        RETURN pick(ARRAY[
            format('UPDATE events_a SET url = %L WHERE id %% 53 = %s;', pick(ARRAY['/pricing', '/x', NULL]), rnd(53)),
            CASE WHEN NOT on_citus()
                 THEN format('UPDATE events_a SET lead_id = lid(%s) WHERE id %% 97 = %s;', rnd_lead(), rnd(97))
                 -- Citus does not update a distribution column: the events are copied to the lead and deleted
                 ELSE format('%3$sINSERT INTO events_a (lead_id, event_type, occurred_at, url, duration)'
                             ' SELECT lid(%1$s), event_type, occurred_at, url, duration FROM events_a'
                             ' WHERE id %% 97 = %2$s AND lead_id <> lid(%1$s);' || E'\n' ||
                             'DELETE FROM events_a WHERE id %% 97 = %2$s AND lead_id <> lid(%1$s);%4$s',
                             rnd_lead(), rnd(97), CASE WHEN depth = 0 THEN E'BEGIN;\n' END,
                             CASE WHEN depth = 0 THEN E'\nCOMMIT;' END) END,
            CASE WHEN NOT on_citus()
                 THEN format('UPDATE events_a SET occurred_at = occurred_at - interval ''2 days'' WHERE lead_id = lid(%s);', rnd_lead())
                 -- Citus calls no STABLE function (timestamptz - interval) on a column in an UPDATE: the
                 -- lead's events are copied two days earlier and the originals deleted
                 ELSE format('%2$sSELECT coalesce(max(id), 0) AS last_id FROM events_a \gset' || E'\n' ||
                             'INSERT INTO events_a (lead_id, event_type, occurred_at, url, duration)'
                             ' SELECT lead_id, event_type, occurred_at - interval ''2 days'', url, duration'
                             ' FROM events_a WHERE lead_id = lid(%1$s);' || E'\n' ||
                             'DELETE FROM events_a WHERE lead_id = lid(%1$s) AND id <= :last_id;%3$s',
                             rnd_lead(), CASE WHEN depth = 0 THEN E'BEGIN;\n' END,
                             CASE WHEN depth = 0 THEN E'\nCOMMIT;' END) END,
            format('UPDATE events_a SET event_type = %L WHERE id %% 41 = %s;', pick(ARRAY['form', 'noise', 'page_view']), rnd(41)),
            format('UPDATE events_b SET kind = %L, channel = %L WHERE id %% 37 = %s;',
                   pick(ARRAY['webinar', 'noise', 'call']), pick(ARRAY['ads', NULL]), rnd(37)),
            format('UPDATE events_b SET at = at + interval ''25 days'' WHERE id %% 43 = %s;', rnd(43))]);
    ELSIF x < 0.57 THEN
        RETURN pick(ARRAY[
            format('DELETE FROM events_a WHERE id %% 71 = %s;', rnd(71)),
            format('DELETE FROM events_b WHERE id %% 59 = %s;', rnd(59)),
            format('DELETE FROM events_a WHERE lead_id = lid(%s);', rnd_lead())]);
    ELSIF x < 0.65 THEN
        n := 1 + rnd(3);
        RETURN format('INSERT INTO leads VALUES %s ON CONFLICT (id) DO UPDATE SET company_size = EXCLUDED.company_size;',
                      (SELECT string_agg(lead_values(i), ', ' ORDER BY i)
                         FROM (SELECT DISTINCT 300 + rnd(45) AS i FROM generate_series(1, n) g) d));
    ELSIF x < 0.73 THEN
        RETURN pick(ARRAY[
            format('UPDATE leads SET company_size = %s, email = %L WHERE id = lid(%s);', rnd(400), rnd_email(), rnd_lead()),
            format('UPDATE leads SET country = %L WHERE company_size %% 11 = %s;', pick(ARRAY['FR', 'US', NULL]), rnd(11)),
            format('UPDATE leads SET phone = %L, revenue = revenue + 1000 WHERE id = lid(%s);', rnd_phone(), rnd_lead()),
            format('DELETE FROM leads WHERE id = lid(%s);', rnd_lead())]);
    ELSIF x < 0.79 THEN
        SELECT * INTO t FROM rule_template ORDER BY name OFFSET rnd(9) LIMIT 1;
        RETURN pick(ARRAY[
            format('INSERT INTO lead_scoring.rule (name, kind, event_type, column_name, op, value, points, max_points,'
                   ' max_hits, half_life) VALUES (%L, %L, %L, %L, %L, %L, %s, %s, %s, %L) ON CONFLICT (name) DO NOTHING;',
                   t.name, t.kind, t.event_type, t.column_name, t.op, t.value, t.points,
                   coalesce(t.max_points::text, 'NULL'), coalesce(t.max_hits::text, 'NULL'),
                   CASE WHEN decay THEN t.half_life END),
            format('DELETE FROM lead_scoring.rule WHERE name = %L;', t.name),
            format('UPDATE lead_scoring.rule SET points = points + %s WHERE rule_id %% 5 = %s;', rnd(7) - 3, rnd(5)),
            format('UPDATE lead_scoring.rule SET active = NOT active WHERE rule_id %% 7 = %s;', rnd(7)),
            format('UPDATE lead_scoring.rule SET max_hits = %s WHERE kind = ''engagement'' AND rule_id %% 3 = %s;',
                   coalesce((1 + rnd(4))::text, 'NULL'), rnd(3))]);
    ELSIF x < 0.81 THEN
        RETURN pick(ARRAY[
            format('UPDATE lead_scoring.settings SET score_floor = %s, score_ceiling = %s;',
                   CASE WHEN random() < 0.5 THEN '-15' ELSE 'NULL' END, CASE WHEN random() < 0.5 THEN '90' ELSE 'NULL' END),
            'UPDATE lead_scoring.settings SET default_phone_country = ' || pick(ARRAY['''44''', '''US''', 'NULL']) || ';']);
    ELSIF x < 0.83 AND depth = 0 THEN
        RETURN 'VACUUM events_a;';
    ELSIF x < 0.88 AND depth = 0 THEN
        n := 2 + rnd(3);
        RETURN 'BEGIN;' || E'\n' || (SELECT string_agg(gen_op(decay, 1), E'\n') FROM generate_series(1, n))
               || E'\n' || CASE WHEN random() < 0.25 THEN 'ROLLBACK;' ELSE 'COMMIT;' END;
    ELSE
        RETURN format('INSERT INTO events_a (lead_id, event_type, occurred_at, url, duration) VALUES %s;',
                      event_a_values(decay));
    END IF;
END $$;

\pset tuples_only on
\pset format unaligned
-- without decay (and without events dated in the future) no score depends on the time: then every
-- stored score computed under the current rules must be exact after every operation, not only
-- after refresh_scores(); with or without decay, a refresh must make every score exact
CREATE TABLE stale_log (op int, stale bigint, after_refresh bigint, pending bigint);
SELECT gen_op(:'decay', 0)
       || format(E'\nBEGIN;\nSELECT lead_scoring.refresh_scores() AS refreshed \\gset\n'
                 'SELECT count(*) AS after_refresh FROM leads WHERE score <> lead_scoring.score(id) \\gset\n'
                 'ROLLBACK;\n'
                 'INSERT INTO stale_log SELECT %s, count(*) FILTER (WHERE score <> lead_scoring.score(id) AND %L'
                 ' AND lead_scoring.state_is_current(lead_scoring_state)), :after_refresh,'
                 ' count(*) FILTER (WHERE NOT lead_scoring.state_is_current(lead_scoring_state)) FROM leads;', g,
                 NOT :'decay')
  FROM generate_series(1, :nops) g \g :opsfile
\pset tuples_only off
\pset format aligned
\i :opsfile

-- ---------------------------------------------------------------------------
-- Checks
-- ---------------------------------------------------------------------------
-- (subqueries without an outer FROM: Citus pushes no subquery of the target list down to the shards)
SELECT (SELECT count(*) FROM leads) AS leads,
       (SELECT count(*) FROM events_a) + (SELECT count(*) FROM events_b) AS events,
       (SELECT count(*) FROM lead_scoring.rule WHERE active) AS active_rules,
       (SELECT count(DISTINCT score) > 10 FROM leads) AS scores_vary;

-- without decay and future events, the triggers alone keep every score exact
SELECT coalesce(sum(stale), 0) + coalesce(sum(after_refresh), 0) AS stale_without_refresh,
       count(*) AS checkpoints,
       coalesce(string_agg(op::text, ',') FILTER (WHERE stale > 0 OR after_refresh > 0), '-') AS stale_after_ops,
       count(*) FILTER (WHERE pending > 0) AS checkpoints_with_pending
  FROM stale_log \gset
\echo stale_without_refresh :stale_without_refresh in :checkpoints checkpoints (:checkpoints_with_pending with leads scored under earlier rules), after operations :stale_after_ops

-- the invariant of doc/scoring.md: stored = score() after refresh_scores()
BEGIN;
SELECT lead_scoring.refresh_scores() >= 0 AS refreshed;
SELECT count(*) AS stale_after_refresh FROM leads WHERE score <> lead_scoring.score(id) \gset
COMMIT;

-- an independent implementation of the formula, in SQL
CREATE VIEW ev_all AS
    SELECT lead_id, event_type AS type, occurred_at AS time, 0 AS src, id, url, duration, NULL::text AS channel
      FROM events_a
    UNION ALL
    SELECT lead_id, kind::text, at::timestamptz, 1, id, NULL, NULL, channel FROM events_b;

CREATE FUNCTION phone_sql(r lead_scoring.rule) RETURNS text LANGUAGE sql AS $$
    SELECT CASE WHEN country IS NULL THEN format('lead_scoring.is_valid_phone(%I::text)', r.column_name)
                ELSE format('lead_scoring.is_valid_phone(%I::text, %L)', r.column_name, country) END
      FROM (SELECT coalesce(r.value, (SELECT default_phone_country FROM lead_scoring.settings)) AS country) c $$;

CREATE FUNCTION pred_sql(r lead_scoring.rule, coltype text) RETURNS text LANGUAGE sql AS $$
    SELECT CASE r.op
        WHEN 'is_null' THEN format('%I IS NULL', r.column_name)
        WHEN 'not_null' THEN format('%I IS NOT NULL', r.column_name)
        WHEN 'in' THEN format('%I = ANY (ARRAY(SELECT btrim(x)::%s FROM unnest(string_to_array(%L, '','')) x))',
                              r.column_name, coltype, r.value)
        WHEN 'contains' THEN format('strpos(lower(%I::text), lower(%L)) > 0', r.column_name, r.value)
        WHEN 'prefix' THEN format('starts_with(lower(%I::text), lower(%L))', r.column_name, r.value)
        WHEN 'regex' THEN format('%I::text ~ %L', r.column_name, r.value)
        WHEN 'valid_email' THEN format('coalesce(lead_scoring.is_valid_email(%I::text), false)', r.column_name)
        WHEN 'invalid_email' THEN format('NOT coalesce(lead_scoring.is_valid_email(%I::text), false)', r.column_name)
        WHEN 'valid_phone' THEN format('coalesce(%s, false)', phone_sql(r))
        WHEN 'invalid_phone' THEN format('NOT coalesce(%s, false)', phone_sql(r))
        ELSE format('%I %s %L::%s', r.column_name, r.op, r.value, coltype)
    END $$;

CREATE FUNCTION oracle_unrounded(at timestamptz) RETURNS TABLE (lead text, unrounded float8) LANGUAGE plpgsql AS $$
DECLARE
    r lead_scoring.rule;
    coltype text;
BEGIN
    CREATE TEMP TABLE contrib (lead text, points float8) ON COMMIT DROP;
    FOR r IN SELECT * FROM lead_scoring.rule WHERE active ORDER BY rule_id LOOP
        IF r.kind = 'fit' THEN
            coltype := format_type((SELECT atttypid FROM pg_attribute WHERE attrelid = 'leads'::regclass
                                       AND attname = r.column_name), NULL);
            EXECUTE format('INSERT INTO contrib SELECT id::text, %s FROM leads WHERE %s', r.points, pred_sql(r, coltype));
        ELSE
            coltype := CASE r.column_name WHEN 'duration' THEN 'integer' ELSE 'text' END;
            EXECUTE format($q$
                INSERT INTO contrib
                SELECT lead_id::text, greatest(least(sum(p), %1$s), -%1$s)
                  FROM (SELECT lead_id, %2$s AS p,
                               row_number() OVER (PARTITION BY lead_id ORDER BY time, src, id) AS rn
                          FROM ev_all WHERE time <= $1 AND lead_id IS NOT NULL AND (%3$L = '*' OR type = %3$L)
                           AND %4$s) m
                 WHERE rn <= %5$s
                 GROUP BY lead_id$q$,
                coalesce(r.max_points::text, '''Infinity''::float8'),
                CASE WHEN r.half_life IS NULL THEN r.points::text
                     ELSE format('%s * power(0.5, extract(epoch FROM $1 - time)::float8 / %s)', r.points,
                                 extract(epoch FROM r.half_life)::float8) END,
                r.event_type,
                CASE WHEN r.column_name IS NULL THEN 'true' ELSE pred_sql(r, coltype) END,
                coalesce(r.max_hits::text, '2147483647')) USING at;
        END IF;
    END LOOP;
    RETURN QUERY SELECT l.id::text, coalesce(sum(c.points), 0)::float8
                   FROM leads l LEFT JOIN contrib c ON c.lead = l.id::text GROUP BY l.id;
END $$;

BEGIN;
CREATE TEMP TABLE expected ON COMMIT DROP AS
SELECT o.lead, o.unrounded,
       least(greatest(round(o.unrounded::numeric), coalesce(s.score_floor, -2147483648)),
             coalesce(s.score_ceiling, 2147483647))::int AS score
  FROM oracle_unrounded(now()) o, lead_scoring.settings s;
-- the lead ids in a local table: on Citus, score() and explain() of each lead are then routed to its
-- shard one by one (Citus pushes no correlated subquery over the distributed leads down)
CREATE TEMP TABLE lead_ids ON COMMIT DROP AS SELECT id FROM leads;
SELECT count(*) AS leads_checked,
       count(*) FILTER (WHERE lead_scoring.score(l.id) <> e.score
                          AND abs(e.unrounded - trunc(e.unrounded) ) NOT BETWEEN 0.499999 AND 0.500001)
           AS score_differs_from_oracle,
       count(*) FILTER (WHERE abs(coalesce((SELECT sum(points) FROM lead_scoring.explain(l.id)), 0) - e.unrounded) > 1e-6)
           AS explain_differs_from_oracle
  FROM lead_ids l JOIN expected e ON e.lead = l.id::text \gset
COMMIT;
\echo RESULT :stale_without_refresh :stale_after_refresh :leads_checked :score_differs_from_oracle :explain_differs_from_oracle
