-- lead_scoring 0.1.0 -> 0.2.0.  Every change made to extension/parts/ after 0.1.0 is repeated here,
-- so that ALTER EXTENSION lead_scoring UPDATE leaves a 0.1.0 database with exactly the objects of a
-- fresh 0.2.0 install (test/scripts/upgrade.sh compares the two catalogs).  How generated objects are
-- changed in an upgrade: doc/internals.md, "Upgrades".

\echo Use "ALTER EXTENSION lead_scoring UPDATE TO '0.2.0'" to load this file. \quit

-- ---------------------------------------------------------------------------
-- Release engineering (issue 9): rebuild_views() run from an extension script (this one, when an
-- upgrade changes generated objects) releases what it created from the extension.
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


-- Drop and recreate the canonical views and every generated object from the current attachments.
CREATE OR REPLACE FUNCTION @extschema@.rebuild_views() RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp SET client_min_messages = warning AS $$
DECLARE
    g @extschema@.generated_view;
    a @extschema@.attachment;
    fn regprocedure;
    id_type text;
    parts text[];
    src text;
    regrants text[];
    members oid[];
BEGIN
    members := @extschema@.member_objects();
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

    SELECT * INTO a FROM @extschema@.attachment WHERE kind = 'leads';
    IF NOT FOUND THEN
        RETURN;
    END IF;
    id_type := format_type(@extschema@.lead_id_type(), NULL);

    EXECUTE format($v$
        CREATE VIEW @extschema@.leads AS
        SELECT l.%1$I AS lead_id, l.%2$I AS stage, l.%3$I AS score, %4$s AS owner, %5$s AS created_at
          FROM %6$s l$v$,
        a.id_column, a.stage_column, a.score_column,
        CASE WHEN a.owner_column IS NULL THEN 'NULL::text' ELSE format('l.%I::text', a.owner_column) END,
        CASE WHEN a.created_column IS NULL
             THEN format('(SELECT pg_catalog.min(c.changed_at) FROM @extschema@.stage_change c '
                         'WHERE c.lead_id OPERATOR(pg_catalog.=) l.%I)', a.id_column)
             ELSE format('l.%I::timestamptz', a.created_column) END,
        a.relid);

    parts := ARRAY[]::text[];
    FOR a IN SELECT * FROM @extschema@.attachment WHERE kind = 'events' ORDER BY relid LOOP
        parts := parts || format($v$
        SELECT %1$L::pg_catalog.regclass AS source, %2$s AS event_ref, e.%3$I AS lead_id,
               e.%4$I::text AS event_type, e.%5$I::timestamptz AS occurred_at,
               %6$s AS channel, %7$s AS campaign, %8$s AS keyword,
               coalesce(t.owner, 'marketing') AS owner
          FROM %9$s e LEFT JOIN @extschema@.event_type t ON t.name OPERATOR(pg_catalog.=) e.%4$I::text$v$,
            a.relid::oid,
            CASE WHEN cardinality(a.key_columns) = 1 THEN format('e.%I::text', a.key_columns[1])
                 ELSE format('ROW(%s)::text', (SELECT string_agg(format('e.%I', k), ', ') FROM unnest(a.key_columns) k))
            END,
            a.lead_column, a.type_column, a.time_column,
            CASE WHEN a.channel_column IS NULL THEN 'NULL::text' ELSE format('e.%I::text', a.channel_column) END,
            CASE WHEN a.campaign_column IS NULL THEN 'NULL::text' ELSE format('e.%I::text', a.campaign_column) END,
            CASE WHEN a.keyword_column IS NULL THEN 'NULL::text' ELSE format('e.%I::text', a.keyword_column) END,
            a.relid);
    END LOOP;
    src := coalesce(nullif(array_to_string(parts, E'\n        UNION ALL'), ''), format($v$
        SELECT NULL::pg_catalog.regclass AS source, NULL::text AS event_ref, NULL::%s AS lead_id,
               NULL::text AS event_type, NULL::timestamptz AS occurred_at, NULL::text AS channel,
               NULL::text AS campaign, NULL::text AS keyword, NULL::text AS owner
         WHERE false$v$, id_type));
    EXECUTE 'CREATE VIEW @extschema@.events AS ' || src;

    parts := ARRAY[]::text[];
    FOR a IN SELECT * FROM @extschema@.attachment WHERE kind = 'deals' ORDER BY relid LOOP
        parts := parts || format($v$
        SELECT %1$L::pg_catalog.regclass AS source, d.%2$I::text AS deal_ref, d.%3$I AS lead_id,
               d.%4$I::numeric AS amount, d.%5$I::text AS status, d.%6$I::timestamptz AS closed_at,
               %7$s AS owner, %8$s AS cost,
               CASE WHEN pg_catalog.lower(pg_catalog.btrim(d.%5$I::text)) OPERATOR(pg_catalog.=) ANY (s.won_statuses)
                         AND d.%6$I IS NOT NULL THEN 'won'
                    WHEN pg_catalog.lower(pg_catalog.btrim(d.%5$I::text)) OPERATOR(pg_catalog.=) ANY (s.lost_statuses)
                         THEN 'lost'
                    ELSE 'open' END AS outcome
          FROM %9$s d CROSS JOIN @extschema@.settings s$v$,
            a.relid::oid, a.id_column, a.lead_column, a.amount_column, a.status_column, a.closed_column,
            CASE WHEN a.owner_column IS NULL THEN 'NULL::text' ELSE format('d.%I::text', a.owner_column) END,
            CASE WHEN a.cost_column IS NULL THEN 'NULL::numeric' ELSE format('d.%I::numeric', a.cost_column) END,
            a.relid);
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

