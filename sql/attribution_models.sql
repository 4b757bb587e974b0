-- The rule-based attribution models on small paths, against weights computed by hand.
-- attribution_weights(model, touched_at[], converted_at, created_at, opportunity_at, half_life)
-- is the same C code the attribution() pass runs for every conversion.
CREATE EXTENSION lead_scoring;
SET search_path = lead_scoring, public;
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET intervalstyle = 'postgres';

-- day n of January 2024, fractions allowed
CREATE FUNCTION pg_temp.d(float8) RETURNS timestamptz LANGUAGE sql IMMUTABLE
    AS $$ SELECT timestamptz '2024-01-01 00:00+00' + $1 * interval '1 day' $$;
CREATE FUNCTION pg_temp.days(float8[]) RETURNS timestamptz[] LANGUAGE sql IMMUTABLE
    AS $$ SELECT coalesce(array_agg(pg_temp.d(x) ORDER BY i), '{}') FROM unnest($1) WITH ORDINALITY u(x, i) $$;

CREATE TEMP TABLE path_case (
    name      text PRIMARY KEY,
    touches   float8[],        -- touch days, ascending
    converted float8,          -- conversion day T
    created   float8,          -- lead creation day (NULL = unknown)
    opp       float8,          -- day the lead first reached opportunity (NULL = not yet)
    half_life interval
);
INSERT INTO path_case VALUES
    -- one touch: every model gives it everything
    ('1 touch',        '{1}',         10, 0,    NULL, '1 day'),
    -- two touches; lead created on day 2 (creation touch = day 1), opportunity on day 5 (touch on day 3)
    ('2 touches',      '{1,3}',       10, 2,    5,    '2 days'),
    -- three touches; created 1.5 (touch 1), opportunity on day 3 (touch 2), converted at the last touch
    ('3 touches',      '{1,2,4}',     4,  1.5,  3,    '1 day'),
    -- five touches; created 2.5 (touch 2), opportunity on day 4 (touch 4)
    ('5 touches',      '{1,2,3,4,5}', 6,  2.5,  4,    '1 day'),
    -- five touches; created before every touch (creation touch = first touch) and opportunity
    -- after the last touch (opportunity touch = closing touch): two pairs of milestones coincide
    ('5 coinciding',   '{1,2,3,4,5}', 6,  0,    5.5,  '1 day'),
    -- three touches; creation, opportunity (not reached: the conversion time counts) and closing
    -- touch are all the last touch
    ('3 late milestones', '{1,2,3}',  3,  4,    NULL, '1 day'),
    -- the opportunity comes after the conversion (an MQL conversion, say): clamped to T
    ('opp after T',    '{1,2,3}',     3.5, 1,   10,   '1 day'),
    -- unknown creation time: the lead counts as created before every touch
    ('unknown created', '{1,2,3,4}',  5,  NULL, 3.5,  '1 day'),
    -- two touches at the same time, and a later one
    ('tie',            '{1,1,2}',     2,  0,    NULL, '1 day'),
    -- half-life 0: the latest touches share everything
    ('half-life 0',    '{1,2,2}',     3,  0,    NULL, '0'),
    -- no touch at all: no weights (attribution() reports such a conversion under "(none)")
    ('no touch',       '{}',          3,  0,    NULL, '1 day');

