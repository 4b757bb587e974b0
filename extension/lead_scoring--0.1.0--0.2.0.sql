-- lead_scoring 0.1.0 -> 0.2.0.  Every change made to extension/parts/ after 0.1.0 is repeated here,
-- so that ALTER EXTENSION lead_scoring UPDATE leaves a 0.1.0 database with exactly the objects of a
-- fresh 0.2.0 install (test/scripts/upgrade.sh compares the two catalogs).  How generated objects are
-- changed in an upgrade: doc/internals.md, "Upgrades".

\echo Use "ALTER EXTENSION lead_scoring UPDATE TO '0.2.0'" to load this file. \quit

-- ---------------------------------------------------------------------------
-- Release engineering (issue 9): rebuild_views() run from an extension script (this one, when an
-- upgrade changes generated objects) releases what it created from the extension.  Its final
-- definition is in the CRM section below; the generated objects are regenerated once, near the end.
-- ---------------------------------------------------------------------------
-- The tables, views and functions that are members of the extension now.
CREATE FUNCTION @extschema@.member_objects() RETURNS oid[]
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT coalesce(array_agg(d.objid), '{}')
      FROM pg_depend d
     WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
       AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'lead_scoring')
       AND d.classid IN ('pg_class'::regclass, 'pg_proc'::regclass)
$$;
REVOKE ALL ON FUNCTION @extschema@.member_objects() FROM PUBLIC;

-- ---------------------------------------------------------------------------
-- Security and reliability (issue 12, items 2 and 3): dropping an attached table detaches it;
-- DROP EXTENSION keeps the stage log (its stages as text) and attach_leads() takes it back.
-- (Items 1, 4 and 14 changed the C library only.)  Code-quality review (session 5): the two event
-- triggers' loop over the attachments with labels is one helper, broken_labels(), defined here in its
-- final form with them (each function of this script is defined once).
-- ---------------------------------------------------------------------------
-- An attached table that is dropped (DROP TABLE ... CASCADE, DROP SCHEMA ... CASCADE, DROP OWNED)
-- is detached in the same transaction: no attachment outlives its table.  Without its leads table,
-- the events and deals tables are detached too.  SECURITY DEFINER: the role dropping its own table
-- has no rights on lead_scoring.attachment; the function does nothing but detach.  A lookup table
-- (or the foreign key) an attachment's labels are read through, dropped with CASCADE, is refused.
-- The first key column of attachment a whose label (owner_label, labels) no longer resolves along its
-- path of foreign keys, or NULL (detach_dropped(), labels_still_resolve()).
CREATE FUNCTION @extschema@.broken_label(a @extschema@.attachment) RETURNS name
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    k name;
    lbl text;
BEGIN
    FOR k, lbl IN SELECT c.k, c.l
                    FROM (SELECT e.key AS k, e.value AS l FROM jsonb_each_text(CASE WHEN jsonb_typeof(pg_catalog.to_jsonb(a) -> 'labels') = 'object'
                                                    THEN pg_catalog.to_jsonb(a) -> 'labels' END) e
                          UNION ALL SELECT a.owner_column, pg_catalog.to_jsonb(a) ->> 'owner_label'
                           WHERE pg_catalog.to_jsonb(a) ->> 'owner_label' IS NOT NULL) c
                   ORDER BY 1 LOOP
        BEGIN
            PERFORM @extschema@.fk_label_sql(a.relid, k, lbl::name, 'x');
        EXCEPTION WHEN invalid_foreign_key OR undefined_column OR datatype_mismatch THEN
            RETURN k;
        END;
    END LOOP;
    RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION @extschema@.broken_label(@extschema@.attachment) FROM PUBLIC;

-- The attachments whose labels no longer resolve, by relid's text: each with its first key column whose
-- label is broken (broken_label()) and that label; detach_dropped() and labels_still_resolve() refuse
-- the DDL that left the first one.  None while an update from 0.1.0 runs, before the attachment has labels.
CREATE FUNCTION @extschema@.broken_labels() RETURNS TABLE (relid regclass, kind text, key_column name, label text)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT t.relid, t.kind, b.k, coalesce(pg_catalog.to_jsonb(t) -> 'labels' ->> b.k, pg_catalog.to_jsonb(t) ->> 'owner_label')
      FROM @extschema@.attachment t, LATERAL @extschema@.broken_label(t) b(k)
     WHERE (pg_catalog.to_jsonb(t) ->> 'labels' IS NOT NULL OR pg_catalog.to_jsonb(t) ->> 'owner_label' IS NOT NULL)
       AND b.k IS NOT NULL
     ORDER BY t.relid::text
$$;
REVOKE ALL ON FUNCTION @extschema@.broken_labels() FROM PUBLIC;

CREATE FUNCTION @extschema@.detach_dropped() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    a @extschema@.attachment;
    dropped oid[];
    kinds text[] := '{}';
    b record;
