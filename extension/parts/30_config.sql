-- ---------------------------------------------------------------------------
-- Configuration: settings, event classification, attachments, generated objects.
-- Every configuration table is dumped by pg_dump and tells the backends' caches
-- to rebuild when it changes (config_changed).
-- ---------------------------------------------------------------------------

CREATE TABLE @extschema@.settings (
    singleton              boolean PRIMARY KEY DEFAULT true CONSTRAINT settings_one_row CHECK (singleton),
    disqualify_below       integer,
    score_floor            integer,
    score_ceiling          integer,
    sla                    interval NOT NULL DEFAULT '1 hour'
                           CONSTRAINT settings_sla_positive CHECK (sla > '0'::interval),
    default_phone_country  text,
    won_statuses           text[] NOT NULL DEFAULT '{won,closed won,paid}',
    lost_statuses          text[] NOT NULL DEFAULT '{lost,closed lost,cancelled}',
    attribution_model      text NOT NULL DEFAULT 'linear'
                           CONSTRAINT settings_attribution_model_valid CHECK (attribution_model IN
                               ('first_touch', 'last_touch', 'linear', 'time_decay', 'position_based', 'w_shaped',
                                'full_path', 'markov')),
    attribution_lookback   interval NOT NULL DEFAULT '90 days'
                           CONSTRAINT settings_lookback_not_negative CHECK (attribution_lookback >= '0'::interval),
    attribution_half_life  interval NOT NULL DEFAULT '7 days'
                           CONSTRAINT settings_half_life_positive CHECK (attribution_half_life > '0'::interval),
    fit_grade_bands        integer[] NOT NULL DEFAULT '{60,40,20}',
    engagement_grade_bands integer[] NOT NULL DEFAULT '{60,30,10}',
    CONSTRAINT settings_floor_below_ceiling
        CHECK (score_floor IS NULL OR score_ceiling IS NULL OR score_floor <= score_ceiling),
    CONSTRAINT settings_statuses_lower_case
        CHECK (won_statuses::text = pg_catalog.lower(won_statuses::text)
               AND lost_statuses::text = pg_catalog.lower(lost_statuses::text)),
    -- three non-NULL bounds, descending ('{}' and NULL elements make the comparisons NULL: refused)
    CONSTRAINT settings_grade_bands_descending
        CHECK ((pg_catalog.array_length(fit_grade_bands, 1) = 3 AND fit_grade_bands[1] >= fit_grade_bands[2]
                AND fit_grade_bands[2] >= fit_grade_bands[3]
                AND pg_catalog.array_length(engagement_grade_bands, 1) = 3
                AND engagement_grade_bands[1] >= engagement_grade_bands[2]
                AND engagement_grade_bands[2] >= engagement_grade_bands[3]) IS TRUE)
);
COMMENT ON TABLE @extschema@.settings IS 'The one row of lead_scoring settings; UPDATE it to configure';
INSERT INTO @extschema@.settings DEFAULT VALUES;

-- The settings table always has exactly one row.  An INSERT (such as pg_restore loading a dump
-- into a fresh install, which already has the default row) replaces the row's values.
CREATE FUNCTION @extschema@.settings_keep_one_row() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.singleton IS DISTINCT FROM true THEN
            RAISE EXCEPTION 'lead_scoring.settings has one row, whose singleton column is true'
                USING ERRCODE = 'check_violation', CONSTRAINT = 'settings_one_row';
        END IF;
        IF EXISTS (SELECT FROM @extschema@.settings) THEN
            UPDATE @extschema@.settings
               SET (disqualify_below, score_floor, score_ceiling, sla, default_phone_country, won_statuses,
                    lost_statuses, attribution_model, attribution_lookback, attribution_half_life,
                    fit_grade_bands, engagement_grade_bands)
                 = (NEW.disqualify_below, NEW.score_floor, NEW.score_ceiling, NEW.sla, NEW.default_phone_country,
                    NEW.won_statuses, NEW.lost_statuses, NEW.attribution_model, NEW.attribution_lookback,
                    NEW.attribution_half_life, NEW.fit_grade_bands, NEW.engagement_grade_bands);
            RETURN NULL;
        END IF;
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'lead_scoring.settings must keep its one row'
        USING ERRCODE = 'restrict_violation', HINT = 'UPDATE lead_scoring.settings instead.';
END $$;
CREATE TRIGGER settings_keep_one_row BEFORE INSERT OR DELETE ON @extschema@.settings
    FOR EACH ROW EXECUTE FUNCTION @extschema@.settings_keep_one_row();
CREATE TRIGGER settings_no_truncate BEFORE TRUNCATE ON @extschema@.settings
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.settings_keep_one_row();
CREATE TRIGGER settings_changed AFTER INSERT OR UPDATE OR DELETE ON @extschema@.settings
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.config_changed();
SELECT pg_catalog.pg_extension_config_dump('@extschema@.settings', '');
GRANT SELECT ON @extschema@.settings TO PUBLIC;

