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

-- A change of the rules, or of the settings the score depends on, rescores nothing at commit:
-- each lead is rescored at its next write or by the next refresh (doc/scoring.md, "Rule changes:
-- rescored online").

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
    AS 'MODULE_PATHNAME', 'refresh_scores' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.refresh_scores() IS
    'Advance every lead''s score to now() from its engagement state, in batches; returns the leads rewritten. '
    'Called on its own (not in a transaction block, nothing written before), a background worker runs the '
    'batches and commits after each; in a transaction block, after writes, or with no free worker slot, '
    'they run in this transaction and their row locks last until it commits';
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
REVOKE ALL ON FUNCTION @extschema@.rescore_lead(anyelement) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.rescore_all() FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.refresh_scores() FROM PUBLIC;
REVOKE ALL ON PROCEDURE @extschema@.refresh_online(integer) FROM PUBLIC;

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
