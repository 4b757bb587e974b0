-- Transition rules: the built-in matrix and transition_override.
CREATE EXTENSION lead_scoring;
SET search_path = lead_scoring, public;

-- The full 10 x 10 matrix: Y = allowed, . = refused (row = from, column = to).
CREATE VIEW pg_temp.matrix AS
SELECT f AS "from \ to",
       string_agg(CASE WHEN can_transition(f, t) THEN 'Y' ELSE '.' END, ' ' ORDER BY t)
           AS "new iql mql sal sql opp cus rec dis lost"
FROM funnel_stages() AS f, funnel_stages() AS t
GROUP BY f ORDER BY f;
SELECT * FROM pg_temp.matrix;
SELECT count(*) FILTER (WHERE can_transition(f, t)) AS allowed_edges
FROM funnel_stages() AS f, funnel_stages() AS t;

-- staying put is never a transition; NULL in, NULL out
SELECT bool_or(can_transition(s, s)) FROM funnel_stages() AS s;
SELECT can_transition(NULL, 'mql'), can_transition('mql', NULL);

-- overrides add and remove edges, visible to the next statement of the same transaction
BEGIN;
INSERT INTO transition_override VALUES ('new', 'recycled', true), ('sal', 'recycled', false),
                                       ('customer', 'recycled', true);
SELECT can_transition('new', 'recycled') AS new_recycled, can_transition('sal', 'recycled') AS sal_recycled,
       can_transition('customer', 'recycled') AS customer_recycled, can_transition('sql', 'recycled') AS sql_recycled;
SELECT * FROM pg_temp.matrix;
ROLLBACK;
-- rolled back: the built-in rules again
SELECT can_transition('new', 'recycled') AS new_recycled, can_transition('sal', 'recycled') AS sal_recycled;

INSERT INTO transition_override VALUES ('disqualified', 'new', true);
SELECT can_transition('disqualified', 'new');
UPDATE transition_override SET allowed = false WHERE from_stage = 'disqualified';
SELECT can_transition('disqualified', 'new');
-- an override that repeats the built-in rule changes nothing
INSERT INTO transition_override VALUES ('new', 'mql', true), ('mql', 'new', false);
SELECT can_transition('new', 'mql'), can_transition('mql', 'new');
DELETE FROM transition_override WHERE from_stage = 'disqualified';
SELECT can_transition('disqualified', 'new');
TRUNCATE transition_override;
SELECT count(*) FILTER (WHERE can_transition(f, t)) AS allowed_edges
FROM funnel_stages() AS f, funnel_stages() AS t;

-- bad overrides
INSERT INTO transition_override VALUES ('mql', 'mql', true);
INSERT INTO transition_override VALUES ('mql', 'sal', true), ('mql', 'sal', false);
INSERT INTO transition_override VALUES ('mql', 'bogus', true);
INSERT INTO transition_override VALUES ('mql', 'sal', NULL);

-- the override table is dumped with the database
SELECT c.relname, e.extcondition
FROM pg_extension x, unnest(x.extconfig, x.extcondition) AS e(cfg, extcondition)
JOIN pg_class c ON c.oid = e.cfg
WHERE x.extname = 'lead_scoring' AND c.relname = 'transition_override';

-- the trigger that keeps caches fresh refuses to be misused
SELECT config_changed();

DROP VIEW pg_temp.matrix;
DROP EXTENSION lead_scoring;
