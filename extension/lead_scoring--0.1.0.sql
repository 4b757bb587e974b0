-- lead_scoring install script, assembled by the Makefile from extension/parts/*.sql.
-- Every reference is schema-qualified (@extschema@ or pg_catalog) so that a hostile
-- search_path cannot redirect anything this script creates.

\echo Use "CREATE EXTENSION lead_scoring" to load this file. \quit

-- ---------------------------------------------------------------------------
-- The funnel_stage type: one byte holding the stage's rank.
-- ---------------------------------------------------------------------------
CREATE TYPE @extschema@.funnel_stage;

CREATE FUNCTION @extschema@.funnel_stage_in(pg_catalog.cstring) RETURNS @extschema@.funnel_stage
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.funnel_stage_out(@extschema@.funnel_stage) RETURNS pg_catalog.cstring
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.funnel_stage_recv(pg_catalog.internal) RETURNS @extschema@.funnel_stage
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.funnel_stage_send(@extschema@.funnel_stage) RETURNS pg_catalog.bytea
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE TYPE @extschema@.funnel_stage (
    INPUT = @extschema@.funnel_stage_in,
    OUTPUT = @extschema@.funnel_stage_out,
    RECEIVE = @extschema@.funnel_stage_recv,
    SEND = @extschema@.funnel_stage_send,
    INTERNALLENGTH = 1,
    PASSEDBYVALUE,
    ALIGNMENT = char,
    STORAGE = plain,
    CATEGORY = 'U'
);
COMMENT ON TYPE @extschema@.funnel_stage IS
    'Stage of the demand funnel: new, iql, mql, sal, sql, opportunity, customer, recycled, disqualified, lost';

-- Comparison by rank.
CREATE FUNCTION @extschema@.funnel_stage_eq(@extschema@.funnel_stage, @extschema@.funnel_stage) RETURNS boolean
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION @extschema@.funnel_stage_ne(@extschema@.funnel_stage, @extschema@.funnel_stage) RETURNS boolean
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION @extschema@.funnel_stage_lt(@extschema@.funnel_stage, @extschema@.funnel_stage) RETURNS boolean
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION @extschema@.funnel_stage_le(@extschema@.funnel_stage, @extschema@.funnel_stage) RETURNS boolean
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION @extschema@.funnel_stage_gt(@extschema@.funnel_stage, @extschema@.funnel_stage) RETURNS boolean
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION @extschema@.funnel_stage_ge(@extschema@.funnel_stage, @extschema@.funnel_stage) RETURNS boolean
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION @extschema@.funnel_stage_cmp(@extschema@.funnel_stage, @extschema@.funnel_stage) RETURNS integer
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION @extschema@.funnel_stage_hash(@extschema@.funnel_stage) RETURNS integer
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION @extschema@.funnel_stage_hash_extended(@extschema@.funnel_stage, bigint) RETURNS bigint
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;

CREATE OPERATOR @extschema@.= (
    LEFTARG = @extschema@.funnel_stage, RIGHTARG = @extschema@.funnel_stage,
    FUNCTION = @extschema@.funnel_stage_eq,
    COMMUTATOR = OPERATOR(@extschema@.=), NEGATOR = OPERATOR(@extschema@.<>),
    RESTRICT = pg_catalog.eqsel, JOIN = pg_catalog.eqjoinsel, HASHES, MERGES
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

CREATE OPERATOR CLASS @extschema@.funnel_stage_ops
    DEFAULT FOR TYPE @extschema@.funnel_stage USING btree AS
        OPERATOR 1 @extschema@.<,
        OPERATOR 2 @extschema@.<=,
        OPERATOR 3 @extschema@.=,
        OPERATOR 4 @extschema@.>=,
        OPERATOR 5 @extschema@.>,
        FUNCTION 1 @extschema@.funnel_stage_cmp(@extschema@.funnel_stage, @extschema@.funnel_stage);

CREATE OPERATOR CLASS @extschema@.funnel_stage_hash_ops
    DEFAULT FOR TYPE @extschema@.funnel_stage USING hash AS
        OPERATOR 1 @extschema@.=,
        FUNCTION 1 @extschema@.funnel_stage_hash(@extschema@.funnel_stage),
        FUNCTION 2 @extschema@.funnel_stage_hash_extended(@extschema@.funnel_stage, bigint);

-- min / max
CREATE FUNCTION @extschema@.funnel_stage_smaller(@extschema@.funnel_stage, @extschema@.funnel_stage)
    RETURNS @extschema@.funnel_stage
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.funnel_stage_larger(@extschema@.funnel_stage, @extschema@.funnel_stage)
    RETURNS @extschema@.funnel_stage
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE AGGREGATE @extschema@.min(@extschema@.funnel_stage) (
    SFUNC = @extschema@.funnel_stage_smaller, STYPE = @extschema@.funnel_stage,
    COMBINEFUNC = @extschema@.funnel_stage_smaller, SORTOP = OPERATOR(@extschema@.<), PARALLEL = SAFE
);
CREATE AGGREGATE @extschema@.max(@extschema@.funnel_stage) (
    SFUNC = @extschema@.funnel_stage_larger, STYPE = @extschema@.funnel_stage,
    COMBINEFUNC = @extschema@.funnel_stage_larger, SORTOP = OPERATOR(@extschema@.>), PARALLEL = SAFE
);

-- Stage properties.
CREATE FUNCTION @extschema@.stage_rank(@extschema@.funnel_stage) RETURNS integer
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
COMMENT ON FUNCTION @extschema@.stage_rank(@extschema@.funnel_stage) IS 'Rank of the stage: 0 (new) to 9 (lost)';
CREATE FUNCTION @extschema@.stage_owner(@extschema@.funnel_stage) RETURNS text
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.stage_owner(@extschema@.funnel_stage) IS
    'Who works a lead in this stage: marketing, sales or closed';
CREATE FUNCTION @extschema@.stage_is_terminal(@extschema@.funnel_stage) RETURNS boolean
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.stage_is_terminal(@extschema@.funnel_stage) IS
    'True for the closed stages customer, disqualified and lost';
CREATE FUNCTION @extschema@.funnel_stages() RETURNS SETOF @extschema@.funnel_stage
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 10;
COMMENT ON FUNCTION @extschema@.funnel_stages() IS 'Every funnel stage in rank order';

-- Casts: text in and out (assignment, so applications may bind stage labels as text
-- or varchar parameters), and the rank as an integer (explicit).
CREATE CAST (@extschema@.funnel_stage AS text) WITH INOUT AS ASSIGNMENT;
CREATE CAST (text AS @extschema@.funnel_stage) WITH INOUT AS ASSIGNMENT;
CREATE CAST (character varying AS @extschema@.funnel_stage) WITH INOUT AS ASSIGNMENT;
CREATE CAST (@extschema@.funnel_stage AS integer)
    WITH FUNCTION @extschema@.stage_rank(@extschema@.funnel_stage);
-- ---------------------------------------------------------------------------
-- Transition rules: the built-in matrix plus lead_scoring.transition_override.
-- ---------------------------------------------------------------------------

-- The time the extension takes as now: the lead_scoring.now setting when set, else now().
CREATE FUNCTION @extschema@.clock() RETURNS timestamptz
    AS 'MODULE_PATHNAME', 'ls_clock' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.clock() IS
    'now(), or the time set in lead_scoring.now (superuser-only; for replaying history and tests)';

-- Statement trigger for configuration tables: invalidates every backend's cache of the table.
CREATE FUNCTION @extschema@.config_changed() RETURNS trigger
    AS 'MODULE_PATHNAME' LANGUAGE C;

CREATE TABLE @extschema@.transition_override (
    from_stage @extschema@.funnel_stage NOT NULL,
    to_stage   @extschema@.funnel_stage NOT NULL,
    allowed    boolean NOT NULL,
    PRIMARY KEY (from_stage, to_stage),
    CONSTRAINT transition_override_not_self CHECK (from_stage OPERATOR(@extschema@.<>) to_stage)
);
COMMENT ON TABLE @extschema@.transition_override IS
    'Edges added to (allowed = true) or removed from (allowed = false) the built-in stage transition rules';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.transition_override', '');
-- configuration is readable by everyone who may use the schema: one transparent rule book
GRANT SELECT ON @extschema@.transition_override TO PUBLIC;
CREATE TRIGGER transition_override_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON @extschema@.transition_override
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.config_changed();

CREATE FUNCTION @extschema@.can_transition(from_stage @extschema@.funnel_stage, to_stage @extschema@.funnel_stage)
    RETURNS boolean
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.can_transition(@extschema@.funnel_stage, @extschema@.funnel_stage) IS
    'Whether a lead may move from one stage to another (built-in rules with transition_override applied)';

-- ---------------------------------------------------------------------------
-- Data quality: email and phone plausibility and normalisation (src/contact.c,
-- rules in doc/data_quality.md).
-- ---------------------------------------------------------------------------

CREATE FUNCTION @extschema@.normalize_email(email text) RETURNS text
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.normalize_email(text) IS
    'The address trimmed and lower-cased, or NULL when it is not a plausible email address '
    '(one @, ASCII dot-atom local part of at most 64 octets, host name with a letter TLD, at most 254 octets)';

CREATE FUNCTION @extschema@.is_valid_email(email text) RETURNS boolean
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.is_valid_email(text) IS
    'Whether normalize_email() accepts the address';

CREATE FUNCTION @extschema@.normalize_phone(phone text, default_country text) RETURNS text
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.normalize_phone(text, text) IS
    'The number in E.164 form (+ and 8-15 digits), or NULL when it cannot be a phone number; numbers without '
    'an international prefix belong to default_country, a calling code (''7'', ''+44'') or an ISO 3166 '
    'alpha-2 code (''RU'', ''GB''); an unknown default_country is an error. Extensions are dropped.';

CREATE FUNCTION @extschema@.normalize_phone(phone text) RETURNS text
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.normalize_phone(text) IS
    'The number in E.164 form (+ and 8-15 digits), or NULL; without a default country only numbers written '
    'with + or 00 are accepted. Extensions are dropped.';

CREATE FUNCTION @extschema@.is_valid_phone(phone text, default_country text) RETURNS boolean
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.is_valid_phone(text, text) IS
    'Whether normalize_phone(phone, default_country) returns a number';

CREATE FUNCTION @extschema@.is_valid_phone(phone text) RETURNS boolean
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.is_valid_phone(text) IS
    'Whether normalize_phone(phone) (no default country) returns a number';

CREATE FUNCTION @extschema@.phone_countries(
        OUT country text, OUT calling_code text, OUT national_prefixes text[],
        OUT international_prefixes text[], OUT min_digits integer, OUT max_digits integer)
    RETURNS SETOF record
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 70;
COMMENT ON FUNCTION @extschema@.phone_countries() IS
    'The ISO 3166 alpha-2 codes accepted as a default phone country, with the numbering rules applied: '
    'national (trunk) prefixes, international prefixes besides 00, and the length of the national number';
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
    CONSTRAINT settings_grade_bands_descending
        CHECK (pg_catalog.array_length(fit_grade_bands, 1) = 3 AND fit_grade_bands[1] >= fit_grade_bands[2]
               AND fit_grade_bands[2] >= fit_grade_bands[3]
               AND pg_catalog.array_length(engagement_grade_bands, 1) = 3
               AND engagement_grade_bands[1] >= engagement_grade_bands[2]
               AND engagement_grade_bands[2] >= engagement_grade_bands[3])
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
              CONSTRAINT threshold_stage_valid CHECK (stage OPERATOR(@extschema@.=) ANY
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
    created_column name,            -- leads
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
    attached_at    timestamptz NOT NULL DEFAULT pg_catalog.now()
);
CREATE UNIQUE INDEX attachment_one_leads_table ON @extschema@.attachment (kind) WHERE kind = 'leads';
COMMENT ON TABLE @extschema@.attachment IS 'CRM tables attached with attach_leads, attach_events and attach_deals';
CREATE TRIGGER attachment_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON @extschema@.attachment
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.config_changed();
SELECT pg_catalog.pg_extension_config_dump('@extschema@.attachment', '');
GRANT SELECT ON @extschema@.attachment TO PUBLIC;

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
    SELECT kind INTO attached_as FROM @extschema@.attachment WHERE relid = tbl;
    IF FOUND THEN
        RAISE EXCEPTION 'table % is already attached as the % table', tbl, attached_as
            USING ERRCODE = 'duplicate_object', HINT = format('Call lead_scoring.detach(%L) first.', tbl::text);
    END IF;
END $$;

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

CREATE FUNCTION @extschema@.attach_events(
    events regclass, lead_column name = 'lead_id', type_column name = 'event_type',
    time_column name = 'occurred_at', channel_column name = NULL, campaign_column name = NULL,
    keyword_column name = NULL) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    id_type regtype := @extschema@.lead_id_type();
    keys name[];
    col name;
    arg text;
BEGIN
    PERFORM @extschema@.check_attachable(events);
    PERFORM @extschema@.check_column_type(events, lead_column, 'lead_column', format_type(id_type, NULL),
        @extschema@.column_type(events, lead_column, 'lead_column') = id_type);
    PERFORM @extschema@.check_column_type(events, type_column, 'type_column', 'a text, varchar or enum type',
        @extschema@.type_is_label(@extschema@.column_type(events, type_column, 'type_column')));
    PERFORM @extschema@.check_column_type(events, time_column, 'time_column', 'timestamptz, timestamp or date',
        @extschema@.type_is_time(@extschema@.column_type(events, time_column, 'time_column')));
    FOR col, arg IN VALUES (channel_column, 'channel_column'), (campaign_column, 'campaign_column'),
                           (keyword_column, 'keyword_column') LOOP
        IF col IS NOT NULL THEN
            PERFORM @extschema@.check_column_type(events, col, arg, 'a text, varchar or enum type',
                @extschema@.type_is_label(@extschema@.column_type(events, col, arg)));
        END IF;
    END LOOP;

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
                                        campaign_column, keyword_column, key_columns)
    VALUES (events, 'events', lead_column, type_column, time_column, channel_column, campaign_column,
            keyword_column, keys);

    -- scoring reads a lead's events by lead: make sure an index leads with the lead column.  The
    -- event type is included, so that rules on the type alone read the index, not the table.
    IF NOT EXISTS (SELECT FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
                    WHERE i.indrelid = events AND a.attname = lead_column) THEN
        EXECUTE format('CREATE INDEX ON %s (%I, %I) INCLUDE (%I)', events, lead_column, time_column, type_column);
        RAISE NOTICE 'created an index on %(%, %) INCLUDE (%) for scoring', events, lead_column, time_column,
                     type_column;
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
    -- events already in the table count from now on
    PERFORM @extschema@.rescore_all();
END $$;

CREATE FUNCTION @extschema@.attach_deals(
    deals regclass, id_column name = 'id', lead_column name = 'lead_id', amount_column name = 'amount',
    status_column name = 'status', closed_column name = 'closed_at', owner_column name = NULL,
    cost_column name = NULL) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    id_type regtype := @extschema@.lead_id_type();
BEGIN
    PERFORM @extschema@.check_attachable(deals);
    PERFORM @extschema@.column_type(deals, id_column, 'id_column');
    PERFORM @extschema@.check_column_type(deals, lead_column, 'lead_column', format_type(id_type, NULL),
        @extschema@.column_type(deals, lead_column, 'lead_column') = id_type);
    PERFORM @extschema@.check_column_type(deals, amount_column, 'amount_column', 'a numeric type',
        @extschema@.type_is_number(@extschema@.column_type(deals, amount_column, 'amount_column')));
    PERFORM @extschema@.check_column_type(deals, status_column, 'status_column', 'a text, varchar or enum type',
        @extschema@.type_is_label(@extschema@.column_type(deals, status_column, 'status_column')));
    PERFORM @extschema@.check_column_type(deals, closed_column, 'closed_column', 'timestamptz, timestamp or date',
        @extschema@.type_is_time(@extschema@.column_type(deals, closed_column, 'closed_column')));
    IF owner_column IS NOT NULL THEN
        PERFORM @extschema@.column_type(deals, owner_column, 'owner_column');
    END IF;
    IF cost_column IS NOT NULL THEN
        PERFORM @extschema@.check_column_type(deals, cost_column, 'cost_column', 'a numeric type',
            @extschema@.type_is_number(@extschema@.column_type(deals, cost_column, 'cost_column')));
    END IF;

    INSERT INTO @extschema@.attachment (relid, kind, id_column, lead_column, amount_column, status_column,
                                        closed_column, owner_column, cost_column)
    VALUES (deals, 'deals', id_column, lead_column, amount_column, status_column, closed_column, owner_column,
            cost_column);
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
END $$;

CREATE FUNCTION @extschema@.detach(tbl regclass) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    a @extschema@.attachment;
    dependents text;
    trg name;
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
    FOR trg IN SELECT tgname FROM pg_trigger
                WHERE tgrelid = tbl AND NOT tgisinternal AND tgname LIKE 'zz\_lead\_scoring\_%' LOOP
        EXECUTE format('DROP TRIGGER %I ON %s', trg, tbl);
    END LOOP;
    DELETE FROM @extschema@.attachment WHERE relid = tbl;
    PERFORM @extschema@.rebuild_views();
    -- the detached table's events no longer count
    IF a.kind = 'events' THEN
        PERFORM @extschema@.rescore_all();
    END IF;
END $$;

-- Drop and recreate the canonical views and every generated object from the current attachments.
CREATE FUNCTION @extschema@.rebuild_views() RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp SET client_min_messages = warning AS $$
DECLARE
    g @extschema@.generated_view;
    a @extschema@.attachment;
    fn regprocedure;
    id_type text;
    parts text[];
    src text;
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
END $$;

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

REVOKE ALL ON FUNCTION @extschema@.attach_leads(regclass, name, name, name, name, name) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.attach_events(regclass, name, name, name, name, name, name) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.attach_deals(regclass, name, name, name, name, name, name, name) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.detach(regclass) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.rebuild_views() FROM PUBLIC;
COMMENT ON FUNCTION @extschema@.attach_leads(regclass, name, name, name, name, name) IS
    'Attach the CRM leads table: adds stage and score columns when missing, scores existing rows';
COMMENT ON FUNCTION @extschema@.attach_events(regclass, name, name, name, name, name, name) IS
    'Attach a CRM events table (ad clicks, visits, opens, calls...): its rows feed scores and attribution';
COMMENT ON FUNCTION @extschema@.attach_deals(regclass, name, name, name, name, name, name, name) IS
    'Attach a CRM deals table: deals move leads to opportunity, customer or lost';
COMMENT ON FUNCTION @extschema@.detach(regclass) IS 'Remove the triggers and the attachment record; keeps all data';
COMMENT ON FUNCTION @extschema@.rebuild_views() IS
    'Recreate the canonical views and generated reports from the current attachments';
-- ---------------------------------------------------------------------------
-- Scoring: the rule table, its validation, the functions behind score/rescore/explain/grade,
-- and the typed wrappers generated for the leads table's id type.
-- ---------------------------------------------------------------------------

CREATE TABLE @extschema@.rule (
    rule_id     serial PRIMARY KEY,
    name        text NOT NULL CONSTRAINT rule_name_unique UNIQUE,
    kind        text NOT NULL CONSTRAINT rule_kind_valid CHECK (kind IN ('fit', 'engagement')),
    event_type  text,            -- engagement: the event type counted, '*' for every type
    column_name text,            -- fit: a column of the leads row; engagement: of the event row (optional)
    op          text,            -- =, <>, <, <=, >, >=, in, contains, prefix, regex, is_null, not_null,
                                 -- valid_email, invalid_email, valid_phone, invalid_phone
    value       text,            -- parsed in the column's type (in: a comma list)
    points      integer NOT NULL,
    max_points  integer CONSTRAINT rule_max_points_not_negative CHECK (max_points >= 0),
    max_hits    integer CONSTRAINT rule_max_hits_positive CHECK (max_hits >= 1),
    half_life   interval CONSTRAINT rule_half_life_positive CHECK (half_life > '0'::interval),
    active      boolean NOT NULL DEFAULT true
);
COMMENT ON TABLE @extschema@.rule IS
    'Scoring rules: fit rules test the lead''s row, engagement rules count its events (see doc/scoring.md)';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.rule', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.rule_rule_id_seq', '');

-- A rule that cannot be evaluated is refused when it is written, with an error naming it.
CREATE FUNCTION @extschema@.rule_validate() RETURNS trigger AS 'MODULE_PATHNAME' LANGUAGE C;
CREATE TRIGGER rule_validate BEFORE INSERT OR UPDATE ON @extschema@.rule
    FOR EACH ROW EXECUTE FUNCTION @extschema@.rule_validate();
-- Every backend's rule cache is rebuilt before its next statement.
CREATE TRIGGER rule_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON @extschema@.rule
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.config_changed();

-- A change of the rules, or of the settings the score depends on, rescores every lead once,
-- when the transaction commits (a deferred constraint trigger), so that stored scores stay exact.
CREATE FUNCTION @extschema@.rules_changed() RETURNS trigger AS 'MODULE_PATHNAME' LANGUAGE C;
CREATE FUNCTION @extschema@.rescore_after_rule_change() RETURNS trigger AS 'MODULE_PATHNAME' LANGUAGE C;
CREATE TRIGGER rule_rescore_requested AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON @extschema@.rule
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.rules_changed();
CREATE CONSTRAINT TRIGGER rule_rescore AFTER INSERT OR UPDATE OR DELETE ON @extschema@.rule
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION @extschema@.rescore_after_rule_change();
CREATE TRIGGER settings_rescore_requested AFTER UPDATE ON @extschema@.settings FOR EACH ROW
    WHEN (OLD.score_floor IS DISTINCT FROM NEW.score_floor OR OLD.score_ceiling IS DISTINCT FROM NEW.score_ceiling
          OR OLD.default_phone_country IS DISTINCT FROM NEW.default_phone_country)
    EXECUTE FUNCTION @extschema@.rules_changed();
CREATE CONSTRAINT TRIGGER settings_rescore AFTER UPDATE ON @extschema@.settings
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (OLD.score_floor IS DISTINCT FROM NEW.score_floor OR OLD.score_ceiling IS DISTINCT FROM NEW.score_ceiling
          OR OLD.default_phone_country IS DISTINCT FROM NEW.default_phone_country)
    EXECUTE FUNCTION @extschema@.rescore_after_rule_change();

-- The C functions behind the typed wrappers.  They take the lead id as anyelement and check that
-- its type is the leads table's id type.
CREATE FUNCTION @extschema@.score_lead(lead anyelement, at timestamptz) RETURNS integer
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL RESTRICTED;
CREATE FUNCTION @extschema@.explain_lead(lead anyelement, at timestamptz)
    RETURNS TABLE (rule text, kind text, hits integer, points double precision)
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL RESTRICTED ROWS 10;
CREATE FUNCTION @extschema@.grade_lead(lead anyelement) RETURNS text
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL RESTRICTED;
CREATE FUNCTION @extschema@.rescore_lead(lead anyelement) RETURNS integer
    AS 'MODULE_PATHNAME' LANGUAGE C VOLATILE STRICT;
CREATE FUNCTION @extschema@.refresh_scores() RETURNS bigint
    AS 'MODULE_PATHNAME', 'rescore_all' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.refresh_scores() IS
    'Advance every lead''s score to now() (decay, events dated in the future); returns the leads rewritten. '
    'Schedule with pg_cron: SELECT cron.schedule(''lead-scoring-refresh'', ''*/15 * * * *'', '
    '''SELECT lead_scoring.refresh_scores()'')';
REVOKE ALL ON FUNCTION @extschema@.rescore_lead(anyelement) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.rescore_all() FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.refresh_scores() FROM PUBLIC;

INSERT INTO @extschema@.generated_view (ord, name, kind, definition) VALUES
(500, 'score', 'function', $def$
CREATE FUNCTION @extschema@.score(lead @lead_id_type@, at timestamptz = @extschema@.clock()) RETURNS integer
LANGUAGE sql STABLE STRICT PARALLEL RESTRICTED SET search_path = pg_catalog, pg_temp
AS $$ SELECT @extschema@.score_lead($1, $2) $$;
COMMENT ON FUNCTION @extschema@.score(@lead_id_type@, timestamptz) IS
    'The lead''s score at a time, recomputed from its row and events (NULL when there is no such lead)'
$def$),
(510, 'rescore', 'function', $def$
CREATE FUNCTION @extschema@.rescore(lead @lead_id_type@) RETURNS integer
LANGUAGE sql VOLATILE STRICT SET search_path = pg_catalog, pg_temp
AS $$ SELECT @extschema@.rescore_lead($1) $$;
COMMENT ON FUNCTION @extschema@.rescore(@lead_id_type@) IS
    'Recompute and store the lead''s score (and stage) now; returns the score, NULL when there is no such lead'
$def$),
(520, 'explain', 'function', $def$
CREATE FUNCTION @extschema@.explain(lead @lead_id_type@, at timestamptz = @extschema@.clock())
RETURNS TABLE (rule text, kind text, hits integer, points double precision)
LANGUAGE sql STABLE STRICT PARALLEL RESTRICTED ROWS 10 SET search_path = pg_catalog, pg_temp
AS $$ SELECT * FROM @extschema@.explain_lead($1, $2) $$;
COMMENT ON FUNCTION @extschema@.explain(@lead_id_type@, timestamptz) IS
    'The rules behind a lead''s score: hits and points per rule, adding up to the score before rounding'
$def$),
(530, 'grade', 'function', $def$
CREATE FUNCTION @extschema@.grade(lead @lead_id_type@) RETURNS text
LANGUAGE sql STABLE STRICT PARALLEL RESTRICTED SET search_path = pg_catalog, pg_temp
AS $$ SELECT @extschema@.grade_lead($1) $$;
COMMENT ON FUNCTION @extschema@.grade(@lead_id_type@) IS
    'Fit band A-D and engagement band 1-4 of the lead (A1 is best); bands in lead_scoring.settings'
$def$);
-- ---------------------------------------------------------------------------
-- The handoff log's reports: handoffs, funnel, stage_durations, handoff_feedback,
-- manager_report and sales_queue.  They read the canonical views (leads, events, deals)
-- and stage_change, whose column types follow the leads table, so they are generated:
-- rebuild_views() creates them, in ord order, after every attach and detach.
--
-- These definitions run only inside rebuild_views(), whose search_path is pinned to
-- pg_catalog, pg_temp: built-in functions and operators resolve to pg_catalog, and the
-- stored views keep the resolved objects.  The extension's own objects, including the
-- funnel_stage operators, are qualified.
-- ---------------------------------------------------------------------------

INSERT INTO @extschema@.generated_view (ord, name, kind, definition) VALUES
-- One row per handoff: a change from a marketing-owned stage (or from nothing, at
-- creation) to a sales-owned stage.  Leads already in a sales stage when attach_leads ran
-- (reason 'attached') have no handoff moment and are left out.
(600, 'handoffs', 'view', $def$
CREATE VIEW @extschema@.handoffs AS
SELECT c.lead_id,
       c.changed_at AS handed_off_at,
       coalesce(c.owner, l.owner) AS owner,
       r.first_response_at,
       r.first_response_at - c.changed_at AS response_time,
       CASE WHEN r.first_response_at IS NOT NULL
            THEN CASE WHEN r.first_response_at - c.changed_at <= s.sla THEN 'met' ELSE 'breached' END
            WHEN @extschema@.clock() - c.changed_at > s.sla THEN 'overdue'
            ELSE 'waiting'
       END AS status,
       c.to_stage AS stage,
       c.changed_at + s.sla AS due_at,
       c.change_id
  FROM @extschema@.stage_change c
 CROSS JOIN @extschema@.settings s
  LEFT JOIN @extschema@.leads l ON l.lead_id = c.lead_id
 CROSS JOIN LATERAL (
       SELECT least(
           (SELECT min(e.occurred_at) FROM @extschema@.events e
             WHERE e.lead_id = c.lead_id AND e.owner = 'sales' AND e.occurred_at >= c.changed_at),
           (SELECT n.changed_at FROM @extschema@.stage_change n
             WHERE n.lead_id = c.lead_id AND (n.changed_at, n.change_id) > (c.changed_at, c.change_id)
             ORDER BY n.changed_at, n.change_id LIMIT 1)) AS first_response_at) r
 WHERE @extschema@.stage_owner(c.to_stage) = 'sales'
   AND (c.from_stage IS NULL OR @extschema@.stage_owner(c.from_stage) = 'marketing')
   AND c.reason <> 'attached'
$def$),

-- One row per stage.  Along the main line (new .. customer) a lead has reached a stage when it
-- was ever in it or in a later main-line stage (skipped stages count as passed); recycled,
-- disqualified and lost count the leads that were ever in them.
(610, 'funnel', 'view', $def$
CREATE VIEW @extschema@.funnel AS
WITH reached AS (
    SELECT c.lead_id, c.to_stage AS stage FROM @extschema@.stage_change c
    UNION
    SELECT l.lead_id, l.stage FROM @extschema@.leads l
), furthest AS (
    SELECT r.lead_id, max(@extschema@.stage_rank(r.stage)) AS rank
      FROM reached r
     WHERE @extschema@.stage_rank(r.stage) <= @extschema@.stage_rank('customer')
     GROUP BY r.lead_id
), current AS (
    SELECT l.stage, count(*) AS leads FROM @extschema@.leads l GROUP BY l.stage
), counts AS (
    SELECT f.stage,
           coalesce((SELECT n.leads FROM current n WHERE n.stage OPERATOR(@extschema@.=) f.stage), 0) AS now_in,
           CASE WHEN @extschema@.stage_rank(f.stage) <= @extschema@.stage_rank('customer')
                THEN (SELECT count(*) FROM furthest u WHERE u.rank >= @extschema@.stage_rank(f.stage))
                ELSE (SELECT count(DISTINCT r.lead_id) FROM reached r WHERE r.stage OPERATOR(@extschema@.=) f.stage)
           END AS ever_reached
      FROM @extschema@.funnel_stages() AS f(stage)
)
SELECT c.stage, c.now_in, c.ever_reached,
       CASE WHEN @extschema@.stage_rank(c.stage) < @extschema@.stage_rank('customer')
            THEN round(lead(c.ever_reached) OVER (ORDER BY @extschema@.stage_rank(c.stage))::numeric
                       / nullif(c.ever_reached, 0), 3)
       END AS conversion_to_next
  FROM counts c
 ORDER BY @extschema@.stage_rank(c.stage)
$def$),

-- Time spent in each stage, one stint per stay: from the change into the stage to the lead's
-- next change.  leads_left counts stays that ended (a lead that left a stage twice counts twice).
-- Times are computed in seconds and shown with whole days split off (justify_hours).
(620, 'stage_durations', 'view', $def$
CREATE VIEW @extschema@.stage_durations AS
WITH stints AS (
    SELECT c.to_stage AS stage,
           extract(epoch FROM lead(c.changed_at) OVER (PARTITION BY c.lead_id ORDER BY c.changed_at, c.change_id)
                              - c.changed_at)::float8 AS seconds
      FROM @extschema@.stage_change c
)
SELECT f.stage,
       count(t.seconds) AS leads_left,
       justify_hours(make_interval(secs => avg(t.seconds))) AS avg_time,
       justify_hours(make_interval(secs => percentile_cont(0.5) WITHIN GROUP (ORDER BY t.seconds))) AS median_time,
       justify_hours(make_interval(secs => percentile_cont(0.9) WITHIN GROUP (ORDER BY t.seconds))) AS p90_time
  FROM @extschema@.funnel_stages() AS f(stage)
  LEFT JOIN stints t ON t.stage OPERATOR(@extschema@.=) f.stage AND t.seconds IS NOT NULL
 GROUP BY f.stage
 ORDER BY @extschema@.stage_rank(f.stage)
$def$),

-- Sales' verdict on marketing's leads, per first-touch channel (the channel of the lead's
-- earliest event that has one; '(none)' without): leads handed off, accepted (reached sql,
-- opportunity or customer), recycled (with the reasons given and how often), won (reached
-- customer or has a won deal).
(630, 'handoff_feedback', 'view', $def$
CREATE VIEW @extschema@.handoff_feedback AS
WITH handed AS (
    SELECT DISTINCT h.lead_id FROM @extschema@.handoffs h
), per_lead AS (
    SELECT h.lead_id,
           coalesce((SELECT e.channel FROM @extschema@.events e
                      WHERE e.lead_id = h.lead_id AND e.channel IS NOT NULL
                      ORDER BY e.occurred_at, e.source, e.event_ref LIMIT 1), '(none)') AS channel,
           EXISTS (SELECT FROM @extschema@.stage_change c
                    WHERE c.lead_id = h.lead_id
                      AND @extschema@.stage_rank(c.to_stage) BETWEEN @extschema@.stage_rank('sql')
                                                                 AND @extschema@.stage_rank('customer')) AS accepted,
           EXISTS (SELECT FROM @extschema@.stage_change c
                    WHERE c.lead_id = h.lead_id AND c.to_stage OPERATOR(@extschema@.=) 'recycled') AS recycled,
           EXISTS (SELECT FROM @extschema@.stage_change c
                    WHERE c.lead_id = h.lead_id AND c.to_stage OPERATOR(@extschema@.=) 'customer')
           OR EXISTS (SELECT FROM @extschema@.deals d WHERE d.lead_id = h.lead_id AND d.outcome = 'won') AS won
      FROM handed h
), reasons AS (
    SELECT p.channel, c.reason, count(*) AS times
      FROM per_lead p
      JOIN @extschema@.stage_change c ON c.lead_id = p.lead_id AND c.to_stage OPERATOR(@extschema@.=) 'recycled'
     GROUP BY p.channel, c.reason
)
SELECT p.channel,
       count(*) AS handed_off,
       count(*) FILTER (WHERE p.accepted) AS accepted,
       count(*) FILTER (WHERE p.recycled) AS recycled,
       (SELECT array_agg(format('%s (%s)', r.reason, r.times) ORDER BY r.times DESC, r.reason)
          FROM reasons r WHERE r.channel = p.channel) AS recycle_reasons,
       count(*) FILTER (WHERE p.won) AS won
  FROM per_lead p
 GROUP BY p.channel
 ORDER BY count(*) DESC, p.channel
$def$),

-- Per owner, for handoffs received and deals closed in [from_time, to_time).
(640, 'manager_report', 'function', $def$
CREATE FUNCTION @extschema@.manager_report(from_time timestamptz, to_time timestamptz)
RETURNS TABLE (owner text, handoffs bigint, median_response interval, sla_met_pct numeric,
               converted bigint, deals_won bigint, win_rate numeric, revenue numeric, avg_deal numeric,
               profit numeric)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $fn$
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
 ORDER BY o.owner NULLS LAST
$fn$
$def$),

-- Handoffs still waiting for sales (waiting or overdue), oldest first, with what sales needs to
-- call with the right offer: score and grade, the first and the last touch (channel, campaign,
-- keyword), and the three rules that weigh most in the score.  After the scoring wrappers (5xx).
(690, 'sales_queue', 'view', $def$
CREATE VIEW @extschema@.sales_queue AS
SELECT h.lead_id, h.handed_off_at, h.owner, h.stage, h.status,
       @extschema@.clock() - h.handed_off_at AS waiting_for, h.due_at,
       l.score, @extschema@.grade(h.lead_id) AS grade,
       ft.channel AS first_channel, ft.campaign AS first_campaign, ft.keyword AS first_keyword,
       lt.channel AS last_channel, lt.campaign AS last_campaign, lt.keyword AS last_keyword,
       ARRAY(SELECT x.rule || ' ' || CASE WHEN x.points > 0 THEN '+' ELSE '' END
                    || trim_scale(round(x.points::numeric, 1))::text
               FROM @extschema@.explain(h.lead_id, @extschema@.clock()) AS x
              WHERE x.points <> 0
              ORDER BY abs(x.points) DESC, x.rule
              LIMIT 3) AS top_reasons
  FROM @extschema@.handoffs h
  LEFT JOIN @extschema@.leads l ON l.lead_id = h.lead_id
  LEFT JOIN LATERAL (SELECT e.channel, e.campaign, e.keyword FROM @extschema@.events e
                      WHERE e.lead_id = h.lead_id AND e.channel IS NOT NULL
                      ORDER BY e.occurred_at, e.source, e.event_ref LIMIT 1) ft ON true
  LEFT JOIN LATERAL (SELECT e.channel, e.campaign, e.keyword FROM @extschema@.events e
                      WHERE e.lead_id = h.lead_id AND e.channel IS NOT NULL
                      ORDER BY e.occurred_at DESC, e.source DESC, e.event_ref DESC LIMIT 1) lt ON true
 WHERE h.status IN ('waiting', 'overdue')
 ORDER BY h.handed_off_at, h.lead_id
$def$);
-- ---------------------------------------------------------------------------
-- Marketing cost and multi-touch attribution (SPEC §5, §6).
-- The weight math, the Markov chain and the lead-by-lead pass are C
-- (src/attribution.c, src/markov.c); doc/attribution.md defines every model.
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
        lookback pg_catalog.interval DEFAULT NULL, half_life pg_catalog.interval DEFAULT NULL)
    RETURNS TABLE (conversion_id pg_catalog.text, lead_id @lead_id_type@,
                   converted_at pg_catalog.timestamptz, value pg_catalog.numeric,
                   event_ref pg_catalog.text, channel pg_catalog.text, campaign pg_catalog.text,
                   keyword pg_catalog.text, touched_at pg_catalog.timestamptz,
                   weight double precision, credit pg_catalog.numeric)
    AS 'MODULE_PATHNAME', 'attribution_rows' LANGUAGE C STABLE PARALLEL RESTRICTED ROWS 10000
$def$),
(710, 'channel_report', 'function', $def$
CREATE FUNCTION @extschema@.channel_report(
        model pg_catalog.text DEFAULT NULL, "from" pg_catalog.date DEFAULT NULL,
        "to" pg_catalog.date DEFAULT NULL, level pg_catalog.text DEFAULT 'channel')
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
    SELECT 'lead' AS k, r.* FROM p, LATERAL @extschema@.attribution_rows('first_touch', 'lead', NULL, NULL, p.lo, p.hi)
        AS r(channel text, campaign text, keyword text, weight double precision, credit numeric, cost numeric)
    UNION ALL
    SELECT 'mql', r.* FROM p, LATERAL @extschema@.attribution_rows($1, 'mql', NULL, NULL, p.lo, p.hi)
        AS r(channel text, campaign text, keyword text, weight double precision, credit numeric, cost numeric)
    UNION ALL
    SELECT 'sal', r.* FROM p, LATERAL @extschema@.attribution_rows($1, 'sal', NULL, NULL, p.lo, p.hi)
        AS r(channel text, campaign text, keyword text, weight double precision, credit numeric, cost numeric)
    UNION ALL
    SELECT 'customer', r.* FROM p, LATERAL @extschema@.attribution_rows($1, 'customer', NULL, NULL, p.lo, p.hi)
        AS r(channel text, campaign text, keyword text, weight double precision, credit numeric, cost numeric)
    UNION ALL
    SELECT 'deal', r.* FROM p, LATERAL @extschema@.attribution_rows($1, 'deal', NULL, NULL, p.lo, p.hi)
        AS r(channel text, campaign text, keyword text, weight double precision, credit numeric, cost numeric)
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
           CASE WHEN c.k OPERATOR(pg_catalog.=) 'deal' THEN c.weight END,
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
$def$),
(720, 'channels', 'view', $def$
CREATE VIEW @extschema@.channels AS
SELECT r.* FROM @extschema@.channel_report(NULL, @extschema@.clock()::pg_catalog.date OPERATOR(pg_catalog.-) 29,
                                           @extschema@.clock()::pg_catalog.date, 'channel') AS r
$def$);
