-- The stage_change log is append-only.  An application role with rights on its own CRM tables
-- only changes stages and makes deals; the triggers write the log on its behalf.  No role but
-- the extension owner can change or remove log rows.
CREATE EXTENSION lead_scoring;
CREATE ROLE ls_crm_owner;
CREATE ROLE ls_app LOGIN;
CREATE ROLE ls_analyst LOGIN;
CREATE SCHEMA crm AUTHORIZATION ls_crm_owner;
SET ROLE ls_crm_owner;
CREATE TABLE crm.lead (id bigint PRIMARY KEY, name text, rep text);
CREATE TABLE crm.deal (id bigint PRIMARY KEY, lead_id bigint, amount numeric, status text, closed_at timestamptz);
GRANT USAGE ON SCHEMA crm TO ls_app;
GRANT SELECT, INSERT, UPDATE ON crm.lead, crm.deal TO ls_app;
RESET ROLE;
SELECT lead_scoring.attach_leads('crm.lead', owner_column => 'rep');
SELECT lead_scoring.attach_deals('crm.deal');
INSERT INTO lead_scoring.threshold VALUES ('mql', 0);
GRANT USAGE ON SCHEMA lead_scoring TO ls_analyst, ls_crm_owner;
GRANT SELECT ON lead_scoring.stage_change TO ls_analyst;

-- a fresh session of the application role: no rights in schema lead_scoring at all
\c - ls_app
SELECT session_user, has_schema_privilege('lead_scoring', 'USAGE') AS lead_scoring_usage;
INSERT INTO crm.lead (id, name, rep) VALUES (1, 'Ann', 'alice'), (2, 'Ben', 'bob');
UPDATE crm.lead SET stage = 'sal' WHERE id = 1;
INSERT INTO crm.deal VALUES (10, 1, 500, 'open', NULL);
UPDATE crm.deal SET status = 'Won', closed_at = '2024-03-01' WHERE id = 10;
SET lead_scoring.actor = 'ann.smith';
SET lead_scoring.reason = 'not reachable';
UPDATE crm.lead SET stage = 'disqualified' WHERE id = 2;
RESET lead_scoring.actor;
RESET lead_scoring.reason;
SELECT id, stage, score FROM crm.lead ORDER BY id;
-- refused changes are refused for the application too, and it cannot turn the check off
UPDATE crm.lead SET stage = 'new' WHERE id = 1;
SET lead_scoring.enforce_transitions = off;
-- the log is out of its reach
SELECT count(*) FROM lead_scoring.stage_change;
UPDATE lead_scoring.stage_change SET reason = 'forged';
DELETE FROM lead_scoring.stage_change;
INSERT INTO lead_scoring.stage_change (lead_id, to_stage, actor, reason) VALUES (1, 'customer', 'me', 'forged');
TRUNCATE lead_scoring.stage_change;

-- an analyst can read the log, and nothing more
\c - ls_analyst
SELECT lead_id, from_stage, to_stage, actor, reason, owner FROM lead_scoring.stage_change ORDER BY change_id;
UPDATE lead_scoring.stage_change SET reason = 'forged';
DELETE FROM lead_scoring.stage_change WHERE lead_id = 2;
TRUNCATE lead_scoring.stage_change;

-- nor can the owner of the CRM tables
\c - postgres
SET ROLE ls_crm_owner;
UPDATE lead_scoring.stage_change SET reason = 'forged';
DELETE FROM lead_scoring.stage_change;
RESET ROLE;

-- the table belongs to the extension owner, who alone holds rights on it
SELECT c.relowner::regrole = e.extowner::regrole AS owned_by_extension_owner,
       c.relacl::text[] AS acl
  FROM pg_class c, pg_extension e
 WHERE c.oid = 'lead_scoring.stage_change'::regclass AND e.extname = 'lead_scoring';
SELECT r.rolname, p.privilege_type
  FROM pg_roles r
 CROSS JOIN unnest(ARRAY['INSERT', 'UPDATE', 'DELETE', 'TRUNCATE']) AS p(privilege_type)
 WHERE r.rolname IN ('ls_app', 'ls_analyst', 'ls_crm_owner')
   AND has_table_privilege(r.oid, 'lead_scoring.stage_change', p.privilege_type);
SELECT count(*) AS log_rows_intact FROM lead_scoring.stage_change WHERE reason <> 'forged';

SELECT lead_scoring.detach('crm.deal');
SELECT lead_scoring.detach('crm.lead');
DROP SCHEMA crm CASCADE;
DROP TABLE lead_scoring.stage_change;
DROP EXTENSION lead_scoring;
DROP OWNED BY ls_analyst, ls_crm_owner;
DROP ROLE ls_app;
DROP ROLE ls_analyst;
DROP ROLE ls_crm_owner;
