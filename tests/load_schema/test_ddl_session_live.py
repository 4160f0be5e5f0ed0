"""load_schema's DDL sessions on AlloyDB (devstack's PostgreSQL): unqualified names resolve in pg_catalog, never
in a schema other roles can create in, and r2a's own schemas are used only when r2a's user owns them."""

import uuid

from tests.load_schema.conftest import query
from tests.support.steps import one_error_line, run_step
from tests.validate_restore.conftest import block


def _pre_data(folder):
    return run_step("steps.load_schema", ["--run-id", folder.run_id, "--section", "pre-data"], folder.environ)


def test_a_planted_better_overload_in_public_is_not_bound(folder, alloydb):
    """The CVE-2018-1058 pattern: public.lower(varchar) matches a varchar argument better than
    pg_catalog.lower(text) and would win if public were on the search_path
    (https://www.postgresql.org/docs/16/typeconv-func.html)."""
    dsn, _ = alloydb
    query(dsn, "CREATE FUNCTION public.lower(varchar) RETURNS text LANGUAGE sql AS $$ SELECT 'planted' $$")
    folder.put(folder.layout.name_map_json, '{"tables": []}')
    folder.put(folder.layout.validated_sql("pre-data"), block("schema", "s", 'CREATE SCHEMA "s";') + block(
        "view", "s.v", """CREATE VIEW "s"."v" AS SELECT lower('ABC'::varchar) AS "x";""", depends_on=["s"]))
    done = _pre_data(folder)
    assert done.returncode == 0, done.stderr
    assert query(dsn, 'SELECT "x" FROM "s"."v"') == [("abc",)]


def test_r2a_compat_owned_by_another_role_stops_the_step(folder, alloydb, devstack):
    from tests.conftest import admin_connection

    dsn, _ = alloydb
    squatter = f"squatter_{uuid.uuid4().hex[:8]}"
    admin = admin_connection(devstack)
    try:
        with admin.cursor() as cur:
            cur.execute(f'CREATE ROLE "{squatter}" NOLOGIN')
        query(dsn, f'CREATE SCHEMA r2a_compat AUTHORIZATION "{squatter}"')
        folder.put(folder.layout.name_map_json, '{"tables": []}')
        folder.put(folder.layout.validated_sql("pre-data"), block("schema", "r2a_compat", 'CREATE SCHEMA IF NOT EXISTS "r2a_compat";')
                   + block("table", "s.t", 'CREATE TABLE "public"."t" ("a" integer);'))
        done = _pre_data(folder)
        assert done.returncode == 5
        assert f"schema r2a_compat already exists in AlloyDB and is owned by '{squatter}'" in one_error_line(done, "load_schema")
        assert query(dsn, "SELECT to_regclass('public.t') IS NULL") == [(True,)]
    finally:
        query(dsn, "DROP SCHEMA IF EXISTS r2a_compat")
        with admin.cursor() as cur:
            cur.execute(f'DROP ROLE IF EXISTS "{squatter}"')
        admin.close()
