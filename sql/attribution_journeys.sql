-- The journey-based models beyond order 1 (doc/attribution.md): Markov chains of order 2 solved by
-- hand, the aggregate split on the published three-path example, removal effects of channel
-- sequences, Shapley values on a three-channel example computed by hand, per-group totals,
-- bootstrap intervals (determinism per seed) and the errors of every new argument.
CREATE EXTENSION lead_scoring;
SET search_path = lead_scoring, public;
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET intervalstyle = 'postgres';
SET extra_float_digits = 0;

CREATE SCHEMA crm;
CREATE TABLE crm.leads (id integer PRIMARY KEY, created timestamptz);
CREATE TABLE crm.events (id bigint PRIMARY KEY, lead_id integer, kind text, at timestamptz,
                         channel text, campaign text, keyword text);
CREATE TABLE crm.deals (id integer PRIMARY KEY, lead_id integer, amount numeric, status text,
                        closed_at timestamptz, cost numeric);
SELECT attach_leads('crm.leads', created_column => 'created');
SELECT attach_events('crm.events', type_column => 'kind', time_column => 'at', channel_column => 'channel',
                     campaign_column => 'campaign', keyword_column => 'keyword');
SELECT attach_deals('crm.deals');
ALTER TABLE crm.deals DISABLE TRIGGER USER;

-- ---------------------------------------------------------------------------
-- The published three-path example (ChannelAttribution's documentation, Bryl's walk-through):
--   lead 1: C1 -> C2 -> C3 -> conversion;  lead 2: C1 -> null;  lead 3: C2 -> C3 -> null.
-- Order 1: start -> C1 2, start -> C2 1 (of 3); C1 -> C2 1, C1 -> null 1; C2 -> C3 2;
--   C3 -> conversion 1, C3 -> null 1.  x_C3 = 1/2, x_C2 = 1/2, x_C1 = 1/4, P = 2/3 1/4 + 1/3 1/2 = 1/3.
--   Without C1: P = 1/3 1/2 = 1/6, RE 0.5;  without C2 or C3: P = 0, RE 1.
-- Aggregate split: RE / sum RE = 0.5 / 2.5, 1 / 2.5, 1 / 2.5 = 0.2, 0.4, 0.4 of the one conversion.
-- ---------------------------------------------------------------------------
INSERT INTO crm.leads SELECT g, '2024-01-01' FROM generate_series(1, 3) g;
INSERT INTO crm.events VALUES
    (1, 1, 'click', '2024-01-02', 'C1', NULL, NULL), (2, 1, 'click', '2024-01-03', 'C2', NULL, NULL),
    (3, 1, 'click', '2024-01-04', 'C3', NULL, NULL),
    (4, 2, 'click', '2024-01-02', 'C1', NULL, NULL),
    (5, 3, 'click', '2024-01-02', 'C2', NULL, NULL), (6, 3, 'click', '2024-01-03', 'C3', NULL, NULL);
INSERT INTO crm.deals VALUES (10, 1, 100, 'won', '2024-01-10', NULL);

SELECT sequence, length, paths, converting_paths, round(p_with::numeric, 12) AS p,
       round(p_without::numeric, 12) AS p_without, round(removal_effect::numeric, 12) AS removal_effect
FROM removal_effects(1, 'deal', '100 years') ORDER BY sequence;
-- aggregate split: 0.2 / 0.4 / 0.4 (rows per channel, without touch)
SELECT conversion_id, channel, event_ref, touched_at, round(weight::numeric, 12) AS weight, credit
FROM attribution('markov', 'deal', '100 years', split => 'aggregate') ORDER BY channel;
SELECT channel, round(conversions::numeric, 12) AS conversions, credit
FROM attribution_totals('markov', 'deal', '100 years', split => 'aggregate') ORDER BY channel;

