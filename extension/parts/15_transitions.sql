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
    CONSTRAINT transition_override_not_self CHECK (from_stage OPERATOR(pg_catalog.<>) to_stage)
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
