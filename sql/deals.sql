-- Deals move their leads: open -> opportunity, won -> customer, lost -> lost unless another
-- deal of the lead is open or won.  Moves can_transition refuses are skipped; the deal is saved.
CREATE EXTENSION lead_scoring;
CREATE TABLE lead (id int PRIMARY KEY, name text);
CREATE TYPE deal_status AS ENUM ('new', 'negotiating', 'Won', 'Closed Lost');
CREATE TABLE deal (deal_no int PRIMARY KEY, lead int, value numeric(12,2), state text, closed date);
CREATE TABLE big_deal (id bigint PRIMARY KEY, lead_id int, amount int, status deal_status, closed_at timestamptz);
SET search_path = lead_scoring, public;
SELECT attach_leads('lead');

-- attach_deals validates the mapping and changes nothing when it is wrong
\set SHOW_CONTEXT never
SELECT attach_deals('deal');
SELECT attach_deals('deal', id_column => 'deal_no', lead_column => 'lead', amount_column => 'state');
SELECT attach_deals('deal', id_column => 'deal_no', lead_column => 'value');
SELECT attach_deals('deal', id_column => 'deal_no', lead_column => 'lead', amount_column => 'value',
                    status_column => 'state', closed_column => 'value');
SELECT count(*) AS attached FROM attachment WHERE kind = 'deals';
\set SHOW_CONTEXT errors
-- a deals table may name its columns as it likes; an index on the lead column is made when missing
SELECT attach_deals('deal', id_column => 'deal_no', lead_column => 'lead', amount_column => 'value',
                    status_column => 'state', closed_column => 'closed');
SELECT attach_deals('big_deal');
SELECT tgrelid::regclass, tgname FROM pg_trigger WHERE tgname LIKE 'zz_lead_scoring_deal%' ORDER BY 1;

CREATE FUNCTION pg_temp.log(l int) RETURNS TABLE (from_stage funnel_stage, to_stage funnel_stage, reason text)
LANGUAGE sql AS $$
    SELECT from_stage, to_stage, reason FROM lead_scoring.stage_change WHERE lead_id = l ORDER BY change_id $$;
INSERT INTO lead (id, name, stage) SELECT g, 'lead ' || g, 'mql' FROM generate_series(1, 12) g;

-- an open deal makes an opportunity; a second open deal changes nothing
INSERT INTO deal VALUES (101, 1, 1000, 'negotiating', NULL);
INSERT INTO deal VALUES (102, 1, 500, 'proposal', NULL);
-- won (status in settings.won_statuses, any case, surrounding spaces, close date set) makes a customer
UPDATE deal SET state = '  Closed Won ', closed = '2024-03-01' WHERE deal_no = 101;
-- a customer who opens another deal stays a customer, and the deal is saved
INSERT INTO deal VALUES (103, 1, 200, 'negotiating', NULL);
SELECT * FROM pg_temp.log(1);
SELECT deal_no, state FROM deal WHERE lead = 1 ORDER BY deal_no;

-- a lost deal leaves the lead alone while another of its deals is open ...
INSERT INTO deal VALUES (201, 2, 100, 'negotiating', NULL), (202, 2, 100, 'negotiating', NULL);
UPDATE deal SET state = 'lost' WHERE deal_no = 201;
SELECT stage FROM lead WHERE id = 2;
-- ... and moves it to lost with the last one (the other deals may be in another deals table)
INSERT INTO big_deal VALUES (203, 2, 100, 'negotiating', NULL);
UPDATE deal SET state = 'cancelled' WHERE deal_no = 202;
SELECT stage FROM lead WHERE id = 2;
UPDATE big_deal SET status = 'Closed Lost' WHERE id = 203;
SELECT * FROM pg_temp.log(2);
-- a lost deal of a lead with a won deal: the lead stays a customer
INSERT INTO deal VALUES (301, 3, 100, 'won', '2024-03-02'), (302, 3, 50, 'lost', '2024-03-03');
SELECT * FROM pg_temp.log(3);
-- a deal inserted lost moves a lead without other deals straight to lost
INSERT INTO deal VALUES (401, 4, 80, 'Lost', '2024-03-04');
SELECT * FROM pg_temp.log(4);

-- several deals of one lead in one statement: each sees the others (lost + open -> opportunity)
INSERT INTO deal VALUES (501, 5, 10, 'lost', NULL), (502, 5, 10, 'negotiating', NULL);
SELECT * FROM pg_temp.log(5);

-- "won" needs a close date: without one the deal is still open
INSERT INTO deal VALUES (601, 6, 10, 'won', NULL);
SELECT stage FROM lead WHERE id = 6;
UPDATE deal SET closed = '2024-03-05' WHERE deal_no = 601;
SELECT * FROM pg_temp.log(6);