-- ---------------------------------------------------------------------------
-- Order 2 by hand.  Channels A, B; the journeys (repeated consecutive channels collapse: A A B = A B):
--   lead 4: A A B -> conversion (deal 20, 1000)   states (A,B)
--   lead 5: A B A -> null                         states (A,B), (B,A)
--   lead 6: B -> conversion (deal 21, 500)        state (B): shorter than 2, one state
--   lead 7: A -> null                             state (A)
-- Counts: start -> (A,B) 2, (B) 1, (A) 1 (of 4); (A,B) -> conversion 1, (A,B) -> (B,A) 1;
--   (B,A) -> null 1;  (B) -> conversion 1;  (A) -> null 1.
--   x_(A,B) = 1/2, x_(B,A) = 0, x_(B) = 1, x_(A) = 0;  P = (2 * 1/2 + 1 + 0) / 4 = 1/2.
-- Without A (every state holding A: (A,B), (B,A), (A) to null): P_A = 1/4, RE(A) = 1/2.
-- Without B: P_B = 0, RE(B) = 1.
-- Sequence A > B (state (A,B)): P = 1/4, RE 1/2.  Sequence B > A (state (B,A)): P unchanged, RE 0.
-- The same journeys at order 1: start -> A 3, B 1; A -> B 2, A -> null 2; B -> conversion 2, B -> A 1:
--   x_B = 2/3 + 1/3 x_A, x_A = 1/2 x_B  =>  x_B = 4/5, x_A = 2/5, P = 3/4 2/5 + 1/4 4/5 = 1/2;
--   without A: x_B = 2/3, P_A = 1/6, RE(A) = 2/3.
-- Path split, order 2: deal 20 (path A A B): A 1/2 / (1/2 + 1) = 1/3, split over its two touches
--   (1/6 each), B 2/3; deal 21 (path B): B all.
-- Aggregate split, order 2: sum RE = 3/2: every conversion A 1/3, B 2/3 (deal 21 too).
-- ---------------------------------------------------------------------------
TRUNCATE crm.events, crm.deals;
DELETE FROM crm.leads;
INSERT INTO crm.leads SELECT g, '2024-01-01' FROM generate_series(4, 7) g;
INSERT INTO crm.events VALUES
    (11, 4, 'click', '2024-01-02', 'A', 'a1', NULL), (12, 4, 'click', '2024-01-03', 'A', 'a2', NULL),
    (13, 4, 'click', '2024-01-04', 'B', 'b1', NULL),
    (14, 5, 'click', '2024-01-02', 'A', 'a1', NULL), (15, 5, 'click', '2024-01-03', 'B', 'b1', NULL),
    (16, 5, 'click', '2024-01-04', 'A', 'a1', NULL),
    (17, 6, 'click', '2024-01-02', 'B', 'b2', NULL),
    (18, 7, 'click', '2024-01-02', 'A', 'a2', NULL);
INSERT INTO crm.deals VALUES (20, 4, 1000, 'won', '2024-01-10', NULL), (21, 6, 500, 'won', '2024-01-10', NULL);

SELECT sequence, length, paths, converting_paths, round(p_with::numeric, 12) AS p,
       round(removal_effect::numeric, 12) AS removal_effect
FROM removal_effects(2, 'deal', '100 years', ARRAY['A > B', 'B > A', 'B > C']) ORDER BY length, sequence;
-- order 1 on the same journeys: RE(A) = 2/3
SELECT sequence, round(p_with::numeric, 12) AS p, round(removal_effect::numeric, 12) AS removal_effect
FROM removal_effects(1, 'deal', '100 years') ORDER BY sequence;
-- removal_effects(1, ...) is 0.1.0's markov_removal_effects()
SELECT count(*) AS channels, count(*) FILTER (WHERE r.removal_effect = m.removal_effect AND r.p_with = m.p_with
                                               AND r.p_without = m.p_without AND r.paths = m.paths
                                               AND r.converting_paths = m.converting_paths) AS equal
FROM removal_effects(1, 'deal', '100 years') r JOIN markov_removal_effects('deal', '100 years') m
  ON m.channel = r.sequence;
