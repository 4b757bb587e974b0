-- History written through the triggers, replayed on lead_scoring.now: leads, touches, promotions,
-- handoffs, deals won and lost.  Run in both databases of test/scripts/upgrade.sh.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SET lead_scoring.now = '2026-01-01 09:00+00';
INSERT INTO crm.leads (id, email, phone, company_size, owner, created_at)
SELECT i, CASE WHEN i % 3 = 0 THEN 'nobody' ELSE 'lead' || i || '@example.com' END,
       CASE WHEN i % 2 = 0 THEN '+1 415 555 2671' END, 10 * i, (ARRAY['alice', 'bob'])[1 + i % 2],
       '2026-01-01 09:00+00'
  FROM generate_series(1, 12) i;
SET lead_scoring.now = '2026-01-01 10:00+00';
INSERT INTO crm.events (lead_id, event_type, occurred_at, channel, campaign, url)
SELECT 1 + i % 12, (ARRAY['page_view', 'webinar', 'ad_click', 'page_view'])[1 + i % 4],
       '2026-01-01 10:00+00'::timestamptz - i * interval '1 minute',
       (ARRAY['paid_search', 'email', 'seo'])[1 + i % 3], (ARRAY['brand', 'nov-webinar', NULL])[1 + i % 3],
       (ARRAY['/pricing', '/blog', NULL])[1 + i % 3]
  FROM generate_series(1, 60) i;
SET lead_scoring.now = '2026-01-01 11:00+00';
INSERT INTO crm.events (lead_id, event_type, occurred_at, channel) VALUES
  (2, 'demo_request', '2026-01-01 11:00+00', 'email'), (4, 'demo_request', '2026-01-01 11:00+00', 'seo');
SET lead_scoring.now = '2026-01-01 12:00+00';
INSERT INTO crm.events (lead_id, event_type, occurred_at) VALUES (2, 'call', '2026-01-01 12:00+00');
INSERT INTO crm.deals (id, lead_id, amount, status, owner, cost) VALUES (1, 2, 5000, 'open', 'bob', 300),
  (2, 4, 2000, 'open', 'bob', 100);
SET lead_scoring.now = '2026-01-05 12:00+00';
UPDATE crm.deals SET status = 'won', closed_at = '2026-01-05 12:00+00' WHERE id = 1;
UPDATE crm.deals SET status = 'lost', closed_at = '2026-01-05 12:00+00' WHERE id = 2;
RESET lead_scoring.now;
