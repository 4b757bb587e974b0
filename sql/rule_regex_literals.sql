-- Regular expressions made of literal words only ("Head|Director|VP") are matched by looking for
-- the words (src/rules.c, RegexLiterals): each rule below must match exactly the leads that `~`
-- matches, whether its pattern takes that path or the regular expression engine's.
CREATE EXTENSION lead_scoring;
SET client_min_messages = warning;

CREATE TABLE leads (
    id    integer PRIMARY KEY,
    title text,
    size  integer
);
CREATE TABLE events (
    id          serial PRIMARY KEY,
    lead_id     integer,
    event_type  text NOT NULL,
    occurred_at timestamptz NOT NULL,
    url         text
);
SELECT lead_scoring.attach_leads('leads');
SELECT lead_scoring.attach_events('events');
INSERT INTO leads VALUES
    (1, 'VP Sales', 10), (2, 'vp sales', 100), (3, 'Head of Growth', 1000), (4, 'Director', NULL),
    (5, 'V.P.', 5), (6, 'C-level exec', 50), (7, '', 500), (8, NULL, 7), (9, 'Chief_Officer', 70),
    (10, 'a/b', 700), (11, 'x,y', 1), (12, 'Résumé VP', 11), (13, 'VVP', 111), (14, 'élan', 1111),
    (15, 'Founder & CEO', 2), (16, 'HeadDirector', 22), (17, 'Vice President', 222), (18, 'P', 3);
INSERT INTO lead_scoring.rule (name, kind, column_name, op, value, points) VALUES
    ('words',              'fit', 'title', 'regex', 'Head|Director|VP', 1),
    ('words in parens',    'fit', 'title', 'regex', '(Head|Director|VP)', 1),
    ('one word',           'fit', 'title', 'regex', 'VP', 1),
    ('words with spaces',  'fit', 'title', 'regex', 'Vice President|of Growth', 1),
    ('punctuation',        'fit', 'title', 'regex', 'Chief_Officer|C-level|a/b|x,y', 1),
    ('empty alternative',  'fit', 'title', 'regex', 'Head|', 1),
    ('only a bar',         'fit', 'title', 'regex', '|', 1),
    ('two groups',         'fit', 'title', 'regex', '(Head)|(VP)', 1),
    ('case-insensitive',   'fit', 'title', 'regex', '(?i)vp', 1),
    ('dot',                'fit', 'title', 'regex', 'V.P', 1),
    ('anchored',           'fit', 'title', 'regex', '^VP', 1),
    ('non-ASCII word',     'fit', 'title', 'regex', 'Résumé|élan', 1),
    ('class',              'fit', 'title', 'regex', '[A-Z]P', 1),
    ('number as text',     'fit', 'size',  'regex', '11|70', 1),
    ('number in parens',   'fit', 'size',  'regex', '(1000)', 1);
CALL lead_scoring.refresh_online();
-- every (lead, rule): matched by the engine (explain) against the SQL operator
SELECT r.name, r.value,
       count(*) FILTER (WHERE m.hit IS DISTINCT FROM coalesce(m.expected, false)) AS disagreements,
       string_agg(m.id::text, ',' ORDER BY m.id) FILTER (WHERE m.hit) AS matched
  FROM lead_scoring.rule r
  CROSS JOIN LATERAL (
      SELECT l.id,
             EXISTS (SELECT FROM lead_scoring.explain(l.id) e WHERE e.rule = r.name) AS hit,
             CASE r.column_name WHEN 'title' THEN l.title ~ r.value ELSE l.size::text ~ r.value END AS expected
        FROM leads l) m
 GROUP BY r.rule_id, r.name, r.value ORDER BY r.rule_id;
-- and the scores are the number of rules matched
SELECT count(*) AS wrong_scores
  FROM leads l
 WHERE l.score <> (SELECT count(*) FROM lead_scoring.explain(l.id));
-- the same words on an events column, counted by engagement rules as the events are written
DELETE FROM lead_scoring.rule;
INSERT INTO lead_scoring.rule (name, kind, event_type, column_name, op, value, points) VALUES
    ('pricing pages', 'engagement', 'visit', 'url', 'regex', '(pricing|plans)', 1),
    ('docs pages',    'engagement', 'visit', 'url', 'regex', 'docs|Guide', 10);
CALL lead_scoring.refresh_online();
INSERT INTO events (lead_id, event_type, occurred_at, url) VALUES
    (1, 'visit', now(), '/pricing'), (1, 'visit', now(), '/Pricing'), (2, 'visit', now(), '/plans/teams'),
    (2, 'visit', now(), '/docs/guide'), (3, 'visit', now(), '/Guide'), (3, 'visit', now(), NULL);
SELECT l.id, l.score, l.score = lead_scoring.score(l.id) AS exact,
       (SELECT count(*) FILTER (WHERE e.url ~ '(pricing|plans)') + 10 * count(*) FILTER (WHERE e.url ~ 'docs|Guide')
          FROM events e WHERE e.lead_id = l.id) AS expected
  FROM leads l WHERE l.id <= 3 ORDER BY l.id;

SELECT lead_scoring.detach('events');
SELECT lead_scoring.detach('leads');
DROP TABLE leads, events;
DROP EXTENSION lead_scoring CASCADE;
