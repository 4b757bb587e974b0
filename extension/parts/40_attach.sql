-- ---------------------------------------------------------------------------
-- Attaching CRM tables: validation, triggers, and the generated objects.
-- DDL glue in PL/pgSQL; every identifier goes through format('%I') or regclass output.
-- ---------------------------------------------------------------------------

-- Trigger functions (C).  They check how they were called and refuse to run anywhere else.
CREATE FUNCTION @extschema@.leads_before() RETURNS trigger AS 'MODULE_PATHNAME' LANGUAGE C;
CREATE FUNCTION @extschema@.leads_after() RETURNS trigger AS 'MODULE_PATHNAME' LANGUAGE C;
CREATE FUNCTION @extschema@.events_changed() RETURNS trigger AS 'MODULE_PATHNAME' LANGUAGE C;
CREATE FUNCTION @extschema@.deals_changed() RETURNS trigger AS 'MODULE_PATHNAME' LANGUAGE C;

CREATE FUNCTION @extschema@.rescore_all() RETURNS bigint AS 'MODULE_PATHNAME' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.rescore_all() IS
    'Recompute every lead''s score (and stage) now and store those that changed; returns how many';

-- The type of a column, or a precise error naming the table, the column and the argument.
CREATE FUNCTION @extschema@.column_type(tbl regclass, col name, argument text) RETURNS regtype
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    t regtype;
BEGIN
    IF col IS NULL THEN
        RAISE EXCEPTION '% must not be NULL', argument USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT a.atttypid INTO t FROM pg_attribute a
     WHERE a.attrelid = tbl AND a.attname = col AND a.attnum > 0 AND NOT a.attisdropped;
    IF t IS NULL THEN
        RAISE EXCEPTION 'column "%" of table % does not exist', col, tbl
            USING ERRCODE = 'undefined_column',
                  HINT = format('Name the column with %s => ''...''.', argument);
    END IF;
    RETURN t;
END $$;

-- Raise a precise error unless the column's type is acceptable.
CREATE FUNCTION @extschema@.check_column_type(tbl regclass, col name, argument text, expected text,
                                              ok boolean) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF NOT ok THEN
        RAISE EXCEPTION 'column "%" of table % has type %, expected %', col, tbl,
                        format_type(@extschema@.column_type(tbl, col, argument), NULL), expected
            USING ERRCODE = 'datatype_mismatch',
                  HINT = format('Pass another column as %s, or change the column''s type.', argument);
    END IF;
END $$;

-- Type categories accepted for the mapped columns.
CREATE FUNCTION @extschema@.type_is_time(t regtype) RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE SET search_path = pg_catalog, pg_temp
AS $$ SELECT t IN ('timestamptz'::regtype, 'timestamp'::regtype, 'date'::regtype) $$;
CREATE FUNCTION @extschema@.type_is_label(t regtype) RETURNS boolean
LANGUAGE sql STABLE STRICT PARALLEL SAFE SET search_path = pg_catalog, pg_temp
AS $$ SELECT typcategory IN ('S', 'E') FROM pg_type WHERE oid = t $$;
CREATE FUNCTION @extschema@.type_is_number(t regtype) RETURNS boolean
LANGUAGE sql STABLE STRICT PARALLEL SAFE SET search_path = pg_catalog, pg_temp
AS $$ SELECT typcategory = 'N' AND t <> 'oid'::regtype FROM pg_type WHERE oid = t $$;

-- SQL reading a time column as an instant: naive timestamps and dates in the attachment's zone
-- (doc/crm_schemas.md, "Time zones"); the C readers convert the same way (src/crm_time.c).
CREATE FUNCTION @extschema@.column_time_sql(expr text, t regtype, zone text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
    SELECT CASE WHEN t = 'timestamptz'::regtype THEN expr
                WHEN zone IS NULL THEN expr || '::pg_catalog.timestamptz'
                WHEN t = 'timestamp'::regtype THEN format('pg_catalog.timezone(%L, %s)', zone, expr)
                ELSE format('pg_catalog.timezone(%L, %s::pg_catalog.timestamp)', zone, expr) END
$$;

-- attach's row_filter checked and written as schema-qualified SQL, columns prefixed with alias when given
-- (doc/crm_schemas.md, "Row filters").
CREATE FUNCTION @extschema@.row_filter_sql(tbl regclass, filter text, alias text DEFAULT NULL) RETURNS text
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE;

-- Where a calendar day of a report period starts: midnight in the zone declared for the leads
-- table's naive columns, else in the session's TimeZone (doc/crm_schemas.md, "Time zones").
CREATE FUNCTION @extschema@.day_start(d date) RETURNS timestamptz
LANGUAGE sql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
    SELECT CASE WHEN z.time_zone IS NULL THEN d::timestamptz ELSE timezone(z.time_zone, d::timestamp) END
      FROM (SELECT (SELECT a.time_zone FROM @extschema@.attachment a WHERE a.kind = 'leads') AS time_zone) z
$$;
COMMENT ON FUNCTION @extschema@.day_start(date) IS
    'Start of a calendar day of a report period: midnight in the leads table''s declared time zone, else the session''s';

-- Validate attach's time_zone against the columns it applies to.  A naive column without a
-- declared zone is read in each reader's TimeZone (0.1.0's behaviour): say so.
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

