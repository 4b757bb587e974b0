-- The CRM's own triggers keep the caller's search_path: attach_*, detach and rescore() pin the search
-- path of the extension's code only.  An Odoo-like trigger reading crm_stage unqualified (Odoo's
-- tables live on the connection's search_path) works while our writes fire it.
-- doc/crm_schemas.md, "Search paths".
CREATE EXTENSION lead_scoring;
\set SHOW_CONTEXT never
SET client_min_messages = warning;
CREATE SCHEMA odoo;
SET search_path = odoo, public;
CREATE TABLE crm_stage (id integer PRIMARY KEY, name text NOT NULL);
INSERT INTO crm_stage VALUES (1, 'New'), (2, 'Qualified');
CREATE TABLE crm_lead (id integer PRIMARY KEY, stage_id integer REFERENCES crm_stage, stage_name text,
                       write_date timestamp);
CREATE TABLE mail_message (id serial PRIMARY KEY, res_id integer NOT NULL, message_type text NOT NULL,
                           date timestamptz NOT NULL DEFAULT now());
-- the CRM's own trigger: unqualified names, as the application writes them
CREATE FUNCTION crm_lead_touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.stage_name := (SELECT name FROM crm_stage WHERE id = NEW.stage_id);
    NEW.write_date := now();
    RETURN NEW;
END $$;
CREATE TRIGGER crm_lead_touch BEFORE INSERT OR UPDATE ON crm_lead FOR EACH ROW EXECUTE FUNCTION crm_lead_touch();
INSERT INTO crm_lead (id, stage_id) VALUES (1, 1), (2, 2);
INSERT INTO mail_message (res_id, message_type) VALUES (1, 'email'), (1, 'email'), (2, 'email');
INSERT INTO lead_scoring.rule (name, kind, event_type, points) VALUES ('emails', 'engagement', 'email', 10);
INSERT INTO lead_scoring.threshold VALUES ('mql', 20);

-- attach rewrites the leads (their stages from the CRM's stage, then their scores): the trigger runs
SELECT lead_scoring.attach_leads('odoo.crm_lead', crm_stage_column => 'stage_id', crm_stage_map => '{"2": "sql"}');
SELECT lead_scoring.attach_events('odoo.mail_message', lead_column => 'res_id', type_column => 'message_type',
                                  time_column => 'date');
SELECT id, stage_name, stage, score FROM crm_lead ORDER BY id;
-- rescore() and detach() too; and the caller's search_path is as it was
UPDATE lead_scoring.rule SET points = 5;
SELECT lead_scoring.rescore(1);
SELECT lead_scoring.detach('odoo.mail_message');
SELECT id, stage_name, stage, score FROM crm_lead ORDER BY id;
SHOW search_path;

RESET search_path;
SELECT lead_scoring.detach('odoo.crm_lead');
DROP SCHEMA odoo CASCADE;
DROP TABLE lead_scoring.stage_change;
DROP EXTENSION lead_scoring;
