-- Attribution over attached CRM tables: the Markov model solved by hand, conversions of every
-- kind, windows and edge cases, errors, and the marketing_cost table.
CREATE EXTENSION lead_scoring;
SET search_path = lead_scoring, public;
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET intervalstyle = 'postgres';

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
-- The stage milestones of these tests are written into stage_change directly, at fixed times; the
-- deal triggers would add stage changes at now(), so the deals are loaded without them.
ALTER TABLE crm.deals DISABLE TRIGGER USER;

-- ---------------------------------------------------------------------------
-- Markov, small enough to solve by hand.  Three channels A, B, C; one path per lead:
--   lead 1: A -> B -> conversion          lead 4: C -> null
--   lead 2: A -> null                     lead 5: B -> A -> null (an event without channel in between)
--   lead 3: B -> conversion
-- Transition counts: start -> A 2, start -> B 2, start -> C 1 (of 5);
--   A -> B 1, A -> null 2 (of 3);  B -> conversion 2, B -> A 1 (of 3);  C -> null 1.
-- Absorption probabilities x (probability of converting from a state), a cycle A <-> B included:
--   x_A = 1/3 x_B,  x_B = 2/3 + 1/3 x_A  =>  x_B = 3/4, x_A = 1/4, x_C = 0
--   P = 2/5 x_A + 2/5 x_B + 1/5 x_C = 2/5.
-- Removing A (B -> A goes to null): x_B = 2/3, P_A = 2/5 * 2/3 = 4/15, RE(A) = 1 - (4/15)/(2/5) = 1/3.
-- Removing B: x_A = 0, P_B = 0, RE(B) = 1.     Removing C: P_C = P, RE(C) = 0.
-- Conversions: deal 10 (lead 1, path A B): A gets (1/3)/(1/3 + 1) = 1/4, B 3/4 of 1000 = 250 / 750.
--              deal 11 (lead 3, path B): B gets all 500.
-- Attributed conversions: A 0.25, B 1.75, C 0 (C is only on a non-converting path).
-- ---------------------------------------------------------------------------
INSERT INTO crm.leads VALUES (1, '2024-01-01'), (2, '2024-01-01'), (3, '2024-01-01'), (4, '2024-01-01'),
                             (5, '2024-01-01');
INSERT INTO crm.events VALUES
    (1, 1, 'click', '2024-01-02', 'A', 'a1', 'k1'), (2, 1, 'click', '2024-01-03', 'B', 'b1', NULL),
    (3, 2, 'click', '2024-01-02', 'A', 'a1', 'k2'),
    (4, 3, 'click', '2024-01-02', 'B', 'b2', NULL),
    (5, 4, 'click', '2024-01-02', 'C', NULL, NULL),
    (6, 5, 'click', '2024-01-02', 'B', 'b1', NULL), (7, 5, 'view', '2024-01-02 12:00', NULL, NULL, NULL),
    (8, 5, 'click', '2024-01-03', 'A', 'a1', 'k1');
INSERT INTO crm.deals VALUES (10, 1, 1000, 'won', '2024-01-10', 100), (11, 3, 500, 'Won', '2024-01-11', NULL),
                             (12, 2, 700, 'open', NULL, NULL), (13, 4, 300, 'lost', '2024-01-12', NULL);

-- the removal effects: 1/3, 1, 0; P = 0.4 with every channel
SELECT channel, paths, converting_paths, round(p_with::numeric, 12) AS p,
       round(p_without::numeric, 12) AS p_without, round(removal_effect::numeric, 12) AS removal_effect
FROM markov_removal_effects('deal', '100 years') ORDER BY channel;

SELECT conversion_id, lead_id, value, event_ref, channel, round(weight::numeric, 12) AS weight, credit
FROM attribution('markov', 'deal', '100 years') ORDER BY conversion_id, touched_at;

-- attributed conversions per channel: A 0.25, B 1.75, C nothing
SELECT channel, round(sum(weight)::numeric, 12) AS conversions, sum(credit) AS revenue
FROM attribution('markov', 'deal', '100 years') GROUP BY channel ORDER BY channel;

-- ---------------------------------------------------------------------------
-- A channel that appears only on non-converting paths gets no credit, even when its removal
-- effect is positive.  Lead 6: D -> B -> null.  The counts become
--   start -> A 2, B 2, C 1, D 1 (of 6);  A -> B 1, A -> null 2;  B -> conversion 2, B -> A 1,
--   B -> null 1 (of 4);  C -> null 1;  D -> B 1.
--   x_A = 1/3 x_B,  x_B = 1/2 + 1/4 x_A  =>  x_B = 6/11, x_A = 2/11, x_D = x_B = 6/11, x_C = 0
--   P = (2 x_A + 2 x_B + x_D) / 6 = 1/3
--   without A: x_B = x_D = 1/2, P_A = (2/2 + 1/2) / 6 = 1/4, RE(A) = 1/4
--   without B: P_B = 0, RE(B) = 1;   without C: RE(C) = 0
--   without D: P_D = (4/11 + 12/11) / 6 = 8/33, RE(D) = 1 - (8/33)/(1/3) = 3/11
-- Deal 10 (path A B): A 1/4 / (1/4 + 1) = 1/5 = 200, B 4/5 = 800; deal 11: B 500.  D: nothing.
-- ---------------------------------------------------------------------------
INSERT INTO crm.leads VALUES (6, '2024-01-01');
INSERT INTO crm.events VALUES (9, 6, 'click', '2024-01-04', 'D', NULL, NULL),
                              (10, 6, 'click', '2024-01-05', 'B', 'b1', NULL);
