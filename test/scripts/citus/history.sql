-- The history of the Citus suite (test/scripts/citus.sh), written through the triggers and replayed on
-- lead_scoring.now.  Session context goes with SET LOCAL in each transaction: Citus propagates SET LOCAL
-- to the workers that run the transaction (citus.propagate_set_commands = 'local'; a no-op without Citus).
-- After each transaction relay_handoffs() sends the handoff notifications queued on the shards (none
-- without Citus, where the triggers notify directly); the notifications are part of the output compared.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SET citus.propagate_set_commands = 'local';
LISTEN lead_scoring_handoff;

BEGIN;
SET LOCAL lead_scoring.now = '2026-01-01 09:00+00';
INSERT INTO crm.leads (id, email, phone, company_size, owner, created_at)
SELECT i, CASE WHEN i % 3 = 0 THEN 'nobody' ELSE 'lead' || i || '@example.com' END,
       CASE WHEN i % 2 = 0 THEN '+1 415 555 2671' END, 10 * i, (ARRAY['alice', 'bob'])[1 + i % 2],
       '2026-01-01 09:00+00'
  FROM generate_series(1, 24) i;
COMMIT;
SELECT lead_scoring.relay_handoffs() AS relayed \gset

-- touches, one statement for many leads (the events trigger fires on every shard it wrote)
BEGIN;
SET LOCAL lead_scoring.now = '2026-01-01 10:00+00';
INSERT INTO crm.events (id, lead_id, event_type, occurred_at, channel, campaign, url)
SELECT i, 1 + i % 24, (ARRAY['page_view', 'webinar', 'ad_click', 'page_view'])[1 + i % 4],
       '2026-01-01 10:00+00'::timestamptz - i * interval '1 minute',
       (ARRAY['paid_search', 'email', 'seo'])[1 + i % 3], (ARRAY['brand', 'nov-webinar', NULL])[1 + i % 3],
       (ARRAY['/pricing', '/blog', NULL])[1 + i % 3]
  FROM generate_series(1, 120) i;
COMMIT;
SELECT lead_scoring.relay_handoffs() AS relayed \gset

-- a matching event for every lead in one statement: several leads of one shard (the triggers' batch path)
BEGIN;
SET LOCAL lead_scoring.now = '2026-01-01 10:30+00';
INSERT INTO crm.events (id, lead_id, event_type, occurred_at, channel, campaign, url)
SELECT 200 + i, i, 'page_view', '2026-01-01 10:30+00', 'seo', NULL, '/pricing' FROM generate_series(1, 24) i;
COMMIT;
SELECT lead_scoring.relay_handoffs() AS relayed \gset

-- single-row writes, each its own transaction
BEGIN;
SET LOCAL lead_scoring.now = '2026-01-01 11:00+00';
INSERT INTO crm.events VALUES (1001, 2, 'demo_request', '2026-01-01 11:00+00', 'email', 'nov-webinar', NULL);
COMMIT;
SELECT lead_scoring.relay_handoffs() AS relayed \gset
BEGIN;
SET LOCAL lead_scoring.now = '2026-01-01 11:05+00';
INSERT INTO crm.events VALUES (1002, 4, 'demo_request', '2026-01-01 11:05+00', 'seo', NULL, NULL);
INSERT INTO crm.events VALUES (1003, 17, 'demo_request', '2026-01-01 11:05+00', 'paid_search', 'brand', NULL);
COMMIT;
SELECT lead_scoring.relay_handoffs() AS relayed \gset

-- sales respond (a call stops the SLA clock), a deal opens
BEGIN;
SET LOCAL lead_scoring.now = '2026-01-01 12:00+00';
INSERT INTO crm.events VALUES (1004, 2, 'call', '2026-01-01 12:00+00', NULL, NULL, NULL);
INSERT INTO crm.deals (id, lead_id, amount, status, owner, cost) VALUES (1, 2, 5000, 'open', 'bob', 300),
  (2, 4, 2000, 'open', 'bob', 100), (3, 17, 8000, 'open', 'alice', 500);
COMMIT;
SELECT lead_scoring.relay_handoffs() AS relayed \gset

-- a manual stage change with an actor and a reason (session context on the shard)
BEGIN;
SET LOCAL lead_scoring.now = '2026-01-02 09:00+00';
SET LOCAL lead_scoring.actor = 'carol';
SET LOCAL lead_scoring.reason = 'met at the trade show';
UPDATE crm.leads SET stage = 'sql' WHERE id = 5;
COMMIT;
SELECT lead_scoring.relay_handoffs() AS relayed \gset

-- deals close
BEGIN;
SET LOCAL lead_scoring.now = '2026-01-05 12:00+00';
UPDATE crm.deals SET status = 'won', closed_at = '2026-01-05 12:00+00' WHERE id IN (1, 3);
UPDATE crm.deals SET status = 'lost', closed_at = '2026-01-05 12:00+00' WHERE id = 2;
COMMIT;
SELECT lead_scoring.relay_handoffs() AS relayed \gset

-- a customer's second deal is lost (the lead stays: its other deal is won); a deal written before its
-- lead moves the lead when the lead is inserted (the deals beside the lead's shard are read)
BEGIN;
SET LOCAL lead_scoring.now = '2026-01-05 13:00+00';
INSERT INTO crm.deals (id, lead_id, amount, status, closed_at, owner, cost)
VALUES (4, 2, 700, 'lost', '2026-01-05 13:00+00', 'bob', 20), (5, 30, 1200, 'open', NULL, 'alice', 50);
INSERT INTO crm.leads (id, email, phone, company_size, owner, created_at)
VALUES (30, 'lead30@example.com', NULL, 50, 'alice', '2026-01-05 13:00+00');
COMMIT;
SELECT lead_scoring.relay_handoffs() AS relayed \gset

-- a lead's data changes (fit), an event is corrected and one deleted
BEGIN;
SET LOCAL lead_scoring.now = '2026-01-06 09:00+00';
UPDATE crm.leads SET company_size = 500, phone = '+44 20 7946 0958' WHERE id IN (3, 9);
UPDATE crm.events SET url = '/pricing' WHERE id IN (3, 6, 9);
DELETE FROM crm.events WHERE id = 12;
COMMIT;
SELECT lead_scoring.relay_handoffs() AS relayed \gset

-- configuration changes on the coordinator reach every node in the same transaction
BEGIN;
SET LOCAL lead_scoring.now = '2026-01-07 09:00+00';
INSERT INTO lead_scoring.event_type VALUES ('meeting', 'sales');
UPDATE lead_scoring.threshold SET min_score = 35 WHERE stage::text = 'mql';
COMMIT;
BEGIN;
SET LOCAL lead_scoring.now = '2026-01-07 10:00+00';
INSERT INTO crm.events VALUES (1005, 7, 'webinar', '2026-01-07 10:00+00', 'email', 'nov-webinar', NULL),
                              (1006, 11, 'meeting', '2026-01-07 10:00+00', NULL, NULL, NULL),
                              (1007, 13, 'demo_request', '2026-01-07 10:00+00', 'seo', NULL, NULL);
COMMIT;
SELECT lead_scoring.relay_handoffs() AS relayed \gset