-- updates that keep the outcome do not touch the lead; deleting a deal does not either
UPDATE deal SET value = 20 WHERE deal_no = 601;
DELETE FROM deal WHERE deal_no = 601;
SELECT count(*) AS lead_6_rows FROM stage_change WHERE lead_id = 6;
-- a deal that moves to another lead moves that lead
INSERT INTO deal VALUES (701, 7, 10, 'negotiating', NULL);
UPDATE deal SET lead = 8 WHERE deal_no = 701;
SELECT lead_id, from_stage, to_stage, reason FROM stage_change WHERE lead_id IN (7, 8) ORDER BY change_id;

-- refused deal moves are skipped, never raised: a disqualified or recycled lead stays put
UPDATE lead SET stage = 'disqualified' WHERE id = 9;
UPDATE lead SET stage = 'sal' WHERE id = 10;
UPDATE lead SET stage = 'recycled' WHERE id = 10;
INSERT INTO deal VALUES (901, 9, 10, 'negotiating', NULL), (1001, 10, 10, 'negotiating', NULL);
SELECT id, stage FROM lead WHERE id IN (9, 10) ORDER BY id;
SELECT count(*) AS saved_deals FROM deal WHERE deal_no IN (901, 1001);
-- ... also with enforce_transitions off: it governs the writers' own changes, not deal rules
SET lead_scoring.enforce_transitions = off;
INSERT INTO deal VALUES (104, 1, 10, 'lost', '2024-03-06');
RESET lead_scoring.enforce_transitions;
SELECT stage FROM lead WHERE id = 1;

-- lead_scoring.reason and lead_scoring.actor apply to deal moves too
SET lead_scoring.reason = 'signed at the fair';
SET lead_scoring.actor = 'bob';
INSERT INTO deal VALUES (1101, 11, 10, 'won', '2024-03-07');
RESET lead_scoring.reason;
RESET lead_scoring.actor;
SELECT from_stage, to_stage, actor, reason FROM stage_change WHERE lead_id = 11 ORDER BY change_id;

-- won and lost statuses come from settings, and a change is used by the next statement
BEGIN;
UPDATE settings SET won_statuses = '{signed}', lost_statuses = '{dropped}';
INSERT INTO deal VALUES (1201, 12, 10, 'won', '2024-03-08');
SELECT stage FROM lead WHERE id = 12;
UPDATE deal SET state = 'signed' WHERE deal_no = 1201;
SELECT stage FROM lead WHERE id = 12;
-- the canonical view agrees with the trigger
SELECT deal_ref, lead_id, amount, status, closed_at, outcome FROM deals WHERE lead_id = 12;
ROLLBACK;
SELECT stage FROM lead WHERE id = 12;

-- deals whose lead is NULL or unknown are saved and move nothing
INSERT INTO deal VALUES (1301, NULL, 10, 'won', '2024-03-09'), (1302, 999, 10, 'won', '2024-03-09');
SELECT count(*) FROM deal WHERE deal_no IN (1301, 1302);

-- the canonical view of all deals tables, with the outcome the triggers use
SELECT source, deal_ref, lead_id, amount, status, closed_at, outcome FROM deals ORDER BY source::text, deal_ref;

-- a partitioned deals table: the trigger fires on its partitions, whose columns may lie elsewhere
CREATE TABLE public.part_deal (id int, lead_id int, amount numeric, status text, closed_at timestamptz)
    PARTITION BY RANGE (id);
CREATE TABLE public.part_deal_1 (junk int, status text, closed_at timestamptz, amount numeric, lead_id int, id int);
ALTER TABLE part_deal_1 DROP COLUMN junk;
ALTER TABLE part_deal ATTACH PARTITION part_deal_1 FOR VALUES FROM (0) TO (1000);
SELECT attach_deals('part_deal');
INSERT INTO lead (id, stage) VALUES (13, 'mql');
INSERT INTO part_deal VALUES (1, 13, 10, 'open', NULL);
UPDATE part_deal SET status = 'won', closed_at = '2024-03-10' WHERE id = 1;
SELECT * FROM pg_temp.log(13);
SELECT detach('part_deal');
DROP TABLE part_deal;

-- detaching a deals table removes its trigger: its deals no longer move leads
SELECT detach('big_deal');
INSERT INTO big_deal VALUES (1, 12, 10, 'new', NULL);
SELECT stage FROM lead WHERE id = 12;

DROP FUNCTION pg_temp.log(int);
SELECT detach('deal');
SELECT detach('lead');
DROP TABLE lead, deal, big_deal, stage_change;
DROP TYPE deal_status;
DROP EXTENSION lead_scoring;
