-- bench/summary.sql — the results of this run (bench_result), as medians and as ratios.
-- A ratio is the median over rounds of the ratio measured within each round (the variants of a
-- round ran back to back, alternating their order), so slow drifts of the machine cancel out.
\pset footer off
\pset null ''

\echo
\echo 'Ratios (median of per-round ratios)'
WITH cmp (ord, bench, a, b, what, op, target) AS (VALUES
    (1,  'inserts',     'ext',                 'plain',           '1 inserts: lead_scoring tps / plain table tps',               '>=', 0.55),
    (2,  'inserts',     'ext',                 'pl_row',          '1 inserts: lead_scoring tps / PL/pgSQL row trigger tps',      '>=', 1.5),
    (3,  'inserts',     'ext',                 'pl_stmt',         '1 inserts: lead_scoring tps / PL/pgSQL statement trigger tps','>=', 1.5),
    (4,  'inserts',     'pl_row',              'plain',           '1 inserts: PL/pgSQL row trigger tps / plain table tps',       NULL, NULL),
    (5,  'inserts',     'pl_stmt',             'plain',           '1 inserts: PL/pgSQL statement trigger tps / plain table tps', NULL, NULL),
    (6,  'copy',        'ext',                 'plain',           '2 COPY: lead_scoring time / plain table time',                '<=', 1.3),
    (7,  'copy',        'pl_row',              'ext',             '2 COPY: PL/pgSQL row trigger time / lead_scoring time',       '>=', 5),
    (8,  'copy',        'pl_stmt',             'ext',             '2 COPY: PL/pgSQL statement trigger time / lead_scoring time', NULL, NULL),
    (9,  'copy',        'pl_row',              'plain',           '2 COPY: PL/pgSQL row trigger time / plain table time',        NULL, NULL),
    (10, 'copy',        'pl_stmt',             'plain',           '2 COPY: PL/pgSQL statement trigger time / plain table time',  NULL, NULL),
    (11, 'rescore',     'hand_update',         'ext_rescore_all', '3 rescore: hand-written UPDATE time / rescore_all() time',    NULL, NULL),
    (12, 'rescore',     'hand_select',         'ext_rescore_all', '3 rescore: hand-written SELECT time / rescore_all() time',    NULL, NULL),
    (13, 'attribution', 'hand_linear',         'linear',          '4 attribution: hand-written / lead_scoring time, linear',     '>=', 2),
    (14, 'attribution', 'hand_time_decay',     'time_decay',      '4 attribution: hand-written / lead_scoring time, time_decay', '>=', 2),
    (15, 'attribution', 'hand_position_based', 'position_based',  '4 attribution: hand-written / lead_scoring time, position_based', '>=', 2),
    (16, 'attribution', 'markov',              'linear',          '4 attribution: markov time / linear time',                    '<=', 3),
    (17, 'attribution', 'handtotal_linear',    'total_linear',    '4 per-channel totals: hand-written / attribution_totals() time, linear', '>=', 2),
    (18, 'attribution', 'handtotal_time_decay', 'total_time_decay', '4 per-channel totals: hand-written / attribution_totals() time, time_decay', '>=', 2),
    (19, 'attribution', 'handtotal_position_based', 'total_position_based', '4 per-channel totals: hand-written / attribution_totals() time, position_based', '>=', 2),
    (20, 'attribution', 'total_markov',        'total_linear',    '4 per-channel totals: markov time / linear time',             NULL, NULL),
    (21, 'attribution', 'shapley',             'linear',          '4 attribution: shapley time / linear time',                   NULL, NULL))
SELECT c.what AS comparison, to_char(r.ratio, 'FM9990.00') AS ratio,
       coalesce(c.op || ' ' || c.target, '') AS target,
       CASE WHEN c.op = '>=' THEN (CASE WHEN r.ratio >= c.target THEN 'yes' ELSE 'NO' END)
            WHEN c.op = '<=' THEN (CASE WHEN r.ratio <= c.target THEN 'yes' ELSE 'NO' END)
            ELSE '' END AS met
FROM cmp c
CROSS JOIN LATERAL (
    SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY x.value / y.value)::numeric AS ratio
    FROM bench_result x
    JOIN bench_result y ON y.bench = x.bench AND y.round = x.round AND y.variant = c.b
    WHERE x.bench = c.bench AND x.variant = c.a AND y.value > 0) r
WHERE r.ratio IS NOT NULL
ORDER BY c.ord;

\echo
\echo '5 memory: growth of the backend over the load (RssAnon = private resident memory; target for lead_scoring < 10 MB)'
SELECT m.variant, to_char(m.value / 1024, 'FM9990.0') || ' MB' AS "RssAnon growth",
       to_char(c.value / 1024, 'FM9990.0') || ' MB' AS "memory contexts growth",
       CASE WHEN m.variant = 'ext' THEN (CASE WHEN m.value < 10240 THEN 'yes' ELSE 'NO' END) ELSE '' END AS met
FROM bench_result m
LEFT JOIN bench_result c ON c.bench = 'memory_contexts' AND c.variant = m.variant
WHERE m.bench = 'memory'
ORDER BY m.variant;

\echo
\echo 'Medians per variant'
SELECT bench, variant, to_char(percentile_cont(0.5) WITHIN GROUP (ORDER BY value)::numeric, 'FM999999990.0') AS median,
       unit, count(*) AS rounds,
       to_char(min(value)::numeric, 'FM999999990.0') AS min, to_char(max(value)::numeric, 'FM999999990.0') AS max
FROM bench_result
WHERE bench NOT LIKE 'memory%'
GROUP BY bench, variant, unit
ORDER BY bench, percentile_cont(0.5) WITHIN GROUP (ORDER BY value);
