-- lead_scoring install script, assembled by the Makefile from extension/parts/*.sql.
-- Every reference is schema-qualified (@extschema@ or pg_catalog) so that a hostile
-- search_path cannot redirect anything this script creates.

\echo Use "CREATE EXTENSION lead_scoring" to load this file. \quit

