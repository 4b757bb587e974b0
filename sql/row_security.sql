-- score(), explain() and grade() read the CRM tables as the caller: row-level security shows them
-- what the caller may see, as a SELECT would (doc/security.md).  Stored scores count every event.
CREATE EXTENSION lead_scoring;
CREATE ROLE ls_rep_ann LOGIN;
CREATE ROLE ls_rep_bob LOGIN;
CREATE SCHEMA crm;
CREATE TABLE crm.leads (id bigint PRIMARY KEY, email text, rep name NOT NULL);
CREATE TABLE crm.events (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, lead_id bigint NOT NULL,
                         event_type text NOT NULL, occurred_at timestamptz NOT NULL DEFAULT now(),
                         private boolean NOT NULL DEFAULT false);
SELECT lead_scoring.attach_leads('crm.leads', owner_column => 'rep');
SELECT lead_scoring.attach_events('crm.events');
INSERT INTO lead_scoring.rule (name, kind, event_type, column_name, op, value, points) VALUES
    ('valid email', 'fit', NULL, 'email', 'valid_email', NULL, 5),
    ('webinar', 'engagement', 'webinar', NULL, NULL, NULL, 10);
INSERT INTO crm.leads VALUES (1, 'ann.lead@example.com', 'ls_rep_ann'), (2, 'bob.lead@example.com', 'ls_rep_bob');
INSERT INTO crm.events (lead_id, event_type, private) VALUES
    (1, 'webinar', false), (1, 'webinar', true), (2, 'webinar', false);
-- each rep sees their own leads, and no private event
ALTER TABLE crm.leads ENABLE ROW LEVEL SECURITY;
ALTER TABLE crm.events ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_leads ON crm.leads USING (rep = current_user);
CREATE POLICY public_events ON crm.events
    USING (NOT private AND EXISTS (SELECT FROM crm.leads l WHERE l.id = lead_id));
GRANT USAGE ON SCHEMA crm, lead_scoring TO ls_rep_ann, ls_rep_bob;
GRANT SELECT ON crm.leads, crm.events TO ls_rep_ann, ls_rep_bob;
-- the stored scores count every event
SELECT id, score FROM crm.leads ORDER BY id;

\c - ls_rep_ann
SELECT id, score FROM crm.leads ORDER BY id;
SELECT count(*) AS visible_events FROM crm.events;
-- lead 1: its private event does not count; lead 2 is not Ann's to see
SELECT lead_scoring.score(1) AS score_1, lead_scoring.score(2) AS score_2;
SELECT lead_scoring.grade(1) AS grade_1, lead_scoring.grade(2) AS grade_2;
SELECT * FROM lead_scoring.explain(1);
SELECT * FROM lead_scoring.explain(2);
\c - ls_rep_bob
SELECT lead_scoring.score(1) AS score_1, lead_scoring.score(2) AS score_2;
SELECT * FROM lead_scoring.explain(2);
\c - postgres
-- the table owner (and a superuser) see everything
SELECT lead_scoring.score(1) AS score_1, lead_scoring.score(2) AS score_2;

DROP SCHEMA crm CASCADE;
DROP EXTENSION lead_scoring;
DROP SCHEMA lead_scoring CASCADE;
DROP ROLE ls_rep_ann;
DROP ROLE ls_rep_bob;
