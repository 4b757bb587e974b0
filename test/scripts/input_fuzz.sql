-- Mutation fuzz of every input lead_scoring parses: funnel_stage text input (and round trip),
-- funnel_stage binary receive (arbitrary bytes through binary COPY), the email and phone functions,
-- rule validation (mutated rule rows), settings, overrides, thresholds, the replay clock and
-- attribution_weights (weights finite, in [0, 1]), plus writes scored by whatever was accepted.
-- Every input either works or fails with a precise SQLSTATE; internal errors (class XX) fail the
-- run.  Variables: seed, n (mutations per seed input), copyfile (a path the server may write).
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
CREATE EXTENSION lead_scoring;
SELECT setseed(:seed);
CREATE TABLE fuzz_outcome (target text, sqlstate text, n int DEFAULT 1, example text);

-- mutate(s): one to three random edits (insert, delete, replace a character; flip case; double)
CREATE FUNCTION mutate(s text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    alphabet text[] := ARRAY[' ', E'\t', E'\n', E'\r', E'\f', E'\x0b', E'\x01', E'\x7f', '-', '_', '.', ',', '"',
                             '''', '\', '@', '+', '(', ')', '[', ']', '*', '?', '$', '^', '|', '{', '}', '0', '9',
                             'a', 'Z', 'é', 'ß', 'İ', '日', '😀', E'\u00a0', E'\u200b', '%', '#', '/', ':', ';'];
    r text := s;
    k int;
    pos int;
BEGIN
    FOR k IN 1 .. 1 + floor(random() * 3)::int LOOP
        pos := 1 + floor(random() * (length(r) + 1))::int;
        CASE floor(random() * 6)::int
            WHEN 0 THEN r := overlay(r placing alphabet[1 + floor(random() * array_length(alphabet, 1))::int] from pos for 0);
            WHEN 1 THEN r := overlay(r placing '' from pos for 1);
            WHEN 2 THEN r := overlay(r placing alphabet[1 + floor(random() * array_length(alphabet, 1))::int] from pos for 1);
            WHEN 3 THEN r := CASE WHEN random() < 0.5 THEN upper(r) ELSE lower(r) END;
            WHEN 4 THEN r := r || r;
            ELSE r := repeat(r, 1 + floor(random() * 40)::int);
        END CASE;
    END LOOP;
    RETURN r;
END $$;

CREATE FUNCTION record_outcome(target text, state text, example text) RETURNS void LANGUAGE sql AS $$
    INSERT INTO fuzz_outcome VALUES (target, state, 1, left(example, 80))
$$;

-- funnel_stage text input: accepted inputs print a canonical label that reads back as the same stage
DO $$
DECLARE
    seeds text[] := ARRAY['new', 'iql', 'mql', 'sal', 'sql', 'opportunity', 'customer', 'recycled', 'disqualified',
                          'lost', 'inquiry', 'subscriber', 'information qualified lead', 'nql', 'sqo', 'opp', 'won',
                          'closed won', 'junk', 'closed lost', 'nurture', ' MQL ', '', 'x'];
    s text;
    m text;
    st lead_scoring.funnel_stage;
    i int;
BEGIN
    FOREACH s IN ARRAY seeds LOOP
        FOR i IN 1 .. current_setting('fuzz.n')::int LOOP
            m := mutate(s);
            BEGIN
                st := m::lead_scoring.funnel_stage;
                IF lead_scoring.stage_rank(st::text::lead_scoring.funnel_stage) <> lead_scoring.stage_rank(st)
                   OR st::text NOT IN (SELECT f::text FROM lead_scoring.funnel_stages() f) THEN
                    PERFORM record_outcome('funnel_stage_in round trip', 'MISMATCH', m);
                END IF;
                PERFORM record_outcome('funnel_stage_in', '00000', m);
            EXCEPTION WHEN OTHERS THEN
                PERFORM record_outcome('funnel_stage_in', SQLSTATE, m);
            END;
        END LOOP;
    END LOOP;
END $$;

-- email and phone functions
DO $$
DECLARE
    seeds text[] := ARRAY['ann@acme.io', 'Bo.Chen+crm@Example.COM', '"quoted name"@example.org', 'x@[192.168.0.1]',
                          'user@xn--bcher-kva.example', 'a@b', '@', '+1 415 555 2671', '(030) 1234567',
                          '+44 20 7946 0958', '00 33 1 42 68 53 00', '555-0100 ext. 12', '+49 (0)30 901820', ''];
    countries text[] := ARRAY[NULL, 'US', 'GB', '44', '1', 'DE', 'zz', '', '999', '+33', 'fr '];
    s text;
    m text;
    c text;
    i int;
BEGIN
    FOREACH s IN ARRAY seeds LOOP
        FOR i IN 1 .. current_setting('fuzz.n')::int LOOP
            m := mutate(s);
            c := countries[1 + floor(random() * array_length(countries, 1))::int];
            BEGIN
                PERFORM lead_scoring.normalize_email(m), lead_scoring.is_valid_email(m);
                IF lead_scoring.normalize_email(lead_scoring.normalize_email(m))
                   IS DISTINCT FROM lead_scoring.normalize_email(m) THEN
                    PERFORM record_outcome('normalize_email idempotent', 'MISMATCH', m);
                END IF;
                PERFORM record_outcome('email', '00000', m);
            EXCEPTION WHEN OTHERS THEN
                PERFORM record_outcome('email', SQLSTATE, m);
            END;
            BEGIN
                PERFORM lead_scoring.normalize_phone(m), lead_scoring.is_valid_phone(m),
                        lead_scoring.normalize_phone(m, c), lead_scoring.is_valid_phone(m, c);
                PERFORM record_outcome('phone', '00000', m);
            EXCEPTION WHEN OTHERS THEN
                PERFORM record_outcome('phone', SQLSTATE, coalesce(c, 'NULL') || ' ' || m);
            END;
        END LOOP;
    END LOOP;
END $$;

-- rule validation: mutated rule rows against an attached CRM
CREATE TABLE fz_leads (id bigint PRIMARY KEY, email text, phone text, size int, country text, signed date,
                       score_hint numeric, tags text[]);
CREATE TABLE fz_events (id serial PRIMARY KEY, lead_id bigint NOT NULL, event_type text NOT NULL,
                        occurred_at timestamptz NOT NULL DEFAULT now(), url text, duration interval, amount numeric);
SELECT lead_scoring.attach_leads('fz_leads');
SELECT lead_scoring.attach_events('fz_events');
DO $$
DECLARE
    kinds text[] := ARRAY['fit', 'engagement', 'Fit', '', NULL];
    types text[] := ARRAY[NULL, 'view', '*', 'form', '', 'x'];
    fit_cols text[] := ARRAY['email', 'phone', 'size', 'country', 'signed', 'score_hint', 'tags', 'id', 'score', 'stage',
                             'nope', NULL];
    ev_cols text[] := ARRAY['url', 'duration', 'amount', 'occurred_at', 'event_type', 'lead_id', NULL, 'nope'];
    ops text[] := ARRAY['=', '<>', '<', '<=', '>', '>=', 'in', 'contains', 'prefix', 'regex', 'is_null', 'not_null',
                        'valid_email', 'invalid_email', 'valid_phone', 'invalid_phone', 'like', NULL, '=='];
    vals text[] := ARRAY['50', 'DE, FR, "N,L"', '/pricing', '^a.*b$', '2024-06-01 00:00+00', '1 day', '3.5', 'GB',
                         '44', '{a,b}', '(a', '[[:alpha:]]+', NULL, '', '9999999999999999999', 'infinity', '-infinity',
                         'NaN', '(a)\1', '"unterminated'];
    k text;
    col text;
    i int;
    ok int := 0;
BEGIN
    FOR i IN 1 .. 20 * current_setting('fuzz.n')::int LOOP
        k := kinds[1 + floor(random() * array_length(kinds, 1))::int];
        col := CASE WHEN k = 'engagement' THEN ev_cols[1 + floor(random() * array_length(ev_cols, 1))::int]
                    ELSE fit_cols[1 + floor(random() * array_length(fit_cols, 1))::int] END;
        BEGIN
            INSERT INTO lead_scoring.rule (name, kind, event_type, column_name, op, value, points, max_points,
                                           max_hits, half_life, active)
            VALUES ('r' || i, k, types[1 + floor(random() * array_length(types, 1))::int], col,
                    ops[1 + floor(random() * array_length(ops, 1))::int],
                    CASE WHEN random() < 0.5 THEN mutate(coalesce(vals[1 + floor(random() * array_length(vals, 1))::int], ''))
                         ELSE vals[1 + floor(random() * array_length(vals, 1))::int] END,
                    (random() * 200 - 100)::int,
                    CASE WHEN random() < 0.3 THEN (random() * 60 - 10)::int END,
                    CASE WHEN random() < 0.3 THEN (random() * 4 - 1)::int END,
                    CASE WHEN random() < 0.3 THEN (random() * 20 - 5)::int * interval '1 day' END,
                    random() < 0.9);
            PERFORM record_outcome('rule', '00000', 'r' || i);
            ok := ok + 1;
        EXCEPTION WHEN OTHERS THEN
            PERFORM record_outcome('rule', SQLSTATE, SQLERRM);
        END;
    END LOOP;
    RAISE NOTICE 'rules accepted: %', ok;
END $$;
-- the accepted rules score real writes, and stored = score()
INSERT INTO fz_leads (id, email, phone, size, country, signed, score_hint, tags)
SELECT g, mutate('ann@acme.io'), mutate('+1 415 555 2671'), g * 7, (ARRAY['DE', 'FR', 'GB', NULL])[1 + g % 4],
       date '2024-01-01' + g, g / 3.0, ARRAY['a', mutate('b')]
  FROM generate_series(1, 60) g;
INSERT INTO fz_events (lead_id, event_type, occurred_at, url, duration, amount)
SELECT 1 + (g % 60), (ARRAY['view', 'form', 'x', left(mutate('view'), 100)])[1 + g % 4],
       CASE g % 7 WHEN 5 THEN '-infinity'::timestamptz WHEN 6 THEN 'infinity'::timestamptz
                  ELSE now() - (g % 50) * interval '1 day' END,
       mutate('/pricing/a'), g * interval '1 minute', g / 7.0
  FROM generate_series(1, 600) g;
INSERT INTO fz_events (lead_id, event_type, occurred_at) VALUES (1, 'view', '-infinity'), (2, 'view', 'infinity');
DO $$
BEGIN
    IF EXISTS (SELECT FROM fz_leads WHERE score IS DISTINCT FROM lead_scoring.score(id)) THEN
        PERFORM record_outcome('scores', 'STALE', (SELECT string_agg(id::text, ',') FROM fz_leads
                                                    WHERE score IS DISTINCT FROM lead_scoring.score(id)));
    END IF;
END $$;

-- funnel_stage binary receive: arbitrary bytes as the field of a binary COPY
CREATE TABLE fz_bytes (b bytea);
CREATE TABLE fz_stage (s lead_scoring.funnel_stage);
DO $$
DECLARE
    b bytea;
    i int;
    j int;
BEGIN
    FOR i IN 1 .. 4 * current_setting('fuzz.n')::int LOOP
        b := CASE floor(random() * 4)::int
                 WHEN 0 THEN int4send(floor(random() * 12)::int - 1)
                 WHEN 1 THEN int4send((random() * 4294967295 - 2147483648)::bigint::int)
                 WHEN 2 THEN '\x'::bytea
                 ELSE int4send(floor(random() * 10)::int) || '\x00'::bytea END;
        IF random() < 0.3 THEN
            b := substring(b from 1 for floor(random() * length(b))::int);
        END IF;
        FOR j IN 1 .. floor(random() * 3)::int LOOP
            b := b || decode(lpad(to_hex(floor(random() * 256)::int), 2, '0'), 'hex');
        END LOOP;
        TRUNCATE fz_bytes, fz_stage;
        INSERT INTO fz_bytes VALUES (b);
        EXECUTE format('COPY fz_bytes TO %L (FORMAT binary)', current_setting('fuzz.copyfile'));
        BEGIN
            EXECUTE format('COPY fz_stage FROM %L (FORMAT binary)', current_setting('fuzz.copyfile'));
            IF (SELECT lead_scoring.funnel_stage_send(s) FROM fz_stage) IS DISTINCT FROM b THEN
                PERFORM record_outcome('funnel_stage_recv round trip', 'MISMATCH', b::text);
            END IF;
            PERFORM record_outcome('funnel_stage_recv', '00000', b::text);
        EXCEPTION WHEN OTHERS THEN
            PERFORM record_outcome('funnel_stage_recv', SQLSTATE, b::text);
        END;
    END LOOP;
END $$;

-- settings values, transition overrides, thresholds, the replay clock, attribution weights
DO $$
DECLARE
    texts text[] := ARRAY['won', 'closed won', 'Paid', '', ' ', 'lost', NULL, 'x'];
    models text[] := ARRAY['first_touch', 'last_touch', 'linear', 'time_decay', 'position_based', 'w_shaped',
                           'full_path', 'markov', 'Linear', '', 'nope'];
    times timestamptz[] := ARRAY['-infinity', '1999-01-01', '2024-06-01 12:00+00', '2024-06-01 12:00+00', 'infinity'];
    t timestamptz[];
    i int;
    j int;
BEGIN
    FOR i IN 1 .. 4 * current_setting('fuzz.n')::int LOOP
        BEGIN
            CASE floor(random() * 6)::int
                WHEN 0 THEN UPDATE lead_scoring.settings
                               SET fit_grade_bands = ARRAY[(random() * 100)::int, (random() * 100)::int,
                                                           CASE WHEN random() < 0.2 THEN NULL ELSE (random() * 100)::int END];
                WHEN 1 THEN UPDATE lead_scoring.settings
                               SET won_statuses = ARRAY[texts[1 + floor(random() * 8)::int], mutate('won')];
                WHEN 2 THEN UPDATE lead_scoring.settings
                               SET sla = mutate('1 hour')::interval, attribution_half_life = mutate('7 days')::interval;
                WHEN 3 THEN UPDATE lead_scoring.settings
                               SET score_floor = (random() * 200 - 100)::int, score_ceiling = (random() * 200 - 100)::int,
                                   default_phone_country = mutate('GB');
                WHEN 4 THEN INSERT INTO lead_scoring.transition_override
                            VALUES (mutate('mql'), mutate('sal'), random() < 0.5);
                ELSE INSERT INTO lead_scoring.threshold VALUES (mutate('mql'), (random() * 200 - 100)::int);
            END CASE;
            PERFORM record_outcome('configuration', '00000', 'round ' || i);
        EXCEPTION WHEN OTHERS THEN
            PERFORM record_outcome('configuration', SQLSTATE, SQLERRM);
        END;
        BEGIN
            PERFORM set_config('lead_scoring.now', mutate('2024-06-01 12:00+00'), true);
            PERFORM record_outcome('lead_scoring.now', '00000', current_setting('lead_scoring.now'));
        EXCEPTION WHEN OTHERS THEN
            PERFORM record_outcome('lead_scoring.now', SQLSTATE, SQLERRM);
        END;
        PERFORM set_config('lead_scoring.now', '', true);
        t := ARRAY[]::timestamptz[];
        FOR j IN 1 .. floor(random() * 5)::int LOOP
            t := t || times[1 + floor(random() * 5)::int];
        END LOOP;
        IF random() < 0.8 THEN
            t := ARRAY(SELECT x FROM unnest(t) x ORDER BY x);
        END IF;
        BEGIN
            IF EXISTS (SELECT FROM unnest(lead_scoring.attribution_weights(
                           models[1 + floor(random() * 11)::int], t,
                           half_life => (floor(random() * 3)::int || ' days')::interval)) w
                        WHERE w IS NULL OR w::text IN ('NaN', 'Infinity', '-Infinity') OR w < 0 OR w > 1) THEN
                PERFORM record_outcome('attribution_weights', 'MISMATCH', t::text);
            END IF;
            PERFORM record_outcome('attribution_weights', '00000', t::text);
        EXCEPTION WHEN OTHERS THEN
            PERFORM record_outcome('attribution_weights', SQLSTATE, SQLERRM);
        END;
    END LOOP;
END $$;
DO $$
BEGIN
    IF EXISTS (SELECT FROM fz_leads WHERE score IS DISTINCT FROM lead_scoring.score(id)) THEN
        PERFORM record_outcome('scores after configuration', 'STALE', '');
    END IF;
END $$;

SELECT target, sqlstate, count(*) AS n, min(example) AS example FROM fuzz_outcome
 GROUP BY 1, 2 ORDER BY 1, 2;
-- the verdict: internal errors, mismatches, stale scores
SELECT 'VERDICT', count(*) FILTER (WHERE sqlstate LIKE 'XX%' OR sqlstate IN ('MISMATCH', 'STALE')) AS bad
  FROM fuzz_outcome;
