-- lead_scoring 0.1.0 -> 0.2.0.  Every change made to extension/parts/ after 0.1.0 is repeated here,
-- so that ALTER EXTENSION lead_scoring UPDATE leaves a 0.1.0 database with exactly the objects of a
-- fresh 0.2.0 install (test/scripts/upgrade.sh compares the two catalogs).  How generated objects are
-- changed in an upgrade: doc/internals.md, "Upgrades".

\echo Use "ALTER EXTENSION lead_scoring UPDATE TO '0.2.0'" to load this file. \quit

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
