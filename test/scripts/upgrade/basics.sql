-- The basics a CRM relies on, run against whichever SQL objects are installed (0.1.0's before the
-- update, with the new library already loaded; the current ones after it): every statement must
-- work, and stored scores must equal score().  Variable: round (distinct lead ids per run).
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SELECT 100 * :round AS base \gset
SELECT set_config('ls.round', :'round', false);
-- the application role writes; a lead crosses mql then sal through its events, then gets a deal
SET ROLE ls_upgrade_app;
INSERT INTO crm.leads (id, email, phone, company_size, owner) VALUES
  (:base + 1, 'ann@acme.io', '+1 415 555 2671', 120, 'alice'), (:base + 2, 'bo@', NULL, 5, 'bob');
INSERT INTO crm.events (lead_id, event_type, channel, campaign, url) VALUES
  (:base + 1, 'ad_click', 'paid_search', 'brand', NULL),
  (:base + 1, 'page_view', 'paid_search', 'brand', '/pricing');
INSERT INTO crm.events (lead_id, event_type, channel) VALUES (:base + 1, 'webinar', 'email');
INSERT INTO crm.events (lead_id, event_type) VALUES (:base + 1, 'demo_request');
INSERT INTO crm.deals (id, lead_id, amount, owner) VALUES (:base + 1, :base + 1, 900, 'alice');
UPDATE crm.deals SET status = 'won', closed_at = now() WHERE id = :base + 1;
UPDATE crm.leads SET company_size = 60 WHERE id = :base + 2;
DELETE FROM crm.events WHERE lead_id = :base + 1 AND event_type = 'ad_click';
RESET ROLE;
DO $$
DECLARE
    n int;
BEGIN
    -- this round's leads were scored by the triggers just now
    SELECT count(*) INTO n FROM crm.leads l
     WHERE l.id / 100 = current_setting('ls.round')::int AND l.score <> lead_scoring.score(l.id);
    IF n > 0 THEN
        RAISE EXCEPTION '% stored scores of this round differ from score()', n;
    END IF;
    -- and every lead after refresh_scores() (older leads' scores decay)
    PERFORM lead_scoring.refresh_scores();
    SELECT count(*) INTO n FROM crm.leads l WHERE l.score <> lead_scoring.score(l.id);
    IF n > 0 THEN
        RAISE EXCEPTION '% stored scores differ from score() after refresh_scores()', n;
    END IF;
    IF (SELECT stage::text FROM crm.leads WHERE id = 100 * current_setting('ls.round')::int + 1) <> 'customer' THEN
        RAISE EXCEPTION 'lead was not promoted to customer by its won deal';
    END IF;
END $$;
-- the functions and reports an analyst uses
SELECT count(*) >= 0 AS ok FROM lead_scoring.explain(:base + 1);
SELECT lead_scoring.grade(:base + 1) IS NOT NULL AS ok;
SELECT lead_scoring.rescore(:base + 2) = lead_scoring.score(:base + 2) AS ok;
SELECT lead_scoring.refresh_scores() >= 0 AS ok;
SELECT lead_scoring.can_transition('new', 'mql'), 'MQL'::lead_scoring.funnel_stage,
       lead_scoring.normalize_email(' Ann@Acme.IO '), lead_scoring.is_valid_phone('+1 415 555 2671');
SET ROLE ls_upgrade_analyst;
SELECT count(*) >= 0 AS ok FROM lead_scoring.funnel;
SELECT count(*) >= 0 AS ok FROM lead_scoring.sales_queue;
SELECT count(*) >= 0 AS ok FROM lead_scoring.handoffs;
RESET ROLE;
SELECT count(*) >= 0 AS ok FROM lead_scoring.manager_report('2026-01-01', '2027-01-01');
SELECT count(*) >= 0 AS ok FROM lead_scoring.attribution('markov');
SELECT count(*) >= 0 AS ok FROM lead_scoring.channel_report('linear', level => 'campaign');
SELECT lead_scoring.attribution_weights('time_decay', ARRAY['2026-01-01', '2026-01-02']::timestamptz[],
                                        '2026-01-03', half_life => '1 day') IS NOT NULL AS ok;
