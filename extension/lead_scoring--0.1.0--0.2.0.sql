-- lead_scoring 0.1.0 -> 0.2.0.  Every change made to extension/parts/ after 0.1.0 is repeated here,
-- so that ALTER EXTENSION lead_scoring UPDATE leaves a 0.1.0 database with exactly the objects of a
-- fresh 0.2.0 install (test/scripts/upgrade.sh compares the two catalogs).  How generated objects are
-- changed in an upgrade: doc/internals.md, "Upgrades".

\echo Use "ALTER EXTENSION lead_scoring UPDATE TO '0.2.0'" to load this file. \quit

-- ---------------------------------------------------------------------------
-- Issue 11: attribution beyond the anchors — Markov chains of order 1-4 with a path or aggregate
-- split, removal effects of channel sequences, the shapley model, per-group totals, bootstrap
-- intervals (doc/attribution.md).  attribution() and channel_report() gain the arguments split and
-- markov_order: their generated definitions are replaced and regenerated (rebuild_views() drops the
-- old signatures).  0.1.0's C symbols (attribution_rows, markov_removal_effects) keep their argument
-- lists; the new attribution() is the C symbol attribution_rows_0_2.
-- ---------------------------------------------------------------------------
-- Removal effects of every channel, and of the channel sequences asked for
-- ('a > b'), in the Markov chain of the given order (issue 11).
CREATE FUNCTION @extschema@.removal_effects(
        markov_order integer DEFAULT 1, conversion text DEFAULT 'deal', lookback interval DEFAULT NULL,
        sequences text[] DEFAULT NULL)
    RETURNS TABLE (sequence text, length integer, paths bigint, converting_paths bigint,
                   p_with double precision, p_without double precision, removal_effect double precision)
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE PARALLEL RESTRICTED ROWS 20;
COMMENT ON FUNCTION @extschema@.removal_effects(integer, text, interval, text[]) IS
    'Removal effect of each channel and of each channel sequence asked for, in a Markov chain of order 1 to 4';

-- The attribution summed per channel (campaign, keyword) in C, without a row
-- per touch; channel_report reads it.
CREATE FUNCTION @extschema@.attribution_totals(
        model text DEFAULT NULL, conversion text DEFAULT 'deal', lookback interval DEFAULT NULL,
        half_life interval DEFAULT NULL, "from" timestamptz DEFAULT NULL, "to" timestamptz DEFAULT NULL,
        level text DEFAULT 'channel', split text DEFAULT 'path', markov_order integer DEFAULT 1)
    RETURNS TABLE (channel text, campaign text, keyword text, conversions double precision,
                   credit numeric, cost numeric)
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE PARALLEL RESTRICTED ROWS 20;
COMMENT ON FUNCTION @extschema@.attribution_totals(text, text, interval, interval, timestamptz, timestamptz,
                                                   text, text, integer) IS
    'Attribution credits and costs summed per channel, campaign or keyword (no row per touch)';

-- Bootstrap confidence intervals of the credits, leads resampled with
-- replacement; the same seed gives the same intervals.
CREATE FUNCTION @extschema@.attribution_ci(
        model text, samples integer DEFAULT 1000, level double precision DEFAULT 0.95,
        seed bigint DEFAULT 0, conversion text DEFAULT 'deal', lookback interval DEFAULT NULL,
        half_life interval DEFAULT NULL, detail text DEFAULT 'channel', split text DEFAULT 'path',
        markov_order integer DEFAULT 1)
    RETURNS TABLE (channel text, campaign text, keyword text, credit double precision,
                   lower double precision, upper double precision)
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE PARALLEL RESTRICTED ROWS 20;
COMMENT ON FUNCTION @extschema@.attribution_ci(text, integer, double precision, bigint, text, interval,
                                               interval, text, text, integer) IS
    'Credit per channel (campaign, keyword) with its bootstrap percentile interval; deterministic per seed';

UPDATE @extschema@.generated_view SET definition = $def$
CREATE FUNCTION @extschema@.attribution(
        model pg_catalog.text DEFAULT NULL, conversion pg_catalog.text DEFAULT 'deal',
        lookback pg_catalog.interval DEFAULT NULL, half_life pg_catalog.interval DEFAULT NULL,
        split pg_catalog.text DEFAULT 'path', markov_order integer DEFAULT 1)
    RETURNS TABLE (conversion_id pg_catalog.text, lead_id @lead_id_type@,
                   converted_at pg_catalog.timestamptz, value pg_catalog.numeric,
                   event_ref pg_catalog.text, channel pg_catalog.text, campaign pg_catalog.text,
                   keyword pg_catalog.text, touched_at pg_catalog.timestamptz,
                   weight double precision, credit pg_catalog.numeric)
    AS 'MODULE_PATHNAME', 'attribution_rows_0_2' LANGUAGE C STABLE PARALLEL RESTRICTED ROWS 10000
$def$
WHERE name OPERATOR(pg_catalog.=) 'attribution';
UPDATE @extschema@.generated_view SET definition = $def$
CREATE FUNCTION @extschema@.channel_report(
        model pg_catalog.text DEFAULT NULL, "from" pg_catalog.date DEFAULT NULL,
        "to" pg_catalog.date DEFAULT NULL, level pg_catalog.text DEFAULT 'channel',
        split pg_catalog.text DEFAULT 'path', markov_order integer DEFAULT 1)
    RETURNS TABLE (channel pg_catalog.text, campaign pg_catalog.text, keyword pg_catalog.text,
                   touchpoints bigint, new_leads pg_catalog.numeric, mqls pg_catalog.numeric,
                   sals pg_catalog.numeric, customers pg_catalog.numeric, revenue pg_catalog.numeric,
                   cost pg_catalog.numeric, cpl pg_catalog.numeric, cpo pg_catalog.numeric,
                   romi pg_catalog.numeric, roi pg_catalog.numeric)
    LANGUAGE sql STABLE PARALLEL RESTRICTED
    SET search_path = pg_catalog, pg_temp
    AS $body$