SELECT channel, paths, converting_paths, round(p_with::numeric, 12) AS p,
       round(removal_effect::numeric, 12) AS removal_effect, round(3 / 11.0, 12) AS three_elevenths
FROM markov_removal_effects('deal', '100 years') ORDER BY channel;
SELECT channel, round(sum(weight)::numeric, 12) AS conversions, sum(credit) AS revenue
FROM attribution('markov', 'deal', '100 years') GROUP BY channel ORDER BY channel;

-- Without any conversion every removal effect is 0 (P = 0); nothing to attribute.
SELECT count(*) AS channels, max(removal_effect) AS max_removal_effect, max(p_with) AS p
FROM markov_removal_effects('mql', '100 years');

-- ---------------------------------------------------------------------------
-- The rule-based models on the same data, deal conversions.
-- ---------------------------------------------------------------------------
SELECT m AS model, conversion_id, event_ref, channel, round(weight::numeric, 6) AS weight, credit
FROM unnest(ARRAY['first_touch', 'last_touch', 'linear', 'time_decay', 'position_based', 'w_shaped',
                  'full_path']) AS m,
     LATERAL attribution(m, 'deal', '100 years', '1 day')
ORDER BY m, conversion_id, touched_at;

-- ---------------------------------------------------------------------------
-- Windows: only touches at or before the conversion and inside the lookback count; the
-- window's ends are included.  Lead 7: touches on days 1, 5, 10 (at the conversion), 11.
-- ---------------------------------------------------------------------------
INSERT INTO crm.leads VALUES (7, '2024-02-01');
INSERT INTO crm.events VALUES (11, 7, 'click', '2024-02-01', 'A', NULL, NULL),
                              (12, 7, 'click', '2024-02-05', 'B', NULL, NULL),
                              (13, 7, 'click', '2024-02-10', 'C', NULL, NULL),
                              (14, 7, 'click', '2024-02-11', 'A', NULL, NULL);
INSERT INTO crm.deals VALUES (14, 7, 90, 'won', '2024-02-10', NULL);
SELECT lookback, string_agg(channel || ' ' || round(weight::numeric, 4), ', ' ORDER BY touched_at) AS touches
FROM unnest(ARRAY['9 days', '5 days', '4 days 23:59', '0']::interval[]) AS lookback,
     LATERAL attribution('linear', 'deal', lookback) a
WHERE a.lead_id = 7
GROUP BY lookback ORDER BY lookback DESC;

-- a second won deal of the same lead is a second conversion with its own window
INSERT INTO crm.deals VALUES (15, 7, 10, 'won', '2024-02-12', NULL);
SELECT conversion_id, string_agg(channel, ' ' ORDER BY touched_at) AS path, sum(weight) AS weight,
       sum(credit) AS credit
FROM attribution('linear', 'deal', '30 days') WHERE lead_id = 7 GROUP BY conversion_id ORDER BY conversion_id;

-- ---------------------------------------------------------------------------
-- Conversions of every kind.  Lead 8 jumps from new straight to sql (so it also counts as mql
-- and sal), then opportunity and customer; lead 9 was created before any touch.
-- ---------------------------------------------------------------------------
INSERT INTO crm.leads VALUES (8, '2024-03-02'), (9, '2024-03-01');
INSERT INTO crm.events VALUES (20, 8, 'click', '2024-03-01', 'A', 'a1', NULL),
                              (21, 8, 'click', '2024-03-03', 'B', 'b1', NULL),
                              (22, 8, 'click', '2024-03-05', 'C', NULL, NULL),
                              (23, 8, 'click', '2024-03-07', 'A', 'a2', NULL),
                              (24, 9, 'click', '2024-03-02', 'B', NULL, NULL);
INSERT INTO stage_change (lead_id, from_stage, to_stage, changed_at, actor, reason) VALUES
    (8, NULL, 'new', '2024-03-02', 'test', 'created'),
    (8, 'new', 'sql', '2024-03-04', 'test', 'manual'),
    (8, 'sql', 'opportunity', '2024-03-06', 'test', 'deal opened'),
    (8, 'opportunity', 'customer', '2024-03-08', 'test', 'deal won'),
    (9, NULL, 'new', '2024-03-01', 'test', 'created'),
    (9, 'new', 'mql', '2024-03-03', 'test', 'threshold'),
    (9, 'mql', 'disqualified', '2024-03-04', 'test', 'manual');
