"""A busy source: each row has a second live session on devstack's Redshift emulator doing what ETL jobs do while
r2a migrates: a temporary table held open, tables created and dropped in the middle of dump_schema, inserts into a
table during its UNLOAD, a LOCK held past the UNLOAD's timeout. Expected each time: the run succeeds or that one
table fails with a clear reason, and no row is lost."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
import uuid

import psycopg2
import psycopg2.extensions
import pytest

from devstack import env as envfile
from shared.config import load_settings
from shared.objectstore import ObjectStore, RunLayout, new_run_id
from shared.results import table_result_from_dict
from steps.report.tables import source_changed_note
from tests.faults.helpers import (
    clear_emulator_faults,
    emulator_fault,
    expected_summary,
    numbered_table,
    run_step,
    step_environ,
    target_summary,
)
from tests.support.db import redshift_session
from tests.support.steps import one_error_line
from tests.table_transfer.conftest import transfer  # noqa: F401  (the fixture)
from workflows.local_env import devstack_environment
from workflows.run_local import RENDERED, run_workflow


def _execute(conn, *statements: str) -> None:
    with conn.cursor() as cur:
        for statement in statements:
            cur.execute(statement)


@pytest.mark.slow  # a whole run-local of the sample's tickit schema (7 tables, ~43,000 rows)
def test_temp_table_held_open_during_a_whole_run(devstack, sample_redshift, redshift, fresh_db, tmp_path, matrix):
    outcome = matrix.fault("another session holds a temp table (2 rows) during a whole run-local (tickit)",
                           "all", "run succeeds; no temp table in catalog.json; every row loaded")
    etl = redshift_session(redshift)
    try:
        _execute(etl, "create temp table etl_scratch (a int)", "insert into etl_scratch values (1), (2)")
        parameters, local = devstack_environment(devstack)
        parameters.update({"run-id": new_run_id(parameters["database"]), "schemas": "tickit",
                           "alloydb-database": psycopg2.extensions.parse_dsn(fresh_db)["dbname"]})
        result = run_workflow(RENDERED / "workflow-local.yaml", parameters, local, tmp_path / "run",
                              progress=lambda message: None)
        assert _session_alive(etl)  # held open the whole run
    finally:
        etl.close()
    outcome.observed = f"workflow {result.phase}; failed nodes {[n.name for n in result.failed_nodes]}"
    assert result.phase == "Succeeded", [(n.name, n.phase, n.log) for n in result.failed_nodes]
    catalog = _run_catalog(devstack, result.run_id)
    assert {t["schema"] for t in catalog["tables"]} == {"tickit"}
    assert not [t for t in catalog["tables"] if t["name"] == "etl_scratch"]
    conn = psycopg2.connect(fresh_db)  # counted here, not taken from the steps' own verification
    try:
        with conn.cursor() as cur:
            for table, rows in sample_redshift.rows.items():
                if table.startswith("tickit."):
                    cur.execute(f"SELECT count(*) FROM {table}")
                    outcome.rows_lost += max(0, rows - cur.fetchone()[0])
    finally:
        conn.close()
    outcome.observed += f"; rows lost {outcome.rows_lost}"
    assert outcome.rows_lost == 0


def _session_alive(conn) -> bool:
    with conn.cursor() as cur:
        cur.execute("select count(*) from etl_scratch")
        return cur.fetchone()[0] == 2


def _run_catalog(devstack, run_id: str) -> dict:
    settings = load_settings(envfile.product_environ(devstack))
    layout = RunLayout.from_settings(run_id, settings.gcs, settings.s3)
    return ObjectStore(settings.s3, settings.gcs).read_json(layout.catalog_json)


def test_table_created_and_another_dropped_in_the_middle_of_dump_schema(devstack, devstack_environ, redshift,
                                                                         matrix):
    """"The middle" is an event: the emulator's query_pause fault holds dump_schema's svv_table_info query (it has
    read the relations and columns by then) while the second session creates one table and drops another."""
    outcome = matrix.fault("table created + table (with a view) dropped mid dump_schema", "dump_schema",
                           "exit 0, catalog.json is the state before or after, whole")
    control, etl = redshift_session(redshift), redshift_session(redshift)
    schema = f"busy_{uuid.uuid4().hex[:8]}"
    key = random.randint(1 << 20, 1 << 30)
    run_id = new_run_id("dev")
    try:
        _execute(control, f"create schema {schema}", f"create table {schema}.kept (id int)",
                 f"insert into {schema}.kept values (1)", f"create table {schema}.doomed (id int)",
                 f"insert into {schema}.doomed values (1)",
                 f"create view {schema}.v_doomed as select id from {schema}.doomed",
                 f"select pg_advisory_lock({key})",
                 f"select r2a_emulator_fault('query_pause', 'svv_table_info', '{key}')")
        env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
        env.update(devstack_environ, R2A_LOG_FORMAT="json")
        step = subprocess.Popen([sys.executable, "-m", "steps.dump_schema", "--run-id", run_id, "--schemas", schema],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        deadline = time.monotonic() + 60
        paused = False
        with control.cursor() as cur:
            while time.monotonic() < deadline and step.poll() is None and not paused:
                cur.execute("select count(*) from pg_locks where locktype = 'advisory' and objid = %s "
                            "and not granted", (key & 0xFFFFFFFF,))
                paused = bool(cur.fetchone()[0])
                time.sleep(0.05)
        assert paused, "dump_schema never reached its svv_table_info query"
        _execute(etl, f"create table {schema}.newcomer (id int)", f"insert into {schema}.newcomer values (1)",
                 f"drop table {schema}.doomed cascade")
        _execute(control, "select r2a_emulator_fault_clear()", f"select pg_advisory_unlock({key})")
        _, stderr = step.communicate(timeout=120)
    finally:
        _execute(control, "select r2a_emulator_fault_clear()", "select pg_advisory_unlock_all()",
                 f"drop schema if exists {schema} cascade")
        control.close()
        etl.close()
    assert step.returncode == 0, stderr
    catalog = _run_catalog(devstack, run_id)
    tables = {t["name"]: t for t in catalog["tables"]}
    views = {v["name"]: v for v in catalog["views"]}
    assert all(t["columns"] for t in tables.values()), tables
    state = "before" if (set(tables), set(views)) == ({"kept", "doomed"}, {"v_doomed"}) else \
        "after" if (set(tables), set(views)) == ({"kept", "newcomer"}, set()) else f"mixed {sorted(tables)}"
    rereads = stderr.count('"catalog.changed"')
    outcome.observed = f"exit 0, catalog.json = the state {state}; catalog read again {rereads} time(s)"
    assert state in ("before", "after")


def test_inserts_during_a_tables_unload(transfer, matrix):  # noqa: F811
    """The UNLOAD is held 3 s (unload_stall) after the step's count has taken the transaction's snapshot while a
    second session inserts a row every 50 ms: the count verified is the snapshot's, the later count differs and
    the report says so."""
    outcome = matrix.fault("inserts into a table during its UNLOAD (second session)", "unload",
                           "succeeds, snapshot's count verified, report: source changed during the run")
    rows = 20_000
    source, _ = numbered_table(transfer, "busy", rows)
    table = f'{transfer.schema}."busy"'
    etl = transfer.rs()
    inserted = []

    def insert() -> None:
        if len(inserted) < 300:
            _execute(etl, f"INSERT INTO {table} VALUES ({rows + len(inserted) + 1}, 'inserted meanwhile')")
            inserted.append(1)

    emulator_fault(transfer, "unload_stall", str(source), "3")
    try:
        run = run_step(transfer, "--table", str(source), timeout=120, while_running=insert)
    finally:
        clear_emulator_faults(transfer)
        etl.close()
    assert run.code == 0, run.output
    result = transfer.result(source)
    loaded = target_summary(transfer, "busy")
    note = source_changed_note(table_result_from_dict(result))
    outcome.rows_lost = max(0, result["rows_source"] - loaded[0])
    outcome.observed = (f"exit 0; snapshot {result['rows_source']}, loaded {loaded[0]}, source afterwards "
                        f"{result['rows_source_after']} ({len(inserted)} inserted)")
    assert result["status"] == "succeeded"
    assert result["rows_source"] == result["rows_unloaded"] == result["rows_loaded"] == loaded[0] == loaded[1]
    assert result["rows_source"] >= rows and result["rows_source_after"] > result["rows_source"]
    assert note.startswith("note: source changed during the run") and str(result["rows_source_after"]) in note
    assert "source.changed" in run.output


def test_lock_held_past_the_unload_timeout(transfer, matrix):  # noqa: F811
    """A second session holds `LOCK` (https://docs.aws.amazon.com/redshift/latest/dg/r_LOCK.html) on the table; the
    UNLOAD waits behind it until REDSHIFT_UNLOAD_TIMEOUT, is cancelled and says it was waiting for a lock; once the
    lock is gone a re-run completes."""
    outcome = matrix.fault("LOCK held by another session past REDSHIFT_UNLOAD_TIMEOUT=3", "unload",
                           "exit 1 (transient), 'waiting for a lock', target unchanged, re-run succeeds")
    rows = 500
    source, _ = numbered_table(transfer, "locked", rows)
    transfer.pg_execute(f'INSERT INTO {transfer.schema}."locked" VALUES (-1, \'left by an earlier run\')')
    etl = transfer.rs()
    etl.autocommit = False
    try:
        _execute(etl, f'LOCK {transfer.schema}."locked"')
        run = run_step(transfer, "--table", str(source), timeout=60,
                       environ=step_environ(transfer, REDSHIFT_UNLOAD_TIMEOUT="3"))
    finally:
        etl.rollback()
        etl.close()
    line = one_error_line(run.output, "table_transfer")
    result = transfer.result(source)
    outcome.observed = f"exit {run.code} after {run.seconds} s: {line[27:140]}"
    assert run.code == 1 and result["status"] == "failed" and result["error"]["transient"] is True, run.output
    assert "did not finish within 3 s" in line and "waiting for a lock" in line and "held by session" in line
    assert target_summary(transfer, "locked") == (1, 1, -1)
    rerun = run_step(transfer, "--table", str(source), timeout=60)
    assert rerun.code == 0, rerun.output
    loaded = target_summary(transfer, "locked")
    outcome.rows_lost = max(0, rows - loaded[1])
    outcome.observed += f"; lock released, re-run exit {rerun.code}"
    assert loaded == expected_summary(rows)
