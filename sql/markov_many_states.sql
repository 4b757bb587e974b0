-- Removal effects of a Markov chain whose channels are each held by more than sqrt(states) states
-- (doc/attribution.md, "The Markov model"): the matrix N[C][C] of a channel's states is nc x nc, which
-- outgrew the one column of doubles it was written into (a write past the end of the allocation:
-- the server aborted on "corrupted double-linked list"; an assert-enabled build also warns).
-- 30 channels, order 2, 870 states (every ordered pair of channels), each channel in 58 of them.
CREATE EXTENSION lead_scoring;
SET search_path = lead_scoring, public;
SET timezone = 'UTC';
SET extra_float_digits = 0;

CREATE SCHEMA crm;
CREATE TABLE crm.leads (id integer PRIMARY KEY, created timestamptz);
CREATE TABLE crm.events (id bigint PRIMARY KEY, lead_id integer, kind text, at timestamptz, channel text);
CREATE TABLE crm.deals (id integer PRIMARY KEY, lead_id integer, amount numeric, status text,
                        closed_at timestamptz);
SELECT attach_leads('crm.leads', created_column => 'created');
SELECT attach_events('crm.events', type_column => 'kind', time_column => 'at', channel_column => 'channel');
SELECT attach_deals('crm.deals');
ALTER TABLE crm.deals DISABLE TRIGGER USER;

-- lead (i, j) walks c_i -> c_j -> c_(i+j mod 30) (c_i -> c_0 -> c_i when j = 0), converting when i + j is even
CREATE TEMP TABLE journey AS
SELECT row_number() OVER (ORDER BY i, j)::integer AS lead, i, j, (i + j) % 30 AS k
FROM generate_series(0, 29) i, generate_series(0, 29) j
WHERE i <> j AND j <> (i + j) % 30;
INSERT INTO crm.leads SELECT lead, '2024-01-01' FROM journey;
INSERT INTO crm.events
SELECT lead * 3 + s, lead, 'click', '2024-01-02'::timestamptz + s * interval '1 hour',
       'c' || lpad((ARRAY[i, j, k])[s + 1]::text, 2, '0')
FROM journey, generate_series(0, 2) s;
INSERT INTO crm.deals SELECT lead, lead, 100, 'won', '2024-02-01' FROM journey WHERE (i + j) % 2 = 0;
SELECT count(*) AS states FROM (SELECT i, j FROM journey UNION SELECT j, k FROM journey) s;

CREATE TEMP TABLE together AS
SELECT sequence, paths, converting_paths, p_with, removal_effect FROM removal_effects(2, 'deal', '100 years');
-- 841 journeys (29 x 29), 406 converting: every channel's paths and converting paths as counted here, and
-- P(conversion) the observed rate 406 / 841 = 14 / 29
WITH counted AS (
    SELECT 'c' || lpad(c::text, 2, '0') AS sequence, count(DISTINCT lead) AS paths,
           count(DISTINCT lead) FILTER (WHERE (i + j) % 2 = 0) AS converting_paths
    FROM journey, unnest(ARRAY[i, j, k]) c GROUP BY c)
SELECT count(*) AS channels, count(*) FILTER (WHERE t.paths = c.paths AND t.converting_paths = c.converting_paths)
       AS counts_agree, round(min(p_with)::numeric, 12) AS p_with, round(14 / 29.0, 12) AS observed
FROM together t JOIN counted c USING (sequence);
-- every removal effect is a probability
SELECT count(*) FILTER (WHERE removal_effect BETWEEN 0 AND 1) AS in_range,
       round(min(removal_effect)::numeric, 6) > 0 AS all_positive
FROM together;
-- with sequences asked for too: every channel's effect as before, each sequence's a probability
CREATE TEMP TABLE with_sequences AS
SELECT sequence, length, removal_effect FROM removal_effects(2, 'deal', '100 years', ARRAY['c00 > c01', 'c05 > c10']);
SELECT count(*) AS channels, count(*) FILTER (WHERE abs(w.removal_effect - t.removal_effect) > 1e-9) AS differing
FROM with_sequences w JOIN together t USING (sequence);
SELECT sequence, removal_effect BETWEEN 0 AND 1 AS in_range FROM with_sequences WHERE length = 2 ORDER BY 1;

SET client_min_messages = warning;
DROP SCHEMA crm CASCADE;
DROP EXTENSION lead_scoring CASCADE;
DROP SCHEMA IF EXISTS lead_scoring CASCADE;
