-- Dropping what the extension is attached to (doc/security.md, "Dropping tables and the extension").
CREATE EXTENSION lead_scoring;
-- the event trigger function refuses to be called otherwise
SELECT lead_scoring.extension_drop_guard();
CREATE ROLE ls_drop_owner LOGIN;
CREATE SCHEMA crm AUTHORIZATION ls_drop_owner;
SET ROLE ls_drop_owner;
CREATE TABLE crm.leads (id bigint PRIMARY KEY, email text);
CREATE TABLE crm.events (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, lead_id bigint NOT NULL,
                         event_type text NOT NULL, occurred_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE crm.web (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, lead_id bigint NOT NULL,
                      event_type text NOT NULL, occurred_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE crm.deals (id bigint PRIMARY KEY, lead_id bigint NOT NULL, amount numeric NOT NULL,
                        status text NOT NULL DEFAULT 'open', closed_at timestamptz);
RESET ROLE;
SELECT lead_scoring.attach_leads('crm.leads');
SELECT lead_scoring.attach_events('crm.events');
SELECT lead_scoring.attach_events('crm.web');
SELECT lead_scoring.attach_deals('crm.deals');
INSERT INTO lead_scoring.rule (name, kind, event_type, points) VALUES ('webinar', 'engagement', 'webinar', 10);
INSERT INTO lead_scoring.threshold VALUES ('mql', 20);
INSERT INTO crm.leads VALUES (1, 'ann@example.com'), (2, 'bo@example.com');
INSERT INTO crm.web (lead_id, event_type) VALUES (1, 'webinar'), (1, 'webinar'), (2, 'webinar');
SELECT id, stage, score FROM crm.leads ORDER BY id;

-- 1. Dropping an attached table detaches it, whoever drops it: here its owner, who has no rights
-- on lead_scoring.attachment.  Its events no longer count, and the other tables keep working.
SET ROLE ls_drop_owner;
DROP TABLE crm.web;          -- the generated views depend on it
DROP TABLE crm.web CASCADE;
RESET ROLE;
SELECT relid, kind FROM lead_scoring.attachment ORDER BY kind, relid::text;
SELECT id, stage, score FROM crm.leads ORDER BY id;
INSERT INTO crm.events (lead_id, event_type) VALUES (2, 'webinar'), (2, 'webinar');
INSERT INTO crm.deals VALUES (10, 1, 100);
SELECT id, stage, score FROM crm.leads ORDER BY id;
SELECT lead_scoring.score(2);
SELECT count(*) AS events_in_view FROM lead_scoring.events;

-- 2. An attachment whose table is gone (dropped while event triggers were disabled) is ignored
-- with a warning, never followed: writes to the other tables go on.
ALTER EVENT TRIGGER lead_scoring_detach_dropped DISABLE;
DROP TABLE crm.deals CASCADE;
ALTER EVENT TRIGGER lead_scoring_detach_dropped ENABLE;
SELECT count(*) AS dangling FROM lead_scoring.attachment WHERE kind = 'deals';
SET client_min_messages = error;  -- (the warning names the table's OID)
INSERT INTO crm.events (lead_id, event_type) VALUES (1, 'webinar');
RESET client_min_messages;
SELECT id, stage, score FROM crm.leads ORDER BY id;
DELETE FROM lead_scoring.attachment WHERE kind = 'deals';

-- 3. Dropping the leads table detaches it and the tables that hang on it; the log is kept.
SET ROLE ls_drop_owner;
DROP TABLE crm.leads CASCADE;
RESET ROLE;
SELECT count(*) AS attachments FROM lead_scoring.attachment;
SELECT tgname FROM pg_trigger WHERE tgrelid = 'crm.events'::regclass AND NOT tgisinternal;
INSERT INTO crm.events (lead_id, event_type) VALUES (1, 'webinar');
SELECT lead_id, from_stage, to_stage, reason FROM lead_scoring.stage_change ORDER BY change_id;

-- 4. DROP EXTENSION keeps the log whole.  While tables are attached, a plain DROP is refused ...
CREATE TABLE crm.leads (id bigint PRIMARY KEY, email text);
ALTER TABLE crm.leads OWNER TO ls_drop_owner;
INSERT INTO crm.leads VALUES (1, 'ann@example.com'), (2, 'bo@example.com');
SELECT lead_scoring.attach_leads('crm.leads');
SELECT lead_scoring.attach_events('crm.events');
DROP EXTENSION lead_scoring;
-- ... and CASCADE detaches them; every funnel_stage column left becomes text, the log's and the
-- leads table's, and nothing else is dropped
DROP EXTENSION lead_scoring CASCADE;
SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), pg_get_expr(d.adbin, d.adrelid) AS default
  FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
  LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
 WHERE a.attrelid IN ('lead_scoring.stage_change'::regclass, 'crm.leads'::regclass) AND a.attnum > 0
 ORDER BY c.relname, a.attnum;
SELECT lead_id, from_stage, to_stage, reason FROM lead_scoring.stage_change ORDER BY change_id;
SELECT tgname FROM pg_trigger WHERE tgrelid IN ('crm.leads'::regclass, 'crm.events'::regclass) AND NOT tgisinternal;
-- the application keeps writing its tables
INSERT INTO crm.leads (id, email) VALUES (3, 'cy@example.com');
INSERT INTO crm.events (lead_id, event_type) VALUES (3, 'webinar');

-- 5. CREATE EXTENSION and attach_leads take the log and the stage column back
CREATE EXTENSION lead_scoring;
SELECT lead_scoring.attach_leads('crm.leads');
SELECT lead_scoring.attach_events('crm.events');
INSERT INTO lead_scoring.rule (name, kind, event_type, points) VALUES ('webinar', 'engagement', 'webinar', 10);
INSERT INTO lead_scoring.threshold VALUES ('mql', 20);
CALL lead_scoring.refresh_online();   -- the new rule reaches the stored scores
SELECT format_type(atttypid, atttypmod) FROM pg_attribute
 WHERE attrelid = 'crm.leads'::regclass AND attname = 'stage';
SELECT format_type(atttypid, atttypmod) FROM pg_attribute
 WHERE attrelid = 'lead_scoring.stage_change'::regclass AND attname IN ('from_stage', 'to_stage');
SELECT pg_get_expr(adbin, adrelid) FROM pg_attrdef
 WHERE adrelid = 'lead_scoring.stage_change'::regclass
   AND adnum = (SELECT attnum FROM pg_attribute WHERE attrelid = adrelid AND attname = 'changed_at');
SELECT id, stage, score FROM crm.leads ORDER BY id;
SELECT lead_id, from_stage, to_stage, reason FROM lead_scoring.stage_change ORDER BY change_id;
SELECT to_regclass('lead_scoring.kept_stage_column') AS kept_list;

-- 6. after detaching everything, a plain DROP EXTENSION works
SELECT lead_scoring.detach('crm.events');
SELECT lead_scoring.detach('crm.leads');
DROP EXTENSION lead_scoring;
SELECT count(*) AS log_rows FROM lead_scoring.stage_change;

-- 7. a log damaged by 0.1.0's DROP EXTENSION CASCADE (stage columns gone) is refused clearly
ALTER TABLE lead_scoring.stage_change DROP COLUMN from_stage, DROP COLUMN to_stage;
CREATE EXTENSION lead_scoring;
SELECT lead_scoring.attach_leads('crm.leads');
ALTER TABLE lead_scoring.stage_change SET SCHEMA public;
SELECT lead_scoring.attach_leads('crm.leads');
SELECT count(*) AS new_log_rows FROM lead_scoring.stage_change;

SELECT lead_scoring.detach('crm.leads');
DROP SCHEMA crm CASCADE;
DROP EXTENSION lead_scoring;
DROP SCHEMA lead_scoring CASCADE;
DROP TABLE public.stage_change;
DROP ROLE ls_drop_owner;