-- What attaching finds is the CRM's past: rescore every lead with the changes logged as reason
-- 'attached' (no handoff, no NOTIFY; doc/crm_schemas.md, "Attaching a CRM with history").
-- A promotion is dated by the lead's last event before now (the events that earned the score), never
-- before the lead's earlier log rows.
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

-- The relation must be a table (plain or partitioned) that is not attached yet.
CREATE FUNCTION @extschema@.check_attachable(tbl regclass) RETURNS void
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

-- A lead id column must compare the way the extension compares lead ids: byte-wise equal text is the
-- same lead.  A nondeterministic collation (case- or accent-insensitive) makes 'abc' = 'ABC' in the
-- table's own queries but not in the extension's, so such columns are refused (doc/scoring.md,
-- "Lead ids").  NULL when the column is acceptable, else the error's message.
CREATE FUNCTION @extschema@.lead_id_collation_problem(tbl regclass, col name) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT format('column "%s" of table %s has the nondeterministic collation %s', col, tbl,
                  c.oid::regcollation)
      FROM pg_attribute a JOIN pg_collation c ON c.oid = a.attcollation
     WHERE a.attrelid = tbl AND a.attname = col AND NOT c.collisdeterministic
$$;

-- The leads table's id must identify one row: NOT NULL and the only key column of a unique btree
-- index with the type's default operator class (a primary key or a unique constraint), valid, not
-- partial, not deferrable (doc/scoring.md, "Lead ids").  NULL when it does, else the error's message.
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

-- Raise the error for a lead id column that the two checks above refuse.
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

-- DDL that would take an attached table's lead ids out of what attaching requires (dropping the
-- leads table's primary key or unique index, DROP NOT NULL, a nondeterministic collation) is refused
-- when the command ends: it rolls back (doc/scoring.md, "Lead ids").
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
REVOKE ALL ON FUNCTION @extschema@.check_lead_ids_after_ddl() FROM PUBLIC;
CREATE EVENT TRIGGER lead_scoring_lead_ids ON ddl_command_end
    WHEN TAG IN ('ALTER TABLE', 'DROP INDEX', 'ALTER INDEX')
    EXECUTE FUNCTION @extschema@.check_lead_ids_after_ddl();

-- The leads table's id type, or an error when no leads table is attached.
CREATE FUNCTION @extschema@.lead_id_type() RETURNS regtype
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    a @extschema@.attachment;
BEGIN
    SELECT * INTO a FROM @extschema@.attachment WHERE kind = 'leads';
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no leads table is attached'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Call lead_scoring.attach_leads(''your_leads_table'') first.';
    END IF;
    RETURN @extschema@.column_type(a.relid, a.id_column, 'id_column');
END $$;

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

-- The CHECK constraint lead_scoring_event_type_length (type at most 2000 bytes) on an events table
-- whose covering index the extension created; enum types need none (labels have at most 63 bytes).
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
REVOKE ALL ON FUNCTION @extschema@.bound_event_type_length(regclass, name) FROM PUBLIC;

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
-- rate in currency_rate at their date (their amount is NULL, no revenue, until one is added:
-- doc/crm_schemas.md, "Currencies") — a currency without any rate, or a deal dated before the first
-- rate of its currency.  Reads the deals view, so it agrees with the reports.  Also callable after
-- changing the rates.
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

