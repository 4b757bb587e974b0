-- Scoring rules: validation when a rule is written (every refusal names the rule), and what
-- every operator matches, compared in the column's own type.
CREATE EXTENSION lead_scoring;
SET client_min_messages = warning;
\set SHOW_CONTEXT never

CREATE TABLE leads (
    id       integer PRIMARY KEY,
    email    text,
    phone    text,
    size     integer,
    revenue  numeric,
    country  text COLLATE "C",
    signed   date,
    vip      boolean,
    location point
);
CREATE TABLE events (
    id          serial PRIMARY KEY,
    lead_id     integer,
    event_type  text NOT NULL,
    occurred_at timestamptz NOT NULL,
    url         text,
    seconds     integer
);
INSERT INTO leads VALUES
    (1, 'ann@example.com', '+44 20 7946 0958', 250, 1200000.50, 'DE', '2024-03-01', true, '(1,1)'),
    (2, ' Bob@Example.ORG ', '020 7946 0958', 12, 99.99, 'us', '2023-12-31', false, NULL),
    (3, 'not an address', '12', NULL, NULL, 'FR', NULL, NULL, NULL),
    (4, NULL, NULL, 100, 5000, 'Fr, "x"', '2024-01-01', true, NULL);

-- a rule written before the leads table is attached is checked when it is attached
INSERT INTO lead_scoring.rule (name, kind, column_name, op, value, points) VALUES ('early', 'fit', 'sise', '>', '1', 1);
SELECT lead_scoring.attach_leads('leads');
\echo :LAST_ERROR_SQLSTATE
DELETE FROM lead_scoring.rule;
SELECT lead_scoring.attach_leads('leads');
SELECT lead_scoring.attach_events('events');

