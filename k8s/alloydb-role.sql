-- The AlloyDB role r2a needs, instead of `postgres` (a member of alloydbsuperuser). Run once per target
-- database as an AlloyDB administrator, store the password in the r2a-alloydb Secret, and submit with
-- -p alloydb-user=r2a_migrator. Replace sales with the target database.
--
-- What r2a does there, and so what it needs:
--   load_schema creates schemas (the Redshift ones, r2a_compat) and everything in them, and owns them: it
--     uses r2a_compat and r2a_staging only when it owns them (exit 5 otherwise);
--   table_transfer TRUNCATEs and COPYs into the tables it created, and creates r2a_staging for staged loads;
--   post-data adds constraints and indexes, refreshes materialized views and ANALYZEs its tables;
--   every step takes advisory locks (any role may).
-- Its DDL sessions resolve unqualified names in pg_catalog only (search_path pg_catalog, pg_temp), so it needs
-- nothing in public.

CREATE ROLE r2a_migrator LOGIN PASSWORD 'change-me'
    NOSUPERUSER NOCREATEDB NOREPLICATION NOBYPASSRLS NOINHERIT;
GRANT CONNECT, CREATE, TEMPORARY ON DATABASE sales TO r2a_migrator;

-- Only when rewrite_ddl maps a Redshift schema onto one that already exists in the target (e.g. public) rather
-- than creating it:
-- GRANT USAGE, CREATE ON SCHEMA public TO r2a_migrator;

-- Only with rewrite_ddl --grants (Redshift users and groups become NOLOGIN roles). On PostgreSQL 16+ a CREATEROLE
-- role can grant only the roles it created; before 16 it could grant any non-superuser role, so prefer creating
-- those roles yourself there.
-- ALTER ROLE r2a_migrator CREATEROLE;

-- Only when overrides map GEOMETRY/GEOGRAPHY to PostGIS: the extension is created by an administrator first.
-- CREATE EXTENSION IF NOT EXISTS postgis;
