-- Naive timestamps (Odoo, Rails: UTC in timestamp without time zone).  attach's time_zone says
-- which zone they are written in; scores, handoff verdicts and reports then never depend on the
-- reader's TimeZone.  doc/crm_schemas.md, "Time zones".
CREATE EXTENSION lead_scoring;
SET search_path = lead_scoring, public;
\set SHOW_CONTEXT never
SET lead_scoring.now = '2026-03-02 10:00:00+00';
CREATE SCHEMA crm;
-- written by the application in UTC wall-clock time, without a zone
CREATE TABLE crm.lead (id integer PRIMARY KEY, name text, user_id text,
                       create_date timestamp NOT NULL DEFAULT (now() AT TIME ZONE 'UTC'));
CREATE TABLE crm.message (id integer PRIMARY KEY, res_id integer NOT NULL, message_type text NOT NULL,
                          date timestamp NOT NULL, source text);
CREATE TABLE crm.sale (id integer PRIMARY KEY, lead_id integer, amount numeric NOT NULL, state text NOT NULL,
                       date_order date);

-- a zone that does not exist is refused, naming the zone
SELECT attach_leads('crm.lead', owner_column => 'user_id', created_column => 'create_date', time_zone => 'Mars/Olympus');
SELECT attach_leads('crm.lead', owner_column => 'user_id', created_column => 'create_date', time_zone => 'UTC');
SELECT attach_events('crm.message', lead_column => 'res_id', type_column => 'message_type', time_column => 'date',
                     channel_column => 'source', time_zone => 'UTC');
SELECT attach_deals('crm.sale', closed_column => 'date_order', status_column => 'state', time_zone => 'UTC');
SELECT relid, kind, time_zone FROM attachment ORDER BY kind;

INSERT INTO rule (name, kind, event_type, points, half_life) VALUES ('email', 'engagement', 'email', 30, '7 days');
INSERT INTO threshold VALUES ('sal', 30);
INSERT INTO event_type VALUES ('call', 'sales');

-- the application writes in a session whose TimeZone is New York: a just-written e-mail counts
SET TimeZone = 'America/New_York';
INSERT INTO crm.lead (id, name, user_id, create_date) VALUES
    (1, 'a', 'alice', '2026-03-01 23:30:00'), (2, 'b', 'bob', '2026-03-02 09:00:00');
INSERT INTO crm.message VALUES (10, 1, 'email', '2026-03-02 10:00:00', 'newsletter'),
                               (11, 2, 'email', '2026-03-02 08:30:00', 'ads');
SELECT id, stage, score FROM crm.lead ORDER BY id;
-- sales answers lead 1 after 40 minutes (UTC wall clock), lead 2 after 2 hours
INSERT INTO crm.message VALUES (12, 1, 'call', '2026-03-02 10:40:00', NULL),
                               (13, 2, 'call', '2026-03-02 12:00:00', NULL);
SET lead_scoring.now = '2026-03-02 13:00:00+00';
INSERT INTO crm.sale VALUES (20, 1, 1000, 'won', '2026-03-02');

-- the same answers in every reader's TimeZone
CREATE FUNCTION pg_temp.readings() RETURNS TABLE (tz text, what text, value text) LANGUAGE sql AS $$
    SELECT current_setting('TimeZone'), 'score ' || l.lead_id, l.score::text FROM lead_scoring.leads l
    UNION ALL
    SELECT current_setting('TimeZone'), 'created ' || l.lead_id, (l.created_at AT TIME ZONE 'UTC')::text
      FROM lead_scoring.leads l
    UNION ALL
    SELECT current_setting('TimeZone'), 'event ' || e.event_ref, (e.occurred_at AT TIME ZONE 'UTC')::text
      FROM lead_scoring.events e
    UNION ALL
    SELECT current_setting('TimeZone'), 'deal ' || d.deal_ref, (d.closed_at AT TIME ZONE 'UTC')::text || ' ' || d.outcome
      FROM lead_scoring.deals d
    UNION ALL
    SELECT current_setting('TimeZone'), 'handoff ' || h.lead_id, h.status || ' ' || h.response_time
      FROM lead_scoring.handoffs h
    UNION ALL
    SELECT current_setting('TimeZone'), 'computed score ' || l.lead_id, lead_scoring.score(l.lead_id)::text
      FROM lead_scoring.leads l
    UNION ALL
    SELECT current_setting('TimeZone'), 'channel ' || r.channel, r.new_leads || ' new, ' || r.touchpoints || ' touches'
      FROM lead_scoring.channel_report('first_touch', '2026-03-02', '2026-03-02') r
