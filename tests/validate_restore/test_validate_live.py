"""validate_restore against devstack: scratch PostgreSQL, GCS emulator, the real pg_dump, the step as a process."""

import socket
import uuid

import psycopg2
import psycopg2.extensions
import pytest

from shared.sqlblocks import parse
from steps.validate_restore.scratch import run_prefix
from tests.conftest import admin_connection
from tests.support.runfolder import url_of
from tests.support.steps import one_error_line, run_step
from tests.validate_restore import sample
from tests.validate_restore.conftest import assert_result_record, block

STEP = "steps.validate_restore"


def scratch_databases(devstack, run_id: str) -> list[str]:
    """This run's scratch databases (other test sessions may validate other runs on the same server)."""
    conn = admin_connection(devstack)
    try:
        with conn.cursor() as cur:
            cur.execute("select datname from pg_database where starts_with(datname, %s)", (run_prefix(run_id),))
            return [row[0] for row in cur.fetchall()]
    finally:
        conn.close()


@pytest.fixture(scope="module")
def validated(devstack, devstack_environ):
    """One validation of the sample, shared by the assertions below (pg_dump runs three times: keep it once)."""
    from shared.config import load_settings
    from shared.objectstore import ObjectStore, RunLayout
    from tests.support.runfolder import RunFolder

    settings = load_settings(devstack_environ)
    run_id = f"validate_sample_{uuid.uuid4().hex[:8]}"
    folder = RunFolder(run_id, ObjectStore(settings.s3, settings.gcs), RunLayout.from_settings(run_id, settings.gcs),
                       dict(devstack_environ))
    for filename, text in sample.FILES.items():
        folder.put(url_of(folder.layout, filename), text)
    done = run_step(STEP, ["--run-id", run_id], folder.environ)
    assert done.returncode == 0, done.stderr
    return folder


def test_every_object_has_its_exact_outcome(validated):
    report = validated.json(validated.layout.validation_report_json)
    outcomes = {(o["kind"], o["name"]): (o["status"], o.get("reason")) for o in report["objects"]}
    sketch_error = 'type "hllsketch" does not exist (SQLSTATE 42704)'
    assert outcomes == {
        ("schema", "r2a_compat"): ("applied", None),
        ("function", "r2a_compat.nvl2"): ("applied", None),
        ("schema", "sales"): ("applied", None),
        ("table", "sales.customers"): ("applied", None),
        ("table", "sales.orders"): ("applied", None),
        ("comment", "sales.orders"): ("applied", None),
        ("table", "sales.sketches"): ("failed", sketch_error),
        ("view", "sales.v_late"): ("applied", None),
        ("view", "sales.v_base"): ("applied", None),
        ("view", "sales.v_sketch"): ("skipped", f"depends on table sales.sketches, which failed: {sketch_error}"),
        ("view", "sales.v_sketch_2"): ("skipped", "depends on view sales.v_sketch, which depends on table "
                                                  f"sales.sketches, which failed: {sketch_error}"),
        ("function", "sales.py_udf"): ("skipped", "Python UDF (plpythonu) has no PostgreSQL equivalent"),
        ("constraint", "sales.customers.customers_pkey"): ("applied", None),
        ("constraint", "sales.orders.orders_customer_fkey"): ("applied", None),
        ("index", "sales.orders.orders_sort"): ("applied", None),
        ("index", "sales.orders.orders_bad"): ("failed", 'column "no_such_column" does not exist (SQLSTATE 42703)'),
    }
    assert report["counts"] == {"applied": 11, "failed": 2, "skipped": 3}
    attempts = {o["name"]: o["attempts"] for o in report["objects"]}
    assert attempts["sales.v_late"] == 2  # failed on the first pass, applied after v_base
    assert attempts["sales.v_sketch"] == attempts["sales.v_sketch_2"] == 0  # never tried: the table had failed
    assert attempts["sales.sketches"] == 3  # retried while other objects made progress
    assert report["passes"] == 3  # 1: most objects; 2: v_late; 3: nothing more, so the failures are final
    assert report["run_id"] == validated.run_id and report["format_version"] == 1


def test_validated_sql_keeps_applied_blocks_in_applied_order(validated):
    pre = parse(validated.get(validated.layout.validated_sql("pre-data")))
    post = parse(validated.get(validated.layout.validated_sql("post-data")))
    assert [o.name for o in pre] == ["r2a_compat", "r2a_compat.nvl2", "sales", "sales.customers", "sales.orders",
                                     "sales.orders"]
    assert [o.name for o in post] == ["sales.v_base", "sales.customers.customers_pkey",
                                      "sales.orders.orders_customer_fkey", "sales.orders.orders_sort",
                                      "sales.v_late"]
    assert "100% of them" in pre[-1].sql


def test_pg_dump_sections_are_the_real_dump(validated):
    whole = validated.get(validated.layout.schema_alloydb_sql)
    pre = validated.get(validated.layout.schema_alloydb_section_sql("pre-data"))
    post = validated.get(validated.layout.schema_alloydb_section_sql("post-data"))
    assert "PostgreSQL database dump" in whole
    assert "CREATE TABLE sales.orders" in pre and "CREATE VIEW sales.v_late" in pre
    assert "ADD GENERATED BY DEFAULT AS IDENTITY" in pre and "START WITH 5" in pre and "INCREMENT BY 10" in pre
    assert "sketches" not in whole
    assert "ADD CONSTRAINT customers_pkey PRIMARY KEY" in post and "customers_pkey" not in pre
    assert "CREATE INDEX orders_sort" in post and "orders_bad" not in whole
    assert "OWNER TO" not in whole


