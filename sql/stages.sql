-- Stage changes: the transition check, the stage_change log (actor, reason, creation rows),
-- threshold promotion and disqualify_below.  Lead ids are text here (varlena ids).
CREATE EXTENSION lead_scoring;
SET search_path = lead_scoring, public;
CREATE SCHEMA crm;
CREATE TABLE crm.lead (id text PRIMARY KEY, name text, rep text);
SELECT attach_leads('crm.lead', owner_column => 'rep');

-- the log's view of a lead: every row, oldest first (changed_at is now(): not shown)
CREATE FUNCTION pg_temp.log(lead text) RETURNS TABLE (from_stage funnel_stage, to_stage funnel_stage,
                                                       actor text, reason text, owner text)
LANGUAGE sql AS $$
    SELECT from_stage, to_stage, actor, reason, owner FROM lead_scoring.stage_change
     WHERE lead_id = lead ORDER BY change_id $$;

-- creation: one row with from_stage NULL, whatever stage the lead is created in
INSERT INTO crm.lead (id, name, rep) VALUES ('a', 'Ann', 'alice');
INSERT INTO crm.lead (id, name, stage) VALUES ('b', 'Ben', 'sal');
SELECT lead_id, from_stage, to_stage, actor, reason, owner FROM stage_change ORDER BY change_id;

-- a manual change is checked, applied and logged; writes that keep the stage are not logged
UPDATE crm.lead SET stage = 'mql' WHERE id = 'a';
UPDATE crm.lead SET name = 'Ann B.' WHERE id = 'a';
UPDATE crm.lead SET stage = 'mql', rep = 'amy' WHERE id = 'a';
SELECT * FROM pg_temp.log('a');

-- lead_scoring.actor and lead_scoring.reason name who changed the stage and why
SET lead_scoring.actor = 'alice@crm';
SET lead_scoring.reason = 'asked for a demo';
UPDATE crm.lead SET stage = 'sal' WHERE id = 'a';
RESET lead_scoring.actor;
RESET lead_scoring.reason;
UPDATE crm.lead SET stage = 'sql' WHERE id = 'a';
SELECT * FROM pg_temp.log('a');

-- a refused change is an error naming the lead, both stages and the rule; nothing is written
UPDATE crm.lead SET stage = 'mql' WHERE id = 'a';
SELECT stage FROM crm.lead WHERE id = 'a';
SELECT count(*) AS log_rows FROM stage_change WHERE lead_id = 'a';
-- ... also when one row of a multi-row statement is refused
UPDATE crm.lead SET stage = 'iql' WHERE id IN ('a', 'b');
SELECT id, stage FROM crm.lead ORDER BY id;

-- The whole matrix: one lead per (from, to) pair, created in 'from', moved to 'to'.
CREATE TABLE pg_temp.attempt (from_stage funnel_stage, to_stage funnel_stage, allowed boolean,
                              sqlstate text, message text, detail text, hint text);
CREATE FUNCTION pg_temp.try_all() RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    f funnel_stage;
    t funnel_stage;
    st text; msg text; det text; hnt text;
BEGIN
    FOR f, t IN SELECT x, y FROM funnel_stages() x, funnel_stages() y WHERE x <> y ORDER BY x, y LOOP
        BEGIN
            UPDATE crm.lead SET stage = t WHERE id = format('m-%s-%s', f, t);
            INSERT INTO pg_temp.attempt VALUES (f, t, can_transition(f, t), NULL, NULL, NULL, NULL);
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL,
                                    hnt = PG_EXCEPTION_HINT;
            INSERT INTO pg_temp.attempt VALUES (f, t, can_transition(f, t), st, msg, det, hnt);
        END;
    END LOOP;
END $$;
INSERT INTO crm.lead (id, stage)
SELECT format('m-%s-%s', x, y), x FROM funnel_stages() x, funnel_stages() y WHERE x <> y;
SELECT pg_temp.try_all();
-- every allowed change went through, every refused one raised 23514
SELECT allowed, sqlstate, count(*) FROM pg_temp.attempt GROUP BY 1, 2 ORDER BY 1, 2;
SELECT count(*) AS stage_matches_outcome FROM pg_temp.attempt a JOIN crm.lead l
    ON l.id = format('m-%s-%s', a.from_stage, a.to_stage)
 WHERE l.stage = CASE WHEN a.allowed THEN a.to_stage ELSE a.from_stage END;
