-- ±infinity timestamps: an event dated -infinity happened infinitely long ago, +infinity never
-- happens before +infinity; equal times (equal infinities too) are 0 apart, an infinite time is
-- infinitely far from any other.  Decay therefore takes such events to 0 points (never to an
-- overflow), caps hold, and the weights of time_decay stay finite (doc/scoring.md, "Infinite times").
CREATE EXTENSION lead_scoring;
CREATE TABLE inf_leads (id bigint PRIMARY KEY);
CREATE TABLE inf_events (id serial PRIMARY KEY, lead_id bigint NOT NULL, event_type text NOT NULL,
                         occurred_at timestamptz NOT NULL, happened_on date);
SELECT lead_scoring.attach_leads('inf_leads');
SELECT lead_scoring.attach_events('inf_events');
INSERT INTO lead_scoring.rule (name, kind, event_type, points, half_life, max_points) VALUES
  ('decaying view', 'engagement', 'view', 10, '1 day', 30),
  ('negative decaying', 'engagement', 'unsubscribe', -10, '1 day', 5),
  ('form', 'engagement', 'form', 5, NULL, NULL);
INSERT INTO inf_leads VALUES (1), (2), (3);
-- lead 1: events at -infinity; lead 2: at +infinity; lead 3: one of each and a finite one
INSERT INTO inf_events (lead_id, event_type, occurred_at) VALUES
  (1, 'view', '-infinity'), (1, 'unsubscribe', '-infinity'), (1, 'form', '-infinity'),
  (2, 'view', 'infinity'), (2, 'form', 'infinity'),
  (3, 'view', '-infinity'), (3, 'view', 'infinity'), (3, 'form', now() - interval '1 day');
-- stored = score(): decayed -infinity events are worth 0 (not the cap), undecayed ones their points;
-- +infinity events do not count yet
SELECT id, score, lead_scoring.score(id) AS now, lead_scoring.score(id, 'infinity') AS at_infinity,
       lead_scoring.score(id, '-infinity') AS at_minus_infinity
  FROM inf_leads ORDER BY id;
SELECT * FROM lead_scoring.explain(1);
SELECT * FROM lead_scoring.explain(3, 'infinity');
SELECT * FROM lead_scoring.explain(1, '-infinity');
-- the batch paths agree
SELECT lead_scoring.rescore_all();
INSERT INTO inf_leads SELECT g FROM generate_series(10, 19) g;
INSERT INTO inf_events (lead_id, event_type, occurred_at)
SELECT g, t, ts FROM generate_series(10, 19) g, unnest(ARRAY['view', 'form']) t,
       unnest(ARRAY['-infinity', 'infinity', '2000-01-01']::timestamptz[]) ts;
SELECT count(*) AS leads, count(*) FILTER (WHERE score = lead_scoring.score(id)) AS exact,
       min(score), max(score) FROM inf_leads;
-- the replay clock must be finite
SET lead_scoring.now = 'infinity';
-- time_decay weights: the latest touch has age 0; touches infinitely older get 0
SELECT lead_scoring.attribution_weights('time_decay', '{-infinity,infinity}') AS both_infinite,
       lead_scoring.attribution_weights('time_decay', '{1999-01-01,infinity}') AS finite_then_infinite,
       lead_scoring.attribution_weights('time_decay', '{-infinity,-infinity}') AS equal_infinities,
       lead_scoring.attribution_weights('time_decay', '{-infinity,2000-01-01,2000-01-02}',
                                        half_life => '1 day') AS minus_infinity_first,
       lead_scoring.attribution_weights('time_decay', '{-infinity,2000-01-01}', half_life => '0') AS no_half_life;
SELECT lead_scoring.detach('inf_events');
SELECT lead_scoring.detach('inf_leads');
DROP TABLE inf_events, inf_leads;
SET client_min_messages = warning;
DROP EXTENSION lead_scoring CASCADE;
DROP SCHEMA lead_scoring CASCADE;
RESET client_min_messages;