CREATE TEMP TABLE expected (name text, model text, w float8[], PRIMARY KEY (name, model));
INSERT INTO expected VALUES
    ('1 touch', 'first_touch', '{1}'), ('1 touch', 'last_touch', '{1}'), ('1 touch', 'linear', '{1}'),
    ('1 touch', 'time_decay', '{1}'), ('1 touch', 'position_based', '{1}'), ('1 touch', 'w_shaped', '{1}'),
    ('1 touch', 'full_path', '{1}'),

    ('2 touches', 'first_touch', '{1,0}'), ('2 touches', 'last_touch', '{0,1}'),
    ('2 touches', 'linear', '{0.5,0.5}'),
    -- ages 9 and 7 days, half-life 2 days: 0.5^4.5 : 0.5^3.5 = 1 : 2
    ('2 touches', 'time_decay', ARRAY[1/3.0, 2/3.0]),
    -- 40/40 with nobody in between: scaled to 50/50
    ('2 touches', 'position_based', '{0.5,0.5}'),
    -- first + creation on touch 1 (0.3 + 0.3), opportunity on touch 2 (0.3), no other touch: scaled by 1/0.9
    ('2 touches', 'w_shaped', ARRAY[0.6/0.9, 0.3/0.9]),
    -- first + creation on touch 1, opportunity + closing on touch 2: 0.45 / 0.45, scaled
    ('2 touches', 'full_path', '{0.5,0.5}'),

    ('3 touches', 'first_touch', '{1,0,0}'), ('3 touches', 'last_touch', '{0,0,1}'),
    ('3 touches', 'linear', ARRAY[1/3.0, 1/3.0, 1/3.0]),
    -- ages 3, 2, 0 days, half-life 1 day: 1/8, 1/4, 1 -> divided by 11/8
    ('3 touches', 'time_decay', ARRAY[1/11.0, 2/11.0, 8/11.0]),
    ('3 touches', 'position_based', '{0.4,0.2,0.4}'),
    -- first + creation on touch 1 (0.6), opportunity on touch 2 (0.3), the rest (0.1) on touch 3
    ('3 touches', 'w_shaped', '{0.6,0.3,0.1}'),
    -- touch 1: first + creation 0.45, touch 2: opportunity 0.225, touch 3: closing 0.225;
    -- every touch is a milestone, so the 0.1 has nowhere to go: scaled by 1/0.9
    ('3 touches', 'full_path', ARRAY[0.45/0.9, 0.225/0.9, 0.225/0.9]),

    ('5 touches', 'first_touch', '{1,0,0,0,0}'), ('5 touches', 'last_touch', '{0,0,0,0,1}'),
    ('5 touches', 'linear', '{0.2,0.2,0.2,0.2,0.2}'),
    -- ages 5..1 days, half-life 1 day: 1/32, 1/16, 1/8, 1/4, 1/2 -> divided by 31/32
    ('5 touches', 'time_decay', ARRAY[1/31.0, 2/31.0, 4/31.0, 8/31.0, 16/31.0]),
    ('5 touches', 'position_based', ARRAY[0.4, 0.2/3, 0.2/3, 0.2/3, 0.4]),
    -- first (1), creation (2), opportunity (4) 0.3 each; touches 3 and 5 share 0.1
    ('5 touches', 'w_shaped', '{0.3,0.3,0.05,0.3,0.05}'),
    -- first (1), creation (2), opportunity (4), closing (5) 0.225 each; touch 3 gets 0.1
    ('5 touches', 'full_path', '{0.225,0.225,0.1,0.225,0.225}'),

    ('5 coinciding', 'position_based', ARRAY[0.4, 0.2/3, 0.2/3, 0.2/3, 0.4]),
    -- first = creation (touch 1): 0.6; opportunity (touch 5): 0.3; touches 2-4 share 0.1
    ('5 coinciding', 'w_shaped', ARRAY[0.6, 0.1/3, 0.1/3, 0.1/3, 0.3]),
    -- first = creation (touch 1): 0.45; opportunity = closing (touch 5): 0.45; touches 2-4 share 0.1
    ('5 coinciding', 'full_path', ARRAY[0.45, 0.1/3, 0.1/3, 0.1/3, 0.45]),

    -- first on touch 1 (0.3); creation and opportunity on touch 3 (0.6); touch 2 the rest (0.1)
    ('3 late milestones', 'w_shaped', '{0.3,0.1,0.6}'),
    -- first on touch 1 (0.225); creation, opportunity, closing on touch 3 (0.675); touch 2: 0.1
    ('3 late milestones', 'full_path', '{0.225,0.1,0.675}'),

    -- creation on touch 1 (day 1 <= 1), opportunity clamped to T = 3.5: touch 3
    ('opp after T', 'w_shaped', '{0.6,0.1,0.3}'),
    -- first + creation on touch 1, opportunity + closing on touch 3 (0.45 each), touch 2: 0.1
    ('opp after T', 'full_path', '{0.45,0.1,0.45}'),

    -- creation unknown: touch 1 with the first touch (0.6); opportunity day 3.5: touch 3 (0.3);
    -- touches 2 and 4 share 0.1
    ('unknown created', 'w_shaped', '{0.6,0.05,0.3,0.05}'),

    -- ages 1, 1, 0 days: 1/2, 1/2, 1 -> divided by 2
    ('tie', 'time_decay', '{0.25,0.25,0.5}'),
    ('tie', 'first_touch', '{1,0,0}'),
    ('tie', 'position_based', '{0.4,0.2,0.4}'),
    ('half-life 0', 'time_decay', '{0,0.5,0.5}'),

    ('no touch', 'linear', '{}'), ('no touch', 'w_shaped', '{}');