WITH p AS (
    SELECT @extschema@.channel_report_level(coalesce($4, 'channel')) AS depth,
           $2::pg_catalog.timestamptz AS lo,
           ($3 OPERATOR(pg_catalog.+) 1)::pg_catalog.timestamptz AS hi
), credited AS (
    SELECT 'lead' AS k, r.* FROM p, LATERAL @extschema@.attribution_totals(
        'first_touch', 'lead', NULL, NULL, p.lo, p.hi, $4, NULL, NULL) AS r
    UNION ALL
    SELECT 'mql', r.* FROM p, LATERAL @extschema@.attribution_totals($1, 'mql', NULL, NULL, p.lo, p.hi, $4, $5, $6) AS r
    UNION ALL
    SELECT 'sal', r.* FROM p, LATERAL @extschema@.attribution_totals($1, 'sal', NULL, NULL, p.lo, p.hi, $4, $5, $6) AS r
    UNION ALL
    SELECT 'customer', r.* FROM p, LATERAL @extschema@.attribution_totals($1, 'customer', NULL, NULL, p.lo, p.hi, $4, $5, $6) AS r
    UNION ALL
    SELECT 'deal', r.* FROM p, LATERAL @extschema@.attribution_totals($1, 'deal', NULL, NULL, p.lo, p.hi, $4, $5, $6) AS r
), facts AS (
    SELECT e.channel, e.campaign, e.keyword, 1 AS touchpoints,
           NULL::numeric AS new_leads, NULL::numeric AS mqls, NULL::numeric AS sals,
           NULL::numeric AS customers, NULL::double precision AS deals, NULL::numeric AS revenue,
           NULL::numeric AS deal_cost, NULL::numeric AS cost
    FROM @extschema@.events e, p
    WHERE e.channel IS NOT NULL
      AND (p.lo IS NULL OR e.occurred_at OPERATOR(pg_catalog.>=) p.lo)
      AND (p.hi IS NULL OR e.occurred_at OPERATOR(pg_catalog.<) p.hi)
    UNION ALL
    SELECT c.channel, c.campaign, c.keyword, 0,
           CASE WHEN c.k OPERATOR(pg_catalog.=) 'lead' THEN c.credit END,
           CASE WHEN c.k OPERATOR(pg_catalog.=) 'mql' THEN c.credit END,
           CASE WHEN c.k OPERATOR(pg_catalog.=) 'sal' THEN c.credit END,
           CASE WHEN c.k OPERATOR(pg_catalog.=) 'customer' THEN c.credit END,
           CASE WHEN c.k OPERATOR(pg_catalog.=) 'deal' THEN c.conversions END,
           CASE WHEN c.k OPERATOR(pg_catalog.=) 'deal' THEN c.credit END,
           CASE WHEN c.k OPERATOR(pg_catalog.=) 'deal' THEN c.cost END,
           NULL
    FROM credited c
    UNION ALL
    SELECT m.channel, m.campaign, m.keyword, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, m.amount
    FROM @extschema@.marketing_cost m
    WHERE ($2 IS NULL OR m.spend_date OPERATOR(pg_catalog.>=) $2)
      AND ($3 IS NULL OR m.spend_date OPERATOR(pg_catalog.<=) $3)
), grouped AS (
    SELECT f.channel,
           CASE WHEN p.depth OPERATOR(pg_catalog.>=) 2 THEN f.campaign END AS campaign,
           CASE WHEN p.depth OPERATOR(pg_catalog.>=) 3 THEN f.keyword END AS keyword,
           pg_catalog.sum(f.touchpoints)::bigint AS touchpoints,
           coalesce(pg_catalog.sum(f.new_leads), 0) AS new_leads,
           coalesce(pg_catalog.sum(f.mqls), 0) AS mqls,
           coalesce(pg_catalog.sum(f.sals), 0) AS sals,
           coalesce(pg_catalog.sum(f.customers), 0) AS customers,
           coalesce(pg_catalog.sum(f.deals), 0)::numeric AS deals,
           coalesce(pg_catalog.sum(f.revenue), 0) AS revenue,
           coalesce(pg_catalog.sum(f.deal_cost), 0) AS deal_cost,
           coalesce(pg_catalog.sum(f.cost), 0) AS cost
    FROM facts f, p
    GROUP BY 1, 2, 3
)
SELECT g.channel, g.campaign, g.keyword, g.touchpoints, g.new_leads, g.mqls, g.sals, g.customers,
       g.revenue, g.cost,
       pg_catalog.round(g.cost OPERATOR(pg_catalog./) NULLIF(g.new_leads, 0), 2) AS cpl,
       pg_catalog.round(g.cost OPERATOR(pg_catalog./) NULLIF(g.deals, 0), 2) AS cpo,
       pg_catalog.round((g.revenue OPERATOR(pg_catalog.-) g.cost)
                        OPERATOR(pg_catalog./) NULLIF(g.cost, 0), 4) AS romi,
       pg_catalog.round((g.revenue OPERATOR(pg_catalog.-) g.deal_cost OPERATOR(pg_catalog.-) g.cost)
                        OPERATOR(pg_catalog./) NULLIF(g.cost, 0), 4) AS roi
FROM grouped g
ORDER BY g.channel, g.campaign NULLS FIRST, g.keyword NULLS FIRST
$body$
$def$
WHERE name OPERATOR(pg_catalog.=) 'channel_report';
SELECT @extschema@.rebuild_views();
