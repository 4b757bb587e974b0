-- bench/config.sql — the scoring configuration every variant uses: run with -v target=b_pl or
-- -v target=lead_scoring (the tables have the same columns).  The rules exercise every part of the
-- formula: fit predicates, event-type and event-column matches, decay, max_points caps, max_hits.
\set ON_ERROR_STOP 1
INSERT INTO :target.rule (name, kind, event_type, column_name, op, value, points, max_points, max_hits, half_life) VALUES
    ('Company with 50+ employees', 'fit', NULL, 'employees', '>=',            '50',  10, NULL, NULL, NULL),
    ('Target industry',            'fit', NULL, 'industry',  'in',            'Software,Financial services,Healthcare', 10, NULL, NULL, NULL),
    ('Decision maker',             'fit', NULL, 'job_title', 'regex',         '(Head|Director|VP|Chief|Founder)', 15, NULL, NULL, NULL),
    ('Invalid email',              'fit', NULL, 'email',     'invalid_email', NULL, -30, NULL, NULL, NULL),
    ('Missing phone',              'fit', NULL, 'phone',     'is_null',       NULL, -10, NULL, NULL, NULL),
    ('Demo request',               'engagement', 'demo_request',      NULL, NULL, NULL,               40, NULL,    1, NULL),
    ('Pricing page view',          'engagement', 'page_view',         'page_url', 'prefix', '/pricing', 10,  20, NULL, '14 days'),
    ('Webinar attended',           'engagement', 'webinar_attended',  NULL, NULL, NULL,               10, NULL,    3, '60 days'),
    ('Content download',           'engagement', 'content_download',  NULL, NULL, NULL,                8,   24, NULL, '45 days'),
    ('Email click',                'engagement', 'email_click',       NULL, NULL, NULL,                3,   15, NULL, '30 days'),
    ('Email open',                 'engagement', 'email_open',        NULL, NULL, NULL,                1,    5, NULL, '14 days'),
    ('Ad click',                   'engagement', 'ad_click',          NULL, NULL, NULL,                2,   10,    5, '30 days'),
    ('Site visit',                 'engagement', 'page_view',         NULL, NULL, NULL,                1,   10, NULL, '7 days'),
    ('Unsubscribed',               'engagement', 'email_unsubscribe', NULL, NULL, NULL,              -20, NULL,    1, NULL);
INSERT INTO :target.threshold (stage, min_score) VALUES ('iql', 10), ('mql', 35), ('sal', 60);
UPDATE :target.settings SET disqualify_below = -25, score_floor = -50, score_ceiling = 150;
