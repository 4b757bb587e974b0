-- demo/schema.sql — a small B2B CRM as it exists before lead_scoring is installed.
--
-- The column names are the CRM's own, not lead_scoring's defaults (id, lead_id, event_type,
-- occurred_at, ...): demo/attach.sql maps them when it attaches the extension.  Nothing here knows
-- about lead_scoring; the application writes these tables with plain INSERT / UPDATE / COPY.

CREATE SCHEMA crm;

-- The sales team.  Leads are assigned to an account manager by region when they sign up.
CREATE TABLE crm.sales_reps (
    rep_name     text PRIMARY KEY,
    region       text NOT NULL,
    hired_on     date NOT NULL
);

-- People who signed up: forms, webinars, trials, referrals.
CREATE TABLE crm.contacts (
    contact_id       bigint PRIMARY KEY,
    first_name       text,
    last_name        text,
    email            text,
    phone            text,
    job_title        text,
    company          text,
    employees        integer,
    industry         text,
    country          text,
    account_manager  text REFERENCES crm.sales_reps,
    signed_up_at     timestamptz NOT NULL
    -- lifecycle (the funnel stage) and lead_score are added by lead_scoring.attach_leads.
);

-- Everything that happens to a contact: ad clicks, page views, emails, webinars, and sales' calls.
-- utm_* are filled for the activities that came through a marketing channel (touchpoints).
CREATE TABLE crm.activities (
    activity_id   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    contact_ref   bigint NOT NULL REFERENCES crm.contacts,
    kind          text NOT NULL,
    happened_at   timestamptz NOT NULL,
    utm_source    text,
    utm_campaign  text,
    utm_term      text,
    page_url      text,
    done_by       text
);
CREATE INDEX activities_contact_idx ON crm.activities (contact_ref, happened_at);

-- Deals.  Statuses are the CRM's own spelling (Open / Closed Won / Closed Lost).
CREATE TABLE crm.opportunities (
    opportunity_id  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    contact_ref     bigint NOT NULL REFERENCES crm.contacts,
    title           text NOT NULL,
    deal_value      numeric(12,2) NOT NULL,
    cost_of_sale    numeric(12,2),
    deal_stage      text NOT NULL DEFAULT 'Open',
    opened_at       timestamptz NOT NULL,
    closed_on       timestamptz,
    sales_rep       text REFERENCES crm.sales_reps
);
CREATE INDEX opportunities_contact_idx ON crm.opportunities (contact_ref);

-- Daily spend exported from the ad platforms and the events team's budget sheet.
CREATE TABLE crm.ad_spend (
    spend_day   date NOT NULL,
    source      text NOT NULL,
    campaign    text,
    term        text,
    spend       numeric(12,2) NOT NULL CHECK (spend >= 0)
);
