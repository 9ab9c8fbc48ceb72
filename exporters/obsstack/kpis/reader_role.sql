-- The role the KPI exporter connects as, for the shipped KPIs (platform.yaml): it may log in
-- and read the eight tables those queries read, nothing more. The exporter refuses to run as
-- a role that may do more (see README.md, "The database role").
--
-- Idempotent, plain SQL: run it as the owner of the obsstack_demo schema (or a superuser),
-- after the schema exists. `obsstack up` runs it in the demo's database; the compose bundle's
-- kpi-role service runs it with psql. The password is taken from the session setting
-- obsstack.kpi_reader_password when one is set (never written in this file or in a statement):
--   SELECT set_config('obsstack.kpi_reader_password', $1, false);
BEGIN;
-- Two stacks starting at once must not race on CREATE ROLE.
SELECT pg_advisory_xact_lock(hashtext('obsstack_kpi_reader'));
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'obsstack_kpi_reader') THEN
        CREATE ROLE obsstack_kpi_reader LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE
            NOREPLICATION NOBYPASSRLS CONNECTION LIMIT 16;
    END IF;
    IF coalesce(current_setting('obsstack.kpi_reader_password', true), '') <> '' THEN
        EXECUTE format('ALTER ROLE obsstack_kpi_reader PASSWORD %L',
                       current_setting('obsstack.kpi_reader_password'));
    END IF;
END
$$;
GRANT USAGE ON SCHEMA obsstack_demo TO obsstack_kpi_reader;
REVOKE CREATE ON SCHEMA obsstack_demo FROM obsstack_kpi_reader;
-- Exactly the named tables, SELECT only, whatever was granted before.
REVOKE ALL ON ALL TABLES IN SCHEMA obsstack_demo FROM obsstack_kpi_reader;
GRANT SELECT ON
    obsstack_demo.ai_queries,
    obsstack_demo.backups,
    obsstack_demo.code_reviews,
    obsstack_demo.graph_sync,
    obsstack_demo.login_events,
    obsstack_demo.rate_limit_rejections,
    obsstack_demo.tenants,
    obsstack_demo.users
TO obsstack_kpi_reader;
COMMIT;
