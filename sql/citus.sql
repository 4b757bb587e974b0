-- The scale-out pieces on plain PostgreSQL (doc/scale-out.md): they change nothing where Citus is not
-- installed.  test/scripts/citus.sh runs them on Citus.
CREATE EXTENSION lead_scoring;
SET client_min_messages = warning;
CREATE SCHEMA crm;
CREATE TABLE crm.leads (id bigint PRIMARY KEY, email text, owner text);
CREATE TABLE crm.events (id bigint NOT NULL, lead_id bigint NOT NULL, event_type text NOT NULL,
                         occurred_at timestamptz NOT NULL, PRIMARY KEY (id, lead_id));
SELECT lead_scoring.attach_leads('crm.leads', owner_column => 'owner');
SELECT lead_scoring.attach_events('crm.events');
INSERT INTO lead_scoring.rule (name, kind, event_type, points) VALUES ('demo', 'engagement', 'demo_request', 80);
INSERT INTO lead_scoring.threshold VALUES ('sal', 70);
RESET client_min_messages;

-- a table stands for itself; so does a table whose name looks like a shard's
SELECT lead_scoring.shard_table('crm.leads');
CREATE TABLE crm.leads_102008 (id bigint);
SELECT lead_scoring.shard_table('crm.leads_102008');

-- a table named like a shard is not taken for the leads table's shard by its triggers
CREATE TRIGGER zz_lead_scoring_score BEFORE INSERT ON crm.leads_102008
    FOR EACH ROW EXECUTE FUNCTION lead_scoring.leads_before();
INSERT INTO crm.leads_102008 VALUES (1);
DROP TABLE crm.leads_102008;

-- the configuration as one value, attached tables by name (what a Citus worker applies)
SELECT k, jsonb_array_length(v) FROM jsonb_each(lead_scoring.config_snapshot()) AS s(k, v) ORDER BY k;
SELECT a->>'relid' AS relid, a->>'kind' AS kind, a->>'id_column' AS id_column, a->>'lead_column' AS lead_column,
       a->'key_columns' AS key_columns
  FROM jsonb_array_elements(lead_scoring.config_snapshot()->'attachment') a;
SELECT r->>'rule_id' AS rule_id, r->>'name' AS name, r->>'points' AS points
  FROM jsonb_array_elements(lead_scoring.config_snapshot()->'rule') r;

-- applying a snapshot replaces the configuration and this session's caches follow at once
INSERT INTO crm.leads VALUES (1, 'ann@example.com', 'alice');
SELECT set_config('ls.snap', lead_scoring.config_snapshot()::text, false) IS NOT NULL AS saved;
UPDATE lead_scoring.threshold SET min_score = 90;
INSERT INTO crm.events VALUES (1, 1, 'demo_request', now());
SELECT id, stage, score FROM crm.leads;
SELECT lead_scoring.config_apply(current_setting('ls.snap')::jsonb);
SELECT stage, min_score FROM lead_scoring.threshold;
UPDATE crm.leads SET email = 'ann@acme.io' WHERE id = 1;
SELECT id, stage, score FROM crm.leads;
-- the attachments came back under this node's OIDs, the rules with their ids
SELECT relid, kind, key_columns FROM lead_scoring.attachment ORDER BY kind;
SELECT rule_id, name FROM lead_scoring.rule;
INSERT INTO lead_scoring.rule (name, kind, event_type, points) VALUES ('webinar', 'engagement', 'webinar', 5);
SELECT rule_id, name FROM lead_scoring.rule ORDER BY rule_id;
-- only its owner (a superuser) may apply one
CREATE ROLE ls_citus_nobody;
GRANT USAGE ON SCHEMA lead_scoring TO ls_citus_nobody;
SET ROLE ls_citus_nobody;
SELECT lead_scoring.config_apply('{}');
RESET ROLE;
REVOKE USAGE ON SCHEMA lead_scoring FROM ls_citus_nobody;
DROP ROLE ls_citus_nobody;

-- handoffs are notified directly (sql/stages.sql); nothing is queued, nothing to relay
INSERT INTO crm.leads VALUES (2, 'bo@example.com', 'bob');
INSERT INTO crm.events VALUES (2, 2, 'demo_request', now());
SELECT to_regclass('lead_scoring.handoff_outbox'), lead_scoring.relay_handoffs();

-- citus_setup() needs Citus, and says so
SELECT lead_scoring.citus_setup();
SELECT lead_scoring.citus_is_coordinator();

SET client_min_messages = warning;
DROP SCHEMA crm CASCADE;
DROP EXTENSION lead_scoring CASCADE;
DROP SCHEMA lead_scoring CASCADE;
