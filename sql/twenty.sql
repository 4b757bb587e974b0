-- A Twenty workspace, its tables rebuilt from the workspace entities (person, company, opportunity,
-- timelineActivity, workspaceMember: uuid ids, camelCase columns, composite fields flattened,
-- soft deletes in "deletedAt"), attached with documented calls only, and the application's write
-- patterns replayed: multi-row INSERT ... RETURNING, card moves both ways, soft deletes, a merge of
-- people, a person deleted with the opportunity's FK set to NULL, and Twenty's own migration adding
-- an option to the stage enum.  Every number is one a Twenty user would compute by hand.
-- doc/twenty.md follows the same steps.
CREATE EXTENSION lead_scoring;
\set SHOW_CONTEXT never
SET client_min_messages = warning;
CREATE SCHEMA workspace_demo;
SET search_path = workspace_demo, public;
CREATE TYPE opportunity_stage_enum AS ENUM ('NEW', 'SCREENING', 'MEETING', 'PROPOSAL', 'CUSTOMER');
CREATE TABLE "workspaceMember" (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), "nameFirstName" text DEFAULT '',
    "nameLastName" text DEFAULT '', "userEmail" text, "userId" uuid NOT NULL, "colorScheme" text DEFAULT 'System',
    locale text DEFAULT 'en', "createdAt" timestamptz NOT NULL DEFAULT now(),
    "updatedAt" timestamptz NOT NULL DEFAULT now(), "deletedAt" timestamptz);
CREATE TABLE company (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), name text DEFAULT '',
    "domainNamePrimaryLinkUrl" text DEFAULT '', employees double precision, position double precision,
    "accountOwnerId" uuid REFERENCES "workspaceMember" ON DELETE SET NULL,
    "createdAt" timestamptz NOT NULL DEFAULT now(), "updatedAt" timestamptz NOT NULL DEFAULT now(),
    "deletedAt" timestamptz);
CREATE TABLE person (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), "nameFirstName" text DEFAULT '',
    "nameLastName" text DEFAULT '', "emailsPrimaryEmail" text DEFAULT '', "emailsAdditionalEmails" jsonb,
    "jobTitle" text DEFAULT '', city text DEFAULT '', position double precision,
    "companyId" uuid REFERENCES company ON DELETE SET NULL,
    "createdBySource" text DEFAULT 'MANUAL', "createdByWorkspaceMemberId" uuid, "createdByName" text DEFAULT '',
    "createdAt" timestamptz NOT NULL DEFAULT now(), "updatedAt" timestamptz NOT NULL DEFAULT now(),
    "deletedAt" timestamptz);
CREATE TABLE opportunity (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), name text DEFAULT '',
    "amountAmountMicros" numeric, "amountCurrencyCode" text DEFAULT '', "closeDate" timestamptz,
    stage opportunity_stage_enum NOT NULL DEFAULT 'NEW', position double precision,
    "pointOfContactId" uuid REFERENCES person ON DELETE SET NULL,
    "companyId" uuid REFERENCES company ON DELETE SET NULL,
    "createdBySource" text DEFAULT 'MANUAL', "createdByWorkspaceMemberId" uuid,
    "createdAt" timestamptz NOT NULL DEFAULT now(), "updatedAt" timestamptz NOT NULL DEFAULT now(),
    "deletedAt" timestamptz);
CREATE TABLE "timelineActivity" (id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    "happensAt" timestamptz NOT NULL DEFAULT now(), name text NOT NULL, properties jsonb,
    "linkedRecordCachedName" text, "linkedRecordId" uuid, "linkedObjectMetadataId" uuid,
    "workspaceMemberId" uuid REFERENCES "workspaceMember" ON DELETE CASCADE,
    "targetPersonId" uuid REFERENCES person ON DELETE CASCADE,
    "targetCompanyId" uuid REFERENCES company ON DELETE CASCADE,
    "targetOpportunityId" uuid REFERENCES opportunity ON DELETE CASCADE,
    "createdAt" timestamptz NOT NULL DEFAULT now(), "updatedAt" timestamptz NOT NULL DEFAULT now(),
    "deletedAt" timestamptz);

