-- Labels along a path of foreign keys and composite names (doc/crm_schemas.md, "CRM-native columns"):
-- what is refused, and what a drop along the path does.
CREATE EXTENSION lead_scoring;
\set SHOW_CONTEXT never
SET client_min_messages = warning;
CREATE TABLE partner (id int PRIMARY KEY, name text, first text, last text, tr jsonb);
CREATE TABLE users (id int PRIMARY KEY, login text, partner_id int REFERENCES partner, note int);
CREATE TABLE leads (id int PRIMARY KEY, user_id int REFERENCES users, email text);
CREATE TABLE kinds (id int PRIMARY KEY, partner_id int REFERENCES partner, name text);
CREATE TABLE acts (id int PRIMARY KEY, lead_id int REFERENCES leads, kind_id int REFERENCES kinds,
                   at timestamptz NOT NULL DEFAULT now());
-- a step that is no key, a label that is no column: refused, nothing attached
SELECT lead_scoring.attach_leads('leads', owner_column => 'user_id', owner_label => 'note.name');
SELECT lead_scoring.attach_leads('leads', owner_column => 'user_id', owner_label => 'partner_id.nom');
SELECT lead_scoring.attach_leads('leads', owner_column => 'user_id', owner_label => 'partner_id.first,nom');
SELECT count(*) FROM lead_scoring.attachment;
-- a path, a composite name at its end, a jsonb key at its end
SELECT lead_scoring.attach_leads('leads', owner_column => 'user_id', owner_label => 'partner_id.first, last');
INSERT INTO partner VALUES (1, 'Ann Lee', 'Ann', 'Lee', '{"en": "Ann (en)"}'), (2, 'Bo', 'Bo', '', NULL),
                           (3, NULL, NULL, NULL, NULL);
INSERT INTO users VALUES (10, 'ann', 1, NULL), (20, 'bo', 2, NULL), (30, 'x', 3, NULL);
INSERT INTO leads VALUES (1, 10, 'a@x.io'), (2, 20, NULL), (3, 30, NULL), (4, NULL, NULL);
-- the owner written by the triggers (the log) is the owner the views read
UPDATE leads SET stage = 'sql' WHERE id IN (1, 2, 3);
SELECT l.lead_id, l.owner, c.owner AS logged FROM lead_scoring.leads l
  LEFT JOIN lead_scoring.stage_change c ON c.lead_id = l.lead_id AND c.to_stage = 'sql' ORDER BY 1;
SELECT lead_scoring.detach('leads');
SELECT lead_scoring.attach_leads('leads', owner_column => 'user_id', owner_label => 'partner_id.tr.en');
SELECT lead_id, owner FROM lead_scoring.leads ORDER BY 1;
-- an event type's label along a path: accepted (sql/crm_label_paths.sql follows its changes)
SELECT lead_scoring.attach_events('acts', lead_column => 'lead_id', type_column => 'kind_id', time_column => 'at',
                                  labels => '{"kind_id": "partner_id.name"}');
SELECT tgrelid::regclass FROM pg_trigger WHERE tgname = 'zz_lead_scoring_labels' ORDER BY tgrelid::regclass::text;
SELECT lead_scoring.detach('acts');
-- dropping a table or a foreign key along the path is refused, as the first one's is
ALTER TABLE users DROP CONSTRAINT users_partner_id_fkey;
DROP TABLE partner CASCADE;
-- a column along the path renamed (the label's, or the key's), as the CRM's own role: followed, with a
-- NOTICE; dropping one is refused, naming the attachment
CREATE ROLE ls_owner_labels_app;
ALTER TABLE partner OWNER TO ls_owner_labels_app;
ALTER TABLE users OWNER TO ls_owner_labels_app;
SET ROLE ls_owner_labels_app;
SET client_min_messages = notice;
ALTER TABLE partner RENAME COLUMN tr TO translations;
ALTER TABLE users RENAME COLUMN partner_id TO contact_id;
ALTER TABLE partner DROP COLUMN translations;
ALTER TABLE users DROP COLUMN contact_id CASCADE;
-- other columns of the lookup tables rename and drop freely
ALTER TABLE partner RENAME COLUMN name TO display_name;
ALTER TABLE users RENAME COLUMN login TO user_login;
ALTER TABLE users DROP COLUMN note;
SET client_min_messages = warning;
RESET ROLE;
SELECT owner_label FROM lead_scoring.attachment;
SELECT pg_get_viewdef('lead_scoring.leads') ~ 'translations' AS view_reads_new_name;
INSERT INTO leads VALUES (5, 10, NULL);
UPDATE leads SET stage = 'sal' WHERE id = 5;
SELECT l.lead_id, l.owner, c.owner AS logged FROM lead_scoring.leads l
  LEFT JOIN lead_scoring.stage_change c ON c.lead_id = l.lead_id AND c.to_stage = 'sal' ORDER BY 1;
-- a list along a path, each part renamed; a rename rolled back leaves the label as it was
SELECT lead_scoring.detach('leads');
SELECT lead_scoring.attach_leads('leads', owner_column => 'user_id', owner_label => 'contact_id.first, last');
SET client_min_messages = notice;
ALTER TABLE partner RENAME COLUMN last TO last_name;
-- renamed to a name with a comma: a list cannot hold it, refused
ALTER TABLE partner RENAME COLUMN last_name TO "last,name";
BEGIN;
ALTER TABLE partner RENAME COLUMN first TO first_name;
ROLLBACK;
SET client_min_messages = warning;
SELECT owner_label FROM lead_scoring.attachment;
SELECT lead_id, owner FROM lead_scoring.leads ORDER BY 1;
-- a rename along the path that was not followed (the follower's event trigger disabled) is still
-- refused at ddl_command_end, naming the label; the rename of another column passes
ALTER EVENT TRIGGER lead_scoring_follow_ddl_start DISABLE;
ALTER TABLE partner RENAME COLUMN first TO given;
ALTER TABLE partner RENAME COLUMN display_name TO full_name;
ALTER EVENT TRIGGER lead_scoring_follow_ddl_start ENABLE;
SELECT owner_label FROM lead_scoring.attachment;
SELECT lead_scoring.detach('leads');
DROP TABLE partner CASCADE;
DROP TABLE acts, kinds, leads, users;
DROP ROLE ls_owner_labels_app;
DROP TABLE lead_scoring.stage_change;
DROP EXTENSION lead_scoring;
