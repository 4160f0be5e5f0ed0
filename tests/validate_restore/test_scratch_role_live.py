"""validate_restore never runs the rewritten DDL as the scratch DSN's superuser: a fresh login role owns the
throw-away database, cannot run server programs or read server files, and goes with the database."""

import uuid

import psycopg2
import pytest

from devstack import env as envfile
from steps.validate_restore.scratch import run_prefix, scratch_database


def _roles(admin_dsn: str, prefix: str) -> list[str]:
    with psycopg2.connect(admin_dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT rolname FROM pg_roles WHERE starts_with(rolname, %s)", (prefix,))
        return [r[0] for r in cur.fetchall()]


def test_the_ddl_role_owns_the_database_and_is_not_privileged(devstack):
    admin_dsn = envfile.postgres_dsn(devstack, "scratch")
    run_id = f"role_{uuid.uuid4().hex[:8]}"
    with scratch_database(admin_dsn, run_id) as scratch:
        conn = psycopg2.connect(scratch.dsn)
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT r.rolname, r.rolsuper, r.rolcreatedb, r.rolbypassrls, "
                            "pg_get_userbyid(d.datdba) FROM pg_roles r, pg_database d "
                            "WHERE r.rolname = current_user AND d.datname = current_database()")
                user, superuser, createdb, bypassrls, owner = cur.fetchone()
                assert (user, owner) == (scratch.name, scratch.name)
                assert (superuser, createdb, bypassrls) == (False, False, False)
                cur.execute("CREATE TABLE t (a int)")  # it owns the database, so DDL works
                # Superuser-only powers (https://www.postgresql.org/docs/16/sql-copy.html, "COPY … PROGRAM";
                # https://www.postgresql.org/docs/16/predefined-roles.html): refused.
                for statement in ("COPY (SELECT 1) TO PROGRAM 'true'", "SELECT pg_read_file('/etc/hostname')",
                                  "ALTER SYSTEM SET work_mem = '1MB'", "GRANT pg_execute_server_program TO CURRENT_USER"):
                    with pytest.raises(psycopg2.errors.InsufficientPrivilege):
                        cur.execute(statement)
        finally:
            conn.close()
        assert _roles(admin_dsn, run_prefix(run_id)) == [scratch.name]
    assert _roles(admin_dsn, run_prefix(run_id)) == []


def test_a_killed_attempts_role_is_dropped_by_the_next(devstack):
    admin_dsn = envfile.postgres_dsn(devstack, "scratch")
    run_id = f"role_{uuid.uuid4().hex[:8]}"
    leftover = run_prefix(run_id) + "dead01"
    with psycopg2.connect(admin_dsn) as conn, conn.cursor() as cur:
        cur.execute(f'CREATE ROLE "{leftover}" LOGIN')
    with scratch_database(admin_dsn, run_id) as scratch:
        assert _roles(admin_dsn, run_prefix(run_id)) == [scratch.name]
    assert _roles(admin_dsn, run_prefix(run_id)) == []