-- orders 3 and 4: every journey is shorter than 3 after collapsing, so each is one state
SELECT markov_order, sequence, round(removal_effect::numeric, 12) AS removal_effect
FROM generate_series(3, 4) markov_order, removal_effects(markov_order, 'deal', '100 years')
ORDER BY markov_order, sequence;
-- path split, order 2
SELECT conversion_id, event_ref, channel, round(weight::numeric, 12) AS weight, credit
FROM attribution('markov', 'deal', '100 years', markov_order => 2) ORDER BY conversion_id, event_ref;
-- aggregate split, order 2
SELECT conversion_id, channel, round(weight::numeric, 12) AS weight, credit
FROM attribution('markov', 'deal', '100 years', split => 'aggregate', markov_order => 2)
ORDER BY conversion_id, channel;
-- totals in C equal the rows summed, at every level
SELECT t.channel, t.campaign, round(t.conversions::numeric, 12) AS conversions, t.credit,
       round(r.conversions::numeric, 12) AS from_rows, r.credit AS credit_from_rows
FROM attribution_totals('markov', 'deal', '100 years', level => 'campaign', markov_order => 2) t
FULL JOIN (SELECT channel, campaign, sum(weight) AS conversions, sum(credit) AS credit
           FROM attribution('markov', 'deal', '100 years', markov_order => 2) GROUP BY 1, 2) r
  ON r.channel = t.channel AND r.campaign IS NOT DISTINCT FROM t.campaign
ORDER BY 1, 2;
-- channel_report takes the same options
SELECT channel, customers, revenue
FROM channel_report('markov', NULL, NULL, 'channel', 'aggregate', 2) ORDER BY channel;

-- attribution_totals() is attribution() summed per group, for every model and level
SELECT m.model, l.level,
       count(*) FILTER (WHERE t.credit IS DISTINCT FROM r.credit
                           OR abs(t.conversions - r.conversions) > 1e-12) AS differing_groups
FROM unnest(ARRAY['first_touch', 'last_touch', 'linear', 'time_decay', 'position_based', 'w_shaped',
                  'full_path', 'markov', 'shapley']) m(model),
     unnest(ARRAY['channel', 'campaign', 'keyword']) l(level),
     LATERAL (SELECT * FROM attribution_totals(m.model, 'deal', '100 years', level => l.level)) t
FULL JOIN LATERAL (
    SELECT channel, CASE WHEN l.level <> 'channel' THEN campaign END AS campaign,
           CASE WHEN l.level = 'keyword' THEN keyword END AS keyword,
           sum(weight) AS conversions, sum(credit) AS credit
    FROM attribution(m.model, 'deal', '100 years') GROUP BY 1, 2, 3) r
  ON r.channel = t.channel AND r.campaign IS NOT DISTINCT FROM t.campaign
 AND r.keyword IS NOT DISTINCT FROM t.keyword
GROUP BY 1, 2 ORDER BY 1, 2;

-- ---------------------------------------------------------------------------
-- Shapley on channel sets, by hand.  Journeys and their channel sets:
--   lead 30: A -> conversion      lead 31: A            lead 32: B       lead 33: B
--   lead 34: A, B -> conversion   lead 35: C -> conversion               lead 36: A, B, C -> conversion
-- Coalition values (conversion rate of the journeys with exactly that set):
--   v(A) = 1/2, v(B) = 0, v(C) = 1, v(AB) = 1, v(ABC) = 1, v(AC) = v(BC) = 0 (no such journey).
-- Deal of lead 36 (N = {A, B, C}; weights 1/3 for |T| = 0 and 2, 1/6 for |T| = 1):
--   phi_A = 1/3 (1/2) + 1/6 (1 - 0) + 1/6 (0 - 1) + 1/3 (1 - 0) = 1/2
--   phi_B = 1/3 (0) + 1/6 (1 - 1/2) + 1/6 (0 - 1) + 1/3 (1 - 0) = 1/4
--   phi_C = 1/3 (1) + 1/6 (0 - 1/2) + 1/6 (0 - 0) + 1/3 (1 - 1) = 1/4      (sum v(ABC) = 1)
-- Deal of lead 34 (N = {A, B}): phi_A = 1/2 (1/2) + 1/2 (1 - 0) = 3/4, phi_B = 1/2 (0) + 1/2 (1 - 1/2) = 1/4.
-- Deals of 100 each: A 100 (lead 30) + 75 + 50 = 225, B 25 + 25 = 50, C 100 + 25 = 125.
-- ---------------------------------------------------------------------------
TRUNCATE crm.events, crm.deals;
DELETE FROM crm.leads;
INSERT INTO crm.leads SELECT g, '2024-01-01' FROM generate_series(30, 36) g;
INSERT INTO crm.events VALUES
    (30, 30, 'click', '2024-01-02', 'A', NULL, NULL),
    (31, 31, 'click', '2024-01-02', 'A', NULL, NULL),
    (32, 32, 'click', '2024-01-02', 'B', NULL, NULL),
    (33, 33, 'click', '2024-01-02', 'B', NULL, NULL),
    (34, 34, 'click', '2024-01-02', 'A', NULL, NULL), (35, 34, 'click', '2024-01-03', 'B', NULL, NULL),
    (36, 35, 'click', '2024-01-02', 'C', NULL, NULL),
    (37, 36, 'click', '2024-01-02', 'C', NULL, NULL), (38, 36, 'click', '2024-01-03', 'A', NULL, NULL),
    (39, 36, 'click', '2024-01-04', 'B', NULL, NULL), (40, 36, 'click', '2024-01-05', 'A', NULL, NULL);
