-- The CRM of the Citus suite (test/scripts/citus.sh): the same tables on plain PostgreSQL and on Citus.
-- Events and deals have the primary keys Citus needs on tables distributed by lead: (id, lead_id).
-- Each table had a column that was dropped (legacy): its shards, created afterwards, have no such column,
-- so their column numbers differ from the table's, which the triggers on the shards must follow.
SET client_min_messages = warning;
CREATE SCHEMA crm;
CREATE TABLE crm.leads (legacy int, id bigint PRIMARY KEY, email text, phone text, company_size int,
                        owner text, created_at timestamptz NOT NULL);
CREATE TABLE crm.events (legacy int, id bigint NOT NULL, lead_id bigint NOT NULL, event_type text NOT NULL,
                         occurred_at timestamptz NOT NULL, channel text, campaign text, url text,
                         PRIMARY KEY (id, lead_id));
CREATE TABLE crm.deals (legacy int, id bigint NOT NULL, lead_id bigint NOT NULL, amount numeric NOT NULL,
                        status text NOT NULL DEFAULT 'open', closed_at timestamptz, owner text, cost numeric,
                        PRIMARY KEY (id, lead_id));
ALTER TABLE crm.leads DROP COLUMN legacy;
ALTER TABLE crm.events DROP COLUMN legacy;
ALTER TABLE crm.deals DROP COLUMN legacy;
