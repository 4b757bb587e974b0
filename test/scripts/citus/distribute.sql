-- Distribute the CRM tables by lead, colocated (test/scripts/citus.sh); the triggers go to the shards.
SET client_min_messages = warning;
SET citus.enable_unsafe_triggers = on;
SELECT create_distributed_table('crm.leads', 'id');
SELECT create_distributed_table('crm.events', 'lead_id', colocate_with => 'crm.leads');
SELECT create_distributed_table('crm.deals', 'lead_id', colocate_with => 'crm.leads');