INSERT INTO crm.deals SELECT g, g, 100, 'won', '2024-01-10', NULL FROM unnest('{30,34,35,36}'::int[]) g;
-- lead 36 touches A twice: A's 1/2 is split over those two touches
SELECT conversion_id, event_ref, channel, round(weight::numeric, 12) AS weight, credit
FROM attribution('shapley', 'deal', '100 years') ORDER BY conversion_id::int, event_ref::int;
SELECT channel, round(conversions::numeric, 12) AS conversions, credit
FROM attribution_totals('shapley', 'deal', '100 years') ORDER BY channel;

-- ---------------------------------------------------------------------------
-- Bootstrap intervals: the same seed gives the same intervals, for every kind of model
-- ---------------------------------------------------------------------------
CREATE TEMP TABLE ci1 AS
SELECT 'linear' AS m, * FROM attribution_ci('linear', 200, 0.9, 42, 'deal', '100 years')
UNION ALL SELECT 'markov', * FROM attribution_ci('markov', 200, 0.9, 42, 'deal', '100 years')
UNION ALL SELECT 'shapley', * FROM attribution_ci('shapley', 200, 0.9, 42, 'deal', '100 years');
CREATE TEMP TABLE ci2 AS
SELECT 'linear' AS m, * FROM attribution_ci('linear', 200, 0.9, 42, 'deal', '100 years')
UNION ALL SELECT 'markov', * FROM attribution_ci('markov', 200, 0.9, 42, 'deal', '100 years')
UNION ALL SELECT 'shapley', * FROM attribution_ci('shapley', 200, 0.9, 42, 'deal', '100 years');
SELECT count(*) AS rows, (SELECT count(*) FROM (TABLE ci1 EXCEPT TABLE ci2) d) AS differing FROM ci1;
-- another seed draws other samples
SELECT count(*) AS differing_from_seed_7
FROM (SELECT * FROM ci1 WHERE m = 'linear'
      EXCEPT SELECT 'linear', * FROM attribution_ci('linear', 200, 0.9, 7, 'deal', '100 years')) d;
-- the point estimate is the credit of the whole data; lower <= upper; bounds within [0, all value]
SELECT c.m, c.channel, round(c.credit::numeric, 6) AS credit, c.lower <= c.upper AS ordered,
       c.lower >= 0 AND c.upper <= 4 * 4 * 100 AS in_range
FROM ci1 c ORDER BY 1, 2;
SELECT t.channel, round(c.credit::numeric, 6) = t.credit AS same_as_totals
FROM attribution_totals('shapley', 'deal', '100 years') t JOIN ci1 c ON c.m = 'shapley' AND c.channel = t.channel
ORDER BY 1;
-- the aggregate split of a chain of order 2, and its intervals: the point estimate is attribution_totals()
-- (up to the rounding of each credit to 6 decimals, which the float8 sums of the bootstrap skip)
SELECT c.channel, c.campaign, abs(c.credit::numeric - t.credit) < 1e-5 AS same_as_totals,
       c.lower <= c.upper AS ordered
FROM attribution_ci('markov', 100, 0.9, 5, 'deal', '100 years', detail => 'campaign', split => 'aggregate',
                    markov_order => 2) c