BEGIN
    SELECT array_agg(d.objid) INTO dropped FROM pg_event_trigger_dropped_objects() d
     WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objsubid = 0;
    IF (dropped IS NULL AND NOT EXISTS (SELECT FROM pg_event_trigger_dropped_objects() d
                                         WHERE d.classid = 'pg_catalog.pg_constraint'::regclass))
       OR pg_catalog.to_regclass('@extschema@.attachment') IS NULL THEN
        RETURN;
    END IF;
    FOR a IN SELECT * FROM @extschema@.attachment WHERE relid::oid = ANY (dropped) ORDER BY kind LOOP
        DELETE FROM @extschema@.attachment WHERE relid::oid = a.relid::oid;
        kinds := kinds || a.kind;
        RAISE NOTICE 'the dropped % table % is detached', a.kind,
            (SELECT d.object_identity FROM pg_event_trigger_dropped_objects() d
              WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = a.relid::oid AND d.objsubid = 0);
    END LOOP;
    IF 'leads' = ANY (kinds) THEN
        FOR a IN SELECT * FROM @extschema@.attachment ORDER BY relid::oid LOOP
            PERFORM @extschema@.drop_attach_triggers(a.relid);
            DELETE FROM @extschema@.attachment WHERE relid = a.relid;
            RAISE NOTICE 'the % table % is detached: its leads table was dropped', a.kind, a.relid;
        END LOOP;
    END IF;
    -- a lookup table a label is read from, or the foreign key it is found through, dropped with
    -- CASCADE (the table's own attachment still there): refused, as a drop of a mapped column is;
    -- every label must still resolve, along its whole path of foreign keys
    FOR b IN SELECT * FROM @extschema@.broken_labels() LIMIT 1 LOOP
        RAISE EXCEPTION 'cannot drop %: the % attachment of % looks the labels of column "%" up through it',
            coalesce((SELECT string_agg('table ' || d.object_identity, ', ' ORDER BY d.object_identity)
                        FROM pg_event_trigger_dropped_objects() d WHERE d.object_type = 'table'),
                     (SELECT string_agg('constraint ' || d.object_identity, ', ' ORDER BY d.object_identity)
                        FROM pg_event_trigger_dropped_objects() d WHERE d.object_type = 'table constraint')),
            b.kind, b.relid, b.key_column
            USING ERRCODE = 'dependent_objects_still_exist',
                  DETAIL = 'lead_scoring reads the label of each key in the table the foreign key references '
                           '(attach''s labels or owner_label); without it every later write would fail.',
                  HINT = format('Detach the table first (SELECT lead_scoring.detach(%L);) and attach it again '
                                'without labels for this column.', b.relid::text);
    END LOOP;
    IF cardinality(kinds) > 0 THEN
        PERFORM @extschema@.rebuild_views();
        -- as detach(): a dropped events table's events no longer count
        IF 'events' = ANY (kinds) AND EXISTS (SELECT FROM @extschema@.attachment WHERE kind = 'leads') THEN
            PERFORM @extschema@.rescore_all();
        END IF;
    END IF;
END $$;
REVOKE ALL ON FUNCTION @extschema@.detach_dropped() FROM PUBLIC;
CREATE EVENT TRIGGER lead_scoring_detach_dropped ON sql_drop EXECUTE FUNCTION @extschema@.detach_dropped();

-- An ALTER TABLE that leaves a label unresolved — a column of a lookup table renamed along the path of
-- an owner_label or labels (res_partner.name, res_users.partner_id) — is refused: every later write to
-- the attached table would fail.  SECURITY DEFINER, as detach_dropped(): it only reads the attachments.
CREATE FUNCTION @extschema@.labels_still_resolve() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    b record;
BEGIN
    IF pg_catalog.to_regclass('@extschema@.attachment') IS NULL THEN
        RETURN;
    END IF;
    FOR b IN SELECT * FROM @extschema@.broken_labels() LIMIT 1 LOOP
        RAISE EXCEPTION 'cannot alter %: the % attachment of % looks the labels of column "%" up through it',
            (SELECT string_agg(DISTINCT c.object_type || ' ' || c.object_identity, ', ') FROM pg_event_trigger_ddl_commands() c),
            b.kind, b.relid, b.key_column
            USING ERRCODE = 'dependent_objects_still_exist',
                  DETAIL = format('Its label %s no longer resolves; every later write would fail.', b.label),
                  HINT = format('Detach the table first (SELECT lead_scoring.detach(%L);), alter, and attach it '
                                'again with the new label.', b.relid::text);
    END LOOP;
END $$;
REVOKE ALL ON FUNCTION @extschema@.labels_still_resolve() FROM PUBLIC;
CREATE EVENT TRIGGER lead_scoring_labels_still_resolve ON ddl_command_end WHEN TAG IN ('ALTER TABLE')
    EXECUTE FUNCTION @extschema@.labels_still_resolve();

-- DROP EXTENSION lead_scoring keeps the log whole.  A ddl_command_start event trigger runs before
-- PostgreSQL looks at what depends on the extension: release_for_drop() refuses while tables are
-- attached (CASCADE detaches them) and drops the generated objects; then every remaining column of
-- type funnel_stage — the log's from_stage and to_stage, the CRM's stage column — becomes text,
-- each as its table's owner.  attach_leads() turns them back (adopt_log, stage_column_from_text).
CREATE FUNCTION @extschema@.release_for_drop(cascade boolean) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    a @extschema@.attachment;
    attached text;
BEGIN
    SELECT string_agg(format('%s (%s)', relid, kind), ', ' ORDER BY kind = 'leads', relid::text) INTO attached
      FROM @extschema@.attachment;
    IF attached IS NOT NULL AND NOT cascade THEN
        RAISE EXCEPTION 'cannot drop extension lead_scoring while tables are attached'
            USING ERRCODE = 'dependent_objects_still_exist',
                  DETAIL = format('Attached: %s.', attached),
                  HINT = 'Detach them with lead_scoring.detach() (events and deals tables first), or use '
                         'DROP EXTENSION lead_scoring CASCADE, which detaches them.  Either way the log '
                         'lead_scoring.stage_change is kept, with its stages as text.';
    END IF;
    FOR a IN SELECT * FROM @extschema@.attachment ORDER BY kind = 'leads', relid::text LOOP
        PERFORM @extschema@.drop_attach_triggers(a.relid);
        DELETE FROM @extschema@.attachment WHERE relid = a.relid;
        RAISE NOTICE 'the % table % is detached', a.kind, a.relid;
    END LOOP;
    PERFORM @extschema@.rebuild_views();
    IF pg_catalog.to_regclass('@extschema@.stage_change') IS NOT NULL THEN
        ALTER TABLE @extschema@.stage_change ALTER COLUMN changed_at SET DEFAULT pg_catalog.now();
    END IF;
END $$;
REVOKE ALL ON FUNCTION @extschema@.release_for_drop(boolean) FROM PUBLIC;
CREATE FUNCTION @extschema@.extension_drop_guard() RETURNS event_trigger AS 'MODULE_PATHNAME' LANGUAGE C;
CREATE EVENT TRIGGER lead_scoring_drop_extension ON ddl_command_start WHEN TAG IN ('DROP EXTENSION')
    EXECUTE FUNCTION @extschema@.extension_drop_guard();

-- The log kept by an earlier DROP EXTENSION becomes the extension's log again.
CREATE FUNCTION @extschema@.adopt_log() RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    missing text;
BEGIN
    IF pg_catalog.to_regclass('@extschema@.stage_change') IS NULL THEN
        RETURN;
    END IF;
    SELECT string_agg(c, ', ') INTO missing
      FROM unnest(ARRAY['lead_id', 'from_stage', 'to_stage', 'changed_at', 'score', 'actor', 'reason', 'owner']) c
     WHERE NOT EXISTS (SELECT FROM pg_attribute a WHERE a.attrelid = '@extschema@.stage_change'::regclass
                          AND a.attname = c AND NOT a.attisdropped);
    IF missing IS NOT NULL THEN
        RAISE EXCEPTION 'lead_scoring.stage_change lacks the columns %', missing
            USING ERRCODE = 'invalid_table_definition',
                  DETAIL = 'DROP EXTENSION lead_scoring CASCADE of version 0.1.0 dropped the log''s stage columns.',
                  HINT = 'Restore the log from a backup, or move the damaged one out of the way '
                         '(ALTER TABLE lead_scoring.stage_change SET SCHEMA public) and attach again: '
                         'a new log is created.';
    END IF;
    IF (SELECT a.atttypid FROM pg_attribute a
         WHERE a.attrelid = '@extschema@.stage_change'::regclass AND a.attname = 'to_stage')
       <> '@extschema@.funnel_stage'::regtype THEN
        ALTER TABLE @extschema@.stage_change
            ALTER COLUMN from_stage TYPE @extschema@.funnel_stage USING from_stage::@extschema@.funnel_stage,
            ALTER COLUMN to_stage TYPE @extschema@.funnel_stage USING to_stage::@extschema@.funnel_stage,
            ALTER COLUMN changed_at SET DEFAULT @extschema@.clock();
    END IF;
END $$;
REVOKE ALL ON FUNCTION @extschema@.adopt_log() FROM PUBLIC;

-- A stage column that DROP EXTENSION left as text (listed in lead_scoring.kept_stage_column, which
-- it creates) becomes funnel_stage again, as its table's owner.
CREATE FUNCTION @extschema@.stage_column_from_text(tbl regclass, col name) RETURNS void
    AS 'MODULE_PATHNAME' LANGUAGE C STRICT;
REVOKE ALL ON FUNCTION @extschema@.stage_column_from_text(regclass, name) FROM PUBLIC;
CREATE FUNCTION @extschema@.adopt_stage_column(tbl regclass, col name) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    kept boolean;
BEGIN
    IF pg_catalog.to_regclass('@extschema@.kept_stage_column') IS NULL THEN
        RETURN;
    END IF;
    EXECUTE 'DELETE FROM @extschema@.kept_stage_column WHERE relid = $1 AND column_name = $2 RETURNING true'
        INTO kept USING tbl::oid, col;
    IF kept AND @extschema@.column_type(tbl, col, 'stage_column') IN ('text'::regtype, 'varchar'::regtype) THEN
        PERFORM @extschema@.stage_column_from_text(tbl, col);
    END IF;
    IF NOT EXISTS (SELECT FROM @extschema@.kept_stage_column) THEN
        DROP TABLE @extschema@.kept_stage_column;
    END IF;
END $$;
REVOKE ALL ON FUNCTION @extschema@.adopt_stage_column(regclass, name) FROM PUBLIC;


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

-- ---------------------------------------------------------------------------
-- Issue 12 (sec2): validation gaps.  Grade bands must be three non-NULL descending bounds: '{}' and
-- '{NULL,NULL,NULL}' passed the old CHECK (its comparisons were NULL).  A row that the new check refuses
-- gets the defaults back, with a WARNING.
-- ---------------------------------------------------------------------------
DO $$
BEGIN
    IF EXISTS (SELECT FROM @extschema@.settings s
                WHERE NOT ((pg_catalog.array_length(s.fit_grade_bands, 1) = 3
                            AND s.fit_grade_bands[1] >= s.fit_grade_bands[2]
                            AND s.fit_grade_bands[2] >= s.fit_grade_bands[3]
                            AND pg_catalog.array_length(s.engagement_grade_bands, 1) = 3
                            AND s.engagement_grade_bands[1] >= s.engagement_grade_bands[2]
                            AND s.engagement_grade_bands[2] >= s.engagement_grade_bands[3]) IS TRUE)) THEN
        RAISE WARNING 'lead_scoring.settings: invalid grade bands reset to the defaults {60,40,20} and {60,30,10}';
        UPDATE @extschema@.settings SET fit_grade_bands = '{60,40,20}', engagement_grade_bands = '{60,30,10}';
    END IF;
END $$;
ALTER TABLE @extschema@.settings DROP CONSTRAINT settings_grade_bands_descending;
ALTER TABLE @extschema@.settings ADD
    CONSTRAINT settings_grade_bands_descending
        CHECK ((pg_catalog.array_length(fit_grade_bands, 1) = 3 AND fit_grade_bands[1] >= fit_grade_bands[2]
                AND fit_grade_bands[2] >= fit_grade_bands[3]
                AND pg_catalog.array_length(engagement_grade_bands, 1) = 3
                AND engagement_grade_bands[1] >= engagement_grade_bands[2]
                AND engagement_grade_bands[2] >= engagement_grade_bands[3]) IS TRUE);

-- >>> sec2 issue 12 attach
-- ---------------------------------------------------------------------------
-- Issue 12 (sec2): lead ids must be a unique NOT NULL key compared byte for byte (no nondeterministic
-- collations), temporary tables are refused, long event types are refused by a named CHECK constraint.
-- A database whose attached tables do not meet the requirements is not upgraded: fix them first.
-- ---------------------------------------------------------------------------
CREATE FUNCTION @extschema@.lead_id_collation_problem(tbl regclass, col name) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT format('column "%s" of table %s has the nondeterministic collation %s', col, tbl,
                  c.oid::regcollation)
      FROM pg_attribute a JOIN pg_collation c ON c.oid = a.attcollation
     WHERE a.attrelid = tbl AND a.attname = col AND NOT c.collisdeterministic
$$;
CREATE FUNCTION @extschema@.lead_id_key_problem(tbl regclass, col name) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT CASE
        WHEN NOT a.attnotnull THEN format('column "%s" of table %s is not NOT NULL', col, tbl)
        WHEN NOT EXISTS (
            SELECT FROM pg_index i JOIN pg_opclass o ON o.oid = i.indclass[0]
                                   JOIN pg_am m ON m.oid = o.opcmethod
             WHERE i.indrelid = tbl AND i.indisunique AND i.indimmediate AND i.indisvalid
               AND i.indnkeyatts = 1 AND i.indkey[0] = a.attnum AND i.indpred IS NULL
               AND m.amname = 'btree' AND o.opcdefault)
        THEN format('column "%s" of table %s has no unique index of its own', col, tbl)
        END
      FROM pg_attribute a
     WHERE a.attrelid = tbl AND a.attname = col AND NOT a.attisdropped
$$;
CREATE FUNCTION @extschema@.check_lead_id_column(tbl regclass, col name, argument text, is_key boolean)
RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    problem text := @extschema@.lead_id_collation_problem(tbl, col);
BEGIN
    IF problem IS NOT NULL THEN
        RAISE EXCEPTION '%', problem
            USING ERRCODE = 'feature_not_supported',
                  DETAIL = 'Lead ids are compared byte for byte; a nondeterministic collation makes different '
                           'ids equal in the table''s own comparisons.',
                  HINT = format('Give %s a deterministic collation, such as "C" or "default".', argument);
    END IF;
    IF is_key THEN
        problem := @extschema@.lead_id_key_problem(tbl, col);
        IF problem IS NOT NULL THEN
            RAISE EXCEPTION '%', problem
                USING ERRCODE = 'invalid_table_definition',
                      DETAIL = 'Every lead needs its own id: scores, stages and the log are kept per id.',
                      HINT = format('ALTER TABLE %s ADD PRIMARY KEY (%I);', tbl, col);
        END IF;
    END IF;
END $$;
CREATE FUNCTION @extschema@.check_lead_ids_after_ddl() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    a record;
    problem text;
BEGIN
    FOR a IN SELECT t.relid::oid AS relid, t.kind,
                    CASE WHEN t.kind = 'leads' THEN t.id_column ELSE t.lead_column END AS col
               FROM @extschema@.attachment t
              WHERE EXISTS (SELECT FROM pg_class c WHERE c.oid = t.relid::oid) LOOP
        problem := coalesce(@extschema@.lead_id_collation_problem(a.relid, a.col),
                            CASE WHEN a.kind = 'leads' THEN @extschema@.lead_id_key_problem(a.relid, a.col) END);
        IF problem IS NOT NULL THEN
            RAISE EXCEPTION 'the % table % is attached to lead_scoring, which needs its lead ids as they were',
                            a.kind, a.relid::regclass
                USING ERRCODE = 'dependent_objects_still_exist',
                      DETAIL = format('After this command %s.', problem),
                      HINT = format('To replace a key, create the new unique index first; or detach the table '
                                    'first: SELECT lead_scoring.detach(%L);', a.relid::regclass::text);
        END IF;
    END LOOP;
END $$;
CREATE FUNCTION @extschema@.bound_event_type_length(events regclass, type_column name) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF (SELECT typcategory FROM pg_type WHERE oid = @extschema@.column_type(events, type_column, 'type_column')) = 'E'
       OR EXISTS (SELECT FROM pg_constraint WHERE conrelid = events AND conname = 'lead_scoring_event_type_length') THEN
        RETURN;
    END IF;
    EXECUTE format('ALTER TABLE %s ADD CONSTRAINT lead_scoring_event_type_length '
                   'CHECK (pg_catalog.octet_length(%I::pg_catalog.text) OPERATOR(pg_catalog.<=) 2000)',
                   events, type_column);
END $$;
DO $$
DECLARE
    a record;
    problem text;
BEGIN
    FOR a IN SELECT t.relid::oid AS relid, t.kind,
                    CASE WHEN t.kind = 'leads' THEN t.id_column ELSE t.lead_column END AS col
               FROM @extschema@.attachment t LOOP
        problem := coalesce(@extschema@.lead_id_collation_problem(a.relid, a.col),
                            CASE WHEN a.kind = 'leads' THEN @extschema@.lead_id_key_problem(a.relid, a.col) END);
        IF problem IS NOT NULL THEN
            RAISE EXCEPTION 'lead_scoring 0.2.0 needs unique, NOT NULL lead ids compared byte for byte: %', problem
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      HINT = 'Add a primary key on the leads table''s id (after removing duplicate ids), or give the '
                             'column a deterministic collation; then run ALTER EXTENSION lead_scoring UPDATE again.';
        END IF;
    END LOOP;
    -- events tables whose covering index attach_events created get the type length bound
    FOR a IN SELECT t.relid::oid AS relid, t.type_column
               FROM @extschema@.attachment t
              WHERE t.kind = 'events'
                AND EXISTS (SELECT FROM pg_catalog.pg_index i
                             WHERE i.indrelid = t.relid::oid AND i.indnatts = 3 AND i.indnkeyatts = 2
                               AND i.indkey[0] = (SELECT attnum FROM pg_catalog.pg_attribute
                                                   WHERE attrelid = t.relid::oid AND attname = t.lead_column)
                               AND i.indkey[2] = (SELECT attnum FROM pg_catalog.pg_attribute
                                                   WHERE attrelid = t.relid::oid AND attname = t.type_column)) LOOP
        PERFORM @extschema@.bound_event_type_length(a.relid, a.type_column);
    END LOOP;
END $$;
REVOKE ALL ON FUNCTION @extschema@.check_lead_ids_after_ddl() FROM PUBLIC;
CREATE EVENT TRIGGER lead_scoring_lead_ids ON ddl_command_end
    WHEN TAG IN ('ALTER TABLE', 'DROP INDEX', 'ALTER INDEX')
    EXECUTE FUNCTION @extschema@.check_lead_ids_after_ddl();
REVOKE ALL ON FUNCTION @extschema@.bound_event_type_length(regclass, name) FROM PUBLIC;
CREATE OR REPLACE FUNCTION @extschema@.check_attachable(tbl regclass) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    k "char";
    attached_as text;
BEGIN
    SELECT relkind INTO k FROM pg_class WHERE oid = tbl;
    IF k NOT IN ('r', 'p') THEN
        RAISE EXCEPTION '% is not a table', tbl
            USING ERRCODE = 'wrong_object_type',
                  DETAIL = 'Only ordinary and partitioned tables can be attached.';
    END IF;
    IF (SELECT relpersistence FROM pg_class WHERE oid = tbl) = 't' THEN
        RAISE EXCEPTION 'cannot attach temporary table %', tbl
            USING ERRCODE = 'feature_not_supported',
                  DETAIL = 'A temporary table is seen by one session only and dropped at its end; the triggers, '
                           'views and log of lead_scoring serve every session.',
                  HINT = 'Attach an ordinary (or unlogged) table.';
    END IF;
    SELECT kind INTO attached_as FROM @extschema@.attachment WHERE relid = tbl;
    IF FOUND THEN
        RAISE EXCEPTION 'table % is already attached as the % table', tbl, attached_as
            USING ERRCODE = 'duplicate_object', HINT = format('Call lead_scoring.detach(%L) first.', tbl::text);
    END IF;
END $$;
-- <<< sec2 issue 12 attach

-- ---------------------------------------------------------------------------
-- Issue 10 item 11: funnel_stage's operators and min/max work in a default session.
-- The operators (the operator classes' members, so indexes and hash/merge joins keep working)
-- and the aggregates move to pg_catalog; the 0.1.0 names stay as aliases in @extschema@.
-- ---------------------------------------------------------------------------
ALTER OPERATOR @extschema@.= (@extschema@.funnel_stage, @extschema@.funnel_stage) SET SCHEMA pg_catalog;
ALTER OPERATOR @extschema@.<> (@extschema@.funnel_stage, @extschema@.funnel_stage) SET SCHEMA pg_catalog;
ALTER OPERATOR @extschema@.< (@extschema@.funnel_stage, @extschema@.funnel_stage) SET SCHEMA pg_catalog;
ALTER OPERATOR @extschema@.<= (@extschema@.funnel_stage, @extschema@.funnel_stage) SET SCHEMA pg_catalog;
ALTER OPERATOR @extschema@.> (@extschema@.funnel_stage, @extschema@.funnel_stage) SET SCHEMA pg_catalog;
ALTER OPERATOR @extschema@.>= (@extschema@.funnel_stage, @extschema@.funnel_stage) SET SCHEMA pg_catalog;
ALTER AGGREGATE @extschema@.min(@extschema@.funnel_stage) SET SCHEMA pg_catalog;
ALTER AGGREGATE @extschema@.max(@extschema@.funnel_stage) SET SCHEMA pg_catalog;
-- The 0.1.0 names, kept so that SQL written as OPERATOR(lead_scoring.=) or lead_scoring.max(...)
-- still works.  They call the same functions but belong to no operator class (a class holds one
-- operator per strategy), so they carry no HASHES or MERGES: write the bare operator in new code.
CREATE OPERATOR @extschema@.= (
    LEFTARG = @extschema@.funnel_stage, RIGHTARG = @extschema@.funnel_stage,
    FUNCTION = @extschema@.funnel_stage_eq,
    COMMUTATOR = OPERATOR(@extschema@.=), NEGATOR = OPERATOR(@extschema@.<>),
    RESTRICT = pg_catalog.eqsel, JOIN = pg_catalog.eqjoinsel
);
CREATE OPERATOR @extschema@.<> (
    LEFTARG = @extschema@.funnel_stage, RIGHTARG = @extschema@.funnel_stage,
    FUNCTION = @extschema@.funnel_stage_ne,
    COMMUTATOR = OPERATOR(@extschema@.<>), NEGATOR = OPERATOR(@extschema@.=),
    RESTRICT = pg_catalog.neqsel, JOIN = pg_catalog.neqjoinsel
);
CREATE OPERATOR @extschema@.< (
    LEFTARG = @extschema@.funnel_stage, RIGHTARG = @extschema@.funnel_stage,
    FUNCTION = @extschema@.funnel_stage_lt,
    COMMUTATOR = OPERATOR(@extschema@.>), NEGATOR = OPERATOR(@extschema@.>=),
    RESTRICT = pg_catalog.scalarltsel, JOIN = pg_catalog.scalarltjoinsel
);
CREATE OPERATOR @extschema@.<= (
    LEFTARG = @extschema@.funnel_stage, RIGHTARG = @extschema@.funnel_stage,
    FUNCTION = @extschema@.funnel_stage_le,
    COMMUTATOR = OPERATOR(@extschema@.>=), NEGATOR = OPERATOR(@extschema@.>),
    RESTRICT = pg_catalog.scalarlesel, JOIN = pg_catalog.scalarlejoinsel
);
CREATE OPERATOR @extschema@.> (
    LEFTARG = @extschema@.funnel_stage, RIGHTARG = @extschema@.funnel_stage,
    FUNCTION = @extschema@.funnel_stage_gt,
    COMMUTATOR = OPERATOR(@extschema@.<), NEGATOR = OPERATOR(@extschema@.<=),
    RESTRICT = pg_catalog.scalargtsel, JOIN = pg_catalog.scalargtjoinsel
);
CREATE OPERATOR @extschema@.>= (
    LEFTARG = @extschema@.funnel_stage, RIGHTARG = @extschema@.funnel_stage,
    FUNCTION = @extschema@.funnel_stage_ge,
    COMMUTATOR = OPERATOR(@extschema@.<=), NEGATOR = OPERATOR(@extschema@.<),
    RESTRICT = pg_catalog.scalargesel, JOIN = pg_catalog.scalargejoinsel
);
CREATE AGGREGATE @extschema@.min(@extschema@.funnel_stage) (
    SFUNC = @extschema@.funnel_stage_smaller, STYPE = @extschema@.funnel_stage,
    COMBINEFUNC = @extschema@.funnel_stage_smaller, SORTOP = OPERATOR(pg_catalog.<), PARALLEL = SAFE
);
CREATE AGGREGATE @extschema@.max(@extschema@.funnel_stage) (
    SFUNC = @extschema@.funnel_stage_larger, STYPE = @extschema@.funnel_stage,
    COMBINEFUNC = @extschema@.funnel_stage_larger, SORTOP = OPERATOR(pg_catalog.>), PARALLEL = SAFE
);


-- >>> crm: attach options (the definitions of extension/parts/40_attach.sql, repeated)
-- ---------------------------------------------------------------------------
-- Issue 10 items 1, 2: attach declares the zone of naive time columns (time_zone) and which rows
-- are CRM rows (row_filter).
-- attach_* get new parameters: the 0.1.0 signatures are dropped and the new ones created (calls
-- by name and by position keep working); rebuild_views() reads the new settings.
-- ---------------------------------------------------------------------------
ALTER TABLE @extschema@.attachment ADD COLUMN time_zone text;
ALTER TABLE @extschema@.attachment ADD COLUMN row_filter text;
ALTER TABLE @extschema@.attachment ADD COLUMN crm_stage_column name;
ALTER TABLE @extschema@.attachment ADD COLUMN crm_stage_map jsonb;
ALTER TABLE @extschema@.attachment ADD COLUMN crm_stage_enforce boolean;
ALTER TABLE @extschema@.attachment ADD COLUMN owner_label name;
ALTER TABLE @extschema@.attachment ADD COLUMN amount_scale numeric;
ALTER TABLE @extschema@.attachment ADD COLUMN labels jsonb;
-- Issue 10 item 5: a deal's currency (currency_column) and the rates into the reporting currency
ALTER TABLE @extschema@.attachment ADD COLUMN currency_column name;
-- Issue 10 item 5: a deal's outcome from its own row (Odoo's opportunity is the lead row: won_status)
ALTER TABLE @extschema@.attachment ADD COLUMN won_filter text;
ALTER TABLE @extschema@.attachment ADD COLUMN lost_filter text;
ALTER TABLE @extschema@.attachment ADD COLUMN deal_filter text;
-- Issue 10 (round 3, item 2): the rates are dated (valid_from); the created time of a deal dates its rate
-- while it is open (attach_deals' created_column).
CREATE TABLE @extschema@.currency_rate (
    currency   text NOT NULL
        CONSTRAINT currency_rate_code CHECK (currency OPERATOR(pg_catalog.=) pg_catalog.upper(pg_catalog.btrim(currency))
                                             AND currency OPERATOR(pg_catalog.<>) ''),
    valid_from timestamptz NOT NULL DEFAULT '-infinity'::pg_catalog.timestamptz,
    rate       numeric NOT NULL CONSTRAINT currency_rate_positive CHECK (rate OPERATOR(pg_catalog.>) 0),
    PRIMARY KEY (currency, valid_from)
);
COMMENT ON TABLE @extschema@.currency_rate IS
    'Dated exchange rates into the reporting currency: from valid_from on, one unit of currency is worth rate units of it';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.currency_rate', '');
GRANT SELECT ON @extschema@.currency_rate TO PUBLIC;
CREATE FUNCTION @extschema@.column_time_sql(expr text, t regtype, zone text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
    SELECT CASE WHEN t = 'timestamptz'::regtype THEN expr
                WHEN zone IS NULL THEN expr || '::pg_catalog.timestamptz'
                WHEN t = 'timestamp'::regtype THEN format('pg_catalog.timezone(%L, %s)', zone, expr)
                ELSE format('pg_catalog.timezone(%L, %s::pg_catalog.timestamp)', zone, expr) END
$$;

CREATE FUNCTION @extschema@.row_filter_sql(tbl regclass, filter text, alias text DEFAULT NULL) RETURNS text
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE;

CREATE FUNCTION @extschema@.day_start(d date) RETURNS timestamptz
LANGUAGE sql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
    SELECT CASE WHEN z.time_zone IS NULL THEN d::timestamptz ELSE timezone(z.time_zone, d::timestamp) END
      FROM (SELECT (SELECT a.time_zone FROM @extschema@.attachment a WHERE a.kind = 'leads') AS time_zone) z
$$;
COMMENT ON FUNCTION @extschema@.day_start(date) IS
    'Start of a calendar day of a report period: midnight in the leads table''s declared time zone, else the session''s';

CREATE FUNCTION @extschema@.check_time_zone(tbl regclass, zone text, cols name[]) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    naive text;
BEGIN
    SELECT string_agg(format('%I', a.attname), ', ' ORDER BY a.attnum) INTO naive
      FROM pg_attribute a
     WHERE a.attrelid = tbl AND a.attname = ANY (cols) AND NOT a.attisdropped
       AND a.atttypid IN ('timestamp'::regtype, 'date'::regtype);
    IF zone IS NOT NULL THEN
        BEGIN
            PERFORM pg_catalog.timezone(zone, LOCALTIMESTAMP);
        EXCEPTION WHEN invalid_parameter_value THEN
            RAISE EXCEPTION 'time zone "%" is not recognized', zone
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Name the zone the CRM writes its naive timestamps in, as in pg_timezone_names: '
                             'time_zone => ''UTC''.';
        END;
    ELSIF naive IS NOT NULL THEN
        RAISE NOTICE 'columns % of table % have no time zone: they are read in each session''s TimeZone', naive, tbl
            USING HINT = 'Pass time_zone => ''UTC'' (or the zone the CRM writes them in) so that scores and '
                         'reports do not depend on the reader''s settings.';
    END IF;
END $$;

CREATE FUNCTION @extschema@.rescore_attached() RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp SET lead_scoring.reason = 'attached' AS $$
DECLARE
    last_change bigint := (SELECT coalesce(max(change_id), 0) FROM @extschema@.stage_change);
    changed bigint;
BEGIN
    changed := @extschema@.rescore_all();
    -- the events are read apart (MATERIALIZED): a Citus-distributed events table is not joined with a
    -- local log (doc/scale-out.md)
    WITH e AS MATERIALIZED (
        SELECT v.lead_id, max(v.occurred_at) AS at FROM @extschema@.events v
         WHERE v.occurred_at <= @extschema@.clock() GROUP BY v.lead_id)
    UPDATE @extschema@.stage_change c
       SET changed_at = greatest(e.at, (SELECT max(p.changed_at) FROM @extschema@.stage_change p
                                         WHERE p.lead_id = c.lead_id AND p.change_id <= last_change))
      FROM e
     WHERE c.change_id > last_change AND c.lead_id = e.lead_id AND c.reason = 'attached';
    RETURN changed;
END $$;

CREATE FUNCTION @extschema@.backfill_deals(deals regclass) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp SET lead_scoring.reason = 'attached' AS $$
DECLARE
    l @extschema@.attachment;
    last_change bigint;
BEGIN
    SELECT * INTO l FROM @extschema@.attachment WHERE kind = 'leads';
    last_change := (SELECT coalesce(max(change_id), 0) FROM @extschema@.stage_change);
    CREATE TEMP TABLE lead_scoring_backfill ON COMMIT DROP AS
    SELECT t.lead_id, t.stage,
           CASE t.stage WHEN 'customer' THEN t.won_at WHEN 'lost' THEN t.last_at END AS at
      FROM (SELECT d.lead_id,
                   (array_agg(d.stage ORDER BY array_position(
                        '{lost,disqualified,recycled,new,iql,mql,sal,sql,opportunity,customer}'::text[],
                        d.stage::text) DESC))[1] AS stage,
                   min(d.closed_at) FILTER (WHERE d.outcome = 'won') AS won_at,
                   max(d.closed_at) AS last_at
              FROM (SELECT d.lead_id, d.outcome, d.closed_at,
                           coalesce((a.crm_stage_map ->> d.status)::@extschema@.funnel_stage,
                                    CASE d.outcome WHEN 'won' THEN 'customer' WHEN 'open' THEN 'opportunity'
                                         ELSE 'lost' END::@extschema@.funnel_stage) AS stage
                      FROM @extschema@.deals d JOIN @extschema@.attachment a ON a.relid = d.source
                     WHERE d.source = deals AND d.lead_id IS NOT NULL) d
             GROUP BY d.lead_id) t;
    EXECUTE format($u$
        SELECT @extschema@.backfill_stages(pg_catalog.array_agg(l.%3$I::pg_catalog.text),
                                           pg_catalog.array_agg(b.stage::pg_catalog.text))
          FROM %1$s l JOIN pg_temp.lead_scoring_backfill b ON l.%3$I OPERATOR(pg_catalog.=) b.lead_id
         WHERE l.%2$I OPERATOR(pg_catalog.<>) b.stage AND @extschema@.can_transition(l.%2$I, b.stage)$u$,
        l.relid, l.stage_column, l.id_column);
    UPDATE @extschema@.stage_change c SET changed_at = b.at
      FROM pg_temp.lead_scoring_backfill b
     WHERE c.change_id > last_change AND c.lead_id = b.lead_id AND b.at IS NOT NULL AND c.reason = 'attached';
    DROP TABLE pg_temp.lead_scoring_backfill;
END $$;

CREATE FUNCTION @extschema@.check_crm_stage_map(leads regclass, col name, map jsonb,
                                                argument text DEFAULT 'crm_stage_map') RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    t regtype;
    k text;
    v text;
BEGIN
    IF col IS NULL THEN
        IF map IS NOT NULL THEN
            RAISE EXCEPTION '% needs a crm_stage_column', argument USING ERRCODE = 'invalid_parameter_value',
                HINT = 'Name the column holding the CRM''s own stage: crm_stage_column => ''stage_id''.';
        END IF;
        RETURN;
    END IF;
    t := @extschema@.column_type(leads, col, 'crm_stage_column');
    IF map IS NULL OR jsonb_typeof(map) <> 'object' THEN
        RAISE EXCEPTION '% must be a JSON object mapping values of column "%" to funnel stages', argument, col
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = format('For example %s => ''{"1": "mql", "2": "sql", "4": "customer"}''.', argument);
    END IF;
    FOR k, v IN SELECT * FROM jsonb_each_text(map) LOOP
        BEGIN
            EXECUTE format('SELECT %L::%s', k, format_type(t, NULL));
        EXCEPTION WHEN data_exception THEN
            RAISE EXCEPTION '% key % is not a value of column "%" (type %)', argument, quote_literal(k), col,
                            format_type(t, NULL)
                USING ERRCODE = 'invalid_parameter_value';
        END;
        PERFORM v::@extschema@.funnel_stage;
    END LOOP;
END $$;

CREATE FUNCTION @extschema@.backfill_crm_stage() RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp SET lead_scoring.reason = 'attached' AS $$
DECLARE
    l @extschema@.attachment;
BEGIN
    SELECT * INTO l FROM @extschema@.attachment WHERE kind = 'leads';
    IF l.crm_stage_column IS NULL THEN
        RETURN;
    END IF;
    -- written as the CRM's other writes are (src/crm_backfill.c): as the table's owner, with the caller's
    -- search_path for the CRM's own triggers
    EXECUTE format($u$
        SELECT @extschema@.backfill_stages(pg_catalog.array_agg(l.%3$I::pg_catalog.text),
                                           pg_catalog.array_agg(m.stage::pg_catalog.text))
          FROM %1$s l
          JOIN (SELECT e.key, e.value::@extschema@.funnel_stage AS stage FROM pg_catalog.jsonb_each_text($1) e) m
            ON l.%4$I::pg_catalog.text OPERATOR(pg_catalog.=) m.key
         WHERE l.%2$I OPERATOR(pg_catalog.<>) m.stage AND @extschema@.can_transition(l.%2$I, m.stage)$u$,
        l.relid, l.stage_column, l.id_column, l.crm_stage_column) USING l.crm_stage_map;
END $$;

CREATE FUNCTION @extschema@.fk_label_sql(tbl regclass, col name, label name, alias text) RETURNS text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    ref regclass;
    refcol name;
    eq oid;
    -- the looked-up row's alias: r, then r1, r2, ... along a path
    inner_alias text := CASE WHEN alias ~ '^r[0-9]*$'
                             THEN 'r' || (coalesce(nullif(substr(alias, 2), ''), '0')::int + 1) ELSE 'r' END;
BEGIN
    SELECT c.confrelid::regclass, a.attname, c.conpfeqop[1] INTO ref, refcol, eq
      FROM pg_constraint c
      JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = c.confkey[1]
     WHERE c.conrelid = tbl AND c.contype = 'f' AND cardinality(c.conkey) = 1
       AND c.conkey[1] = (SELECT x.attnum FROM pg_attribute x WHERE x.attrelid = tbl AND x.attname = col
                             AND NOT x.attisdropped)
     ORDER BY c.oid LIMIT 1;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'column "%" of table % has no foreign key to look its label up in', col, tbl
            USING ERRCODE = 'invalid_foreign_key',
                  HINT = 'owner_label and labels name a column of the table the key column references, or a path '
                         'of foreign keys to one (''partner_id.name'').';
    END IF;
    RETURN format('(SELECT %s FROM %s %s WHERE %s.%I OPERATOR(%s.%s) %s.%I)',
                  @extschema@.label_expr_sql(ref, label, inner_alias), ref, inner_alias, inner_alias, refcol,
                  quote_ident((SELECT n.nspname FROM pg_operator o JOIN pg_namespace n ON n.oid = o.oprnamespace
                                WHERE o.oid = eq)),
                  (SELECT o.oprname FROM pg_operator o WHERE o.oid = eq), alias, col);
END $$;

-- The text of a label of row alias of table ref (src/attachment.c reads labels the same way,
-- LabelExpr): a column's text; "column.rest", when column is jsonb, the text of its key rest (Odoo's
-- translated names: "name.en_US"), when it is a key with a single-column foreign key, the label rest
-- of the row it references (a path: "partner_id.name"); "a,b" the labels a and b joined with a space,
-- empty and NULL ones left out, NULL when none (Twenty's "nameFirstName,nameLastName").
CREATE OR REPLACE FUNCTION @extschema@.label_expr_sql(ref regclass, label text, alias text) RETURNS text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    base name := split_part(label, '.', 1);
    rest text := substr(label, length(split_part(label, '.', 1)) + 2);
BEGIN
    IF label IS NULL THEN
        RAISE EXCEPTION 'labels must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF EXISTS (SELECT FROM pg_attribute WHERE attrelid = ref AND attname = label AND attnum > 0 AND NOT attisdropped) THEN
        RETURN format('%s.%I::text', alias, label);
    END IF;
    IF strpos(label, '.') > 0
       AND EXISTS (SELECT FROM pg_attribute WHERE attrelid = ref AND attname = base AND attnum > 0 AND NOT attisdropped) THEN
        IF @extschema@.column_type(ref, base, 'labels') = 'jsonb'::regtype THEN
            RETURN format('(%s.%I OPERATOR(pg_catalog.->>) %L)', alias, base, rest);
        END IF;
        IF NOT EXISTS (SELECT FROM pg_constraint c JOIN pg_attribute x ON x.attrelid = c.conrelid AND x.attnum = c.conkey[1]
                        WHERE c.conrelid = ref AND c.contype = 'f' AND cardinality(c.conkey) = 1 AND x.attname = base) THEN
            RAISE EXCEPTION 'label "%" of table %: column "%" is neither jsonb nor a key with a foreign key', label, ref, base
                USING ERRCODE = 'datatype_mismatch',
                      HINT = 'A label written column.rest reads the key rest of a jsonb column (Odoo''s "name.en_US"), '
                             'or the label rest of the row the column''s foreign key references ("partner_id.name").';
        END IF;
        RETURN @extschema@.fk_label_sql(ref, base, rest::name, alias);
    END IF;
    IF strpos(label, ',') > 0 THEN
        RETURN format('(SELECT pg_catalog.string_agg(p.v, '' '' ORDER BY p.n) FROM pg_catalog.unnest(ARRAY[%s]) '
                      'WITH ORDINALITY p(v, n) WHERE p.v OPERATOR(pg_catalog.<>) '''')',
                      (SELECT string_agg(@extschema@.label_expr_sql(ref, btrim(i.part), alias), ', ' ORDER BY i.n)
                         FROM unnest(string_to_array(label, ',')) WITH ORDINALITY i(part, n)));
    END IF;
    RAISE EXCEPTION 'column "%" of table % does not exist', label, ref
        USING ERRCODE = 'undefined_column',
              HINT = 'A label (owner_label, or a value of labels) names a column of the referenced table, '
                     'column.key of a jsonb column, column.label through a foreign key, or a comma list of those.';
END $$;
REVOKE ALL ON FUNCTION @extschema@.label_expr_sql(regclass, text, text) FROM PUBLIC;

CREATE FUNCTION @extschema@.utm_sql(tbl regclass, col name, labels jsonb, alias text) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT CASE WHEN col IS NULL THEN 'NULL::text'
                WHEN labels ? col THEN format('NULLIF(pg_catalog.btrim(%s), '''')',
                                              @extschema@.fk_label_sql(tbl, col, (labels ->> col)::name, alias))
                ELSE format('NULLIF(pg_catalog.btrim(%s.%I::text), '''')', alias, col) END
$$;

CREATE FUNCTION @extschema@.check_utm_columns(tbl regclass, channel_column name, campaign_column name,
                                              keyword_column name, labels jsonb) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    col name;
    arg text;
BEGIN
    IF labels IS NOT NULL AND jsonb_typeof(labels) <> 'object' THEN
        RAISE EXCEPTION 'labels must be a JSON object naming, for a key column, the label column it references'
            USING ERRCODE = 'invalid_parameter_value', HINT = 'For example labels => ''{"source_id": "name"}''.';
    END IF;
    FOR col, arg IN VALUES (channel_column, 'channel_column'), (campaign_column, 'campaign_column'),
                           (keyword_column, 'keyword_column') LOOP
        IF col IS NULL THEN
            CONTINUE;
        ELSIF labels ? col THEN
            PERFORM @extschema@.fk_label_sql(tbl, col, (labels ->> col)::name, 'x');
        ELSE
            PERFORM @extschema@.check_column_type(tbl, col, arg, 'a text, varchar or enum type (or a key with labels)',
                @extschema@.type_is_label(@extschema@.column_type(tbl, col, arg)));
        END IF;
    END LOOP;
END $$;

CREATE FUNCTION @extschema@.backfill_stages(ids text[], stages text[]) RETURNS bigint
    AS 'MODULE_PATHNAME' LANGUAGE C VOLATILE;
REVOKE ALL ON FUNCTION @extschema@.backfill_stages(text[], text[]) FROM PUBLIC;

DROP FUNCTION @extschema@.attach_leads(regclass, name, name, name, name, name);
CREATE FUNCTION @extschema@.attach_leads(
    leads regclass, id_column name = 'id', stage_column name = 'stage', score_column name = 'score',
    owner_column name = NULL, created_column name = NULL, time_zone text = NULL, row_filter text = NULL,
    crm_stage_column name = NULL, crm_stage_map jsonb = NULL, crm_stage_enforce boolean = false,
    owner_label name = NULL, channel_column name = NULL, campaign_column name = NULL, keyword_column name = NULL,
    labels jsonb = NULL) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    id_type pg_catalog.regtype;
    other pg_catalog.regclass;
    log_type pg_catalog.regtype;
BEGIN
    PERFORM @extschema@.check_attachable(leads);
    IF (SELECT relkind FROM pg_class WHERE oid = leads) = 'p' THEN
        RAISE EXCEPTION 'the leads table % is partitioned', leads
            USING ERRCODE = 'feature_not_supported',
                  DETAIL = 'Scores and stages are maintained by row triggers on the leads table itself; '
                           'partitioned events and deals tables are supported.';
    END IF;
    SELECT relid INTO other FROM @extschema@.attachment WHERE kind = 'leads';
    IF FOUND THEN
        RAISE EXCEPTION 'a leads table is already attached: %', other
            USING ERRCODE = 'duplicate_object',
                  DETAIL = 'A database has one leads table.',
                  HINT = format('Call lead_scoring.detach(%L) first.', other::text);
    END IF;

    id_type := @extschema@.column_type(leads, id_column, 'id_column');
    IF NOT EXISTS (SELECT FROM pg_opclass c JOIN pg_am m ON m.oid = c.opcmethod
                    WHERE m.amname = 'btree' AND c.opcdefault
                      AND c.opcintype IN (id_type, (SELECT typbasetype FROM pg_type WHERE oid = id_type))) THEN
        PERFORM @extschema@.check_column_type(leads, id_column, 'id_column', 'a type with btree equality', false);
    END IF;
    PERFORM @extschema@.check_lead_id_column(leads, id_column, 'id_column', true);
    IF owner_column IS NOT NULL THEN
        PERFORM @extschema@.column_type(leads, owner_column, 'owner_column');
    END IF;
    IF owner_label IS NOT NULL THEN
        PERFORM @extschema@.fk_label_sql(leads, owner_column, owner_label, 'l');
    END IF;
    IF created_column IS NOT NULL THEN
        PERFORM @extschema@.check_column_type(leads, created_column, 'created_column',
            'timestamptz, timestamp or date',
            @extschema@.type_is_time(@extschema@.column_type(leads, created_column, 'created_column')));
    END IF;
    PERFORM @extschema@.check_time_zone(leads, time_zone, ARRAY[created_column]);
    PERFORM @extschema@.check_crm_stage_map(leads, crm_stage_column, crm_stage_map);
    PERFORM @extschema@.check_utm_columns(leads, channel_column, campaign_column, keyword_column, labels);

    -- a log kept by DROP EXTENSION is taken back (extension/parts/45_drop.sql)
    PERFORM @extschema@.adopt_log();
    -- stage_change keeps its rows across detach; a new leads table must use the same id type
    log_type := (SELECT a.atttypid FROM pg_attribute a
                  WHERE a.attrelid = to_regclass('@extschema@.stage_change') AND a.attname = 'lead_id');
    IF log_type IS NOT NULL AND log_type <> id_type THEN
        IF EXISTS (SELECT FROM @extschema@.stage_change) THEN
            RAISE EXCEPTION 'lead_scoring.stage_change holds lead ids of type %, but column "%" of table % has type %',
                            log_type, id_column, leads, id_type
                USING ERRCODE = 'datatype_mismatch',
                      HINT = 'Attach a leads table whose id has the same type, or empty lead_scoring.stage_change.';
        END IF;
        EXECUTE format('ALTER TABLE @extschema@.stage_change ALTER COLUMN lead_id TYPE %s USING NULL', id_type);
    END IF;

    -- add the stage and score columns when missing; existing ones must have the right types
    IF EXISTS (SELECT FROM pg_attribute WHERE attrelid = leads AND attname = stage_column AND NOT attisdropped) THEN
        -- a stage column that DROP EXTENSION left as text becomes funnel_stage again
        PERFORM @extschema@.adopt_stage_column(leads, stage_column);
        PERFORM @extschema@.check_column_type(leads, stage_column, 'stage_column', 'lead_scoring.funnel_stage',
            @extschema@.column_type(leads, stage_column, 'stage_column') = '@extschema@.funnel_stage'::regtype);
    ELSE
        EXECUTE format('ALTER TABLE %s ADD COLUMN %I @extschema@.funnel_stage NOT NULL DEFAULT ''new''',
                       leads, stage_column);
    END IF;
    IF EXISTS (SELECT FROM pg_attribute WHERE attrelid = leads AND attname = score_column AND NOT attisdropped) THEN
        PERFORM @extschema@.check_column_type(leads, score_column, 'score_column', 'integer',
            @extschema@.column_type(leads, score_column, 'score_column') = 'integer'::regtype);
    ELSE
        EXECUTE format('ALTER TABLE %s ADD COLUMN %I integer NOT NULL DEFAULT 0', leads, score_column);
    END IF;
    -- the engagement state the triggers carry forward (doc/scoring.md, "The engagement state")
    IF EXISTS (SELECT FROM pg_attribute WHERE attrelid = leads AND attname = 'lead_scoring_state' AND NOT attisdropped) THEN
        PERFORM @extschema@.check_column_type(leads, 'lead_scoring_state', 'lead_scoring_state', 'bytea',
            @extschema@.column_type(leads, 'lead_scoring_state', 'lead_scoring_state') = 'bytea'::regtype);
    ELSE
        EXECUTE format('ALTER TABLE %s ADD COLUMN lead_scoring_state bytea', leads);
    END IF;

    INSERT INTO @extschema@.attachment (relid, kind, id_column, stage_column, score_column, owner_column,
                                        created_column, time_zone, row_filter, crm_stage_column, crm_stage_map,
                                        crm_stage_enforce, owner_label, channel_column, campaign_column,
                                        keyword_column, labels)
    VALUES (leads, 'leads', id_column, stage_column, score_column, owner_column, created_column, time_zone,
            @extschema@.row_filter_sql(leads, row_filter), crm_stage_column, crm_stage_map,
            CASE WHEN crm_stage_column IS NOT NULL THEN crm_stage_enforce END, owner_label, channel_column,
            campaign_column, keyword_column, labels);

    IF log_type IS NULL THEN
        EXECUTE format($ddl$
            CREATE TABLE @extschema@.stage_change (
                change_id  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                lead_id    %s NOT NULL,
                from_stage @extschema@.funnel_stage,
                to_stage   @extschema@.funnel_stage NOT NULL,
                changed_at timestamptz NOT NULL DEFAULT @extschema@.clock(),
                score      integer,
                actor      text NOT NULL,
                reason     text NOT NULL,
                owner      text
            )$ddl$, id_type);
        CREATE INDEX stage_change_lead ON @extschema@.stage_change (lead_id, changed_at);
        COMMENT ON TABLE @extschema@.stage_change IS
            'Append-only log of every lead stage change; the first row of a lead (from_stage NULL) is its creation';
        -- append-only: only the extension owner may change it; the triggers write it as that owner
        REVOKE ALL ON @extschema@.stage_change FROM PUBLIC;
        EXECUTE format('ALTER TABLE @extschema@.stage_change OWNER TO %I',
                       (SELECT extowner::regrole::text FROM pg_extension WHERE extname = 'lead_scoring'));
    END IF;

    -- existing leads get their creation row (reason 'attached') ...
    -- (the leads are read once, apart: a Citus-distributed leads table is not joined with the local log)
    EXECUTE format($ins$
        WITH l AS MATERIALIZED (SELECT * FROM %6$s)
        INSERT INTO @extschema@.stage_change (lead_id, from_stage, to_stage, changed_at, score, actor, reason, owner)
        SELECT l.%1$I, NULL, l.%2$I, %3$s, l.%4$I, session_user, 'attached', %5$s
          FROM l
         WHERE NOT EXISTS (SELECT FROM @extschema@.stage_change c WHERE c.lead_id OPERATOR(pg_catalog.=) l.%1$I)
         ORDER BY l.%1$I$ins$,
        id_column, stage_column,
        CASE WHEN created_column IS NULL THEN '@extschema@.clock()'
             ELSE format('coalesce(%s, @extschema@.clock())',
                         @extschema@.column_time_sql(format('l.%I', created_column),
                             @extschema@.column_type(leads, created_column, 'created_column'), time_zone)) END,
        score_column,
        CASE WHEN owner_column IS NULL THEN 'NULL'
             WHEN owner_label IS NOT NULL THEN @extschema@.fk_label_sql(leads, owner_column, owner_label, 'l')
             ELSE format('l.%I::text', owner_column) END,
        leads);

    EXECUTE format('CREATE TRIGGER zz_lead_scoring_score BEFORE INSERT OR UPDATE ON %s '
                   'FOR EACH ROW EXECUTE FUNCTION @extschema@.leads_before()', leads);
    EXECUTE format('CREATE TRIGGER zz_lead_scoring_log_insert AFTER INSERT ON %s '
                   'FOR EACH ROW EXECUTE FUNCTION @extschema@.leads_after()', leads);
    EXECUTE format('CREATE TRIGGER zz_lead_scoring_log_update AFTER UPDATE ON %s FOR EACH ROW '
                   'WHEN (OLD.%I OPERATOR(pg_catalog.<>) NEW.%I) EXECUTE FUNCTION @extschema@.leads_after()',
                   leads, stage_column, stage_column);
    PERFORM @extschema@.rebuild_views();
    -- ... take the funnel stage of their CRM stage ...
    PERFORM @extschema@.backfill_crm_stage();
    -- ... and are scored now (promotions found now are the past: no handoff)
    PERFORM @extschema@.rescore_attached();
END $$;

DROP FUNCTION @extschema@.attach_events(regclass, name, name, name, name, name, name);
CREATE FUNCTION @extschema@.attach_events(
    events regclass, lead_column name = 'lead_id', type_column name = 'event_type',
    time_column name = 'occurred_at', channel_column name = NULL, campaign_column name = NULL,
    keyword_column name = NULL, time_zone text = NULL, row_filter text = NULL,
    create_index boolean = true, labels jsonb = NULL) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    id_type pg_catalog.regtype := @extschema@.lead_id_type();
    keys pg_catalog.name[];
    col pg_catalog.name;
    arg pg_catalog.text;
BEGIN
    PERFORM @extschema@.check_attachable(events);
    PERFORM @extschema@.check_column_type(events, lead_column, 'lead_column', format_type(id_type, NULL),
        @extschema@.column_type(events, lead_column, 'lead_column') = id_type);
    PERFORM @extschema@.check_lead_id_column(events, lead_column, 'lead_column', false);
    -- an event type kept as a key into a lookup table (Odoo's mail_activity.activity_type_id) is the
    -- label of the row it references: labels => '{"activity_type_id": "name.en_US"}'
    IF jsonb_typeof(labels) = 'object' AND labels ? type_column THEN
        -- a path of foreign keys too ("x_id.name"): every table on it gets the labels trigger
        -- (type_label_tables()), so a change anywhere on it is a change of the rules
        PERFORM @extschema@.fk_label_sql(events, type_column, (labels ->> type_column)::name, 'e');
    ELSE
        PERFORM @extschema@.check_column_type(events, type_column, 'type_column',
            'a text, varchar or enum type (or a key with labels)',
            @extschema@.type_is_label(@extschema@.column_type(events, type_column, 'type_column')));
    END IF;
    PERFORM @extschema@.check_column_type(events, time_column, 'time_column', 'timestamptz, timestamp or date',
        @extschema@.type_is_time(@extschema@.column_type(events, time_column, 'time_column')));
    PERFORM @extschema@.check_time_zone(events, time_zone, ARRAY[time_column]);
    PERFORM @extschema@.check_utm_columns(events, channel_column, campaign_column, keyword_column, labels);

    SELECT array_agg(a.attname ORDER BY k.ord) INTO keys
      FROM pg_constraint c, unnest(c.conkey) WITH ORDINALITY AS k(attnum, ord), pg_attribute a
     WHERE c.conrelid = events AND c.contype = 'p' AND a.attrelid = events AND a.attnum = k.attnum;
    IF keys IS NULL THEN
        RAISE EXCEPTION 'table % has no primary key', events
            USING ERRCODE = 'invalid_table_definition',
                  DETAIL = 'Events are identified by their primary key, which also orders events that share a time.',
                  HINT = format('ALTER TABLE %s ADD PRIMARY KEY (...);', events);
    END IF;

    INSERT INTO @extschema@.attachment (relid, kind, lead_column, type_column, time_column, channel_column,
                                        campaign_column, keyword_column, key_columns, time_zone, row_filter, labels)
    VALUES (events, 'events', lead_column, type_column, time_column, channel_column, campaign_column,
            keyword_column, keys, time_zone, @extschema@.row_filter_sql(events, row_filter), labels);

    -- scoring reads a lead's events by lead: make sure an index leads with the lead column.  The
    -- event type is included, so that rules on the type alone read the index, not the table.
    -- create_index => false leaves it to the DBA, who can build it without blocking the CRM's writes
    -- (CREATE INDEX CONCURRENTLY cannot run inside a function).
    IF NOT EXISTS (SELECT FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
                    WHERE i.indrelid = events AND a.attname = lead_column) THEN
        IF create_index THEN
            EXECUTE format('CREATE INDEX ON %s (%I, %I) INCLUDE (%I)', events, lead_column, time_column, type_column);
            RAISE NOTICE 'created an index on %(%, %) INCLUDE (%) for scoring', events, lead_column, time_column,
                         type_column;
            -- a btree entry holds at most 2704 bytes: bound the type's length, so that a longer one is
            -- refused naming this constraint rather than with an index row size error
            PERFORM @extschema@.bound_event_type_length(events, type_column);
        ELSE
            RAISE WARNING 'table % has no index on column "%": scoring reads each lead''s events with a full scan',
                          events, lead_column
                USING HINT = format('CREATE INDEX CONCURRENTLY ON %s (%I, %I) INCLUDE (%I);', events, lead_column,
                                    time_column, type_column);
        END IF;
    END IF;

    EXECUTE format('CREATE TRIGGER zz_lead_scoring_insert AFTER INSERT ON %s REFERENCING NEW TABLE AS '
                   'lead_scoring_new FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.events_changed()', events);
    EXECUTE format('CREATE TRIGGER zz_lead_scoring_update AFTER UPDATE ON %s REFERENCING OLD TABLE AS '
                   'lead_scoring_old NEW TABLE AS lead_scoring_new FOR EACH STATEMENT '
                   'EXECUTE FUNCTION @extschema@.events_changed()', events);
    EXECUTE format('CREATE TRIGGER zz_lead_scoring_delete AFTER DELETE ON %s REFERENCING OLD TABLE AS '
                   'lead_scoring_old FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.events_changed()', events);
    EXECUTE format('CREATE TRIGGER zz_lead_scoring_truncate AFTER TRUNCATE ON %s '
                   'FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.events_changed()', events);
    PERFORM @extschema@.rebuild_views();
    -- events already in the table count from now on (promotions they bring are the past: no handoff)
    PERFORM @extschema@.rescore_attached();
END $$;

DROP FUNCTION @extschema@.attach_deals(regclass, name, name, name, name, name, name, name);
CREATE FUNCTION @extschema@.attach_deals(
    deals regclass, id_column name = 'id', lead_column name = 'lead_id', amount_column name = 'amount',
    status_column name = 'status', closed_column name = 'closed_at', owner_column name = NULL,
    cost_column name = NULL, time_zone text = NULL, row_filter text = NULL,
    owner_label name = NULL, amount_scale numeric = NULL, stage_map jsonb = NULL, stage_enforce boolean = false,
    currency_column name = NULL, won_filter text = NULL, lost_filter text = NULL, created_column name = NULL)
    RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    id_type pg_catalog.regtype := @extschema@.lead_id_type();
    leads @extschema@.attachment;
    on_leads boolean;
BEGIN
    SELECT * INTO leads FROM @extschema@.attachment WHERE kind = 'leads';
    -- Odoo's opportunity is the lead row itself: the leads table may be its own deals table, each row the
    -- deal of its own lead (doc/crm_schemas.md, "Opportunities on the lead row")
    on_leads := deals = leads.relid;
    IF on_leads THEN
        IF leads.amount_column IS NOT NULL THEN
            RAISE EXCEPTION 'the leads table % is already attached as its own deals table', deals
                USING ERRCODE = 'duplicate_object',
                      HINT = format('Call lead_scoring.detach(%L) and attach it again.', deals::text);
        END IF;
        IF lead_column IS DISTINCT FROM leads.id_column OR stage_map IS NOT NULL OR cost_column IS NOT NULL
           OR owner_column IS DISTINCT FROM leads.owner_column OR owner_label IS DISTINCT FROM leads.owner_label
           OR time_zone IS DISTINCT FROM leads.time_zone
           OR (created_column IS NOT NULL AND created_column IS DISTINCT FROM leads.created_column) THEN
            RAISE EXCEPTION 'the leads table % attached as its own deals table takes its lead, owner, time zone '
                            'and stage from attach_leads', deals
                USING ERRCODE = 'invalid_parameter_value',
                      DETAIL = format('Each row is the deal of its own lead: lead_column => %L, owner_column => %L, '
                                      'owner_label => %L and time_zone => %L as attach_leads had them; no stage_map '
                                      '(attach_leads'' crm_stage_map moves the lead) and no cost_column.',
                                      leads.id_column, leads.owner_column, leads.owner_label, leads.time_zone);
        END IF;
    ELSE
        PERFORM @extschema@.check_attachable(deals);
    END IF;
    PERFORM @extschema@.column_type(deals, id_column, 'id_column');
    PERFORM @extschema@.check_column_type(deals, lead_column, 'lead_column', format_type(id_type, NULL),
        @extschema@.column_type(deals, lead_column, 'lead_column') = id_type);
    PERFORM @extschema@.check_lead_id_column(deals, lead_column, 'lead_column', false);
    PERFORM @extschema@.check_column_type(deals, amount_column, 'amount_column', 'a numeric type',
        @extschema@.type_is_number(@extschema@.column_type(deals, amount_column, 'amount_column')));
    -- status_column => NULL: the outcome comes from won_filter and lost_filter alone
    IF status_column IS NOT NULL THEN
        PERFORM @extschema@.check_column_type(deals, status_column, 'status_column', 'a text, varchar or enum type',
            @extschema@.type_is_label(@extschema@.column_type(deals, status_column, 'status_column')));
    ELSIF won_filter IS NULL AND lost_filter IS NULL THEN
        RAISE EXCEPTION 'a deals table needs a status_column, or won_filter and lost_filter'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Odoo''s crm_lead: won_filter => ''active AND probability = 100'', '
                         'lost_filter => ''NOT active AND probability = 0''.';
    END IF;
    IF stage_map IS NOT NULL AND status_column IS NULL THEN
        RAISE EXCEPTION 'stage_map needs a status_column' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- closed_column => NULL: the CRM has no close time (Twenty's "closeDate" is an expected date); a won
    -- status alone makes a won deal, closed when its lead became customer
    IF closed_column IS NOT NULL THEN
        PERFORM @extschema@.check_column_type(deals, closed_column, 'closed_column', 'timestamptz, timestamp or date',
            @extschema@.type_is_time(@extschema@.column_type(deals, closed_column, 'closed_column')));
    END IF;
    -- created_column: when the deal was created, the date of its exchange rate while it is open
    IF created_column IS NOT NULL AND NOT on_leads THEN
        PERFORM @extschema@.check_column_type(deals, created_column, 'created_column', 'timestamptz, timestamp or date',
            @extschema@.type_is_time(@extschema@.column_type(deals, created_column, 'created_column')));
    END IF;
    PERFORM @extschema@.check_time_zone(deals, time_zone, ARRAY[closed_column, created_column]);
    IF owner_column IS NOT NULL THEN
        PERFORM @extschema@.column_type(deals, owner_column, 'owner_column');
    END IF;
    IF owner_label IS NOT NULL THEN
        PERFORM @extschema@.fk_label_sql(deals, owner_column, owner_label, 'd');
    END IF;
    IF stage_map IS NOT NULL THEN
        PERFORM @extschema@.check_crm_stage_map(deals, status_column, stage_map, 'stage_map');
    END IF;
    IF amount_scale <= 0 THEN
        RAISE EXCEPTION 'amount_scale must be positive, not %', amount_scale
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Amounts stored in micros (Twenty''s "amountAmountMicros") take amount_scale => 0.000001.';
    END IF;
    IF cost_column IS NOT NULL THEN
        PERFORM @extschema@.check_column_type(deals, cost_column, 'cost_column', 'a numeric type',
            @extschema@.type_is_number(@extschema@.column_type(deals, cost_column, 'cost_column')));
    END IF;
    IF currency_column IS NOT NULL THEN
        PERFORM @extschema@.check_column_type(deals, currency_column, 'currency_column', 'a text, varchar or enum type',
            @extschema@.type_is_label(@extschema@.column_type(deals, currency_column, 'currency_column')));
    END IF;

    IF on_leads THEN
        -- the lead row is the deal: recorded on the leads attachment; its funnel stage is the CRM's own
        -- (crm_stage_map), no deal trigger moves it and nothing is backfilled
        UPDATE @extschema@.attachment a
           SET amount_column = attach_deals.amount_column, status_column = attach_deals.status_column,
               closed_column = attach_deals.closed_column, amount_scale = attach_deals.amount_scale,
               currency_column = attach_deals.currency_column,
               won_filter = @extschema@.row_filter_sql(deals, attach_deals.won_filter),
               lost_filter = @extschema@.row_filter_sql(deals, attach_deals.lost_filter),
               deal_filter = @extschema@.row_filter_sql(deals, attach_deals.row_filter)
         WHERE a.relid = deals;
        PERFORM @extschema@.rebuild_views();
        PERFORM @extschema@.check_currency_rates(deals);
        RETURN;
    END IF;
    INSERT INTO @extschema@.attachment (relid, kind, id_column, lead_column, amount_column, status_column,
                                        closed_column, owner_column, cost_column, time_zone, row_filter, owner_label,
                                        amount_scale, crm_stage_map, crm_stage_enforce, currency_column,
                                        won_filter, lost_filter, created_column)
    VALUES (deals, 'deals', id_column, lead_column, amount_column, status_column, closed_column, owner_column,
            cost_column, time_zone, @extschema@.row_filter_sql(deals, row_filter), owner_label, amount_scale,
            stage_map, CASE WHEN stage_map IS NOT NULL THEN stage_enforce END, currency_column,
            @extschema@.row_filter_sql(deals, won_filter), @extschema@.row_filter_sql(deals, lost_filter),
            created_column);
    -- a lost deal looks up the lead's other deals: make sure an index leads with the lead column
    IF NOT EXISTS (SELECT FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
                    WHERE i.indrelid = deals AND a.attname = lead_column) THEN
        EXECUTE format('CREATE INDEX ON %s (%I)', deals, lead_column);
        RAISE NOTICE 'created an index on %(%) for deal moves', deals, lead_column;
    END IF;

    -- deals move their leads when inserted or when their outcome or lead changes (deleting one does not)
    EXECUTE format('CREATE TRIGGER zz_lead_scoring_deal AFTER INSERT OR UPDATE ON %s '
                   'FOR EACH ROW EXECUTE FUNCTION @extschema@.deals_changed()', deals);
    PERFORM @extschema@.rebuild_views();
    PERFORM @extschema@.backfill_deals(deals);
    PERFORM @extschema@.check_currency_rates(deals);
END $$;

-- A deals table attached with currency_column: warn about the currencies of its deals that have no
-- rate in currency_rate (their amount is NULL, no revenue, until one is added: doc/crm_schemas.md,
-- "Currencies").  Also callable after changing the rates.
CREATE FUNCTION @extschema@.check_currency_rates(deals regclass) RETURNS text[]
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    a @extschema@.attachment;
    missing text[];
BEGIN
    SELECT * INTO a FROM @extschema@.attachment
     WHERE relid = deals AND (kind = 'deals' OR (kind = 'leads' AND amount_column IS NOT NULL));
    IF NOT FOUND THEN
        RAISE EXCEPTION 'table % is not an attached deals table', deals USING ERRCODE = 'undefined_object';
    END IF;
    IF a.currency_column IS NULL THEN
        RETURN '{}';
    END IF;
    EXECUTE format($q$
        SELECT coalesce(pg_catalog.array_agg(DISTINCT coalesce(NULLIF(pg_catalog.upper(pg_catalog.btrim(d.%1$I::text)), ''), '(none)')
                                             ORDER BY coalesce(NULLIF(pg_catalog.upper(pg_catalog.btrim(d.%1$I::text)), ''), '(none)')),
                        '{}')
          FROM @extschema@.deals v JOIN %2$s d ON d.%3$I::text OPERATOR(pg_catalog.=) v.deal_ref
         WHERE v.source OPERATOR(pg_catalog.=) $1 AND v.amount IS NULL AND d.%4$I IS NOT NULL$q$,
        a.currency_column, deals, a.id_column, a.amount_column) INTO missing USING deals;
    IF cardinality(missing) > 0 THEN
        RAISE WARNING 'deals of % in % have no exchange rate at their date: their amount is NULL (no revenue)', deals,
                      array_to_string(missing, ', ')
            USING DETAIL = 'Amounts are converted into the reporting currency with lead_scoring.currency_rate, at the '
                           'rate in force at the deal''s close time (its created time while open); amounts in '
                           'different currencies are never added up.',
                  HINT = 'INSERT INTO lead_scoring.currency_rate (currency, valid_from, rate) VALUES (...); a rate '
                         'without valid_from is in force from the beginning.';
    END IF;
    RETURN missing;
END $$;

-- Drop the canonical views and every generated object; returns the statements that give their
-- privileges back once they are created again (create_views).  The CRM's ALTER COLUMN ... TYPE of a
-- column they read runs between the two (src/ddl_follow.c).
CREATE FUNCTION @extschema@.release_views() RETURNS text[]
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp SET client_min_messages = warning AS $$
DECLARE
    g @extschema@.generated_view;
    fn regprocedure;
    regrants text[];
BEGIN
    -- privileges granted on generated objects survive their regeneration
    SELECT array_agg(stmt ORDER BY stmt) INTO regrants FROM (
        SELECT format('REVOKE ALL ON %s @extschema@.%I FROM PUBLIC', o.objtype, o.name) AS stmt
          FROM @extschema@.generated_objects() o WHERE o.acl IS NOT NULL
        UNION ALL
        SELECT format('GRANT %s ON %s @extschema@.%I TO %s%s', x.privilege_type, o.objtype, o.name,
                      CASE WHEN x.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(x.grantee)) END,
                      CASE WHEN x.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END)
          FROM @extschema@.generated_objects() o, aclexplode(o.acl) x
         WHERE x.grantee <> o.owner) s;

    FOR g IN SELECT * FROM @extschema@.generated_view ORDER BY ord DESC LOOP
        IF g.kind = 'view' THEN
            EXECUTE format('DROP VIEW IF EXISTS @extschema@.%I', g.name);
        ELSE
            FOR fn IN SELECT p.oid FROM pg_proc p
                       WHERE p.pronamespace = '@extschema@'::regnamespace AND p.proname = g.name
                         AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass
                                            AND d.objid = p.oid AND d.deptype = 'e') LOOP
                EXECUTE format('DROP FUNCTION %s', fn);
            END LOOP;
        END IF;
    END LOOP;
    DROP VIEW IF EXISTS @extschema@.leads, @extschema@.events, @extschema@.deals;
    RETURN regrants;
END $$;

-- Issue 10 (round 3, item 3): a change of the lookup table of event type labels is a change of the rules.
-- The tables a label read in table ref reads, ref first (label_expr_sql() reads it so): ref, and
-- along a path of foreign keys ("x_id.name") every table it steps into.
CREATE FUNCTION @extschema@.label_tables(ref regclass, label text) RETURNS SETOF regclass
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    base name := split_part(label, '.', 1);
    next regclass;
BEGIN
    RETURN NEXT ref;
    IF EXISTS (SELECT FROM pg_attribute WHERE attrelid = ref AND attname = label AND attnum > 0 AND NOT attisdropped) THEN
        RETURN;
    END IF;
    IF strpos(label, '.') > 0
       AND EXISTS (SELECT FROM pg_attribute WHERE attrelid = ref AND attname = base AND attnum > 0 AND NOT attisdropped) THEN
        SELECT c.confrelid::regclass INTO next
          FROM pg_constraint c JOIN pg_attribute x ON x.attrelid = c.conrelid AND x.attnum = c.conkey[1]
         WHERE c.conrelid = ref AND c.contype = 'f' AND cardinality(c.conkey) = 1 AND x.attname = base
         ORDER BY c.oid LIMIT 1;
        IF next IS NOT NULL AND @extschema@.column_type(ref, base, 'labels') <> 'jsonb'::regtype THEN
            RETURN QUERY SELECT * FROM @extschema@.label_tables(next, substr(label, length(base) + 2));
        END IF;
        RETURN;
    END IF;
    IF strpos(label, ',') > 0 THEN
        RETURN QUERY SELECT t FROM unnest(string_to_array(label, ',')) i(part),
                                   LATERAL @extschema@.label_tables(ref, btrim(i.part)) t;
    END IF;
END $$;
REVOKE ALL ON FUNCTION @extschema@.label_tables(regclass, text) FROM PUBLIC;

-- The lookup tables the types of the attached events tables are keys into (attach_events' labels for
-- the type column), each found through the type column's foreign key as fk_label_sql() finds it, with
-- every table a label along a path of foreign keys steps into.
CREATE FUNCTION @extschema@.type_label_tables() RETURNS SETOF regclass
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT DISTINCT t
      FROM @extschema@.attachment a,
           LATERAL (SELECT c.confrelid::regclass AS lookup
                      FROM pg_constraint c
                      JOIN pg_attribute x ON x.attrelid = c.conrelid AND x.attnum = c.conkey[1]
                     WHERE c.conrelid = a.relid AND c.contype = 'f' AND cardinality(c.conkey) = 1
                       AND x.attname = a.type_column AND NOT x.attisdropped
                     ORDER BY c.oid LIMIT 1) f,
           LATERAL @extschema@.label_tables(f.lookup, a.labels ->> a.type_column) t
     WHERE a.kind = 'events' AND a.labels ? a.type_column
$$;

-- Statement trigger on those lookup tables: a change of the lookup table is a change of the rules
-- (doc/crm_schemas.md, "CRM-native columns"; src/config_changed.c).
CREATE FUNCTION @extschema@.labels_changed() RETURNS trigger
    AS 'MODULE_PATHNAME' LANGUAGE C;

-- Every lookup table of type_label_tables() gets the trigger zz_lead_scoring_labels, and no other
-- table keeps it (run by create_views(), so by every attach and detach).
CREATE FUNCTION @extschema@.sync_label_triggers() RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    t regclass;
BEGIN
    FOR t IN SELECT g.tgrelid::regclass FROM pg_trigger g
              WHERE g.tgname = 'zz_lead_scoring_labels' AND NOT g.tgisinternal
                AND g.tgfoid = '@extschema@.labels_changed()'::regprocedure
                AND g.tgrelid::regclass NOT IN (SELECT @extschema@.type_label_tables()) LOOP
        EXECUTE format('DROP TRIGGER zz_lead_scoring_labels ON %s', t);
    END LOOP;
    FOR t IN SELECT l FROM @extschema@.type_label_tables() l
              WHERE NOT EXISTS (SELECT FROM pg_trigger g WHERE g.tgrelid = l AND g.tgname = 'zz_lead_scoring_labels') LOOP
        EXECUTE format('CREATE TRIGGER zz_lead_scoring_labels AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON %s '
                       'FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.labels_changed()', t);
    END LOOP;
END $$;

REVOKE ALL ON FUNCTION @extschema@.sync_label_triggers() FROM PUBLIC;

-- Create the canonical views and every generated object from the current attachments, then run
-- the privilege statements release_views() returned.
CREATE FUNCTION @extschema@.create_views(regrants text[]) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp SET client_min_messages = warning AS $$
DECLARE
    g @extschema@.generated_view;
    a @extschema@.attachment;
    id_type text;
    parts text[];
    src text;
    closed_sql text;
    members oid[];
BEGIN
    members := @extschema@.member_objects();
    PERFORM @extschema@.sync_label_triggers();

    SELECT * INTO a FROM @extschema@.attachment WHERE kind = 'leads';
    IF NOT FOUND THEN
        RETURN;
    END IF;
    id_type := format_type(@extschema@.lead_id_type(), NULL);

    EXECUTE format($v$
        CREATE VIEW @extschema@.leads AS
        SELECT l.%1$I AS lead_id, l.%2$I AS stage, l.%3$I AS score, %4$s AS owner, %5$s AS created_at
          FROM %6$s l%7$s$v$,
        a.id_column, a.stage_column, a.score_column,
        CASE WHEN a.owner_column IS NULL THEN 'NULL::text'
             WHEN a.owner_label IS NOT NULL THEN @extschema@.fk_label_sql(a.relid, a.owner_column, a.owner_label, 'l')
             ELSE format('l.%I::text', a.owner_column) END,
        CASE WHEN a.created_column IS NULL
             THEN format('(SELECT pg_catalog.min(c.changed_at) FROM @extschema@.stage_change c '
                         'WHERE c.lead_id OPERATOR(pg_catalog.=) l.%I)', a.id_column)
             ELSE @extschema@.column_time_sql(format('l.%I', a.created_column),
                      @extschema@.column_type(a.relid, a.created_column, 'created_column'), a.time_zone) END,
        a.relid,
        coalesce(E'\n         WHERE ' || @extschema@.row_filter_sql(a.relid, a.row_filter, 'l'), ''));

    parts := ARRAY[]::text[];
    FOR a IN SELECT * FROM @extschema@.attachment WHERE kind = 'events' ORDER BY relid LOOP
        parts := parts || format($v$
        SELECT %1$L::pg_catalog.regclass AS source, %2$s AS event_ref, e.%3$I AS lead_id,
               %4$s AS event_type, %5$s AS occurred_at,
               %6$s AS channel, %7$s AS campaign, %8$s AS keyword,
               coalesce(t.owner, 'marketing') AS owner
          FROM %9$s e LEFT JOIN @extschema@.event_type t ON t.name OPERATOR(pg_catalog.=) %4$s%10$s$v$,
            a.relid::oid,
            CASE WHEN cardinality(a.key_columns) = 1 THEN format('e.%I::text', a.key_columns[1])
                 ELSE format('ROW(%s)::text', (SELECT string_agg(format('e.%I', k), ', ') FROM unnest(a.key_columns) k))
            END,
            a.lead_column,
            CASE WHEN a.labels ? a.type_column
                 THEN @extschema@.fk_label_sql(a.relid, a.type_column, (a.labels ->> a.type_column)::name, 'e')
                 ELSE format('e.%I::text', a.type_column) END,
            @extschema@.column_time_sql(format('e.%I', a.time_column),
                @extschema@.column_type(a.relid, a.time_column, 'time_column'), a.time_zone),
            @extschema@.utm_sql(a.relid, a.channel_column, a.labels, 'e'),
            @extschema@.utm_sql(a.relid, a.campaign_column, a.labels, 'e'),
            @extschema@.utm_sql(a.relid, a.keyword_column, a.labels, 'e'),
            a.relid,
            coalesce(E'\n         WHERE ' || @extschema@.row_filter_sql(a.relid, a.row_filter, 'e'), ''));
    END LOOP;
    -- UTM kept on the lead (Odoo's source_id, campaign_id, medium_id): the lead's creation is a touchpoint
    FOR a IN SELECT * FROM @extschema@.attachment
              WHERE kind = 'leads' AND num_nonnulls(channel_column, campaign_column, keyword_column) > 0 LOOP
        parts := parts || format($v$
        SELECT u.source, u.event_ref, u.lead_id, u.event_type, u.occurred_at, u.channel, u.campaign, u.keyword,
               u.owner
          FROM (SELECT %1$L::pg_catalog.regclass AS source, l.%2$I::text AS event_ref, l.%2$I AS lead_id,
                       'lead created'::text AS event_type, v.created_at AS occurred_at,
                       %3$s AS channel, %4$s AS campaign, %5$s AS keyword, 'marketing'::text AS owner
                  FROM %6$s l JOIN @extschema@.leads v ON v.lead_id OPERATOR(pg_catalog.=) l.%2$I) u
         WHERE u.channel IS NOT NULL OR u.campaign IS NOT NULL OR u.keyword IS NOT NULL$v$,
            a.relid::oid, a.id_column,
            @extschema@.utm_sql(a.relid, a.channel_column, a.labels, 'l'),
            @extschema@.utm_sql(a.relid, a.campaign_column, a.labels, 'l'),
            @extschema@.utm_sql(a.relid, a.keyword_column, a.labels, 'l'),
            a.relid);
    END LOOP;
    src := coalesce(nullif(array_to_string(parts, E'\n        UNION ALL'), ''), format($v$
        SELECT NULL::pg_catalog.regclass AS source, NULL::text AS event_ref, NULL::%s AS lead_id,
               NULL::text AS event_type, NULL::timestamptz AS occurred_at, NULL::text AS channel,
               NULL::text AS campaign, NULL::text AS keyword, NULL::text AS owner
         WHERE false$v$, id_type));
    EXECUTE 'CREATE VIEW @extschema@.events AS ' || src;

    parts := ARRAY[]::text[];
    -- the deals tables, and the leads table when it is its own deals table (each row the deal of its lead)
    FOR a IN SELECT * FROM @extschema@.attachment WHERE kind = 'deals' OR (kind = 'leads' AND amount_column IS NOT NULL)
              ORDER BY relid LOOP
        IF a.kind = 'leads' THEN
            a.lead_column := a.id_column;
            a.row_filter := a.deal_filter;
        END IF;
        -- the deal's close time
        closed_sql := CASE WHEN a.closed_column IS NULL
                 THEN format('(SELECT pg_catalog.min(c.changed_at) FROM @extschema@.stage_change c'
                             ' WHERE c.lead_id OPERATOR(pg_catalog.=) d.%I'
                             ' AND c.to_stage OPERATOR(pg_catalog.=) ''customer''::@extschema@.funnel_stage)',
                             a.lead_column)
                 ELSE @extschema@.column_time_sql(format('d.%I', a.closed_column),
                          @extschema@.column_type(a.relid, a.closed_column, 'closed_column'), a.time_zone) END;
        parts := parts || format($v$
        SELECT %1$L::pg_catalog.regclass AS source, d.%2$I::text AS deal_ref, d.%3$I AS lead_id,
               d.%4$I::numeric%12$s%16$s AS amount, %5$s AS status, %10$s AS closed_at,
               %7$s AS owner, %8$s AS cost,
               CASE WHEN (pg_catalog.lower(pg_catalog.btrim(%5$s)) OPERATOR(pg_catalog.=) ANY (s.won_statuses)%13$s)
                         AND %6$s THEN 'won'
                    WHEN pg_catalog.lower(pg_catalog.btrim(%5$s)) OPERATOR(pg_catalog.=) ANY (s.lost_statuses)%14$s
                         THEN 'lost'
                    ELSE 'open' END AS outcome%15$s
          FROM %9$s d CROSS JOIN @extschema@.settings s%17$s%11$s$v$,
            a.relid::oid, a.id_column, a.lead_column, a.amount_column,
            CASE WHEN a.status_column IS NULL THEN 'NULL::text' ELSE format('d.%I::text', a.status_column) END,
            CASE WHEN a.closed_column IS NULL THEN 'true' ELSE format('d.%I IS NOT NULL', a.closed_column) END,
            CASE WHEN a.owner_column IS NULL THEN 'NULL::text'
                 WHEN a.owner_label IS NOT NULL THEN @extschema@.fk_label_sql(a.relid, a.owner_column, a.owner_label, 'd')
                 ELSE format('d.%I::text', a.owner_column) END,
            CASE WHEN a.cost_column IS NULL THEN 'NULL::numeric' ELSE format('d.%I::numeric', a.cost_column) END,
            a.relid,
            closed_sql,
            coalesce(E'\n         WHERE ' || @extschema@.row_filter_sql(a.relid, a.row_filter, 'd'), ''),
            CASE WHEN a.amount_scale IS NULL THEN ''
                 ELSE format(' OPERATOR(pg_catalog.*) %s::numeric', a.amount_scale) END,
            coalesce(' OR coalesce(' || @extschema@.row_filter_sql(a.relid, a.won_filter, 'd') || ', false)', ''),
            coalesce(' OR coalesce(' || @extschema@.row_filter_sql(a.relid, a.lost_filter, 'd') || ', false)', ''),
            '',
            -- with a currency, the amount in the reporting currency: at the rate in force at its close
            -- time, or at its created time while it is open (now without either); none before its
            -- currency's first rate.  A lateral join on the deal's own columns (not a subquery per deal):
            -- the planner can then memoize the rate per currency and time (doc/benchmarks.md)
            CASE WHEN a.currency_column IS NULL THEN '' ELSE ' OPERATOR(pg_catalog.*) x.rate' END,
            CASE WHEN a.currency_column IS NULL THEN ''
                 ELSE format($v$
          LEFT JOIN LATERAL (SELECT r.rate FROM @extschema@.currency_rate r
                   WHERE r.currency OPERATOR(pg_catalog.=) pg_catalog.upper(pg_catalog.btrim(d.%I::text))
                     AND r.valid_from OPERATOR(pg_catalog.<=) coalesce(CASE WHEN %s THEN %s ELSE %s END,
                                                                 @extschema@.clock())
                   ORDER BY r.valid_from DESC LIMIT 1) x ON true$v$,
                   a.currency_column,
                   -- open: neither won nor lost (the outcome below)
                   format('NOT coalesce((pg_catalog.lower(pg_catalog.btrim(%1$s)) OPERATOR(pg_catalog.=) ANY (s.won_statuses)%2$s) AND %3$s, false)'
                          ' AND NOT coalesce(pg_catalog.lower(pg_catalog.btrim(%1$s)) OPERATOR(pg_catalog.=) ANY (s.lost_statuses)%4$s, false)',
                          CASE WHEN a.status_column IS NULL THEN 'NULL::text' ELSE format('d.%I::text', a.status_column) END,
                          coalesce(' OR coalesce(' || @extschema@.row_filter_sql(a.relid, a.won_filter, 'd') || ', false)', ''),
                          CASE WHEN a.closed_column IS NULL THEN 'true' ELSE format('d.%I IS NOT NULL', a.closed_column) END,
                          coalesce(' OR coalesce(' || @extschema@.row_filter_sql(a.relid, a.lost_filter, 'd') || ', false)', '')),
                   CASE WHEN a.created_column IS NULL THEN 'NULL::pg_catalog.timestamptz'
                        ELSE @extschema@.column_time_sql(format('d.%I', a.created_column),
                                 @extschema@.column_type(a.relid, a.created_column, 'created_column'), a.time_zone) END,
                   closed_sql) END);
    END LOOP;
    src := coalesce(nullif(array_to_string(parts, E'\n        UNION ALL'), ''), format($v$
        SELECT NULL::pg_catalog.regclass AS source, NULL::text AS deal_ref, NULL::%s AS lead_id,
               NULL::numeric AS amount, NULL::text AS status, NULL::timestamptz AS closed_at, NULL::text AS owner,
               NULL::numeric AS cost, NULL::text AS outcome
         WHERE false$v$, id_type));
    EXECUTE 'CREATE VIEW @extschema@.deals AS ' || src;

    FOR g IN SELECT * FROM @extschema@.generated_view ORDER BY ord LOOP
        EXECUTE replace(g.definition, '@lead_id_type@', id_type);
    END LOOP;
    FOR src IN SELECT unnest(regrants) ORDER BY 1 DESC LOOP   -- REVOKE before GRANT
        EXECUTE src;
    END LOOP;
    -- Called from an extension script (an upgrade regenerating these objects), everything created
    -- above became a member of the extension; generated objects never are (doc/internals.md, "Upgrades").
    FOR src IN SELECT format('ALTER EXTENSION lead_scoring DROP %s %s',
                             CASE WHEN d.classid = 'pg_class'::regclass THEN 'VIEW' ELSE 'FUNCTION' END,
                             CASE WHEN d.classid = 'pg_class'::regclass THEN d.objid::regclass::text
                                  ELSE d.objid::regprocedure::text END)
                 FROM pg_depend d
                WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
                  AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'lead_scoring')
                  AND d.classid IN ('pg_class'::regclass, 'pg_proc'::regclass)
                  AND d.objid <> ALL (members) LOOP
        EXECUTE src;
    END LOOP;
END $$;

-- Drop and recreate the canonical views and every generated object from the current attachments.
CREATE OR REPLACE FUNCTION @extschema@.rebuild_views() RETURNS void
LANGUAGE sql SET search_path = pg_catalog, pg_temp AS $$
    SELECT @extschema@.create_views(@extschema@.release_views())
$$;
REVOKE ALL ON FUNCTION @extschema@.release_views() FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.check_currency_rates(regclass) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.create_views(text[]) FROM PUBLIC;

-- Issue 10 (round 3, item 4): detach the deals part of a leads table attached as its own deals table.
-- Detach the deals part only (doc/crm_schemas.md, "Opportunities on the lead row"): of a leads table
-- attached as its own deals table, the deal columns and filters go and the leads attachment stays (its
-- scores, stages, events and log untouched); a deals table is detached as detach() does.
CREATE FUNCTION @extschema@.detach_deals(tbl regclass) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    a @extschema@.attachment;
BEGIN
    SELECT * INTO a FROM @extschema@.attachment WHERE relid = tbl;
    IF a.kind = 'deals' THEN
        PERFORM @extschema@.detach(tbl);
        RETURN;
    ELSIF a.kind IS NULL THEN
        RAISE EXCEPTION 'table % is not attached', tbl USING ERRCODE = 'undefined_object';
    ELSIF a.kind <> 'leads' OR a.amount_column IS NULL THEN
        RAISE EXCEPTION 'table % is not attached as a deals table', tbl
            USING ERRCODE = 'undefined_object',
                  HINT = format('It is attached as the %s table: SELECT lead_scoring.detach(%L);', a.kind, tbl::text);
    END IF;
    UPDATE @extschema@.attachment
       SET amount_column = NULL, status_column = NULL, closed_column = NULL, amount_scale = NULL,
           currency_column = NULL, won_filter = NULL, lost_filter = NULL, deal_filter = NULL
     WHERE relid = tbl;
    PERFORM @extschema@.rebuild_views();
END $$;

REVOKE ALL ON FUNCTION @extschema@.detach_deals(regclass) FROM PUBLIC;
COMMENT ON FUNCTION @extschema@.detach_deals(regclass) IS
    'Detach a deals table, or the deals part of a leads table attached as its own deals table; keeps all data';

-- Why the extension could not read column col of the attached table tbl once its type is new_type,
-- or NULL when it can (the CRM's ALTER COLUMN ... TYPE; src/ddl_follow.c refuses the statement with
-- this reason: doc/crm_schemas.md, "The CRM's migrations").
CREATE FUNCTION @extschema@.retype_problem(tbl regclass, col name, new_type regtype) RETURNS text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    a @extschema@.attachment;
    what text;
    k text;
BEGIN
    SELECT * INTO a FROM @extschema@.attachment WHERE relid = tbl;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    what := format('it is the %%s of the %s attachment, ', a.kind);
    -- lead ids may move between smallint, integer and bigint (Rails' change_column :leads, :id, :bigint):
    -- the leads id and every lead column in one transaction, the logs following (src/lead_id_retype.c)
    IF a.kind = 'leads' AND col = a.id_column AND new_type <> @extschema@.lead_id_type()
       AND NOT (new_type IN ('int2', 'int4', 'int8') AND @extschema@.lead_id_type() IN ('int2', 'int4', 'int8')) THEN
        RETURN format(what, 'id_column') || format('and lead ids keep their type (%s) in lead_scoring.stage_change '
            'and in the lead columns of the events and deals tables, unless they move between smallint, integer '
            'and bigint', @extschema@.lead_id_type());
    ELSIF a.kind <> 'leads' AND col = a.lead_column AND new_type <> @extschema@.lead_id_type()
          AND NOT (new_type IN ('int2', 'int4', 'int8') AND @extschema@.lead_id_type() IN ('int2', 'int4', 'int8')) THEN
        RETURN format(what, 'lead_column') || format('which must have the type of the leads table''s id (%s)',
                                                     @extschema@.lead_id_type());
    ELSIF col = a.stage_column AND new_type <> '@extschema@.funnel_stage'::regtype THEN
        RETURN format(what, 'stage_column') || 'which must be lead_scoring.funnel_stage';
    ELSIF col = a.score_column AND new_type <> 'integer'::regtype THEN
        RETURN format(what, 'score_column') || 'which must be integer';
    ELSIF col IN (a.created_column, a.time_column, a.closed_column) AND NOT @extschema@.type_is_time(new_type) THEN
        RETURN format(what, CASE col WHEN a.created_column THEN 'created_column' WHEN a.time_column THEN 'time_column'
                                     ELSE 'closed_column' END) || 'which must be timestamptz, timestamp or date';
    ELSIF col IN (a.amount_column, a.cost_column) AND NOT @extschema@.type_is_number(new_type) THEN
        RETURN format(what, CASE col WHEN a.amount_column THEN 'amount_column' ELSE 'cost_column' END)
               || 'which must be a numeric type';
    ELSIF col IN (a.type_column, a.status_column, a.channel_column, a.campaign_column, a.keyword_column,
                  a.currency_column)
          AND NOT coalesce(a.labels ? col, false) AND NOT @extschema@.type_is_label(new_type) THEN
        RETURN format(what, CASE col WHEN a.type_column THEN 'type_column' WHEN a.status_column THEN 'status_column'
                                     WHEN a.channel_column THEN 'channel_column'
                                     WHEN a.campaign_column THEN 'campaign_column'
                                     WHEN a.keyword_column THEN 'keyword_column' ELSE 'currency_column' END)
               || 'which must be a text, varchar or enum type';
    END IF;
    -- the CRM stage map's keys are values of the column
    IF col IN (a.crm_stage_column, CASE WHEN a.kind = 'deals' THEN a.status_column END) AND a.crm_stage_map IS NOT NULL THEN
        FOR k IN SELECT jsonb_object_keys(a.crm_stage_map) LOOP
            BEGIN
                EXECUTE format('SELECT %L::%s', k, new_type);
            EXCEPTION WHEN data_exception THEN
                RETURN format(what, CASE a.kind WHEN 'leads' THEN 'crm_stage_column' ELSE 'status_column' END)
                       || format('and its stage map''s key %L is no %s', k, new_type);
            END;
        END LOOP;
    END IF;
    RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION @extschema@.retype_problem(regclass, name, regtype) FROM PUBLIC;

REVOKE ALL ON FUNCTION @extschema@.attach_leads(regclass, name, name, name, name, name, text, text, name, jsonb, boolean, name, name, name, name, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.attach_events(regclass, name, name, name, name, name, name, text, text, boolean, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.attach_deals(regclass, name, name, name, name, name, name, name, text, text, name, numeric, jsonb, boolean, name, text, text, name) FROM PUBLIC;
COMMENT ON FUNCTION @extschema@.attach_leads(regclass, name, name, name, name, name, text, text, name, jsonb, boolean, name, name, name, name, jsonb) IS
    'Attach the CRM leads table: adds stage and score columns when missing, scores existing rows';
COMMENT ON FUNCTION @extschema@.attach_events(regclass, name, name, name, name, name, name, text, text, boolean, jsonb) IS
    'Attach a CRM events table (ad clicks, visits, opens, calls...): its rows feed scores and attribution';
COMMENT ON FUNCTION @extschema@.attach_deals(regclass, name, name, name, name, name, name, name, text, text, name, numeric, jsonb, boolean, name, text, text, name) IS
    'Attach a CRM deals table: deals move leads to opportunity, customer or lost';
-- a lead created directly in a sales stage of the CRM is no handoff
UPDATE @extschema@.generated_view
   SET definition = replace(definition, $r$   AND c.reason <> 'attached'
$r$, $r$   AND c.reason <> 'attached'
   AND NOT (c.from_stage IS NULL AND c.reason = 'crm stage')
$r$)
 WHERE name = 'handoffs';
-- removed leads (deleted, or outside the leads row filter: archived, soft-deleted, merged away) leave
-- the handoff, funnel and stage reports (doc/crm_schemas.md, "Leads that leave")
UPDATE @extschema@.generated_view
   SET definition = replace(definition, $r$  LEFT JOIN @extschema@.leads l ON l.lead_id = c.lead_id
$r$,
                            $r$  JOIN @extschema@.leads l ON l.lead_id = c.lead_id
$r$)
 WHERE name = 'handoffs';
UPDATE @extschema@.generated_view
   SET definition = replace(definition, $r$    SELECT c.lead_id, c.to_stage AS stage FROM @extschema@.stage_change c
    UNION
$r$,
                            $r$    SELECT c.lead_id, c.to_stage AS stage FROM @extschema@.stage_change c
     WHERE EXISTS (SELECT FROM @extschema@.leads l WHERE l.lead_id = c.lead_id)
    UNION
$r$)
 WHERE name = 'funnel';
UPDATE @extschema@.generated_view
   SET definition = replace(definition, $r$      FROM @extschema@.stage_change c
)
SELECT f.stage,
       count(t.seconds) AS leads_left,$r$,
                            $r$      FROM @extschema@.stage_change c
     WHERE EXISTS (SELECT FROM @extschema@.leads l WHERE l.lead_id = c.lead_id)
)
SELECT f.stage,
       count(t.seconds) AS leads_left,$r$)
 WHERE name = 'stage_durations';
-- channel_report's period starts at midnight in the declared zone (day_start)
UPDATE @extschema@.generated_view
   SET definition = replace(replace(definition,
           E'$2::pg_catalog.timestamptz AS lo,', E'@extschema@.day_start($2) AS lo,'),
           E'($3 OPERATOR(pg_catalog.+) 1)::pg_catalog.timestamptz AS hi', E'@extschema@.day_start($3 OPERATOR(pg_catalog.+) 1) AS hi')
 WHERE name = 'channel_report';
-- Issue 10 item 8, issue 12 item 11: the CRM's migrations (renames followed, drops of read columns refused)
-- The CRM's own migrations on attached tables (doc/crm_schemas.md, "The CRM's migrations"): renamed
-- columns are followed (mapping, rules, row filter), a column replaced under its old name is taken
-- over, and a DROP COLUMN of a column the extension reads is refused before it runs.
CREATE FUNCTION @extschema@.follow_ddl_start() RETURNS event_trigger AS 'MODULE_PATHNAME' LANGUAGE C;
CREATE FUNCTION @extschema@.follow_ddl_end() RETURNS event_trigger AS 'MODULE_PATHNAME' LANGUAGE C;
CREATE EVENT TRIGGER lead_scoring_follow_ddl_start ON ddl_command_start WHEN TAG IN ('ALTER TABLE')
    EXECUTE FUNCTION @extschema@.follow_ddl_start();
CREATE EVENT TRIGGER lead_scoring_follow_ddl_end ON ddl_command_end WHEN TAG IN ('ALTER TABLE')
    EXECUTE FUNCTION @extschema@.follow_ddl_end();
-- <<< crm: attach options


-- ---------------------------------------------------------------------------
-- Issue 13 (scale-out on Citus): as extension/parts/85_citus.sql; attach_leads (above) reads the leads
-- apart from the log (a distributed leads table is never joined with the local log); handoffs, sales_queue,
-- manager_report and channel_report are regenerated in forms Citus plans.
-- Scale-out on Citus (doc/scale-out.md): shards mapped to their tables, the configuration replicated
-- to every node, the stage log and the handoff outbox colocated with the leads.  Without Citus the
-- functions below are never called, and the publishing trigger returns at its first test.
-- ---------------------------------------------------------------------------

-- The table a relation stands for: the distributed table of a Citus shard, else the relation itself.
CREATE FUNCTION @extschema@.shard_table(rel regclass) RETURNS regclass
    AS 'MODULE_PATHNAME', 'ls_shard_table' LANGUAGE C STABLE STRICT;
COMMENT ON FUNCTION @extschema@.shard_table(regclass) IS
    'The table a relation stands for: the distributed table of a Citus shard, else the relation itself';

-- The configuration the triggers read, as one value: every row of the six tables whose caches the
-- triggers use.  Attached tables are named, not numbered: an OID means nothing on another node.
CREATE FUNCTION @extschema@.config_snapshot() RETURNS jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT jsonb_build_object(
        'attachment', (SELECT coalesce(jsonb_agg(to_jsonb(a) || jsonb_build_object(
                                           'relid', format('%I.%I', n.nspname, c.relname)) ORDER BY a.relid), '[]')
                         FROM @extschema@.attachment a
                         JOIN pg_class c ON c.oid = a.relid JOIN pg_namespace n ON n.oid = c.relnamespace),
        'settings', (SELECT coalesce(jsonb_agg(to_jsonb(s)), '[]') FROM @extschema@.settings s),
        'event_type', (SELECT coalesce(jsonb_agg(to_jsonb(t) ORDER BY t.name), '[]') FROM @extschema@.event_type t),
        'threshold', (SELECT coalesce(jsonb_agg(to_jsonb(t) ORDER BY t.stage), '[]') FROM @extschema@.threshold t),
        'transition_override', (SELECT coalesce(jsonb_agg(to_jsonb(o) ORDER BY o.from_stage, o.to_stage), '[]')
                                  FROM @extschema@.transition_override o),
        'rule', (SELECT coalesce(jsonb_agg(to_jsonb(r) ORDER BY r.rule_id), '[]') FROM @extschema@.rule r))
$$;

-- Invalidate every backend's caches of the configuration tables (as their triggers do after a change).
CREATE FUNCTION @extschema@.config_invalidate() RETURNS void
    AS 'MODULE_PATHNAME', 'ls_config_invalidate' LANGUAGE C VOLATILE;

-- Replace this node's configuration with a snapshot taken on the coordinator.  The rows were
-- validated there; the tables' own triggers are skipped (replica role) and the caches invalidated
-- once at the end.  Attached tables are looked up by name: this node's OIDs.
CREATE FUNCTION @extschema@.config_apply(config jsonb) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    SET LOCAL session_replication_role = replica;
    DELETE FROM @extschema@.rule;
    DELETE FROM @extschema@.transition_override;
    DELETE FROM @extschema@.threshold;
    DELETE FROM @extschema@.event_type;
    DELETE FROM @extschema@.attachment;
    INSERT INTO @extschema@.attachment
    SELECT * FROM jsonb_populate_recordset(NULL::@extschema@.attachment, config->'attachment');
    UPDATE @extschema@.settings s SET (disqualify_below, score_floor, score_ceiling, sla, default_phone_country,
            won_statuses, lost_statuses, attribution_model, attribution_lookback, attribution_half_life,
            fit_grade_bands, engagement_grade_bands)
         = (n.disqualify_below, n.score_floor, n.score_ceiling, n.sla, n.default_phone_country, n.won_statuses,
            n.lost_statuses, n.attribution_model, n.attribution_lookback, n.attribution_half_life,
            n.fit_grade_bands, n.engagement_grade_bands)
      FROM jsonb_populate_recordset(NULL::@extschema@.settings, config->'settings') n;
    INSERT INTO @extschema@.event_type
    SELECT * FROM jsonb_populate_recordset(NULL::@extschema@.event_type, config->'event_type');
    INSERT INTO @extschema@.threshold
    SELECT * FROM jsonb_populate_recordset(NULL::@extschema@.threshold, config->'threshold');
    INSERT INTO @extschema@.transition_override
    SELECT * FROM jsonb_populate_recordset(NULL::@extschema@.transition_override, config->'transition_override');
    INSERT INTO @extschema@.rule
    SELECT * FROM jsonb_populate_recordset(NULL::@extschema@.rule, config->'rule');
    PERFORM pg_catalog.setval('@extschema@.rule_rule_id_seq',
                              greatest(1, (SELECT max(rule_id) FROM @extschema@.rule)));
    SET LOCAL session_replication_role = origin;
    PERFORM @extschema@.config_invalidate();
END $$;
REVOKE ALL ON FUNCTION @extschema@.config_apply(jsonb) FROM PUBLIC;

-- Whether this node is the Citus coordinator (group 0); false without Citus.
CREATE FUNCTION @extschema@.citus_is_coordinator() RETURNS boolean
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF pg_catalog.to_regclass('pg_catalog.pg_dist_local_group') IS NULL THEN
        RETURN false;
    END IF;
    RETURN (SELECT groupid = 0 FROM pg_catalog.pg_dist_local_group);
END $$;

-- Statement trigger of the configuration tables: once citus_setup() has run, a change made on the
-- coordinator is published to every node in the same (distributed) transaction.
CREATE FUNCTION @extschema@.config_publish() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF pg_catalog.to_regclass('@extschema@.config_replica') IS NULL OR NOT @extschema@.citus_is_coordinator() THEN
        RETURN NULL;
    END IF;
    UPDATE @extschema@.config_replica SET config = @extschema@.config_snapshot(), version = version + 1;
    RETURN NULL;
END $$;
CREATE TRIGGER zz_config_publish AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON @extschema@.attachment
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.config_publish();
CREATE TRIGGER zz_config_publish AFTER INSERT OR UPDATE OR DELETE ON @extschema@.settings
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.config_publish();
CREATE TRIGGER zz_config_publish AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON @extschema@.event_type
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.config_publish();
CREATE TRIGGER zz_config_publish AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON @extschema@.threshold
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.config_publish();
CREATE TRIGGER zz_config_publish AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON @extschema@.transition_override
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.config_publish();
CREATE TRIGGER zz_config_publish AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON @extschema@.rule
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.config_publish();

-- Row trigger of config_replica's shards (every node holds one): a worker applies what the coordinator
-- published.  The coordinator's own placement is skipped: its tables are the source.
CREATE FUNCTION @extschema@.config_replica_apply() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF NOT @extschema@.citus_is_coordinator() THEN
        PERFORM @extschema@.config_apply(NEW.config);
    END IF;
    RETURN NULL;
END $$;

-- Send the handoff notifications queued on the shards (handoff_outbox), on this node, oldest first;
-- returns how many.  Listeners connect to the coordinator; run it there (pg_cron, or the application
-- after its writes).
CREATE FUNCTION @extschema@.relay_handoffs() RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    n bigint := 0;
    r record;
BEGIN
    IF pg_catalog.to_regclass('@extschema@.handoff_outbox') IS NULL THEN
        RETURN 0;
    END IF;
    FOR r IN WITH d AS (DELETE FROM @extschema@.handoff_outbox RETURNING payload, queued_at, lead_id)
             SELECT d.payload FROM d ORDER BY d.queued_at, d.lead_id LOOP
        PERFORM pg_catalog.pg_notify('lead_scoring_handoff', r.payload);
        n := n + 1;
    END LOOP;
    RETURN n;
END $$;
COMMENT ON FUNCTION @extschema@.relay_handoffs() IS
    'On Citus: send the handoff notifications that triggers on shards queued, on this node; returns how many';

-- Set lead_scoring up on a Citus cluster, on the coordinator, once the CRM tables are attached: distributes
-- every attached table that is not distributed yet by its lead column, colocated with the leads table
-- (the extension's triggers are taken off during the copy of existing rows and put back on every shard),
-- distributes stage_change and creates handoff_outbox colocated with the leads, and replicates the
-- configuration to every node (config_replica, a reference table).  Tables the DBA distributed already
-- must be distributed that way.  Run it again after attaching another table; it changes only what is missing.
CREATE FUNCTION @extschema@.citus_setup() RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    leads @extschema@.attachment;
    a @extschema@.attachment;
    col name;
    colocation integer;
    dist_col name;
    triggers text[];
    t text;
BEGIN
    IF pg_catalog.to_regclass('pg_catalog.pg_dist_partition') IS NULL THEN
        RAISE EXCEPTION 'Citus is not installed in this database'
            USING ERRCODE = 'object_not_in_prerequisite_state', HINT = 'CREATE EXTENSION citus; first.';
    END IF;
    IF NOT @extschema@.citus_is_coordinator() THEN
        RAISE EXCEPTION 'lead_scoring.citus_setup() runs on the coordinator'
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    SELECT * INTO leads FROM @extschema@.attachment WHERE kind = 'leads';
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no leads table is attached'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Call lead_scoring.attach_leads(''your_leads_table'') first.';
    END IF;
    -- the triggers are created on the shards
    SET LOCAL citus.enable_unsafe_triggers = on;

    -- the attached tables, leads first: distributed by lead and colocated with the leads
    FOR a IN SELECT * FROM @extschema@.attachment ORDER BY kind <> 'leads', relid LOOP
        col := CASE a.kind WHEN 'leads' THEN a.id_column ELSE a.lead_column END;
        SELECT pg_catalog.column_to_column_name(p.logicalrelid, p.partkey) INTO dist_col
          FROM pg_dist_partition p WHERE p.logicalrelid = a.relid;
        IF NOT FOUND THEN
            -- the copy of existing rows must not fire the triggers: they scored and logged these rows already
            SELECT array_agg(pg_catalog.pg_get_triggerdef(g.oid) ORDER BY g.tgname) INTO triggers
              FROM pg_trigger g WHERE g.tgrelid = a.relid AND g.tgname LIKE 'zz\_lead\_scoring\_%';
            PERFORM @extschema@.drop_attach_triggers(a.relid);
            IF a.kind = 'leads' THEN
                PERFORM create_distributed_table(a.relid, col);
            ELSE
                PERFORM create_distributed_table(a.relid, col, colocate_with => leads.relid::text);
            END IF;
            -- nor the removal of the coordinator's local copy (the events' TRUNCATE trigger would
            -- rescore the leads, now distributed, before the workers have the configuration)
            PERFORM truncate_local_data_after_distributing_table(a.relid);
            FOREACH t IN ARRAY coalesce(triggers, '{}') LOOP
                EXECUTE t;
            END LOOP;
        ELSIF dist_col IS DISTINCT FROM col OR (a.kind <> 'leads' AND NOT EXISTS (
                  SELECT FROM pg_dist_partition p, pg_dist_partition l
                   WHERE p.logicalrelid = a.relid AND l.logicalrelid = leads.relid
                     AND p.colocationid = l.colocationid)) THEN
            RAISE EXCEPTION 'the % table % is not distributed by "%" colocated with the leads table %',
                            a.kind, a.relid, col, leads.relid
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      DETAIL = 'The triggers read and write a lead''s rows on the node that holds the lead.',
                      HINT = format('SELECT undistribute_table(%L); and call lead_scoring.citus_setup() again.',
                                    a.relid::text);
        END IF;
    END LOOP;

    -- the log: distributed by lead, colocated with it (its key must include the lead id)
    IF NOT EXISTS (SELECT FROM pg_dist_partition WHERE logicalrelid = '@extschema@.stage_change'::regclass) THEN
        ALTER TABLE @extschema@.stage_change DROP CONSTRAINT stage_change_pkey;
        ALTER TABLE @extschema@.stage_change ADD CONSTRAINT stage_change_pkey PRIMARY KEY (change_id, lead_id);
        PERFORM create_distributed_table('@extschema@.stage_change', 'lead_id', colocate_with => leads.relid::text);
        PERFORM truncate_local_data_after_distributing_table('@extschema@.stage_change');
    END IF;

    -- handoff notifications sent on a worker wait here until relay_handoffs() sends them on the coordinator
    IF pg_catalog.to_regclass('@extschema@.handoff_outbox') IS NULL THEN
        EXECUTE format('CREATE TABLE @extschema@.handoff_outbox (lead_id %s NOT NULL, payload text NOT NULL, '
                       'queued_at timestamptz NOT NULL)',
                       (SELECT format_type(a2.atttypid, a2.atttypmod) FROM pg_attribute a2
                         WHERE a2.attrelid = leads.relid AND a2.attname = leads.id_column));
        COMMENT ON TABLE @extschema@.handoff_outbox IS
            'Handoff notifications queued by triggers on Citus shards; lead_scoring.relay_handoffs() sends them';
        REVOKE ALL ON @extschema@.handoff_outbox FROM PUBLIC;
        PERFORM create_distributed_table('@extschema@.handoff_outbox', 'lead_id', colocate_with => leads.relid::text);
    END IF;

    -- the configuration, replicated to every node through a reference table
    IF pg_catalog.to_regclass('@extschema@.config_replica') IS NULL THEN
        CREATE TABLE @extschema@.config_replica (
            singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
            version   bigint NOT NULL,
            config    jsonb NOT NULL
        );
        COMMENT ON TABLE @extschema@.config_replica IS
            'lead_scoring''s configuration as published by the coordinator to every Citus node';
        REVOKE ALL ON @extschema@.config_replica FROM PUBLIC;
        PERFORM create_reference_table('@extschema@.config_replica');
        CREATE TRIGGER config_replica_apply AFTER INSERT OR UPDATE ON @extschema@.config_replica
            FOR EACH ROW EXECUTE FUNCTION @extschema@.config_replica_apply();
        INSERT INTO @extschema@.config_replica VALUES (true, 1, @extschema@.config_snapshot());
    ELSE
        UPDATE @extschema@.config_replica SET config = @extschema@.config_snapshot(), version = version + 1;
    END IF;
END $$;
REVOKE ALL ON FUNCTION @extschema@.citus_setup() FROM PUBLIC;
COMMENT ON FUNCTION @extschema@.citus_setup() IS
    'On a Citus coordinator: distribute the attached tables by lead, colocate the log and the handoff outbox, replicate the configuration';


-- handoffs and sales_queue plan on Citus (lateral joins on the lead id; explanations after the gathering)
UPDATE @extschema@.generated_view SET definition = $def$
CREATE VIEW @extschema@.handoffs AS
SELECT c.lead_id,
       c.changed_at AS handed_off_at,
       coalesce(c.owner, l.owner) AS owner,
       least(fe.at, nc.at) AS first_response_at,
       least(fe.at, nc.at) - c.changed_at AS response_time,
       CASE WHEN least(fe.at, nc.at) IS NOT NULL
            THEN CASE WHEN least(fe.at, nc.at) - c.changed_at <= s.sla THEN 'met' ELSE 'breached' END
            WHEN @extschema@.clock() - c.changed_at > s.sla THEN 'overdue'
            ELSE 'waiting'
       END AS status,
       c.to_stage AS stage,
       c.changed_at + s.sla AS due_at,
       c.change_id
  FROM @extschema@.stage_change c
 CROSS JOIN @extschema@.settings s
  JOIN @extschema@.leads l ON l.lead_id = c.lead_id
  -- the first response: sales' first event, or the lead's next stage change (lateral joins on the lead
  -- id, which Citus pushes down to the lead's shards; doc/scale-out.md, "Reports")
  LEFT JOIN LATERAL (SELECT min(e.occurred_at) AS at FROM @extschema@.events e
                      WHERE e.lead_id = c.lead_id AND e.owner = 'sales' AND e.occurred_at >= c.changed_at) fe ON true
  LEFT JOIN LATERAL (SELECT n.changed_at AS at FROM @extschema@.stage_change n
                      WHERE n.lead_id = c.lead_id AND (n.changed_at, n.change_id) > (c.changed_at, c.change_id)
                      ORDER BY n.changed_at, n.change_id LIMIT 1) nc ON true
 WHERE @extschema@.stage_owner(c.to_stage) = 'sales'
   AND (c.from_stage IS NULL OR @extschema@.stage_owner(c.from_stage) = 'marketing')
   AND c.reason <> 'attached'
   AND NOT (c.from_stage IS NULL AND c.reason = 'crm stage')
$def$ WHERE name = 'handoffs';
UPDATE @extschema@.generated_view SET definition = $def$
CREATE VIEW @extschema@.sales_queue AS
WITH waiting AS MATERIALIZED (
    -- the rows, gathered first (on Citus from the lead's shards); then the score explanations, which
    -- read each lead's row and events themselves (doc/scale-out.md, "Reports")
    SELECT h.lead_id, h.handed_off_at, h.owner, h.stage, h.status, h.due_at, l.score,
           ft.channel AS first_channel, ft.campaign AS first_campaign, ft.keyword AS first_keyword,
           lt.channel AS last_channel, lt.campaign AS last_campaign, lt.keyword AS last_keyword
      FROM @extschema@.handoffs h
      LEFT JOIN @extschema@.leads l ON l.lead_id = h.lead_id
      LEFT JOIN LATERAL (SELECT e.channel, e.campaign, e.keyword FROM @extschema@.events e
                          WHERE e.lead_id = h.lead_id AND e.channel IS NOT NULL
                          ORDER BY e.occurred_at, e.source, e.event_ref LIMIT 1) ft ON true
      LEFT JOIN LATERAL (SELECT e.channel, e.campaign, e.keyword FROM @extschema@.events e
                          WHERE e.lead_id = h.lead_id AND e.channel IS NOT NULL
                          ORDER BY e.occurred_at DESC, e.source DESC, e.event_ref DESC LIMIT 1) lt ON true
     WHERE h.status IN ('waiting', 'overdue')
)
SELECT w.lead_id, w.handed_off_at, w.owner, w.stage, w.status,
       @extschema@.clock() - w.handed_off_at AS waiting_for, w.due_at,
       w.score, @extschema@.grade(w.lead_id) AS grade,
       w.first_channel, w.first_campaign, w.first_keyword,
       w.last_channel, w.last_campaign, w.last_keyword,
       ARRAY(SELECT x.rule || ' ' || CASE WHEN x.points > 0 THEN '+' ELSE '' END
                    || trim_scale(round(x.points::numeric, 1))::text
               FROM @extschema@.explain(w.lead_id, @extschema@.clock()) AS x
              WHERE x.points <> 0
              ORDER BY abs(x.points) DESC, x.rule
              LIMIT 3) AS top_reasons
  FROM waiting w
 ORDER BY w.handed_off_at, w.lead_id
$def$ WHERE name = 'sales_queue';
-- manager_report plans on Citus (PL/pgSQL binds its arguments before Citus plans the query)
UPDATE @extschema@.generated_view SET definition = $def$
CREATE FUNCTION @extschema@.manager_report(from_time timestamptz, to_time timestamptz)
RETURNS TABLE (owner text, handoffs bigint, median_response interval, sla_met_pct numeric,
               converted bigint, deals_won bigint, win_rate numeric, revenue numeric, avg_deal numeric,
               profit numeric)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $fn$
#variable_conflict use_column
BEGIN
-- one query; PL/pgSQL binds the arguments before Citus plans it (doc/scale-out.md, "Reports")
RETURN QUERY
WITH received AS (
    SELECT h.owner, h.lead_id, h.response_time, h.status,
           EXISTS (SELECT FROM @extschema@.stage_change c
                    WHERE c.lead_id = h.lead_id
                      AND c.to_stage OPERATOR(@extschema@.=) ANY ('{opportunity,customer}'::@extschema@.funnel_stage[])
                      AND (c.changed_at, c.change_id) >= (h.handed_off_at, h.change_id)) AS converted
      FROM @extschema@.handoffs h
     WHERE h.handed_off_at >= from_time AND h.handed_off_at < to_time
), by_handoffs AS (
    SELECT r.owner,
           count(*) AS handoffs,
           justify_hours(make_interval(secs => percentile_cont(0.5) WITHIN GROUP
                                           (ORDER BY extract(epoch FROM r.response_time)::float8))) AS median_response,
           round(100.0 * count(*) FILTER (WHERE r.status = 'met')
                 / nullif(count(*) FILTER (WHERE r.status <> 'waiting'), 0), 1) AS sla_met_pct,
           count(DISTINCT r.lead_id) FILTER (WHERE r.converted) AS converted
      FROM received r
     GROUP BY r.owner
), closed AS (
    SELECT coalesce(d.owner, l.owner) AS owner, d.outcome, d.amount, d.cost
      FROM @extschema@.deals d
      LEFT JOIN @extschema@.leads l ON l.lead_id = d.lead_id
     WHERE d.outcome <> 'open' AND d.closed_at >= from_time AND d.closed_at < to_time
), by_deals AS (
    SELECT c.owner,
           count(*) FILTER (WHERE c.outcome = 'won') AS won,
           count(*) FILTER (WHERE c.outcome = 'lost') AS lost,
           coalesce(sum(c.amount) FILTER (WHERE c.outcome = 'won'), 0) AS revenue,
           coalesce(sum(c.cost) FILTER (WHERE c.outcome = 'won'), 0) AS cost
      FROM closed c
     GROUP BY c.owner
), owners AS (
    SELECT b.owner FROM by_handoffs b UNION SELECT b.owner FROM by_deals b
)
SELECT o.owner,
       coalesce(h.handoffs, 0),
       h.median_response,
       h.sla_met_pct,
       coalesce(h.converted, 0),
       coalesce(d.won, 0),
       round(d.won::numeric / nullif(d.won + d.lost, 0), 3),
       coalesce(d.revenue, 0),
       round(d.revenue / nullif(d.won, 0), 2),
       coalesce(d.revenue, 0) - coalesce(d.cost, 0)
  FROM owners o
  LEFT JOIN by_handoffs h ON h.owner IS NOT DISTINCT FROM o.owner
  LEFT JOIN by_deals d ON d.owner IS NOT DISTINCT FROM o.owner
 ORDER BY o.owner NULLS LAST;
END
$fn$
$def$ WHERE name = 'manager_report';
-- channel_report plans on Citus: the same query in PL/pgSQL (RETURN QUERY), as manager_report
UPDATE @extschema@.generated_view
   SET definition = replace(replace(definition,
           $r$    LANGUAGE sql STABLE PARALLEL RESTRICTED
    SET search_path = pg_catalog, pg_temp
    AS $body$
WITH p AS ($r$,
           $r$    LANGUAGE plpgsql STABLE PARALLEL RESTRICTED
    SET search_path = pg_catalog, pg_temp
    AS $body$
#variable_conflict use_column
BEGIN
-- the level first: a wrong one is reported on this statement, not on the whole query below
PERFORM @extschema@.channel_report_level(coalesce($4, 'channel'));
-- one query; PL/pgSQL binds the arguments before Citus plans it (doc/scale-out.md, "Reports")
RETURN QUERY
WITH p AS ($r$),
           $r$ORDER BY g.channel, g.campaign NULLS FIRST, g.keyword NULLS FIRST
$body$$r$,
           $r$ORDER BY g.channel, g.campaign NULLS FIRST, g.keyword NULLS FIRST;
END
$body$$r$)
 WHERE name = 'channel_report';

-- Regenerate the generated objects once, from the definitions every section above changed (attribution,
-- CRM options, Citus) and with the operators moved to pg_catalog, as a fresh install builds them.
SELECT @extschema@.rebuild_views();

-- ---------------------------------------------------------------------------
-- Issue 14: the scoring engine — per-lead engagement state carried in the leads row, rule changes
-- rescored online instead of at commit, refresh from the state (doc/scoring.md).
-- ---------------------------------------------------------------------------
DROP TRIGGER rule_rescore_requested ON @extschema@.rule;
DROP TRIGGER rule_rescore ON @extschema@.rule;
DROP TRIGGER settings_rescore_requested ON @extschema@.settings;
DROP TRIGGER settings_rescore ON @extschema@.settings;
DROP FUNCTION @extschema@.rules_changed();
DROP FUNCTION @extschema@.rescore_after_rule_change();
CREATE OR REPLACE FUNCTION @extschema@.refresh_scores() RETURNS bigint
    AS 'MODULE_PATHNAME', 'refresh_scores' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.refresh_scores() IS
    'Advance every lead''s score to now() from its engagement state, in batches, in this transaction; '
    'returns the leads rewritten. pg_cron should run CALL lead_scoring.refresh_online() instead';
CREATE PROCEDURE @extschema@.refresh_online(batch_size integer DEFAULT 2000)
    AS 'MODULE_PATHNAME', 'refresh_online' LANGUAGE C;
COMMENT ON PROCEDURE @extschema@.refresh_online(integer) IS
    'Advance every lead''s score to now() from its engagement state, committing after each batch of leads. '
    'Schedule with pg_cron: SELECT cron.schedule(''lead-scoring-refresh'', ''*/15 * * * *'', '
    '''CALL lead_scoring.refresh_online()'')';
CREATE FUNCTION @extschema@.state_is_current(state bytea) RETURNS boolean
    AS 'MODULE_PATHNAME', 'state_is_current' LANGUAGE C STABLE PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@.state_is_current(bytea) IS
    'Whether a lead''s lead_scoring_state says its stored score was computed under the current rules and settings';
CREATE FUNCTION @extschema@.rescore_progress(OUT leads bigint, OUT pending bigint)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    t regclass := (SELECT relid FROM @extschema@.attachment WHERE kind = 'leads');
BEGIN
    IF t IS NULL THEN
        leads := 0;
        pending := 0;
        RETURN;
    END IF;
    EXECUTE format('SELECT count(*), count(*) FILTER (WHERE NOT @extschema@.state_is_current(l.lead_scoring_state))'
                   ' FROM %s l', t) INTO leads, pending;
END $$;
COMMENT ON FUNCTION @extschema@.rescore_progress() IS
    'How many leads there are, and how many still carry a score computed under previous rules or settings';
REVOKE ALL ON PROCEDURE @extschema@.refresh_online(integer) FROM PUBLIC;

-- attach_leads() adds the state column to the tables it attaches: its final definition above is
-- the parts' version.

-- The attached leads table gets its state column.  States are filled lazily: a lead's next write
-- reads its events once, the next refresh fills the others; every stored score is kept meanwhile.
DO $$
DECLARE
    t pg_catalog.regclass := (SELECT relid FROM @extschema@.attachment WHERE kind OPERATOR(pg_catalog.=) 'leads');
BEGIN
    IF t IS NOT NULL AND NOT EXISTS (SELECT FROM pg_catalog.pg_attribute
                                      WHERE attrelid OPERATOR(pg_catalog.=) t
                                        AND attname OPERATOR(pg_catalog.=) 'lead_scoring_state' AND NOT attisdropped) THEN
        EXECUTE pg_catalog.format('ALTER TABLE %s ADD COLUMN lead_scoring_state pg_catalog.bytea', t);
    END IF;
END $$;

-- ---------------------------------------------------------------------------
-- Issue 10 (labels): a column renamed along a label's path is followed, its drop refused
-- (src/ddl_follow.c reads these at ddl_command_start; doc/crm_schemas.md, "Labels").
-- ---------------------------------------------------------------------------
-- A column of a lookup table renamed or dropped along a label's path (doc/crm_schemas.md, "Labels"):
-- label_renamed() is label (read in table ref, as label_expr_sql() reads it) with column old of table
-- tbl written new wherever the path reads it; labels_reading() lists the labels of the attachments
-- that read column col of tbl, each with its text after a rename to new_name (src/ddl_follow.c
-- follows the rename, and refuses the drop, at ddl_command_start).
CREATE FUNCTION @extschema@.label_renamed(ref regclass, label text, tbl regclass, old name, new name) RETURNS text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    base name := split_part(label, '.', 1);
    rest text := substr(label, length(split_part(label, '.', 1)) + 2);
    next regclass;
BEGIN
    IF EXISTS (SELECT FROM pg_attribute WHERE attrelid = ref AND attname = label AND attnum > 0 AND NOT attisdropped) THEN
        RETURN CASE WHEN ref = tbl AND label = old THEN new ELSE label END;
    END IF;
    IF strpos(label, '.') > 0
       AND EXISTS (SELECT FROM pg_attribute WHERE attrelid = ref AND attname = base AND attnum > 0 AND NOT attisdropped) THEN
        IF ref = tbl AND base = old THEN
            base := new;
        END IF;
        SELECT c.confrelid::regclass INTO next
          FROM pg_constraint c JOIN pg_attribute x ON x.attrelid = c.conrelid AND x.attnum = c.conkey[1]
         WHERE c.conrelid = ref AND c.contype = 'f' AND cardinality(c.conkey) = 1
           AND x.attname = split_part(label, '.', 1)
         ORDER BY c.oid LIMIT 1;
        IF next IS NULL OR @extschema@.column_type(ref, split_part(label, '.', 1), 'labels') = 'jsonb'::regtype THEN
            RETURN base || '.' || rest;
        END IF;
        RETURN base || '.' || @extschema@.label_renamed(next, rest, tbl, old, new);
    END IF;
    IF strpos(label, ',') > 0 THEN
        RETURN (SELECT string_agg(replace(i.part, btrim(i.part), r), ',' ORDER BY i.n)
                  FROM unnest(string_to_array(label, ',')) WITH ORDINALITY i(part, n),
                       LATERAL @extschema@.label_renamed(ref, btrim(i.part), tbl, old, new) r);
    END IF;
    RETURN label;
END $$;
REVOKE ALL ON FUNCTION @extschema@.label_renamed(regclass, text, regclass, name, name) FROM PUBLIC;

CREATE FUNCTION @extschema@.labels_reading(tbl regclass, col name, new_name name)
    RETURNS TABLE (relid regclass, kind text, key_column name, is_owner boolean, label text, renamed text)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT a.relid, a.kind::text, c.k, c.is_owner, c.l,
           @extschema@.label_renamed(f.ref, c.l, tbl, col, new_name)
      FROM @extschema@.attachment a,
           LATERAL (SELECT e.key::name, false, e.value FROM jsonb_each_text(CASE WHEN jsonb_typeof(a.labels) = 'object'
                                                                               THEN a.labels END) e
                    UNION ALL SELECT a.owner_column, true, a.owner_label::text WHERE a.owner_label IS NOT NULL) c(k, is_owner, l),
           LATERAL (SELECT k.confrelid::regclass AS ref
                      FROM pg_constraint k JOIN pg_attribute x ON x.attrelid = k.conrelid AND x.attnum = k.conkey[1]
                     WHERE k.conrelid = a.relid AND k.contype = 'f' AND cardinality(k.conkey) = 1 AND x.attname = c.k
                     ORDER BY k.oid LIMIT 1) f
     -- read: renaming it to a name no column has changes the label
     WHERE @extschema@.label_renamed(f.ref, c.l, tbl, col, (col || ' (renamed)')::name) <> c.l
     ORDER BY a.relid::text, c.k
$$;
REVOKE ALL ON FUNCTION @extschema@.labels_reading(regclass, name, name) FROM PUBLIC;

-- ---------------------------------------------------------------------------
-- Issue 14: refresh_scores() on its own runs its batches in a background worker that commits after
-- each (doc/scoring.md, "Decay: the refresh").
-- ---------------------------------------------------------------------------
COMMENT ON FUNCTION @extschema@.refresh_scores() IS
    'Advance every lead''s score to now() from its engagement state, in batches; returns the leads rewritten. '
    'Called on its own (not in a transaction block, nothing written before), a background worker runs the '
    'batches and commits after each; in a transaction block, after writes, or with no free worker slot, '
    'they run in this transaction and their row locks last until it commits';

-- ---------------------------------------------------------------------------
-- Code-quality review (session 5): the triggers attach put on a table are dropped by one helper,
-- drop_attach_triggers(), in detach() (0.1.0's, otherwise unchanged), detach_dropped(),
-- release_for_drop() and citus_setup() (defined above in their final form).
-- ---------------------------------------------------------------------------
-- Drop the triggers attach put on table tbl (named zz_lead_scoring_*): detach(), detach_dropped(),
-- release_for_drop(), and citus_setup() before Citus copies the table's rows.
CREATE FUNCTION @extschema@.drop_attach_triggers(tbl regclass) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    trg name;
BEGIN
    FOR trg IN SELECT tgname FROM pg_trigger
                WHERE tgrelid = tbl AND NOT tgisinternal AND tgname LIKE 'zz\_lead\_scoring\_%' LOOP
        EXECUTE format('DROP TRIGGER %I ON %s', trg, tbl);
    END LOOP;
END $$;
REVOKE ALL ON FUNCTION @extschema@.drop_attach_triggers(regclass) FROM PUBLIC;

CREATE OR REPLACE FUNCTION @extschema@.detach(tbl regclass) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    a @extschema@.attachment;
    dependents text;
BEGIN
    SELECT * INTO a FROM @extschema@.attachment WHERE relid = tbl;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'table % is not attached', tbl USING ERRCODE = 'undefined_object';
    END IF;
    IF a.kind = 'leads' THEN
        SELECT string_agg(relid::text, ', ' ORDER BY relid::text) INTO dependents
          FROM @extschema@.attachment WHERE kind <> 'leads';
        IF dependents IS NOT NULL THEN
            RAISE EXCEPTION 'cannot detach the leads table % while events or deals tables are attached', tbl
                USING ERRCODE = 'dependent_objects_still_exist',
                      DETAIL = format('Attached: %s.', dependents),
                      HINT = 'Detach them first.';
        END IF;
    END IF;
    PERFORM @extschema@.drop_attach_triggers(tbl);
    DELETE FROM @extschema@.attachment WHERE relid = tbl;
    PERFORM @extschema@.rebuild_views();
    -- the detached table's events no longer count
    IF a.kind = 'events' THEN
        PERFORM @extschema@.rescore_all();
    END IF;
END $$;