CREATE TEMP VIEW computed AS
SELECT c.name, e.model,
       attribution_weights(e.model, pg_temp.days(c.touches), pg_temp.d(c.converted), pg_temp.d(c.created),
                           pg_temp.d(c.opp), c.half_life) AS w,
       e.w AS expected
FROM path_case c JOIN expected e USING (name);

-- every expectation, rounded for reading; ok = equal to 1e-12
SELECT name, model,
       (SELECT array_agg(round(x::numeric, 4) ORDER BY i) FROM unnest(w) WITH ORDINALITY u(x, i)) AS weights,
       cardinality(w) = cardinality(expected)
       AND coalesce((SELECT bool_and(abs(x - y) < 1e-12) FROM unnest(w, expected) u(x, y)), true) AS ok
FROM computed
ORDER BY name, model;

-- and, for every case and every rule-based model, the weights sum to 1 (or there are none)
SELECT c.name, count(*) AS models,
       bool_and(abs((SELECT sum(x) FROM unnest(w) x) - 1) < 1e-12 OR cardinality(w) = 0) AS all_sum_to_1
FROM path_case c,
     unnest(ARRAY['first_touch', 'last_touch', 'linear', 'time_decay', 'position_based', 'w_shaped',
                  'full_path']) AS m,
     LATERAL attribution_weights(m, pg_temp.days(c.touches), pg_temp.d(c.converted), pg_temp.d(c.created),
                                 pg_temp.d(c.opp), c.half_life) AS w
GROUP BY c.name ORDER BY c.name;

-- model names are case-insensitive and may carry surrounding blanks
SELECT attribution_weights(' Position_Based ', pg_temp.days('{1,2,3}'), NULL, NULL, NULL, NULL);

-- NULL model or touches: NULL
SELECT attribution_weights(NULL, pg_temp.days('{1}')) IS NULL AS null_model,
       attribution_weights('linear', NULL) IS NULL AS null_touches;

-- bad input
SELECT attribution_weights('u_shaped', pg_temp.days('{1,2}'));
SELECT attribution_weights('markov', pg_temp.days('{1,2}'));
SELECT attribution_weights('time_decay', pg_temp.days('{1,2}'), half_life => '-1 hour');
SELECT attribution_weights('time_decay', pg_temp.days('{1,2}'), half_life => NULL);
SELECT attribution_weights('linear', pg_temp.days('{2,1}'));
SELECT attribution_weights('linear', ARRAY[pg_temp.d(1), NULL]);
SELECT attribution_weights('linear', pg_temp.days('{1,5}'), converted_at => pg_temp.d(3));
SELECT attribution_weights('linear', ARRAY[[pg_temp.d(1)], [pg_temp.d(2)]]);

-- clean up for the next test
DROP VIEW computed;
DROP EXTENSION lead_scoring;
