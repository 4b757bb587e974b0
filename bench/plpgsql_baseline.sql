-- bench/plpgsql_baseline.sql — lead scoring written in PL/pgSQL, as a careful user would write it
-- without lead_scoring, for the tables b_pl.leads and b_pl.events of bench/schema.sql.
--
-- Same semantics as lead_scoring (doc/scoring.md, "The score"): rules as rows (fit predicates on the lead row, engagement
-- rules matching events by type and optionally a predicate on an event column), per-event decay by
-- half-life, max_hits counting the first events by (time, id), max_points capping a rule's total
-- after decay, score = clamp(round(fit + engagement), floor, ceiling) rounding half away from zero,
-- promotion of marketing-owned stages to the highest threshold stage allowed, disqualification of
-- new leads below disqualify_below, a stage-change log and a NOTIFY on handoffs.
--
-- What a careful user does: keeps the fit part in a column maintained by a lead trigger that fires
-- only when a fit column changes; recomputes the engagement of the touched leads with one set-based
-- query over their events (index on events (lead_id, occurred_at)); locks the touched leads in id
-- order first, so that concurrent inserts cannot lose an event or deadlock; writes a lead only when
-- its score or stage changes.  Two event triggers are provided; bench/run.sh enables one at a time:
--   events_score_row   FOR EACH ROW (the obvious way),
--   events_score_stmt  FOR EACH STATEMENT with a transition table (one rescore per statement).
\set ON_ERROR_STOP 1
SET client_min_messages = warning;

CREATE TABLE b_pl.rule (
    rule_id      serial PRIMARY KEY,
    name         text NOT NULL UNIQUE,
    kind         text NOT NULL CHECK (kind IN ('fit', 'engagement')),
    event_type   text,
    column_name  text,
    op           text,
    value        text,
    points       integer NOT NULL,
    max_points   integer,
    max_hits     integer CHECK (max_hits > 0),
    half_life    interval,
    active       boolean NOT NULL DEFAULT true
);

CREATE TABLE b_pl.threshold (
    stage      b_pl.stage PRIMARY KEY,
    min_score  integer NOT NULL
);

CREATE TABLE b_pl.settings (
    disqualify_below  integer,
    score_floor       integer,
    score_ceiling     integer
);
INSERT INTO b_pl.settings VALUES (NULL, NULL, NULL);

CREATE TABLE b_pl.stage_change (
    change_id   bigserial PRIMARY KEY,
    lead_id     bigint NOT NULL,
    from_stage  b_pl.stage,
    to_stage    b_pl.stage NOT NULL,
    changed_at  timestamptz NOT NULL DEFAULT now(),
    score       integer,
    actor       text NOT NULL DEFAULT session_user,
    reason      text
);

-- Whether a value satisfies "value <op> arg".  Numbers compare as numbers, everything else as text.
-- PL/pgSQL, not an inlinable SQL CASE: inlined, the CASE would be copied into every query that
-- uses it and make planning them several times slower.
CREATE FUNCTION b_pl.matches(v text, is_number boolean, op text, arg text) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
    IF op = 'is_null' THEN
        RETURN v IS NULL;
    ELSIF op = 'not_null' THEN
        RETURN v IS NOT NULL;
    ELSIF v IS NULL THEN
        RETURN false;
    ELSIF op IN ('=', '<>', '<', '<=', '>', '>=') THEN
        IF is_number THEN
            RETURN CASE op WHEN '=' THEN v::numeric = arg::numeric WHEN '<>' THEN v::numeric <> arg::numeric
                           WHEN '<' THEN v::numeric < arg::numeric WHEN '<=' THEN v::numeric <= arg::numeric
                           WHEN '>' THEN v::numeric > arg::numeric ELSE v::numeric >= arg::numeric END;
        END IF;
        RETURN CASE op WHEN '=' THEN v = arg WHEN '<>' THEN v <> arg WHEN '<' THEN v < arg
                       WHEN '<=' THEN v <= arg WHEN '>' THEN v > arg ELSE v >= arg END;
    ELSIF op = 'in' THEN
        RETURN v = ANY (string_to_array(arg, ','));
    ELSIF op = 'contains' THEN
        RETURN strpos(lower(v), lower(arg)) > 0;
    ELSIF op = 'prefix' THEN
        RETURN starts_with(lower(v), lower(arg));
    ELSIF op = 'regex' THEN
        RETURN v ~ arg;
    ELSIF op IN ('valid_email', 'invalid_email') THEN
        RETURN (v ~* '^[a-z0-9._%+-]+@[a-z0-9-]+(\.[a-z0-9-]+)*\.[a-z]{2,}$') = (op = 'valid_email');
    ELSIF op IN ('valid_phone', 'invalid_phone') THEN
        RETURN (length(regexp_replace(v, '\D', '', 'g')) BETWEEN 8 AND 15) = (op = 'valid_phone');
    END IF;
    RAISE EXCEPTION 'unknown rule operator "%"', op;
