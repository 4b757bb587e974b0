-- Smaller CRM-schema details: Twenty's empty "utmSource" is no channel; attach_events can leave
-- its index to a concurrent build; an engagement rule on an enum label that does not exist is
-- refused; a rule naming a column with SQL quotes is told to drop them.
CREATE EXTENSION lead_scoring;
SET search_path = lead_scoring, public;
\set SHOW_CONTEXT never
CREATE SCHEMA ws;
CREATE TYPE ws.timeline_event AS ENUM ('EMAIL_SENT', 'DEMO_REQUEST', 'PAGE_VIEW');
CREATE TABLE ws.person (id integer PRIMARY KEY, "jobTitle" text, "createdAt" timestamptz NOT NULL DEFAULT now());
CREATE TABLE ws."timelineActivity" (id serial PRIMARY KEY, "personId" integer NOT NULL,
                                    name ws.timeline_event NOT NULL, "happensAt" timestamptz NOT NULL DEFAULT now(),
                                    "utmSource" text NOT NULL DEFAULT '', "utmCampaign" text NOT NULL DEFAULT '');
SELECT attach_leads('ws.person', created_column => 'createdAt');
-- no index is built inside attach: the DBA is told the statement to run concurrently
SELECT attach_events('ws."timelineActivity"', lead_column => 'personId', type_column => 'name',
                     time_column => 'happensAt', channel_column => 'utmSource', campaign_column => 'utmCampaign',
                     create_index => false);
SELECT count(*) AS indexes_on_events FROM pg_index WHERE indrelid = 'ws."timelineActivity"'::regclass AND NOT indisprimary;
CREATE INDEX CONCURRENTLY ON ws."timelineActivity" ("personId", "happensAt") INCLUDE (name);

-- event types of an enum are compared as written
INSERT INTO rule (name, kind, event_type, points) VALUES ('demo', 'engagement', 'demo_request', 40);
INSERT INTO rule (name, kind, event_type, points) VALUES ('demo', 'engagement', 'DEMO_REQUEST', 40);
INSERT INTO rule (name, kind, event_type, points) VALUES ('webinar', 'engagement', 'WEBINAR', 10);
-- a quoted column name gets a hint
INSERT INTO rule (name, kind, column_name, op, value, points) VALUES ('exec', 'fit', '"jobTitle"', 'contains', 'chief', 20);
INSERT INTO rule (name, kind, event_type, column_name, op, value, points)
    VALUES ('paid demo', 'engagement', 'DEMO_REQUEST', '"utmSource"', '=', 'ads', 5);
INSERT INTO rule (name, kind, column_name, op, value, points) VALUES ('exec', 'fit', 'jobTitle', 'contains', 'chief', 20);

-- empty UTM text is no channel or campaign (Twenty's default '')
INSERT INTO ws.person (id, "jobTitle", "createdAt") VALUES (1, 'chief of staff', '2026-03-01'), (2, NULL, '2026-03-01');
INSERT INTO ws."timelineActivity" ("personId", name, "happensAt", "utmSource", "utmCampaign") VALUES
    (1, 'PAGE_VIEW', '2026-02-28', 'google', 'spring'), (2, 'PAGE_VIEW', '2026-02-28', '', ''),
    (2, 'DEMO_REQUEST', '2026-03-01 10:00', ' ', '');
SELECT id, score FROM ws.person ORDER BY id;
SELECT event_ref, lead_id, event_type, channel, campaign FROM events ORDER BY event_ref::int;
SELECT channel, touchpoints, new_leads FROM channel_report('first_touch', '2026-02-01', '2026-03-31') ORDER BY channel;

SELECT detach('ws."timelineActivity"'), detach('ws.person');
DROP TABLE ws."timelineActivity", ws.person, stage_change;
DROP TYPE ws.timeline_event;
DROP SCHEMA ws;
DROP EXTENSION lead_scoring;
