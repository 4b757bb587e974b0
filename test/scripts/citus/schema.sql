-- The CRM of the Citus suite (test/scripts/citus.sh): the same tables on plain PostgreSQL and on Citus.
-- Events and deals have the primary keys Citus needs on tables distributed by lead: (id, lead_id).
SET client_min_messages = warning;
CREATE SCHEMA crm;
CREATE TABLE crm.leads (id bigint PRIMARY KEY, email text, phone text, company_size int, owner text,
                        created_at timestamptz NOT NULL);
CREATE TABLE crm.events (id bigint NOT NULL, lead_id bigint NOT NULL, event_type text NOT NULL,
                         occurred_at timestamptz NOT NULL, channel text, campaign text, url text,
                         PRIMARY KEY (id, lead_id));
CREATE TABLE crm.deals (id bigint NOT NULL, lead_id bigint NOT NULL, amount numeric NOT NULL,
                        status text NOT NULL DEFAULT 'open', closed_at timestamptz, owner text, cost numeric,
                        PRIMARY KEY (id, lead_id));