END
$$;

-- The fit points of a lead row (given as jsonb, so that rules can name any column).
CREATE FUNCTION b_pl.fit_points(lead jsonb) RETURNS integer
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN (SELECT coalesce(sum(r.points), 0)
            FROM b_pl.rule r
            WHERE r.kind = 'fit' AND r.active
              AND b_pl.matches(lead ->> r.column_name, jsonb_typeof(lead -> r.column_name) = 'number', r.op, r.value));
END
$$;

-- The engagement points of every lead now, before rounding.  Queries filter it by lead_id, and the
-- planner pushes that filter down to the index on events (lead_id, occurred_at).
CREATE VIEW b_pl.engagement AS
SELECT lead_id,
       sum(CASE WHEN max_points IS NULL THEN total
                WHEN total >= 0 THEN least(total, max_points)
                ELSE greatest(total, -abs(max_points)) END) AS points
FROM (SELECT lead_id, rule_id, max_points,
             sum(points * CASE WHEN half_life IS NULL THEN 1
                               ELSE 0.5::float8 ^ (extract(epoch FROM now() - occurred_at) / extract(epoch FROM half_life)) END) AS total
      FROM (SELECT e.lead_id, r.rule_id, r.points, r.max_points, r.max_hits, r.half_life, e.occurred_at,
                   -- max_hits counts the first events by (time, id)
                   row_number() OVER (PARTITION BY e.lead_id, r.rule_id ORDER BY e.occurred_at, e.id) AS n
            FROM b_pl.events e
            JOIN b_pl.rule r
              ON r.kind = 'engagement' AND r.active
             AND (r.event_type = '*' OR r.event_type = e.event_type)
             AND (r.column_name IS NULL
                  OR b_pl.matches(CASE r.column_name WHEN 'page_url' THEN e.page_url WHEN 'channel' THEN e.channel
                                                     WHEN 'campaign' THEN e.campaign WHEN 'keyword' THEN e.keyword
                                                     WHEN 'event_type' THEN e.event_type END,
                                  false, r.op, r.value))
            WHERE e.occurred_at <= now()) hits
      WHERE max_hits IS NULL OR n <= max_hits
      GROUP BY lead_id, rule_id, max_points) per_rule
GROUP BY lead_id;

-- round half away from zero, then the settings' floor and ceiling.
CREATE FUNCTION b_pl.final_score(points float8) RETURNS integer
LANGUAGE plpgsql STABLE AS $$
DECLARE
    s b_pl.settings;
BEGIN
    SELECT * INTO s FROM b_pl.settings;
    RETURN least(coalesce(s.score_ceiling, 2147483647),
                 greatest(coalesce(s.score_floor, -2147483648), round(points::numeric)));
END
$$;

-- The stage a score promotes a lead to, or NULL: only marketing-owned stages move, forward only,
-- to the highest threshold met; from recycled only to mql or sal.
CREATE FUNCTION b_pl.promotion(cur b_pl.stage, score integer) RETURNS b_pl.stage
LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF cur NOT IN ('new', 'iql', 'mql', 'recycled') THEN
        RETURN NULL;
    END IF;
    RETURN (SELECT t.stage
            FROM b_pl.threshold t
            WHERE t.min_score <= score
              AND CASE WHEN cur = 'recycled' THEN t.stage IN ('mql', 'sal')
                       ELSE t.stage > cur AND t.stage < 'recycled' END
            ORDER BY t.stage DESC
            LIMIT 1);
END
$$;