-- the errors, one per refused pair
SELECT from_stage, to_stage, message, detail FROM pg_temp.attempt WHERE sqlstate IS NOT NULL
 ORDER BY from_stage, to_stage;
SELECT DISTINCT from_stage, hint FROM pg_temp.attempt WHERE sqlstate IS NOT NULL ORDER BY from_stage;
-- only the allowed changes were logged (plus the creation rows)
SELECT count(*) FILTER (WHERE from_stage IS NULL) AS created,
       count(*) FILTER (WHERE from_stage IS NOT NULL) AS changed
  FROM stage_change WHERE lead_id LIKE 'm-%';

-- transition_override: an added edge is accepted, a removed one refused with its own reason
INSERT INTO crm.lead (id, stage) VALUES ('o1', 'customer'), ('o2', 'sql');
INSERT INTO transition_override VALUES ('customer', 'recycled', true), ('sql', 'recycled', false);
UPDATE crm.lead SET stage = 'recycled' WHERE id = 'o1';
UPDATE crm.lead SET stage = 'recycled' WHERE id = 'o2';
SELECT * FROM pg_temp.log('o1');
TRUNCATE transition_override;

-- enforce_transitions = off lets every refused change through, and logs it
SET lead_scoring.enforce_transitions = off;
TRUNCATE pg_temp.attempt;
SELECT pg_temp.try_all();
SELECT count(*) FILTER (WHERE sqlstate IS NULL) AS went_through, count(*) FILTER (WHERE sqlstate IS NOT NULL) AS refused
  FROM pg_temp.attempt;
RESET lead_scoring.enforce_transitions;
SELECT count(*) AS forced_and_logged FROM pg_temp.attempt a JOIN stage_change c
    ON c.lead_id = format('m-%s-%s', a.from_stage, a.to_stage)
   AND c.from_stage = a.from_stage AND c.to_stage = a.to_stage AND c.reason = 'manual'
 WHERE NOT a.allowed;
-- only superusers (or roles granted SET on it) may turn the check off
CREATE ROLE ls_stages_user;
SET ROLE ls_stages_user;
SET lead_scoring.enforce_transitions = off;
RESET ROLE;
DROP ROLE ls_stages_user;

-- Thresholds.  No scoring rules are defined here, so every score is 0: thresholds at or below 0
-- are met, thresholds above 0 are not.
INSERT INTO threshold VALUES ('iql', -10), ('mql', 0), ('sal', 5);
-- a new lead is promoted to the highest threshold met: the creation row says so
INSERT INTO crm.lead (id) VALUES ('t1');
SELECT * FROM pg_temp.log('t1');
-- the same threshold change is seen by the next statement of the transaction
BEGIN;
UPDATE threshold SET min_score = 0 WHERE stage = 'sal';
INSERT INTO crm.lead (id) VALUES ('t2');
SELECT stage FROM crm.lead WHERE id = 't2';
ROLLBACK;
SELECT count(*) AS t2_rolled_back FROM stage_change WHERE lead_id = 't2';
-- forward only: a lead already past every met threshold stays; scores never move sales' leads
INSERT INTO crm.lead (id, stage) VALUES ('t3', 'sal'), ('t4', 'sql');
UPDATE crm.lead SET name = 'touched' WHERE id IN ('t1', 't3', 't4');
SELECT id, stage FROM crm.lead WHERE id IN ('t1', 't3', 't4') ORDER BY id;
-- an existing lead is promoted by its next write once a threshold it meets appears
DELETE FROM threshold WHERE stage IN ('iql', 'mql');
INSERT INTO crm.lead (id) VALUES ('t6');
INSERT INTO threshold VALUES ('mql', 0);
UPDATE crm.lead SET name = 'touched' WHERE id = 't6';
SELECT * FROM pg_temp.log('t6');
-- the writer's own change is never overridden by a threshold in the same write ...
UPDATE threshold SET min_score = 0 WHERE stage = 'sal';
UPDATE crm.lead SET stage = 'recycled' WHERE id = 't3';
SELECT * FROM pg_temp.log('t3');
-- ... nor does the next write send it back: a recycled lead is promoted only when a write lifts its
-- score across a threshold (its score 0 already met the sal threshold 0 when it was recycled)
UPDATE crm.lead SET name = 'touched again' WHERE id = 't3';
SELECT * FROM pg_temp.log('t3');
-- promotion goes to the highest threshold stage can_transition allows from where the lead is
INSERT INTO transition_override VALUES ('new', 'sal', false);
INSERT INTO crm.lead (id) VALUES ('t7');
SELECT * FROM pg_temp.log('t7');
TRUNCATE transition_override;
-- a lead promoted at creation into a sales stage is handed off at creation
INSERT INTO crm.lead (id) VALUES ('t8');
SELECT * FROM pg_temp.log('t8');
TRUNCATE threshold;

