-- leads_before reads the row versions' columns through the trigger's slots, each row unpacked once
-- (doc/benchmarks.md, "COPY and the bulk INSERT after the direct rewrite"): the fit rules see the
-- values the row is written with — after the CRM's own BEFORE triggers changed them, a column added
-- with a default after the rows were written (not stored in the old rows), columns behind
-- variable-length and NULL ones — on every path (INSERT, COPY, UPDATE, the rewrite of an event).
CREATE EXTENSION lead_scoring;
SET client_min_messages = warning;
\set SHOW_CONTEXT never
SET lead_scoring.now = '2026-03-01 12:00+00';

CREATE TABLE leads (id bigint PRIMARY KEY, email text, note text, size int, title text);
CREATE TABLE events (id bigserial PRIMARY KEY, lead_id bigint, event_type text NOT NULL,
                     occurred_at timestamptz NOT NULL DEFAULT '2026-03-01 11:00+00');
INSERT INTO leads VALUES (1, 'a@example.com', repeat('x', 300), 500, 'VP Sales'),
                         (2, NULL, NULL, 10, 'Intern'), (3, 'c@example.com', 'short', NULL, NULL);
SELECT lead_scoring.attach_leads('leads');
SELECT lead_scoring.attach_events('events');
-- a column added with a default after the rows were written: the old rows do not hold it
ALTER TABLE leads ADD COLUMN tier text NOT NULL DEFAULT 'gold';
INSERT INTO lead_scoring.rule (name, kind, column_name, op, value, points) VALUES
    ('big', 'fit', 'size', '>=', '200', 30),
    ('vp', 'fit', 'title', 'regex', '(VP|Chief)', 20),
    ('gold', 'fit', 'tier', '=', 'gold', 7),
    ('has email', 'fit', 'email', 'not_null', NULL, 3);
INSERT INTO lead_scoring.rule (name, kind, event_type, points) VALUES ('visit', 'engagement', 'visit', 5);
CREATE VIEW check_leads AS
    SELECT id, size, title, tier, score, score = lead_scoring.score(id) AS exact FROM leads ORDER BY id;
SELECT lead_scoring.rescore_all();
SELECT * FROM check_leads;

-- the CRM's own BEFORE trigger (fires before zz_lead_scoring_score) changes fit columns
CREATE FUNCTION crm_before() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.note = 'promote' THEN
        NEW.size := 1000;
        NEW.title := 'Chief Officer';
        NEW.tier := 'silver';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER crm_before BEFORE INSERT OR UPDATE ON leads FOR EACH ROW EXECUTE FUNCTION crm_before();

-- rewrites of old rows (event inserts, one and several leads), an UPDATE, an INSERT, a COPY
INSERT INTO events (lead_id, event_type) VALUES (2, 'visit');
INSERT INTO events (lead_id, event_type) VALUES (1, 'visit'), (2, 'visit'), (3, 'visit');
SELECT * FROM check_leads;
UPDATE leads SET note = 'promote' WHERE id = 2;
UPDATE leads SET size = 300 WHERE id = 3;
INSERT INTO leads (id, email, note, size, title) VALUES (4, NULL, 'promote', 1, 'Intern');
INSERT INTO leads (id, email, note, size, title, tier) VALUES (5, 'e@example.com', repeat('y', 3000), 250, 'VP', 'gold');
COPY leads (id, email, note, size, title) FROM stdin;
6	\N	promote	\N	\N
7	g@example.com	\N	200	Chief
\.
INSERT INTO events (lead_id, event_type) SELECT g, 'visit' FROM generate_series(1, 7) g;
SELECT * FROM check_leads;
SELECT count(*) FILTER (WHERE score <> lead_scoring.score(id)) AS inexact FROM leads;

DROP VIEW check_leads;
DROP TABLE leads, events CASCADE;
DROP FUNCTION crm_before();
DROP EXTENSION lead_scoring CASCADE;
DROP SCHEMA lead_scoring CASCADE;