INSERT INTO crm.deals VALUES (16, 8, 2000, 'won', '2024-03-08', 200);
SELECT k AS conversion, conversion_id, converted_at,
       string_agg(coalesce(event_ref, '-') || ':' || channel, ' ' ORDER BY touched_at) AS path,
       string_agg(round(weight::numeric, 4)::text, ' ' ORDER BY touched_at) AS w_shaped
FROM unnest(ARRAY['lead', 'mql', 'sal', 'sql', 'opportunity', 'customer', 'deal']) WITH ORDINALITY AS u(k, n),
     LATERAL attribution('w_shaped', k, '30 days') a
WHERE a.lead_id IN (8, 9)
GROUP BY k, n, conversion_id, converted_at ORDER BY n, conversion_id;
-- full_path on lead 8's deal: first (A day 1), creation (A day 1), opportunity (C day 5), closing
-- (A day 7) take 0.225 each; B (day 3) gets 0.1
SELECT event_ref, channel, weight, credit FROM attribution('full_path', 'deal', '30 days') WHERE lead_id = 8
ORDER BY touched_at;

-- ---------------------------------------------------------------------------
-- Defaults come from lead_scoring.settings; a conversion without touches is "(none)".
-- ---------------------------------------------------------------------------
UPDATE settings SET attribution_model = 'last_touch', attribution_lookback = '2 days';
SELECT conversion_id, event_ref, channel, campaign, touched_at, weight, credit
FROM attribution() WHERE lead_id IN (1, 3, 7) ORDER BY conversion_id, touched_at;
RESET search_path;
SET search_path = public;
SELECT count(*) AS rows, sum(credit) AS credit FROM lead_scoring.attribution(conversion => 'deal');
SET search_path = lead_scoring, public;
UPDATE settings SET attribution_model = DEFAULT, attribution_lookback = DEFAULT;

-- ---------------------------------------------------------------------------
-- Errors name the valid choices.
-- ---------------------------------------------------------------------------
SELECT * FROM attribution('u_shaped');
SELECT * FROM attribution('linear', 'signup');
SELECT * FROM attribution('linear', 'deal', '-1 day');
SELECT * FROM attribution('time_decay', 'deal', '30 days', '-2 days');
SELECT * FROM markov_removal_effects('opportunities');
SELECT * FROM channel_report('linear', '2024-01-01', '2024-01-31', 'adgroup');
SELECT * FROM attribution_rows('linear', 'deal') AS r(conversion_id text, extra text);
SELECT * FROM attribution_rows('linear', 'deal') AS r(lead_id text);
SELECT * FROM attribution_rows('linear', 'deal');

-- ---------------------------------------------------------------------------
-- marketing_cost: COPY-friendly, negative (and NaN) amounts refused, unknown columns refused.
-- ---------------------------------------------------------------------------
COPY marketing_cost FROM stdin (FORMAT csv);
2024-01-01,google,brand,crm software,120.50
2024-01-01,newsletter,,,80
\.
COPY marketing_cost (spend_date, channel, amount) FROM stdin;
2024-01-02	google	15
\.
SELECT * FROM marketing_cost ORDER BY spend_date, channel;
INSERT INTO marketing_cost VALUES ('2024-01-03', 'google', NULL, NULL, -5);
INSERT INTO marketing_cost VALUES ('2024-01-03', 'google', NULL, NULL, 'NaN');
INSERT INTO marketing_cost VALUES ('2024-01-03', '', NULL, NULL, 5);
INSERT INTO marketing_cost (spend_date, channel, amount) VALUES (NULL, 'google', 5);
COPY marketing_cost FROM stdin (FORMAT csv);
2024-01-03,google,,,-1
\.
-- an export with a column too many, and a column the table does not have
COPY marketing_cost FROM stdin (FORMAT csv);
2024-01-03,google,,,5,EUR
\.
INSERT INTO marketing_cost (spend_date, channel, amount, currency) VALUES ('2024-01-03', 'google', 5, 'EUR');
SELECT count(*) AS rows_after_refusals FROM marketing_cost;
-- the table is dumped with the database
SELECT c.relname FROM pg_extension e, unnest(e.extconfig) AS t(oid) JOIN pg_class c ON c.oid = t.oid
WHERE e.extname = 'lead_scoring' AND c.relname = 'marketing_cost';

-- clean up for the next test
SET client_min_messages = warning;
DROP SCHEMA crm CASCADE;
DROP EXTENSION lead_scoring CASCADE;
-- (stage_change is generated, not a member of the extension: it outlives DROP EXTENSION)
DROP SCHEMA IF EXISTS lead_scoring CASCADE;