-- refused rules: each error names the rule; nothing is written
INSERT INTO lead_scoring.rule (name, kind, column_name, op, value, points) VALUES ('r1', 'fit', 'sise', '>', '1', 1);
\echo :LAST_ERROR_SQLSTATE
INSERT INTO lead_scoring.rule (name, kind, column_name, op, value, points) VALUES ('r2', 'fit', 'size', '>', 'ten', 1);
\echo :LAST_ERROR_SQLSTATE
INSERT INTO lead_scoring.rule (name, kind, column_name, op, value, points) VALUES ('r3', 'fit', 'signed', '>=', '2024-02-30', 1);
\echo :LAST_ERROR_SQLSTATE
INSERT INTO lead_scoring.rule (name, kind, column_name, op, value, points) VALUES ('r4', 'fit', 'vip', '=', 'maybe', 1);
INSERT INTO lead_scoring.rule (name, kind, column_name, op, value, points) VALUES ('r5', 'fit', 'size', 'like', '1%', 1);
\echo :LAST_ERROR_SQLSTATE
INSERT INTO lead_scoring.rule (name, kind, column_name, op, value, points) VALUES ('r6', 'fit', 'email', 'regex', '[a-', 1);
\echo :LAST_ERROR_SQLSTATE
INSERT INTO lead_scoring.rule (name, kind, event_type, points, max_hits) VALUES ('r7', 'engagement', 'visit', 1, -1);
\echo :LAST_ERROR_SQLSTATE
INSERT INTO lead_scoring.rule (name, kind, event_type, points, max_hits) VALUES ('r8', 'engagement', 'visit', 1, 0);
INSERT INTO lead_scoring.rule (name, kind, event_type, points, max_points) VALUES ('r9', 'engagement', 'visit', 1, -5);
INSERT INTO lead_scoring.rule (name, kind, event_type, points, half_life) VALUES ('r10', 'engagement', 'visit', 1, '0 days');
INSERT INTO lead_scoring.rule (name, kind, event_type, points, half_life) VALUES ('r11', 'engagement', 'visit', 1, '-1 day');
INSERT INTO lead_scoring.rule (name, kind, event_type, column_name, op, value, points) VALUES ('r12', 'fit', 'visit', 'size', '>', '1', 1);
INSERT INTO lead_scoring.rule (name, kind, column_name, op, value, points, max_hits) VALUES ('r13', 'fit', 'size', '>', '1', 1, 2);
INSERT INTO lead_scoring.rule (name, kind, points) VALUES ('r14', 'fit', 1);
INSERT INTO lead_scoring.rule (name, kind, points) VALUES ('r15', 'engagement', 1);
INSERT INTO lead_scoring.rule (name, kind, event_type, op, value, points) VALUES ('r16', 'engagement', 'visit', '=', 'x', 1);
INSERT INTO lead_scoring.rule (name, kind, column_name, op, points) VALUES ('r17', 'fit', 'size', '>=', 1);
INSERT INTO lead_scoring.rule (name, kind, column_name, op, value, points) VALUES ('r18', 'fit', 'email', 'is_null', 'x', 1);
INSERT INTO lead_scoring.rule (name, kind, column_name, op, value, points) VALUES ('r19', 'fit', 'size', 'in', '1,,2', 1);
INSERT INTO lead_scoring.rule (name, kind, column_name, op, value, points) VALUES ('r20', 'fit', 'country', 'in', '"DE, FR', 1);
INSERT INTO lead_scoring.rule (name, kind, column_name, op, value, points) VALUES ('r21', 'fit', 'phone', 'valid_phone', 'Atlantis', 1);
INSERT INTO lead_scoring.rule (name, kind, column_name, op, value, points) VALUES ('r22', 'fit', 'score', '>', '10', 1);
INSERT INTO lead_scoring.rule (name, kind, column_name, op, value, points) VALUES ('r23', 'fit', 'stage', '=', 'mql', 1);
INSERT INTO lead_scoring.rule (name, kind, column_name, op, value, points) VALUES ('r24', 'fit', 'location', '<', '(0,0)', 1);
\echo :LAST_ERROR_SQLSTATE
INSERT INTO lead_scoring.rule (name, kind, column_name, op, value, points) VALUES ('r25', 'lead', 'size', '>', '1', 1);
INSERT INTO lead_scoring.rule (name, kind, column_name, op, value, points) VALUES ('r26', 'fit', 'size', '>', '1', NULL);
INSERT INTO lead_scoring.rule (name, kind, column_name, op, value, points) VALUES ('r27', 'fit', 'xmin', '=', '1', 1);
INSERT INTO lead_scoring.rule (name, kind, event_type, column_name, op, value, points) VALUES ('r28', 'engagement', 'visit', 'nope', 'is_null', NULL, 1);
INSERT INTO lead_scoring.rule (name, kind, event_type, column_name, op, value, points) VALUES ('r29', 'engagement', 'visit', 'seconds', '>', '1.5', 1);
INSERT INTO lead_scoring.rule (kind, column_name, op, value, points) VALUES ('fit', 'size', '>', '1', 1);
SELECT count(*) AS rules FROM lead_scoring.rule;

-- an UPDATE is checked the same way
INSERT INTO lead_scoring.rule (name, kind, column_name, op, value, points) VALUES ('big', 'fit', 'size', '>=', '100', 1);
UPDATE lead_scoring.rule SET value = 'hundred' WHERE name = 'big';
UPDATE lead_scoring.rule SET max_hits = 3 WHERE name = 'big';
SELECT name, op, value, max_hits FROM lead_scoring.rule;
DELETE FROM lead_scoring.rule;

