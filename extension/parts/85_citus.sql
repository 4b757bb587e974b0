-- ---------------------------------------------------------------------------
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