def test_scratch_database_is_dropped_and_step_result_written(validated, devstack):
    assert scratch_databases(devstack, validated.run_id) == []
    result = validated.json(validated.layout.step_result("validate_restore"))
    assert_result_record(result)
    assert result["status"] == "partial" and result["counts"] == {"applied": 11, "failed": 2, "skipped": 3}
    assert {p["name"] for p in result["phases"]} == {"read", "apply", "pg_dump", "write"}


def test_a_clean_schema_succeeds(run_folder, devstack):
    leftover = run_prefix(run_folder.run_id) + "dead01"  # from an attempt that was killed mid-way
    conn = admin_connection(devstack)
    try:
        with conn.cursor() as cur:
            cur.execute(f'create database "{leftover}"')
    finally:
        conn.close()
    run_folder.put(run_folder.layout.pre_data_sql, block("schema", "a", 'CREATE SCHEMA "a";')
                   + block("table", "a.t", 'CREATE TABLE "a"."t" ("x" int);'))
    run_folder.put(run_folder.layout.views_sql, "")
    run_folder.put(run_folder.layout.post_data_sql, "-- nothing after the data\n")
    done = run_step(STEP, ["--run-id", run_folder.run_id], run_folder.environ)
    assert done.returncode == 0, done.stderr
    assert run_folder.json(run_folder.layout.step_result("validate_restore"))["status"] == "succeeded"
    assert not run_folder.has(run_folder.layout.compat_sql)  # optional: no compat function was needed
    assert scratch_databases(devstack, run_folder.run_id) == []


def test_malformed_marker_is_one_line_and_writes_nothing(run_folder, devstack):
    run_folder.put(run_folder.layout.pre_data_sql, '-- r2a:object {"kind": "table", "name": "a.t"\nCREATE TABLE t (x int);\n')
    run_folder.put(run_folder.layout.views_sql, "")
    run_folder.put(run_folder.layout.post_data_sql, "")
    done = run_step(STEP, ["--run-id", run_folder.run_id], run_folder.environ)
    assert done.returncode == 3
    assert "pre_data.sql line 1: the r2a:object marker is not valid JSON" in one_error_line(done, "validate_restore")
    assert not run_folder.has(run_folder.layout.validation_report_json) and not run_folder.has(run_folder.layout.schema_alloydb_sql)
    failed = run_folder.json(run_folder.layout.step_result("validate_restore"))
    assert_result_record(failed)
    assert failed["status"] == "failed" and failed["error"]["exit_code"] == 3
    assert scratch_databases(devstack, run_folder.run_id) == []


def test_missing_rewrite_output_is_bad_state(run_folder):
    done = run_step(STEP, ["--run-id", run_folder.run_id], run_folder.environ)
    assert done.returncode == 6
    assert f"{run_folder.layout.pre_data_sql} does not exist. Run rewrite_ddl" in one_error_line(done, "validate_restore")


def test_unreachable_scratch_server_is_transient_one_line(run_folder):
    for url in (run_folder.layout.pre_data_sql, run_folder.layout.views_sql, run_folder.layout.post_data_sql):
        run_folder.put(url, "")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    dsn = f"postgresql://postgres:secret-pw@127.0.0.1:{closed_port}/scratch?connect_timeout=3"
    done = run_step(STEP, ["--run-id", run_folder.run_id, "--scratch-dsn", dsn], run_folder.environ)
    assert done.returncode == 1
    line = one_error_line(done, "validate_restore")
    assert "cannot connect to scratch PostgreSQL at 127.0.0.1" in line and "secret-pw" not in done.stderr
    assert not run_folder.has(run_folder.layout.validation_report_json) and not run_folder.has(run_folder.layout.validated_sql("pre-data"))
    assert run_folder.json(run_folder.layout.step_result("validate_restore"))["status"] == "failed"


def test_wrong_scratch_password_is_config_error(run_folder, devstack):
    for url in (run_folder.layout.pre_data_sql, run_folder.layout.views_sql, run_folder.layout.post_data_sql):
        run_folder.put(url, "")
    pg = devstack["postgres"]
    dsn = f"postgresql://{pg['user']}:wrong-password-1@{pg['host']}:{pg['port']}/scratch?sslmode=disable"
    done = run_step(STEP, ["--run-id", run_folder.run_id], dict(run_folder.environ, R2A_SCRATCH_DSN=dsn))
    assert done.returncode == 2
    assert "refused the login" in one_error_line(done, "validate_restore") and "wrong-password-1" not in done.stderr
    assert not run_folder.has(run_folder.layout.validation_report_json) and not run_folder.has(run_folder.layout.schema_alloydb_sql)


def test_alloydb_is_never_touched(run_folder, fresh_db):
    """The AlloyDB settings point at an empty database: validation must leave it empty."""
    for filename, text in sample.FILES.items():
        run_folder.put(url_of(run_folder.layout, filename), text)
    environ = dict(run_folder.environ, PGDATABASE=psycopg2.extensions.parse_dsn(fresh_db)["dbname"])
    assert run_step(STEP, ["--run-id", run_folder.run_id], environ).returncode == 0
    with psycopg2.connect(fresh_db) as conn, conn.cursor() as cur:
        cur.execute("select count(*) from pg_namespace where nspname not like 'pg\\_%' "
                    "and nspname not in ('public', 'information_schema')")
        assert cur.fetchone()[0] == 0
        cur.execute("select count(*) from pg_class c join pg_namespace n on n.oid = c.relnamespace "
                    "where nspname = 'public'")
        assert cur.fetchone()[0] == 0
