-- attribution() reads the touchpoints straight from the attached events tables when every table is
-- plainly readable (doc/attribution.md, "How it runs"): the rows must be exactly those the events
-- view gives, whatever the column types (timestamp and date times in the session's non-UTC zone and
-- in a declared zone, varchar channels, blank and padded channels, integer and text keys), with the
-- period bounds of attribution_totals(); with a table the view reads through a composite key, a row
-- filter or inheritance children every table is read through the view; the caller's privileges on
-- the view still apply.
CREATE EXTENSION lead_scoring;
SET timezone = 'America/New_York';
SET datestyle = 'ISO, YMD';

CREATE SCHEMA crm;
CREATE TABLE crm.leads (id integer PRIMARY KEY, created timestamptz);
CREATE TABLE crm.web (id integer PRIMARY KEY, lead_id integer, kind text, at timestamp,
                      channel varchar(20), campaign varchar(20), keyword text);
CREATE TABLE crm.mail (ref text PRIMARY KEY, lead_id integer, kind text, day date, channel text,
                       campaign text);
CREATE TABLE crm.deals (id bigint PRIMARY KEY, lead_id integer, amount numeric, status text,
                        closed_at timestamptz);
SELECT lead_scoring.attach_leads('crm.leads', created_column => 'created');
SELECT lead_scoring.attach_events('crm.web', type_column => 'kind', time_column => 'at',
                                  channel_column => 'channel', campaign_column => 'campaign',
                                  keyword_column => 'keyword');
SELECT lead_scoring.attach_events('crm.mail', type_column => 'kind', time_column => 'day',
                                  channel_column => 'channel', campaign_column => 'campaign',
                                  time_zone => 'Asia/Tokyo');
SELECT lead_scoring.attach_deals('crm.deals');
ALTER TABLE crm.deals DISABLE TRIGGER USER;

SELECT setseed(0.5);
INSERT INTO crm.leads SELECT g, timestamp '2024-01-01' + g * interval '1 hour' FROM generate_series(1, 120) g;
-- ids with gaps and negatives (the dense map and its bounds); a few events without lead, time or channel
INSERT INTO crm.web
SELECT g, CASE WHEN g % 97 = 0 THEN NULL ELSE (1 + floor(random() * 130))::int END, 'visit',
       CASE WHEN g % 89 = 0 THEN NULL ELSE timestamp '2024-02-01' + floor(random() * 90 * 24) * interval '1 hour' END,
       CASE WHEN g % 13 = 0 THEN NULL ELSE (ARRAY['search', 'social', 'display', ' search ', '', '  '])[1 + floor(random() * 6)] END,
       CASE WHEN random() < 0.7 THEN 'w' || floor(random() * 3) END,
       CASE WHEN random() < 0.4 THEN 'k' || floor(random() * 3) END
FROM generate_series(-200, 1800) g;
INSERT INTO crm.mail
SELECT 'm-' || g || repeat('x', g % 20), (1 + floor(random() * 130))::int, 'open',
       date '2024-02-01' + floor(random() * 90)::int,
       CASE WHEN g % 11 = 0 THEN NULL ELSE (ARRAY['email', 'newsletter'])[1 + floor(random() * 2)] END,
       CASE WHEN random() < 0.5 THEN 'n' || floor(random() * 2) END
FROM generate_series(1, 900) g;
INSERT INTO crm.deals
SELECT g, CASE WHEN g % 7 = 0 THEN -5 + g ELSE (1 + floor(random() * 120))::int END,
       round((random() * 1000)::numeric, 2), CASE WHEN g % 4 = 0 THEN 'lost' ELSE 'won' END,
       timestamptz '2024-03-01' + (random() * 60) * interval '1 day'
FROM generate_series(1, 150) g;
ANALYZE crm.web, crm.mail;

-- The reference: every touchpoint of the events view inside a won deal's window (90 days).
CREATE FUNCTION pg_temp.window_touches()
RETURNS TABLE (conversion_id text, event_ref text, channel text, campaign text, keyword text, touched_at timestamptz)
LANGUAGE sql AS $$
    SELECT d.deal_ref, e.event_ref, e.channel, e.campaign, e.keyword, e.occurred_at
    FROM lead_scoring.deals d
    JOIN lead_scoring.events e ON e.lead_id = d.lead_id AND e.channel IS NOT NULL
     AND e.occurred_at <= d.closed_at AND e.occurred_at >= d.closed_at - interval '90 days'
    WHERE d.outcome = 'won'
      -- a deal whose lead is not in the leads table is credited to '(none)' (doc/crm_schemas.md)
      AND EXISTS (SELECT FROM lead_scoring.leads l WHERE l.lead_id = d.lead_id)
$$;
CREATE FUNCTION pg_temp.differences(model text) RETURNS bigint LANGUAGE sql AS $$
    SELECT count(*) FROM (
        (SELECT conversion_id, event_ref, channel, campaign, keyword, touched_at
           FROM lead_scoring.attribution(model, 'deal', '90 days') WHERE event_ref IS NOT NULL
         EXCEPT ALL SELECT * FROM pg_temp.window_touches())
        UNION ALL
        (SELECT * FROM pg_temp.window_touches()
         EXCEPT ALL SELECT conversion_id, event_ref, channel, campaign, keyword, touched_at
           FROM lead_scoring.attribution(model, 'deal', '90 days'))) x