-- SQL for the label of a key column (attach's owner_label, labels): the label of the row its
-- single-column foreign key references, e.g. Odoo's user_id -> res_users.login, or through a path of
-- foreign keys user_id -> res_users.partner_id -> res_partner.name (doc/crm_schemas.md, "Labels").
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
CREATE FUNCTION @extschema@.label_expr_sql(ref regclass, label text, alias text) RETURNS text
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

-- SQL for a UTM column (channel, campaign, keyword): its text, trimmed, empty as NULL; through its foreign
-- key's label when attach's labels name one ({"source_id": "name"}: Odoo's utm_source).
CREATE FUNCTION @extschema@.utm_sql(tbl regclass, col name, labels jsonb, alias text) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT CASE WHEN col IS NULL THEN 'NULL::text'
                WHEN labels ? col THEN format('NULLIF(pg_catalog.btrim(%s), '''')',
                                              @extschema@.fk_label_sql(tbl, col, (labels ->> col)::name, alias))
                ELSE format('NULLIF(pg_catalog.btrim(%s.%I::text), '''')', alias, col) END
$$;

-- Check the channel, campaign and keyword columns of an attach call: a label type, or a key with a label.
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

-- Set leads (ids as text) to stages found at attach, as the leads table's owner (src/crm_backfill.c).
CREATE FUNCTION @extschema@.backfill_stages(ids text[], stages text[]) RETURNS bigint
    AS 'MODULE_PATHNAME' LANGUAGE C VOLATILE;
REVOKE ALL ON FUNCTION @extschema@.backfill_stages(text[], text[]) FROM PUBLIC;

-- attach_leads' crm_stage_map: keys must be values of the CRM's stage column, values funnel stages.
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

-- A leads table attached with a crm_stage_map: every lead takes the funnel stage of its CRM stage,
-- where the transition rules allow, logged as 'attached' (the CRM's past).
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

-- The deals already in a table attached now move their leads as they would have: won -> customer,
-- open -> opportunity, only lost -> lost, or the funnel stage attach_deals' stage_map gives the deal's
-- own stage; a lead with several deals takes the furthest (customer first, lost only when every deal
-- is lost: src/deals.c ranks them the same way), where the transition rules allow; logged with reason
-- 'attached' (no handoff, no NOTIFY) and dated by the deal's close time where it has one.
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

CREATE FUNCTION @extschema@.detach(tbl regclass) RETURNS void
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

-- The CRM's own migrations on attached tables (doc/crm_schemas.md, "The CRM's migrations"): renamed
-- columns are followed (mapping, rules, row filter), a column replaced under its old name is taken
-- over, and a DROP COLUMN of a column the extension reads is refused before it runs.
CREATE FUNCTION @extschema@.follow_ddl_start() RETURNS event_trigger AS 'MODULE_PATHNAME' LANGUAGE C;
CREATE FUNCTION @extschema@.follow_ddl_end() RETURNS event_trigger AS 'MODULE_PATHNAME' LANGUAGE C;
CREATE EVENT TRIGGER lead_scoring_follow_ddl_start ON ddl_command_start WHEN TAG IN ('ALTER TABLE')
    EXECUTE FUNCTION @extschema@.follow_ddl_start();
CREATE EVENT TRIGGER lead_scoring_follow_ddl_end ON ddl_command_end WHEN TAG IN ('ALTER TABLE')
    EXECUTE FUNCTION @extschema@.follow_ddl_end();

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
CREATE FUNCTION @extschema@.rebuild_views() RETURNS void
LANGUAGE sql SET search_path = pg_catalog, pg_temp AS $$
    SELECT @extschema@.create_views(@extschema@.release_views())
$$;

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

-- The generated views and functions that exist now, with their owners and privileges.
CREATE FUNCTION @extschema@.generated_objects(OUT objtype text, OUT name text, OUT owner oid, OUT acl aclitem[])
RETURNS SETOF record
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT 'TABLE', c.relname::text, c.relowner, c.relacl
      FROM pg_class c
     WHERE c.relnamespace = '@extschema@'::regnamespace AND c.relkind = 'v'
       AND (c.relname IN ('leads', 'events', 'deals')
            OR c.relname IN (SELECT g.name FROM @extschema@.generated_view g WHERE g.kind = 'view'))
    UNION ALL
    SELECT 'FUNCTION', p.proname::text, p.proowner, p.proacl
      FROM pg_proc p
     WHERE p.pronamespace = '@extschema@'::regnamespace
       AND p.proname IN (SELECT g.name FROM @extschema@.generated_view g WHERE g.kind = 'function')
       AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid
                          AND d.deptype = 'e')
$$;

REVOKE ALL ON FUNCTION @extschema@.attach_leads(regclass, name, name, name, name, name, text, text, name, jsonb, boolean, name, name, name, name, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.attach_events(regclass, name, name, name, name, name, name, text, text, boolean, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.attach_deals(regclass, name, name, name, name, name, name, name, text, text, name, numeric, jsonb, boolean, name, text, text, name) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.detach(regclass) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.detach_deals(regclass) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.rebuild_views() FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.check_currency_rates(regclass) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.release_views() FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.create_views(text[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.sync_label_triggers() FROM PUBLIC;
COMMENT ON FUNCTION @extschema@.attach_leads(regclass, name, name, name, name, name, text, text, name, jsonb, boolean, name, name, name, name, jsonb) IS
    'Attach the CRM leads table: adds stage and score columns when missing, scores existing rows';
COMMENT ON FUNCTION @extschema@.attach_events(regclass, name, name, name, name, name, name, text, text, boolean, jsonb) IS
    'Attach a CRM events table (ad clicks, visits, opens, calls...): its rows feed scores and attribution';
COMMENT ON FUNCTION @extschema@.attach_deals(regclass, name, name, name, name, name, name, name, text, text, name, numeric, jsonb, boolean, name, text, text, name) IS
    'Attach a CRM deals table: deals move leads to opportunity, customer or lost';
COMMENT ON FUNCTION @extschema@.detach(regclass) IS 'Remove the triggers and the attachment record; keeps all data';
COMMENT ON FUNCTION @extschema@.detach_deals(regclass) IS
    'Detach a deals table, or the deals part of a leads table attached as its own deals table; keeps all data';
COMMENT ON FUNCTION @extschema@.rebuild_views() IS
    'Recreate the canonical views and generated reports from the current attachments';
