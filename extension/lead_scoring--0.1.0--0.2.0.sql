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

CREATE OR REPLACE FUNCTION @extschema@.attach_leads(
    leads regclass, id_column name = 'id', stage_column name = 'stage', score_column name = 'score',
    owner_column name = NULL, created_column name = NULL) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    id_type regtype;
    other regclass;
    log_type regtype;
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
    IF owner_column IS NOT NULL THEN
        PERFORM @extschema@.column_type(leads, owner_column, 'owner_column');
    END IF;
    IF created_column IS NOT NULL THEN
        PERFORM @extschema@.check_column_type(leads, created_column, 'created_column',
            'timestamptz, timestamp or date',
            @extschema@.type_is_time(@extschema@.column_type(leads, created_column, 'created_column')));
    END IF;

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
                                        created_column)
    VALUES (leads, 'leads', id_column, stage_column, score_column, owner_column, created_column);

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
    EXECUTE format($ins$
        INSERT INTO @extschema@.stage_change (lead_id, from_stage, to_stage, changed_at, score, actor, reason, owner)
        SELECT l.%1$I, NULL, l.%2$I, %3$s, l.%4$I, session_user, 'attached', %5$s
          FROM %6$s l
         WHERE NOT EXISTS (SELECT FROM @extschema@.stage_change c WHERE c.lead_id OPERATOR(pg_catalog.=) l.%1$I)
         ORDER BY l.%1$I$ins$,
        id_column, stage_column,
        CASE WHEN created_column IS NULL THEN '@extschema@.clock()'
             ELSE format('coalesce(l.%I::timestamptz, @extschema@.clock())', created_column) END,
        score_column,
        CASE WHEN owner_column IS NULL THEN 'NULL' ELSE format('l.%I::text', owner_column) END,
        leads);

    EXECUTE format('CREATE TRIGGER zz_lead_scoring_score BEFORE INSERT OR UPDATE ON %s '
                   'FOR EACH ROW EXECUTE FUNCTION @extschema@.leads_before()', leads);
    EXECUTE format('CREATE TRIGGER zz_lead_scoring_log_insert AFTER INSERT ON %s '
                   'FOR EACH ROW EXECUTE FUNCTION @extschema@.leads_after()', leads);
    EXECUTE format('CREATE TRIGGER zz_lead_scoring_log_update AFTER UPDATE ON %s FOR EACH ROW '
                   'WHEN (OLD.%I OPERATOR(@extschema@.<>) NEW.%I) EXECUTE FUNCTION @extschema@.leads_after()',
                   leads, stage_column, stage_column);
    PERFORM @extschema@.rebuild_views();
    -- ... and are scored now
    PERFORM @extschema@.rescore_all();
END $$;

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