$$;

SELECT count(*) AS touches FROM pg_temp.window_touches();
-- read from the tables, not the view
SET client_min_messages = debug1;
SELECT count(*) FROM lead_scoring.attribution('linear', 'deal', '90 days');
RESET client_min_messages;
SELECT m AS model, pg_temp.differences(m) AS differences
FROM unnest(ARRAY['linear', 'time_decay', 'position_based', 'first_touch']) m;
-- linear weights: 1 / the number of touches of the conversion
SELECT count(*) AS wrong_weights
FROM lead_scoring.attribution('linear', 'deal', '90 days') a
JOIN (SELECT conversion_id, count(*) AS n FROM pg_temp.window_touches() GROUP BY 1) r USING (conversion_id)
WHERE abs(a.weight - 1.0 / r.n) > 1e-12;

-- Period bounds: the totals of March equal the rows of March's conversions summed.
SELECT count(*) AS channels,
       max(abs(t.conversions - r.conversions)) AS max_conversions_difference,
       max(abs(t.credit - r.credit)) AS max_credit_difference
FROM lead_scoring.attribution_totals('linear', 'deal', '90 days', NULL, '2024-03-01', '2024-04-01') t
FULL JOIN (SELECT channel, sum(weight) AS conversions, sum(credit) AS credit
             FROM lead_scoring.attribution('linear', 'deal', '90 days')
            WHERE converted_at >= '2024-03-01' AND converted_at < '2024-04-01' GROUP BY channel) r
  USING (channel);

-- A table keyed by two columns: event_ref is the key row as text; the rows still agree.
CREATE TABLE crm.calls (lead_id integer, seq integer, kind text, at timestamptz, channel text,
                        PRIMARY KEY (lead_id, seq));
SELECT lead_scoring.attach_events('crm.calls', type_column => 'kind', time_column => 'at',
                                  channel_column => 'channel');
INSERT INTO crm.calls
SELECT l, s, 'call', timestamptz '2024-03-01' + (l * s) * interval '1 hour', 'phone'
FROM generate_series(1, 40) l, generate_series(1, 3) s;
SELECT count(*) AS touches, count(*) FILTER (WHERE event_ref LIKE '(%,%)') AS call_touches
FROM pg_temp.window_touches();
SELECT pg_temp.differences('linear') AS differences;
SET client_min_messages = debug1;
SELECT count(*) FROM lead_scoring.attribution('linear', 'deal', '90 days');
RESET client_min_messages;

-- The caller must still be allowed to read the events view.
CREATE ROLE ls_direct_reader;
GRANT USAGE ON SCHEMA lead_scoring TO ls_direct_reader;
GRANT SELECT ON lead_scoring.deals, lead_scoring.leads TO ls_direct_reader;
SELECT lead_scoring.detach('crm.calls');
SET ROLE ls_direct_reader;
SELECT count(*) FROM lead_scoring.attribution('linear', 'deal', '90 days');
RESET ROLE;
GRANT SELECT ON lead_scoring.events TO ls_direct_reader;
SET ROLE ls_direct_reader;
SELECT count(*) > 0 AS reads FROM lead_scoring.attribution('linear', 'deal', '90 days');
RESET ROLE;
REVOKE ALL ON SCHEMA lead_scoring FROM ls_direct_reader;
REVOKE ALL ON lead_scoring.deals, lead_scoring.leads, lead_scoring.events FROM ls_direct_reader;
DROP ROLE ls_direct_reader;

-- A row filter: the view reads only the CRM's rows, so the tables are not read directly.
SELECT lead_scoring.detach('crm.mail');
SELECT lead_scoring.attach_events('crm.mail', type_column => 'kind', time_column => 'day',
                                  channel_column => 'channel', campaign_column => 'campaign',
                                  time_zone => 'Asia/Tokyo', row_filter => 'channel <> ''newsletter''');
SELECT count(*) FILTER (WHERE channel = 'newsletter') AS newsletter_touches FROM pg_temp.window_touches();
SELECT pg_temp.differences('linear') AS differences;
SET client_min_messages = debug1;
SELECT count(*) FROM lead_scoring.attribution('linear', 'deal', '90 days');
RESET client_min_messages;
SELECT lead_scoring.detach('crm.mail');

-- A table with inheritance children: the view reads the children too, so the tables are not read directly.
CREATE TABLE crm.web_archive () INHERITS (crm.web);
INSERT INTO crm.web_archive
SELECT 10000 + g, 1 + g % 120, 'visit', timestamp '2024-02-15' + g * interval '5 hours', 'archive', NULL, NULL
FROM generate_series(1, 60) g;
SELECT count(*) FILTER (WHERE channel = 'archive') AS archive_touches FROM pg_temp.window_touches();
SELECT pg_temp.differences('linear') AS differences;
SET client_min_messages = debug1;
SELECT count(*) FROM lead_scoring.attribution('linear', 'deal', '90 days');
RESET client_min_messages;

SET client_min_messages = warning;
DROP SCHEMA crm CASCADE;
DROP EXTENSION lead_scoring CASCADE;
-- (stage_change is generated, not a member of the extension: it outlives DROP EXTENSION)
DROP SCHEMA IF EXISTS lead_scoring CASCADE;
