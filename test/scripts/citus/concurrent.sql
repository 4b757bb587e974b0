-- One of two concurrent writers of the Citus suite (test/scripts/citus.sh): :n single-row event inserts, each
-- in its own transaction, for leads spread over every shard and for lead 1, which both writers share.  The
-- events are dated, the clock fixed: the final scores do not depend on the order the writers' inserts
-- interleave, so they must equal plain PostgreSQL's after the same inserts one writer after the other.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SET citus.propagate_set_commands = 'local';
-- \gexec runs each column of each row as its own statement, in order: one transaction per insert
SELECT 'BEGIN', format('SET LOCAL lead_scoring.now = %L', '2026-01-09 12:00+00'),
       format('INSERT INTO crm.events VALUES (%s, %s, %L, %L, %L, NULL, %L)',
              100000 * :w + i, CASE WHEN i % 3 = 0 THEN 1 ELSE 1 + (i * 7 + :w) % 24 END,
              (ARRAY['page_view', 'webinar', 'page_view', 'demo_request'])[1 + i % 4],
              '2026-01-09 11:00+00'::timestamptz + i * interval '1 second', 'seo', '/pricing'),
       'COMMIT'
  FROM generate_series(1, :n) i \gexec
