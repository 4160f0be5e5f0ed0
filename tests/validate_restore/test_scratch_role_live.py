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


@pytest.fixture
def trusting_scratch(tmp_path):
    """A scratch server of this test's own that trusts loopback connections (no password), as the sidecar does
    when it listens on 127.0.0.1 only; yields its admin DSN, which carries no password."""
    from pathlib import Path

    from devstack import postgres, stack

    env = {"state_dir": str(tmp_path / "scratch")}
    stack.start(env, "postgres")
    pg = env["postgres"]
    try:
        Path(pg["data_dir"], "pg_hba.conf").write_text("host all all 127.0.0.1/32 trust\n")
        with psycopg2.connect(host="127.0.0.1", port=pg["port"], user="postgres", password=pg["password"],
                              dbname="postgres") as conn, conn.cursor() as cur:
            cur.execute("SELECT pg_reload_conf()")
        yield f"postgresql://postgres@127.0.0.1:{pg['port']}/scratch?sslmode=disable"
    finally:
        stack.stop(env, "postgres")
        postgres.purge(Path(pg["data_dir"]))


def test_validation_against_a_scratch_server_that_trusts_loopback(trusting_scratch, devstack_environ):
    """The whole step (apply as the owner role, pg_dump as it) with an admin DSN without password."""
    from shared.config import load_settings
    from shared.objectstore import ObjectStore, RunLayout
    from tests.support.runfolder import RunFolder, url_of
    from tests.support.steps import run_step
    from tests.validate_restore import sample

    settings = load_settings(devstack_environ)
    run_id = f"trust_{uuid.uuid4().hex[:8]}"
    folder = RunFolder(run_id, ObjectStore(settings.s3, settings.gcs), RunLayout.from_settings(run_id, settings.gcs),
                       dict(devstack_environ, R2A_SCRATCH_DSN=trusting_scratch))
    for filename, text in sample.FILES.items():
        folder.put(url_of(folder.layout, filename), text)
    done = run_step("steps.validate_restore", ["--run-id", run_id], folder.environ)
    assert done.returncode == 0, done.stderr
    assert folder.json(folder.layout.validation_report_json)["counts"]["applied"] > 0
    assert 'CREATE TABLE sales.customers' in folder.get(folder.layout.schema_alloydb_sql)
    assert _roles(trusting_scratch, run_prefix(run_id)) == []