-- disqualify_below: a new lead in a marketing stage whose score is below it is disqualified
UPDATE settings SET disqualify_below = 1;
INSERT INTO threshold VALUES ('mql', -5);
INSERT INTO crm.lead (id) VALUES ('d1');
INSERT INTO crm.lead (id, stage) VALUES ('d2', 'sal');
SELECT * FROM pg_temp.log('d1');
SELECT * FROM pg_temp.log('d2');
-- existing leads are not: disqualify_below applies to new leads only
UPDATE crm.lead SET name = 'touched' WHERE id = 't6';
SELECT stage FROM crm.lead WHERE id = 't6';
UPDATE settings SET disqualify_below = -1;
INSERT INTO crm.lead (id) VALUES ('d3');
SELECT * FROM pg_temp.log('d3');
UPDATE settings SET disqualify_below = NULL;
TRUNCATE threshold;

-- INSERT ... ON CONFLICT: the insert that did not happen leaves no trace, the update is logged
INSERT INTO threshold VALUES ('mql', 0);
INSERT INTO crm.lead (id) VALUES ('d3') ON CONFLICT (id) DO UPDATE SET stage = 'lost';
INSERT INTO crm.lead (id) VALUES ('d1') ON CONFLICT (id) DO NOTHING;
SELECT * FROM pg_temp.log('d3');
SELECT count(*) AS d1_rows FROM stage_change WHERE lead_id = 'd1';
-- (the insert that did not happen promoted d1 to mql on its way: a later change of d1 is still 'manual')
SET lead_scoring.enforce_transitions = off;
UPDATE crm.lead SET stage = 'mql' WHERE id = 'd1';
RESET lead_scoring.enforce_transitions;
SELECT * FROM pg_temp.log('d1');
TRUNCATE threshold;

-- the triggers refuse to run anywhere else
SELECT leads_after();
CREATE TABLE crm.other (id text, stage funnel_stage, score int);
CREATE TRIGGER misuse AFTER INSERT ON crm.other FOR EACH ROW EXECUTE FUNCTION lead_scoring.leads_after();
INSERT INTO crm.other VALUES ('x', 'new', 0);
DROP TRIGGER misuse ON crm.other;
CREATE TRIGGER misuse BEFORE INSERT ON crm.lead FOR EACH ROW EXECUTE FUNCTION lead_scoring.leads_after();
INSERT INTO crm.lead (id) VALUES ('x');
DROP TRIGGER misuse ON crm.lead;
CREATE TRIGGER misuse AFTER INSERT ON crm.other FOR EACH ROW EXECUTE FUNCTION lead_scoring.deals_changed();
INSERT INTO crm.other VALUES ('x', 'new', 0);
DROP TABLE crm.other;

DROP FUNCTION pg_temp.log(text), pg_temp.try_all();
DROP TABLE pg_temp.attempt;
SELECT detach('crm.lead');
DROP TABLE crm.lead;
DROP TABLE stage_change;
DROP SCHEMA crm;
DROP EXTENSION lead_scoring;