-- the DBA attaches: people are the leads, their timeline the events, opportunities the deals;
-- soft-deleted rows are left out
RESET search_path;
-- Twenty keeps no owner on a person or an opportunity: their owner is the account owner of their
-- company (company."accountOwnerId" -> "workspaceMember"), shown by name ("nameFirstName" "nameLastName")
SELECT lead_scoring.attach_leads('workspace_demo.person', created_column => 'createdAt',
                                 row_filter => '"deletedAt" IS NULL', owner_column => 'companyId',
                                 owner_label => 'accountOwnerId.nameFirstName,nameLastName');
SELECT lead_scoring.attach_events('workspace_demo."timelineActivity"', lead_column => 'targetPersonId',
                                  type_column => 'name', time_column => 'happensAt',
                                  row_filter => '"deletedAt" IS NULL');
-- amounts are in micros; "closeDate" is an expected date, so a won stage alone is a won deal; the
-- pipeline's stages are funnel stages (a card move is a funnel move)
SELECT lead_scoring.attach_deals('workspace_demo.opportunity', lead_column => 'pointOfContactId',
                                 amount_column => 'amountAmountMicros', amount_scale => 0.000001,
                                 status_column => 'stage', closed_column => NULL,
                                 row_filter => '"deletedAt" IS NULL',
                                 stage_map => '{"NEW": "sql", "SCREENING": "sql", "MEETING": "opportunity",
                                                "PROPOSAL": "opportunity", "CUSTOMER": "customer"}',
                                 currency_column => 'amountCurrencyCode', created_column => 'createdAt',
                                 owner_column => 'companyId',
                                 owner_label => 'accountOwnerId.nameFirstName,nameLastName');
UPDATE lead_scoring.settings SET won_statuses = '{customer}', lost_statuses = '{}';
-- the reports are in USD: one EUR is worth 1.08 USD
INSERT INTO lead_scoring.currency_rate (currency, rate) VALUES ('USD', 1), ('EUR', 1.08);
INSERT INTO lead_scoring.rule (name, kind, event_type, column_name, op, value, points, max_points) VALUES
    ('work e-mail', 'fit', NULL, 'emailsPrimaryEmail', 'valid_email', NULL, 10, NULL),
    ('executive', 'fit', NULL, 'jobTitle', 'contains', 'chief', 15, NULL),
    ('e-mails received', 'engagement', 'linked-message.received', NULL, NULL, NULL, 10, 20),
    ('meetings', 'engagement', 'calendarEvent.linked', NULL, NULL, NULL, 20, NULL);
INSERT INTO lead_scoring.threshold VALUES ('mql', 30), ('sal', 50);

SET lead_scoring.now = '2026-03-02 10:00:00+00';
SET search_path = workspace_demo, public;
INSERT INTO "workspaceMember" (id, "nameFirstName", "nameLastName", "userId") VALUES
    ('00000000-0000-0000-0000-0000000000a1', 'Tim', 'Lee', gen_random_uuid()),
    ('00000000-0000-0000-0000-0000000000a2', 'Sam', '', gen_random_uuid());
INSERT INTO company (id, name, "accountOwnerId") VALUES
    ('00000000-0000-0000-0000-0000000000c1', 'Acme', '00000000-0000-0000-0000-0000000000a1'),
    ('00000000-0000-0000-0000-0000000000c2', 'Euro GmbH', '00000000-0000-0000-0000-0000000000a2');
-- the API creates records in batches and reads them back
INSERT INTO person (id, "nameFirstName", "emailsPrimaryEmail", "jobTitle", "createdAt", "companyId") VALUES
    ('00000000-0000-0000-0000-000000000001', 'Ada', 'ada@acme.io', 'Chief of Staff', '2026-03-01 09:00+00',
     '00000000-0000-0000-0000-0000000000c1'),
    ('00000000-0000-0000-0000-000000000002', 'Bob', 'bob@acme.io', '', '2026-03-01 09:05+00',
     '00000000-0000-0000-0000-0000000000c1'),
    ('00000000-0000-0000-0000-000000000003', 'Bobby', '', '', '2026-03-01 09:06+00', NULL)
RETURNING "nameFirstName", stage, score;
INSERT INTO "timelineActivity" ("targetPersonId", name, "happensAt") VALUES
    ('00000000-0000-0000-0000-000000000001', 'linked-message.received', '2026-03-02 08:00+00'),
    ('00000000-0000-0000-0000-000000000002', 'linked-message.received', '2026-03-02 08:10+00'),
    ('00000000-0000-0000-0000-000000000003', 'linked-message.received', '2026-03-02 08:20+00'),
    ('00000000-0000-0000-0000-000000000003', 'calendarEvent.linked', '2026-03-02 08:30+00'),
    ('00000000-0000-0000-0000-000000000002', 'person.updated', '2026-03-02 08:40+00')
