-- lead_scoring.settings: exactly one row, validated values.
CREATE EXTENSION lead_scoring;
SET search_path = lead_scoring, public;
SELECT * FROM settings;

-- an INSERT (as a restored dump does) replaces the row's values instead of adding a row
INSERT INTO settings (sla, won_statuses) VALUES ('30 minutes', '{won}');
SELECT count(*), min(sla), min(won_statuses::text) FROM settings;
-- the row cannot be removed
DELETE FROM settings;
TRUNCATE settings;
SELECT count(*) FROM settings;

-- bad values are refused, naming the rule that failed
UPDATE settings SET score_floor = 10, score_ceiling = 5;
UPDATE settings SET sla = '0 seconds';
UPDATE settings SET sla = '-1 hour';
UPDATE settings SET won_statuses = '{Won}';
UPDATE settings SET attribution_model = 'u_shaped';
UPDATE settings SET attribution_lookback = '-1 day';
UPDATE settings SET attribution_half_life = '0';
UPDATE settings SET fit_grade_bands = '{20,40,60}';
UPDATE settings SET engagement_grade_bands = '{60,30}';
INSERT INTO settings (singleton) VALUES (false);
SELECT sla, won_statuses, score_floor, score_ceiling, attribution_model FROM settings;

UPDATE settings SET score_floor = 0, score_ceiling = 100, attribution_model = 'markov';
SELECT score_floor, score_ceiling, attribution_model FROM settings;
DROP EXTENSION lead_scoring;
