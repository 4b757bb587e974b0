-- ---------------------------------------------------------------------------
-- Marketing cost and multi-touch attribution (doc/attribution.md).
-- The weight math, the Markov chain, the Shapley game, the lead-by-lead pass
-- and the bootstrap are C (src/attribution*.c, src/markov.c);
-- doc/attribution.md defines every model.
-- ---------------------------------------------------------------------------

-- What was spent, as loaded from ad platforms: exactly these five columns, in
-- this order, so that a plain COPY of an export works.
CREATE TABLE @extschema@.marketing_cost (
    spend_date date NOT NULL,
    channel    text NOT NULL,
    campaign   text,
    keyword    text,
    amount     numeric NOT NULL,
    CONSTRAINT marketing_cost_amount_not_negative CHECK (amount OPERATOR(pg_catalog.>=) 0),
    CONSTRAINT marketing_cost_amount_not_nan_or_infinite
        CHECK (amount OPERATOR(pg_catalog.<) 'Infinity'::pg_catalog.numeric),
    CONSTRAINT marketing_cost_channel_not_empty CHECK (channel OPERATOR(pg_catalog.<>) '')
);
CREATE INDEX marketing_cost_spend_date ON @extschema@.marketing_cost (spend_date);
COMMENT ON TABLE @extschema@.marketing_cost IS
    'Marketing spend per day and channel (campaign and keyword optional); amounts are never negative';
COMMENT ON CONSTRAINT marketing_cost_amount_not_negative ON @extschema@.marketing_cost IS
    'A cost is never negative: load refunds and credits as lower costs of the day, not as negative rows';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.marketing_cost', '');

-- The weights a rule-based model gives one path (touch times ascending); a tool
-- for checking and explaining the models.
CREATE FUNCTION @extschema@.attribution_weights(
        model text, touched_at timestamptz[], converted_at timestamptz DEFAULT NULL,
        created_at timestamptz DEFAULT NULL, opportunity_at timestamptz DEFAULT NULL,
        half_life interval DEFAULT '7 days')
    RETURNS double precision[]
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.attribution_weights(text, timestamptz[], timestamptz, timestamptz,
                                                    timestamptz, interval) IS
    'Weights of a rule-based attribution model for one path of touches (see doc/attribution.md)';

-- The attribution of every conversion, one row per touch.  Callers name the
-- columns they want in a column definition list, any of: conversion_id text,
-- lead_id <leads id type>, converted_at timestamptz, value numeric, event_ref
-- text, channel text, campaign text, keyword text, touched_at timestamptz,
-- weight float8, credit numeric, cost numeric (the deal cost times the weight).
-- NULL model, lookback and half-life take the settings' defaults; conversions
-- in [from, to) when those are given.  The typed lead_scoring.attribution()
-- below is the same C function.
CREATE FUNCTION @extschema@.attribution_rows(
        model text DEFAULT NULL, conversion text DEFAULT 'deal', lookback interval DEFAULT NULL,
        half_life interval DEFAULT NULL, "from" timestamptz DEFAULT NULL, "to" timestamptz DEFAULT NULL)
    RETURNS SETOF record
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE PARALLEL RESTRICTED ROWS 10000;
COMMENT ON FUNCTION @extschema@.attribution_rows(text, text, interval, interval, timestamptz, timestamptz) IS
    'Attribution rows with a caller-chosen column list (internal; use lead_scoring.attribution())';

-- The Markov chain behind the markov model, channel by channel.
CREATE FUNCTION @extschema@.markov_removal_effects(conversion text DEFAULT 'deal', lookback interval DEFAULT NULL)
    RETURNS TABLE (channel text, paths bigint, converting_paths bigint, p_with double precision,
                   p_without double precision, removal_effect double precision)
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE PARALLEL RESTRICTED ROWS 20;
COMMENT ON FUNCTION @extschema@.markov_removal_effects(text, interval) IS
    'Per channel: paths through it, conversion probability with and without it, and its removal effect';

-- Removal effects of every channel, and of the channel sequences asked for
-- ('a > b'), in the Markov chain of the given order (doc/attribution.md,
-- "Higher orders, sequences and the aggregate split").
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

-- 1, 2 or 3 for the report levels channel, campaign, keyword; an error for anything else.
CREATE FUNCTION @extschema@.channel_report_level(level text) RETURNS integer
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.channel_report_level(text) IS
    'Depth of a channel_report level: channel 1, campaign 2, keyword 3 (internal)';

-- Objects that depend on the canonical views or on the leads id type are
-- created by rebuild_views() from these definitions (@lead_id_type@ = the
-- leads id type).
INSERT INTO @extschema@.generated_view (ord, name, kind, definition) VALUES
(700, 'attribution', 'function', $def$
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
$def$),
(710, 'channel_report', 'function', $def$
CREATE FUNCTION @extschema@.channel_report(
        model pg_catalog.text DEFAULT NULL, "from" pg_catalog.date DEFAULT NULL,
        "to" pg_catalog.date DEFAULT NULL, level pg_catalog.text DEFAULT 'channel',
        split pg_catalog.text DEFAULT 'path', markov_order integer DEFAULT 1)
    RETURNS TABLE (channel pg_catalog.text, campaign pg_catalog.text, keyword pg_catalog.text,
                   touchpoints bigint, new_leads pg_catalog.numeric, mqls pg_catalog.numeric,
                   sals pg_catalog.numeric, customers pg_catalog.numeric, revenue pg_catalog.numeric,
                   cost pg_catalog.numeric, cpl pg_catalog.numeric, cpo pg_catalog.numeric,
                   romi pg_catalog.numeric, roi pg_catalog.numeric)
    LANGUAGE plpgsql STABLE PARALLEL RESTRICTED
    SET search_path = pg_catalog, pg_temp
    AS $body$
#variable_conflict use_column
BEGIN
-- the level first: a wrong one is reported on this statement, not on the whole query below
PERFORM @extschema@.channel_report_level(coalesce($4, 'channel'));
-- one query; PL/pgSQL binds the arguments before Citus plans it (doc/scale-out.md, "Reports")
RETURN QUERY
WITH p AS (
    SELECT @extschema@.channel_report_level(coalesce($4, 'channel')) AS depth,
           @extschema@.day_start($2) AS lo,
           @extschema@.day_start($3 OPERATOR(pg_catalog.+) 1) AS hi
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
ORDER BY g.channel, g.campaign NULLS FIRST, g.keyword NULLS FIRST;
END
$body$
$def$),
(720, 'channels', 'view', $def$
CREATE VIEW @extschema@.channels AS
SELECT r.* FROM @extschema@.channel_report(NULL, @extschema@.clock()::pg_catalog.date OPERATOR(pg_catalog.-) 29,
                                           @extschema@.clock()::pg_catalog.date, 'channel') AS r
$def$);