-- Recompute and store the score (and any promotion) of one lead: what the row trigger calls.
CREATE FUNCTION b_pl.rescore_one(lead bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    cur b_pl.stage;
    old_score integer;
    new_score integer;
    promoted b_pl.stage;
BEGIN
    -- Lock first: the query below then sees every event committed before us.
    SELECT stage, score INTO cur, old_score FROM b_pl.leads WHERE id = lead FOR UPDATE;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    SELECT b_pl.final_score(l.fit_score + coalesce((SELECT g.points FROM b_pl.engagement g WHERE g.lead_id = lead), 0))
      INTO new_score FROM b_pl.leads l WHERE l.id = lead;
    promoted := b_pl.promotion(cur, new_score);
    IF new_score <> old_score OR promoted IS NOT NULL THEN
        UPDATE b_pl.leads SET score = new_score, stage = coalesce(promoted, cur) WHERE id = lead;
    END IF;
END
$$;

-- The same for a set of leads, set-based: what the statement trigger calls.
CREATE FUNCTION b_pl.rescore(lead_ids bigint[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    -- Lock first, in id order (no deadlock between concurrent batches).
    PERFORM 1 FROM b_pl.leads WHERE id = ANY (lead_ids) ORDER BY id FOR UPDATE;
    UPDATE b_pl.leads l
       SET score = x.score, stage = coalesce(x.promoted, l.stage)
      FROM (SELECT s.id, s.score, b_pl.promotion(s.stage, s.score) AS promoted
              FROM (SELECT l2.id, l2.stage, b_pl.final_score(l2.fit_score + coalesce(g.points, 0)) AS score
                      FROM b_pl.leads l2
                      LEFT JOIN (SELECT * FROM b_pl.engagement WHERE lead_id = ANY (lead_ids)) g ON g.lead_id = l2.id
                     WHERE l2.id = ANY (lead_ids)) s) x
     WHERE l.id = x.id
       AND (l.score <> x.score OR x.promoted IS NOT NULL);
END
$$;

-- Lead trigger: fit points, and the score and stage of a new lead or one whose fit changed.
CREATE FUNCTION b_pl.leads_score() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    eng float8;
    floor_ integer;
BEGIN
    NEW.fit_score := b_pl.fit_points(to_jsonb(NEW));
    SELECT g.points INTO eng FROM b_pl.engagement g WHERE g.lead_id = NEW.id;
    NEW.score := b_pl.final_score(NEW.fit_score + coalesce(eng, 0));
    SELECT disqualify_below INTO floor_ FROM b_pl.settings;
    IF TG_OP = 'INSERT' AND NEW.stage = 'new' AND NEW.score < floor_ THEN
        NEW.stage := 'disqualified';
    ELSE
        NEW.stage := coalesce(b_pl.promotion(NEW.stage, NEW.score), NEW.stage);
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER leads_score BEFORE INSERT OR UPDATE OF email, phone, job_title, employees, industry, country
    ON b_pl.leads FOR EACH ROW EXECUTE FUNCTION b_pl.leads_score();

-- Lead trigger: log every stage change, announce handoffs to sales.
CREATE FUNCTION b_pl.leads_log() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    old_stage b_pl.stage := CASE WHEN TG_OP = 'UPDATE' THEN OLD.stage END;
BEGIN
    INSERT INTO b_pl.stage_change (lead_id, from_stage, to_stage, score, reason)
    VALUES (NEW.id, old_stage, NEW.stage, NEW.score,
            coalesce(nullif(current_setting('lead_scoring.reason', true), ''), 'threshold'));
    IF NEW.stage IN ('sal', 'sql', 'opportunity')
       AND (old_stage IS NULL OR old_stage IN ('new', 'iql', 'mql', 'recycled')) THEN
        PERFORM pg_notify('lead_scoring_handoff', NEW.id::text);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER leads_log_insert AFTER INSERT ON b_pl.leads
    FOR EACH ROW EXECUTE FUNCTION b_pl.leads_log();
CREATE TRIGGER leads_log_update AFTER UPDATE OF stage ON b_pl.leads
    FOR EACH ROW WHEN (OLD.stage IS DISTINCT FROM NEW.stage) EXECUTE FUNCTION b_pl.leads_log();

-- Event trigger, row level: rescore the event's lead (both leads when an update moves an event).
CREATE FUNCTION b_pl.events_score_row() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM b_pl.rescore_one(OLD.lead_id);
    END IF;
    IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND NEW.lead_id <> OLD.lead_id) THEN
        PERFORM b_pl.rescore_one(NEW.lead_id);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER events_score_row AFTER INSERT OR UPDATE OR DELETE ON b_pl.events
    FOR EACH ROW EXECUTE FUNCTION b_pl.events_score_row();

-- Event trigger, statement level: rescore each touched lead once per statement.
CREATE FUNCTION b_pl.events_score_stmt() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    touched bigint[] := ARRAY(SELECT DISTINCT lead_id FROM new_events ORDER BY lead_id);
BEGIN
    -- A single-row insert touches one lead: the one-lead path has a cached plan.
    IF cardinality(touched) = 1 THEN
        PERFORM b_pl.rescore_one(touched[1]);
    ELSE
        PERFORM b_pl.rescore(touched);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER events_score_stmt AFTER INSERT ON b_pl.events
    REFERENCING NEW TABLE AS new_events
    FOR EACH STATEMENT EXECUTE FUNCTION b_pl.events_score_stmt();
-- (With events_score_stmt enabled, updates and deletes still go through the row trigger.)
CREATE FUNCTION b_pl.events_score_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM b_pl.rescore_one(OLD.lead_id);
    IF TG_OP = 'UPDATE' AND NEW.lead_id <> OLD.lead_id THEN
        PERFORM b_pl.rescore_one(NEW.lead_id);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER events_score_change AFTER UPDATE OR DELETE ON b_pl.events
    FOR EACH ROW EXECUTE FUNCTION b_pl.events_score_change();
ALTER TABLE b_pl.events DISABLE TRIGGER events_score_change;