RETURNING name;
-- by hand: Ada 10 + 15 + 10 = 35 (mql); Bob 10 + 10 = 20; Bobby (no e-mail) 10 + 20 = 30 (mql)
SELECT "nameFirstName", stage, score, lead_scoring.score(id) AS computed FROM person ORDER BY "nameFirstName";

-- a timeline entry soft-deleted by the application stops counting
UPDATE "timelineActivity" SET "deletedAt" = now() WHERE name = 'calendarEvent.linked';
SELECT "nameFirstName", score, lead_scoring.score(id) AS computed FROM person ORDER BY "nameFirstName";

-- Twenty merges Bobby into Bob: the timeline moves to the survivor, the duplicate is soft-deleted
UPDATE "timelineActivity" SET "targetPersonId" = '00000000-0000-0000-0000-000000000002'
 WHERE "targetPersonId" = '00000000-0000-0000-0000-000000000003';
UPDATE person SET "deletedAt" = now() WHERE id = '00000000-0000-0000-0000-000000000003';
-- by hand: Bob 10 + 2 e-mails 20 = 30 (mql); Bobby keeps nothing but stays in the log
SELECT "nameFirstName", stage, score, lead_scoring.score(id) AS computed FROM person ORDER BY "nameFirstName";
SELECT count(*) AS people FROM lead_scoring.leads;

-- opportunities: card moves both ways, each a funnel move; a card dragged to CUSTOMER (its expected
-- "closeDate" left in the future) is won now
INSERT INTO opportunity (id, name, "amountAmountMicros", "amountCurrencyCode", stage, "pointOfContactId", "companyId") VALUES
    ('00000000-0000-0000-0000-0000000000f1', 'Acme deal', 24000000000, 'USD', 'MEETING', '00000000-0000-0000-0000-000000000001',
     '00000000-0000-0000-0000-0000000000c1'),
    ('00000000-0000-0000-0000-0000000000f2', 'Acme upsell', 5000000000, 'USD', 'NEW', '00000000-0000-0000-0000-000000000002',
     '00000000-0000-0000-0000-0000000000c1')
RETURNING name, stage;
UPDATE opportunity SET stage = 'PROPOSAL' WHERE name = 'Acme deal';
UPDATE opportunity SET stage = 'SCREENING' WHERE name = 'Acme deal';
SELECT "nameFirstName", stage FROM person WHERE "nameFirstName" = 'Ada';
UPDATE opportunity SET stage = 'MEETING' WHERE name = 'Acme deal';
UPDATE opportunity SET "closeDate" = '2026-06-30 00:00+00' WHERE name = 'Acme deal';
UPDATE opportunity SET stage = 'CUSTOMER' WHERE name = 'Acme deal';
SELECT "nameFirstName", stage FROM person ORDER BY "nameFirstName";
-- every drag is in the log, the backwards one (PROPOSAL -> SCREENING: opportunity -> sql) included
SELECT from_stage, to_stage, reason FROM lead_scoring.stage_change
 WHERE lead_id = '00000000-0000-0000-0000-000000000001' ORDER BY change_id;
SELECT amount, status, outcome, closed_at FROM lead_scoring.deals ORDER BY amount;

-- a deal in euros, won with Cy: by hand 24,000 USD + 5,000 EUR x 1.08 = 29,400 USD of revenue (never 29,000)
INSERT INTO person (id, "nameFirstName", "createdAt", "companyId") VALUES
    ('00000000-0000-0000-0000-000000000004', 'Cy', '2026-03-02 09:00+00', '00000000-0000-0000-0000-0000000000c2');
INSERT INTO opportunity (name, "amountAmountMicros", "amountCurrencyCode", stage, "pointOfContactId", "companyId") VALUES
    ('Cy EU', 5000000000, 'EUR', 'CUSTOMER', '00000000-0000-0000-0000-000000000004', '00000000-0000-0000-0000-0000000000c2');