JOIN attribution_totals('markov', 'deal', '100 years', level => 'campaign', split => 'aggregate', markov_order => 2) t
  ON t.channel = c.channel AND t.campaign IS NOT DISTINCT FROM c.campaign
ORDER BY 1, 2;
SELECT count(*) AS differing_between_runs
FROM (SELECT * FROM attribution_ci('markov', 100, 0.9, 5, 'deal', '100 years', split => 'aggregate', markov_order => 2)
      EXCEPT
      SELECT * FROM attribution_ci('markov', 100, 0.9, 5, 'deal', '100 years', split => 'aggregate', markov_order => 2)) d;
-- one sample: lower = upper; every draw of a one-lead data set is that lead
SELECT channel, lower = upper AS one_point FROM attribution_ci('linear', 1, 0.5, 1, 'deal', '100 years')
ORDER BY channel;
-- campaign level
UPDATE crm.events SET campaign = 'x' || (id % 2);
SELECT channel, campaign, round(credit::numeric, 6) AS credit, lower <= upper AS ordered
FROM attribution_ci('linear', 50, 0.95, 3, 'deal', '100 years', detail => 'campaign') ORDER BY 1, 2;

-- ---------------------------------------------------------------------------
-- Errors: each names the argument and the valid choices
-- ---------------------------------------------------------------------------
\set VERBOSITY default
SELECT * FROM attribution('markov', split => 'proportional');
SELECT * FROM attribution('markov', markov_order => 5);
SELECT * FROM attribution('markov', markov_order => 0);
SELECT * FROM attribution('linear', markov_order => 2);
SELECT * FROM attribution('shapley', split => 'aggregate');
-- (without its context: the statement of channel_report's PL/pgSQL body, the whole report query)
\set SHOW_CONTEXT never
SELECT * FROM channel_report('linear', NULL, NULL, 'channel', 'aggregate');
\set SHOW_CONTEXT errors
SELECT * FROM removal_effects(1, 'deal', '100 years', ARRAY['A > B']);
SELECT * FROM removal_effects(2, 'deal', '100 years', ARRAY['A >  > B']);
SELECT * FROM removal_effects(2, 'deal', '100 years', ARRAY['A', NULL]);
SELECT * FROM removal_effects(2, 'deal', '100 years', ARRAY[['A'], ['B']]);
SELECT * FROM attribution_totals('linear', level => 'region');
SELECT * FROM attribution_ci('linear', 0);
SELECT * FROM attribution_ci('linear', 100001);
SELECT * FROM attribution_ci('linear', 100, 1.0);
SELECT * FROM attribution_ci('linear', 100, 0.95, NULL);
SELECT * FROM attribution_ci(NULL);
SELECT * FROM attribution_ci('linear', detail => 'region');
SELECT attribution_weights('shapley', '{2024-01-01}');
-- Shapley beyond 20 distinct channels in one path
INSERT INTO crm.events SELECT 100 + g, 36, 'click', '2024-01-06'::timestamptz + g * interval '1 minute', 'S' || g
FROM generate_series(1, 18) g;
SELECT * FROM attribution('shapley', 'deal', '100 years');
-- a chain of order 2 beyond 1000 states: 40 channels, every ordered pair on its own journey
TRUNCATE crm.events;
INSERT INTO crm.events
SELECT (i * 40 + j) * 2 + k, 1000 + i * 40 + j, 'click',
       '2024-01-02'::timestamptz + k * interval '1 minute', 'c' || CASE k WHEN 0 THEN i ELSE j END
FROM generate_series(0, 39) i, generate_series(0, 39) j, generate_series(0, 1) k WHERE i <> j;
INSERT INTO crm.leads SELECT DISTINCT lead_id, '2024-01-01'::timestamptz FROM crm.events;
SELECT count(*) FROM removal_effects(1, 'deal', '100 years');
SELECT * FROM removal_effects(2, 'deal', '100 years');

-- clean up for the next test
SET client_min_messages = warning;
DROP SCHEMA crm CASCADE;
DROP EXTENSION lead_scoring CASCADE;
DROP SCHEMA IF EXISTS lead_scoring CASCADE;