$$;
SET TimeZone = 'UTC';
SELECT what, value FROM pg_temp.readings() ORDER BY what;
CREATE TEMP TABLE utc AS SELECT what, value FROM pg_temp.readings();
SET TimeZone = 'America/New_York';
SELECT count(*) AS rows, count(*) FILTER (WHERE (r.what, r.value) NOT IN (SELECT * FROM utc)) AS differ
  FROM pg_temp.readings() r;
SET TimeZone = 'Europe/Brussels';
SELECT count(*) AS rows, count(*) FILTER (WHERE (r.what, r.value) NOT IN (SELECT * FROM utc)) AS differ
  FROM pg_temp.readings() r;
SET TimeZone = 'Asia/Tokyo';
SELECT count(*) AS rows, count(*) FILTER (WHERE (r.what, r.value) NOT IN (SELECT * FROM utc)) AS differ
  FROM pg_temp.readings() r;
-- rescoring from a Tokyo session stores the same scores
SELECT rescore_all();
SELECT id, score FROM crm.lead ORDER BY id;

-- without time_zone, 0.1.0's reading is kept (the session's zone) and attach says so
RESET TimeZone;
SELECT detach('crm.sale');
SELECT attach_deals('crm.sale', closed_column => 'date_order', status_column => 'state');
SELECT time_zone FROM attachment WHERE relid = 'crm.sale'::regclass;

RESET lead_scoring.now;
DROP FUNCTION pg_temp.readings();
SELECT detach('crm.sale'), detach('crm.message'), detach('crm.lead');
DROP TABLE crm.sale, crm.message, crm.lead, stage_change;
DROP SCHEMA crm;
DROP EXTENSION lead_scoring;

-- the C readers and the views convert alike for every spelling of a zone: a full name with daylight
-- saving, fixed-offset abbreviations, UTC (each checked against the SQL conversion of the view)
CREATE EXTENSION lead_scoring;
SET lead_scoring.now = '2026-07-02 12:00:00+00';
CREATE SCHEMA crm;
CREATE TABLE crm.lead (id integer PRIMARY KEY);
CREATE TABLE crm.e_brussels (id integer PRIMARY KEY, lead_id integer NOT NULL, kind text NOT NULL, at timestamp NOT NULL);
CREATE TABLE crm.e_est (LIKE crm.e_brussels INCLUDING ALL);
CREATE TABLE crm.e_utc (LIKE crm.e_brussels INCLUDING ALL);
CREATE TABLE crm.e_date (id integer PRIMARY KEY, lead_id integer NOT NULL, kind text NOT NULL, at date NOT NULL);
SELECT lead_scoring.attach_leads('crm.lead');
SELECT lead_scoring.attach_events('crm.e_brussels', type_column => 'kind', time_column => 'at', time_zone => 'Europe/Brussels');
SELECT lead_scoring.attach_events('crm.e_est', type_column => 'kind', time_column => 'at', time_zone => 'EST');
SELECT lead_scoring.attach_events('crm.e_utc', type_column => 'kind', time_column => 'at', time_zone => 'utc');
SELECT lead_scoring.attach_events('crm.e_date', type_column => 'kind', time_column => 'at', time_zone => 'Asia/Tokyo');
INSERT INTO lead_scoring.rule (name, kind, event_type, points, half_life) VALUES ('visit', 'engagement', 'visit', 1000, '1 hour');
INSERT INTO crm.lead SELECT g FROM generate_series(1, 4) g;
INSERT INTO crm.e_brussels VALUES (1, 1, 'visit', '2026-07-02 13:30:00');
INSERT INTO crm.e_est VALUES (1, 2, 'visit', '2026-07-02 06:30:00');
INSERT INTO crm.e_utc VALUES (1, 3, 'visit', '2026-07-02 11:30:00');
INSERT INTO crm.e_date VALUES (1, 4, 'visit', '2026-07-02');
-- by hand: Brussels is UTC+2 in July (11:30 UTC), EST is UTC-5 (11:30 UTC), UTC 11:30: half an hour old,
-- 1000 * 0.5^0.5 = 707; Tokyo's midnight of 2 July is 1 July 15:00 UTC: 21 hours old, 0
SELECT l.id, l.score, lead_scoring.score(l.id) AS computed,
       round(1000 * power(0.5, extract(epoch FROM lead_scoring.clock() - e.occurred_at) / 3600)) AS from_view,
       e.occurred_at AT TIME ZONE 'UTC' AS occurred_utc
  FROM crm.lead l JOIN lead_scoring.events e ON e.lead_id = l.id ORDER BY l.id;
RESET lead_scoring.now;
SELECT lead_scoring.detach(relid) FROM lead_scoring.attachment WHERE kind = 'events' ORDER BY relid::text;
SELECT lead_scoring.detach('crm.lead');
DROP SCHEMA crm CASCADE;
DROP TABLE lead_scoring.stage_change;
DROP EXTENSION lead_scoring;