SELECT sum(amount) FILTER (WHERE outcome = 'won') AS won_usd FROM lead_scoring.deals;
SELECT sum(revenue) AS revenue_usd FROM lead_scoring.manager_report('2026-03-01', '2026-03-31');
SELECT sum(credit) AS credits_usd FROM lead_scoring.attribution('linear');
-- by account owner, by name: Tim Lee won Acme's 24,000 USD, Sam (no last name) Euro GmbH's 5,400 USD;
-- Bobby, with no company, has no owner
SELECT owner, deals_won, revenue FROM lead_scoring.manager_report('2026-03-01', '2026-03-31') ORDER BY owner;
SELECT o.name, d.owner FROM lead_scoring.deals d JOIN opportunity o ON o.id::text = d.deal_ref ORDER BY o.name;
SELECT p."nameFirstName", l.owner FROM lead_scoring.leads l JOIN person p ON p.id::text = l.lead_id::text
 ORDER BY 1;
SELECT p."nameFirstName", h.owner, h.stage FROM lead_scoring.handoffs h JOIN person p ON p.id::text = h.lead_id::text
 ORDER BY 1;
-- a currency without a rate is no revenue (its amount is NULL), named by check_currency_rates()
INSERT INTO opportunity (name, "amountAmountMicros", "amountCurrencyCode", stage, "pointOfContactId") VALUES
    ('Cy UK', 1000000000, 'GBP', 'CUSTOMER', '00000000-0000-0000-0000-000000000004');
SELECT lead_scoring.check_currency_rates('workspace_demo.opportunity');
SELECT d.amount, o."amountCurrencyCode", d.outcome FROM lead_scoring.deals d JOIN opportunity o ON o.id::text = d.deal_ref
 ORDER BY o.name;
SELECT sum(revenue) AS revenue_usd FROM lead_scoring.manager_report('2026-03-01', '2026-03-31');
-- once its rate is known, it counts
INSERT INTO lead_scoring.currency_rate (currency, rate) VALUES ('GBP', 1.25);
SELECT sum(revenue) AS revenue_usd FROM lead_scoring.manager_report('2026-03-01', '2026-03-31');

-- a soft-deleted opportunity is no deal; deleting a person sets the opportunity's contact to NULL
UPDATE opportunity SET "deletedAt" = now() WHERE name = 'Acme upsell';
SELECT count(*) AS deals FROM lead_scoring.deals;
DELETE FROM person WHERE id = '00000000-0000-0000-0000-000000000001';
SELECT name, "pointOfContactId" FROM opportunity ORDER BY name;
SELECT amount, lead_id, outcome FROM lead_scoring.deals;

-- Twenty's own migration adding an option to the stage
BEGIN;
ALTER TABLE opportunity RENAME COLUMN stage TO "stage_old_c0ffee";
ALTER TYPE opportunity_stage_enum RENAME TO opportunity_stage_enum_old;
CREATE TYPE opportunity_stage_enum AS ENUM ('NEW', 'SCREENING', 'MEETING', 'PROPOSAL', 'NEGOTIATION', 'CUSTOMER');
ALTER TABLE opportunity ADD COLUMN stage opportunity_stage_enum NOT NULL DEFAULT 'NEW';
UPDATE opportunity SET stage = "stage_old_c0ffee"::text::opportunity_stage_enum;
ALTER TABLE opportunity DROP COLUMN "stage_old_c0ffee";
DROP TYPE opportunity_stage_enum_old;
COMMIT;
INSERT INTO opportunity (name, "amountAmountMicros", stage, "pointOfContactId")
    VALUES ('Second deal', 1000000000, 'NEGOTIATION', '00000000-0000-0000-0000-000000000002');
SELECT "nameFirstName", stage FROM person ORDER BY "nameFirstName";
-- a migration renaming a column the account owners' names are read from: the labels follow it
ALTER TABLE "workspaceMember" RENAME COLUMN "nameFirstName" TO "firstName";
SELECT relid, owner_label FROM lead_scoring.attachment WHERE owner_label IS NOT NULL ORDER BY relid::text;
SELECT owner, deals_won, revenue FROM lead_scoring.manager_report('2026-03-01', '2026-03-31') ORDER BY owner;

RESET lead_scoring.now;
RESET search_path;
SELECT lead_scoring.detach('workspace_demo.opportunity'), lead_scoring.detach('workspace_demo."timelineActivity"'),
       lead_scoring.detach('workspace_demo.person');
DROP SCHEMA workspace_demo CASCADE;
DROP TABLE lead_scoring.stage_change;
DROP EXTENSION lead_scoring;
