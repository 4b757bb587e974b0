-- lead_scoring 0.1.0 -> 0.2.0.  Every change made to extension/parts/ after 0.1.0 is repeated here,
-- so that ALTER EXTENSION lead_scoring UPDATE leaves a 0.1.0 database with exactly the objects of a
-- fresh 0.2.0 install (test/scripts/upgrade.sh compares the two catalogs).  How generated objects are
-- changed in an upgrade: doc/internals.md, "Upgrades".

\echo Use "ALTER EXTENSION lead_scoring UPDATE TO '0.2.0'" to load this file. \quit

-- ---------------------------------------------------------------------------
-- Issue 10 item 11: funnel_stage's operators and min/max work in a default session.
-- The operators (the operator classes' members, so indexes and hash/merge joins keep working)
-- and the aggregates move to pg_catalog; the 0.1.0 names stay as aliases in @extschema@.
-- ---------------------------------------------------------------------------
ALTER OPERATOR @extschema@.= (@extschema@.funnel_stage, @extschema@.funnel_stage) SET SCHEMA pg_catalog;
ALTER OPERATOR @extschema@.<> (@extschema@.funnel_stage, @extschema@.funnel_stage) SET SCHEMA pg_catalog;
ALTER OPERATOR @extschema@.< (@extschema@.funnel_stage, @extschema@.funnel_stage) SET SCHEMA pg_catalog;
ALTER OPERATOR @extschema@.<= (@extschema@.funnel_stage, @extschema@.funnel_stage) SET SCHEMA pg_catalog;
ALTER OPERATOR @extschema@.> (@extschema@.funnel_stage, @extschema@.funnel_stage) SET SCHEMA pg_catalog;
ALTER OPERATOR @extschema@.>= (@extschema@.funnel_stage, @extschema@.funnel_stage) SET SCHEMA pg_catalog;
ALTER AGGREGATE @extschema@.min(@extschema@.funnel_stage) SET SCHEMA pg_catalog;
ALTER AGGREGATE @extschema@.max(@extschema@.funnel_stage) SET SCHEMA pg_catalog;
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

-- generated views built by 0.1.0 name the moved operators; regenerate them as a fresh install would
SELECT @extschema@.rebuild_views();
