-- The lead_scoring demo.
\pset footer off
CREATE EXTENSION lead_scoring;
\echo
\echo 'The funnel stages, in rank order:'
SELECT s AS stage, lead_scoring.stage_rank(s) AS rank, lead_scoring.stage_owner(s) AS owner,
       lead_scoring.stage_is_terminal(s) AS terminal
FROM lead_scoring.funnel_stages() AS s;
\echo 'Where a lead may go next from each stage:'
SELECT f AS "from", string_agg(t::text, ', ' ORDER BY t) AS "may move to"
FROM lead_scoring.funnel_stages() AS f, lead_scoring.funnel_stages() AS t
WHERE lead_scoring.can_transition(f, t)
GROUP BY f ORDER BY f;
