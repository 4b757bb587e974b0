-- bench/attach.sql — lead_scoring on the b_ext tables (default column names, so no mapping).
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS lead_scoring;
SELECT lead_scoring.attach_leads('b_ext.leads', created_column => 'created_at');
SELECT lead_scoring.attach_events('b_ext.events', channel_column => 'channel', campaign_column => 'campaign',
                                  keyword_column => 'keyword');
SELECT lead_scoring.attach_deals('b_ext.deals', owner_column => 'owner', cost_column => 'cost');