-- what each operator matches (explain lists the rules that matched each lead)
INSERT INTO lead_scoring.rule (name, kind, column_name, op, value, points) VALUES
    ('size = 100',          'fit', 'size',    '=',  '100', 1),
    ('size <> 100',         'fit', 'size',    '<>', '100', 1),
    ('size < 100',          'fit', 'size',    '<',  '100', 1),
    ('size <= 100',         'fit', 'size',    '<=', '100', 1),
    ('size > 100',          'fit', 'size',    '>',  '100', 1),
    ('size >= 100',         'fit', 'size',    '>=', '100', 1),
    ('revenue >= 1e6',      'fit', 'revenue', '>=', '1000000.5', 1),
    ('signed in 2024',      'fit', 'signed',  '>=', '2024-01-01', 1),
    ('vip',                 'fit', 'vip',     '=',  'true', 1),
    ('country < "a" (C)',   'fit', 'country', '<',  'a', 1),
    ('country in list',     'fit', 'country', 'in', 'DE, us, "Fr, ""x"""', 1),
    ('size in list',        'fit', 'size',    'in', '12, 250', 1),
    ('email contains',      'fit', 'email',   'contains', 'EXAMPLE', 1),
    ('size contains 5',     'fit', 'size',    'contains', '5', 1),
    ('email prefix',        'fit', 'email',   'prefix', ' bob', 1),
    ('country regex',       'fit', 'country', 'regex', '^[A-Z]{2}$', 1),
    ('size is_null',        'fit', 'size',    'is_null', NULL, 1),
    ('revenue not_null',    'fit', 'revenue', 'not_null', NULL, 1),
    ('valid email',         'fit', 'email',   'valid_email', NULL, 1),
    ('invalid email',       'fit', 'email',   'invalid_email', NULL, 1),
    ('valid phone (GB)',    'fit', 'phone',   'valid_phone', 'GB', 1),
    ('invalid phone (GB)',  'fit', 'phone',   'invalid_phone', '44', 1),
    ('valid phone (default)', 'fit', 'phone', 'valid_phone', NULL, 1),
    ('location not_null',   'fit', 'location', 'not_null', NULL, 1),
    ('location contains',   'fit', 'location', 'contains', '1,1', 1);
CALL lead_scoring.refresh_online();
SELECT l.id, l.score, string_agg(e.rule, ' | ' ORDER BY e.rule) AS matched
  FROM leads l LEFT JOIN LATERAL lead_scoring.explain(l.id) e ON true GROUP BY l.id, l.score ORDER BY l.id;
-- the default phone country comes from the settings (and changing it rescores, online)
UPDATE lead_scoring.settings SET default_phone_country = 'GB';
CALL lead_scoring.refresh_online();
SELECT l.id, l.score, (SELECT hits FROM lead_scoring.explain(l.id) WHERE rule = 'valid phone (default)') AS default_phone
  FROM leads l ORDER BY l.id;
UPDATE lead_scoring.settings SET default_phone_country = NULL;
DELETE FROM lead_scoring.rule;

-- engagement rules: event type ('*' = any), a predicate on the event row
INSERT INTO lead_scoring.rule (name, kind, event_type, column_name, op, value, points) VALUES
    ('any event',      'engagement', '*',     NULL,      NULL,       NULL,        1),
    ('visits',         'engagement', 'visit', NULL,      NULL,       NULL,        10),
    ('pricing visits', 'engagement', 'visit', 'url',     'prefix',   '/PRICING',  100),
    ('long reads',     'engagement', '*',     'seconds', '>=',       '60',        1000),
    ('no url',         'engagement', '*',     'url',     'is_null',  NULL,        10000),
    ('recent',         'engagement', '*',     'occurred_at', '>=',   '2024-06-01 00:00+00', 100000);
CALL lead_scoring.refresh_online();
INSERT INTO events (lead_id, event_type, occurred_at, url, seconds) VALUES
    (1, 'visit', '2024-05-01 10:00+00', '/pricing/teams', 30),
    (1, 'Visit', '2024-05-02 10:00+00', '/pricing', 90),
    (2, 'download', '2024-07-01 10:00+00', NULL, NULL),
    (3, 'visit', '2024-01-01 10:00+00', '/blog', 60);
SELECT l.id, l.score, l.score = lead_scoring.score(l.id) AS exact FROM leads l ORDER BY l.id;
SELECT e.* FROM leads l, lead_scoring.explain(l.id) e WHERE l.id = 1;

-- the rule table is dumped with the database
SELECT 'lead_scoring.rule'::regclass = ANY (extconfig) AS rule_dumped,
       'lead_scoring.rule_rule_id_seq'::regclass = ANY (extconfig) AS sequence_dumped,
       'lead_scoring.threshold'::regclass = ANY (extconfig) AS threshold_dumped,
       'lead_scoring.settings'::regclass = ANY (extconfig) AS settings_dumped
  FROM pg_extension WHERE extname = 'lead_scoring';

SELECT lead_scoring.detach('events');
SELECT lead_scoring.detach('leads');
DROP TABLE leads, events;
DROP EXTENSION lead_scoring CASCADE;
DROP SCHEMA lead_scoring CASCADE;
