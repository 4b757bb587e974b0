-- Generated objects: privileges survive regeneration; what attach refuses about the leads table.
CREATE EXTENSION lead_scoring;
CREATE ROLE ls_analyst;
CREATE TABLE lead (id bigint PRIMARY KEY, email text);
CREATE TABLE web_event (id bigint PRIMARY KEY, lead_id bigint NOT NULL, event_type text NOT NULL,
                        occurred_at timestamptz NOT NULL);
CREATE TABLE call_event (id bigint PRIMARY KEY, lead_id bigint NOT NULL, event_type text NOT NULL,
                         occurred_at timestamptz NOT NULL);
SELECT lead_scoring.attach_leads('lead');
SELECT lead_scoring.attach_events('web_event');

-- the DBA opens the reports to analysts and closes a function to everyone else
GRANT USAGE ON SCHEMA lead_scoring TO ls_analyst;
GRANT SELECT ON lead_scoring.funnel, lead_scoring.events TO ls_analyst;
REVOKE EXECUTE ON FUNCTION lead_scoring.score FROM PUBLIC;
CREATE VIEW pg_temp.privileges AS
SELECT o.objtype, o.name, x.privilege_type,
       CASE WHEN x.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(x.grantee) END AS grantee
  FROM lead_scoring.generated_objects() o, aclexplode(o.acl) x
 WHERE x.grantee <> o.owner
 ORDER BY 2, 4, 3;
SELECT * FROM pg_temp.privileges;
SELECT has_function_privilege('ls_analyst', 'lead_scoring.score(bigint, timestamptz)', 'EXECUTE') AS analyst_may_score;

-- attaching another table regenerates every view and function: the privileges are the same afterwards
SELECT lead_scoring.attach_events('call_event');
SELECT * FROM pg_temp.privileges;
SELECT has_function_privilege('ls_analyst', 'lead_scoring.score(bigint, timestamptz)', 'EXECUTE') AS analyst_may_score;
SET ROLE ls_analyst;
SELECT stage, now_in FROM lead_scoring.funnel WHERE stage::text = 'new';
SELECT count(*) FROM lead_scoring.events;
SELECT lead_scoring.score(1);
RESET ROLE;

-- a partitioned leads table is refused, changing nothing
CREATE TABLE plead (id bigint, region text, PRIMARY KEY (id, region)) PARTITION BY LIST (region);
SELECT lead_scoring.detach('call_event');
SELECT lead_scoring.detach('web_event');
SELECT lead_scoring.detach('lead');
SELECT lead_scoring.attach_leads('plead');
SELECT count(*) FROM lead_scoring.attachment;
SELECT attname FROM pg_attribute WHERE attrelid = 'plead'::regclass AND attnum > 0 ORDER BY attnum;

DROP VIEW pg_temp.privileges;
DROP TABLE lead, web_event, call_event, plead, lead_scoring.stage_change;
DROP EXTENSION lead_scoring;
DROP OWNED BY ls_analyst;
DROP ROLE ls_analyst;
