-- ---------------------------------------------------------------------------
-- Dropping what the extension is attached to (doc/security.md, "Dropping tables and the extension").
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