-- Which event types are sales' work (calls, meetings, sales e-mails); unlisted types are marketing's.
CREATE TABLE @extschema@.event_type (
    name  text PRIMARY KEY,
    owner text NOT NULL CONSTRAINT event_type_owner_valid CHECK (owner IN ('marketing', 'sales'))
);
COMMENT ON TABLE @extschema@.event_type IS 'Classifies event types as marketing or sales work (default: marketing)';
CREATE TRIGGER event_type_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON @extschema@.event_type
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.config_changed();
SELECT pg_catalog.pg_extension_config_dump('@extschema@.event_type', '');
GRANT SELECT ON @extschema@.event_type TO PUBLIC;

-- Score thresholds that promote leads out of marketing-owned stages.
CREATE TABLE @extschema@.threshold (
    stage     @extschema@.funnel_stage PRIMARY KEY
              CONSTRAINT threshold_stage_valid CHECK (stage OPERATOR(pg_catalog.=) ANY
                  (ARRAY['iql', 'mql', 'sal', 'sql']::@extschema@.funnel_stage[])),
    min_score integer NOT NULL
);
COMMENT ON TABLE @extschema@.threshold IS
    'A lead in new, iql, mql or recycled whose score reaches min_score is promoted to the highest such stage allowed';
CREATE TRIGGER threshold_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON @extschema@.threshold
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.config_changed();
SELECT pg_catalog.pg_extension_config_dump('@extschema@.threshold', '');
GRANT SELECT ON @extschema@.threshold TO PUBLIC;

-- The CRM tables the extension is attached to, with their column mapping.
CREATE TABLE @extschema@.attachment (
    relid          regclass PRIMARY KEY,
    kind           text NOT NULL CONSTRAINT attachment_kind_valid CHECK (kind IN ('leads', 'events', 'deals')),
    id_column      name,            -- leads, deals
    stage_column   name,            -- leads
    score_column   name,            -- leads
    owner_column   name,            -- leads, deals
    created_column name,            -- leads; deals: when the deal was created (its exchange rate while open)
    lead_column    name,            -- events, deals
    type_column    name,            -- events
    time_column    name,            -- events
    channel_column name,            -- events
    campaign_column name,           -- events
    keyword_column name,            -- events
    key_columns    name[],          -- events: the primary key, in key order
    amount_column  name,            -- deals
    status_column  name,            -- deals
    closed_column  name,            -- deals
    cost_column    name,            -- deals
    attached_at    timestamptz NOT NULL DEFAULT pg_catalog.now(),
    time_zone      text,            -- the zone naive timestamp and date columns are written in; NULL: the reader's
    row_filter     text,            -- which rows are CRM rows (checked, schema-qualified SQL); NULL: all
    crm_stage_column name,          -- leads: the CRM's own stage (its pipeline)
    crm_stage_map  jsonb,           -- leads (crm_stage_column), deals (status_column): {"CRM stage": "funnel stage", ...}
    crm_stage_enforce boolean,      -- leads, deals: check the CRM's moves against the transition rules
    owner_label    name,            -- leads, deals: the column shown for the owner, in the table owner_column references
    amount_scale   numeric,         -- deals: amounts are amount_column * amount_scale (Twenty's micros: 0.000001)
    labels         jsonb,           -- leads, events: {"key column": "label column of the row it references"}
    currency_column name,           -- deals: the deal's currency code; amounts converted with currency_rate
    won_filter     text,            -- deals: rows that are won (with a close time), as row_filter SQL
    lost_filter    text,            -- deals: rows that are lost, as row_filter SQL
    deal_filter    text             -- leads attached as their own deals table: the rows that are deals
);
CREATE UNIQUE INDEX attachment_one_leads_table ON @extschema@.attachment (kind) WHERE kind = 'leads';
COMMENT ON TABLE @extschema@.attachment IS 'CRM tables attached with attach_leads, attach_events and attach_deals';
CREATE TRIGGER attachment_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON @extschema@.attachment
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.config_changed();
SELECT pg_catalog.pg_extension_config_dump('@extschema@.attachment', '');
GRANT SELECT ON @extschema@.attachment TO PUBLIC;

-- Dated exchange rates into the one currency the reports are in (doc/crm_schemas.md, "Currencies"):
-- from valid_from on (until the currency's next row), one unit of currency is worth rate units of the
-- reporting currency (whose own rate is 1).  Read by the deals view of a deals table attached with
-- currency_column, at the deal's close time (its created time while open); a deal in a currency
-- without a rate at that time has no amount (NULL: no revenue) until one is added.
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

-- Objects whose column types follow the leads table's id type: created by rebuild_views() in
-- ord order once a leads table is attached.  In a definition, @lead_id_type@ stands for that type.
CREATE TABLE @extschema@.generated_view (
    ord        integer PRIMARY KEY,
    name       text NOT NULL UNIQUE,       -- as DROP needs it: a view name, or a function with its argument types
    kind       text NOT NULL CONSTRAINT generated_view_kind_valid CHECK (kind IN ('view', 'function')),
    definition text NOT NULL
);
COMMENT ON TABLE @extschema@.generated_view IS
    'Definitions of the views and functions that rebuild_views() generates for the attached CRM tables';
