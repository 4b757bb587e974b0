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

-- The comparison operators and min/max live in pg_catalog, where every session finds them
-- whatever its search_path (an analyst's default "$user", public included), and where a schema
-- placed before them by a hostile search_path cannot shadow them unless pg_catalog is named after
-- it.  They are the members of the operator classes below, so a bare `stage = 'mql'` uses indexes,
-- hash joins and merge joins.  doc/funnel.md, "Where the operators live", has the decision.
CREATE OPERATOR pg_catalog.= (
    LEFTARG = @extschema@.funnel_stage, RIGHTARG = @extschema@.funnel_stage,
    FUNCTION = @extschema@.funnel_stage_eq,
    COMMUTATOR = OPERATOR(pg_catalog.=), NEGATOR = OPERATOR(pg_catalog.<>),
    RESTRICT = pg_catalog.eqsel, JOIN = pg_catalog.eqjoinsel, HASHES, MERGES
);
CREATE OPERATOR pg_catalog.<> (
    LEFTARG = @extschema@.funnel_stage, RIGHTARG = @extschema@.funnel_stage,
    FUNCTION = @extschema@.funnel_stage_ne,
    COMMUTATOR = OPERATOR(pg_catalog.<>), NEGATOR = OPERATOR(pg_catalog.=),
    RESTRICT = pg_catalog.neqsel, JOIN = pg_catalog.neqjoinsel
);
CREATE OPERATOR pg_catalog.< (
    LEFTARG = @extschema@.funnel_stage, RIGHTARG = @extschema@.funnel_stage,
    FUNCTION = @extschema@.funnel_stage_lt,
    COMMUTATOR = OPERATOR(pg_catalog.>), NEGATOR = OPERATOR(pg_catalog.>=),
    RESTRICT = pg_catalog.scalarltsel, JOIN = pg_catalog.scalarltjoinsel
);
CREATE OPERATOR pg_catalog.<= (
    LEFTARG = @extschema@.funnel_stage, RIGHTARG = @extschema@.funnel_stage,
    FUNCTION = @extschema@.funnel_stage_le,
    COMMUTATOR = OPERATOR(pg_catalog.>=), NEGATOR = OPERATOR(pg_catalog.>),
    RESTRICT = pg_catalog.scalarlesel, JOIN = pg_catalog.scalarlejoinsel
);
CREATE OPERATOR pg_catalog.> (
    LEFTARG = @extschema@.funnel_stage, RIGHTARG = @extschema@.funnel_stage,
    FUNCTION = @extschema@.funnel_stage_gt,
    COMMUTATOR = OPERATOR(pg_catalog.<), NEGATOR = OPERATOR(pg_catalog.<=),
    RESTRICT = pg_catalog.scalargtsel, JOIN = pg_catalog.scalargtjoinsel
);
CREATE OPERATOR pg_catalog.>= (
    LEFTARG = @extschema@.funnel_stage, RIGHTARG = @extschema@.funnel_stage,
    FUNCTION = @extschema@.funnel_stage_ge,
    COMMUTATOR = OPERATOR(pg_catalog.<=), NEGATOR = OPERATOR(pg_catalog.<),
    RESTRICT = pg_catalog.scalargesel, JOIN = pg_catalog.scalargejoinsel
);

CREATE OPERATOR CLASS @extschema@.funnel_stage_ops
    DEFAULT FOR TYPE @extschema@.funnel_stage USING btree AS
        OPERATOR 1 pg_catalog.<,
        OPERATOR 2 pg_catalog.<=,
        OPERATOR 3 pg_catalog.=,
        OPERATOR 4 pg_catalog.>=,
        OPERATOR 5 pg_catalog.>,
        FUNCTION 1 @extschema@.funnel_stage_cmp(@extschema@.funnel_stage, @extschema@.funnel_stage);

CREATE OPERATOR CLASS @extschema@.funnel_stage_hash_ops
    DEFAULT FOR TYPE @extschema@.funnel_stage USING hash AS
        OPERATOR 1 pg_catalog.=,
        FUNCTION 1 @extschema@.funnel_stage_hash(@extschema@.funnel_stage),
        FUNCTION 2 @extschema@.funnel_stage_hash_extended(@extschema@.funnel_stage, bigint);

-- min / max
CREATE FUNCTION @extschema@.funnel_stage_smaller(@extschema@.funnel_stage, @extschema@.funnel_stage)
    RETURNS @extschema@.funnel_stage
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.funnel_stage_larger(@extschema@.funnel_stage, @extschema@.funnel_stage)
    RETURNS @extschema@.funnel_stage
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE AGGREGATE pg_catalog.min(@extschema@.funnel_stage) (
    SFUNC = @extschema@.funnel_stage_smaller, STYPE = @extschema@.funnel_stage,
    COMBINEFUNC = @extschema@.funnel_stage_smaller, SORTOP = OPERATOR(pg_catalog.<), PARALLEL = SAFE
);
CREATE AGGREGATE pg_catalog.max(@extschema@.funnel_stage) (
    SFUNC = @extschema@.funnel_stage_larger, STYPE = @extschema@.funnel_stage,
    COMBINEFUNC = @extschema@.funnel_stage_larger, SORTOP = OPERATOR(pg_catalog.>), PARALLEL = SAFE
);

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
