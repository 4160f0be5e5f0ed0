"""Transient faults are retried with backoff until the table arrives exactly; permanent ones fail at once.

Real faults: devstack's fault proxy in front of S3 (moto) and GCS answering 503, and pg_terminate_backend of the
COPY session during the load. The step runs as its own process with a time limit, so a hang fails the test."""

from __future__ import annotations

import subprocess
import threading
import time
import uuid
from urllib.parse import urlparse

import psycopg2
import pytest

from devstack.faultproxy import Fault, FaultProxy
from tests.faults.helpers import (
    expected_summary,
    held_part_downloads,
    numbered_table,
    step_command,
    step_environ,
    target_summary,
)
from tests.support.steps import one_error_line
from tests.table_transfer.conftest import Transfer

STEP_SECONDS = 120


def _run(transfer: Transfer, *args: str, **environ: str) -> tuple[int, str]:
    done = subprocess.run(step_command(transfer, *args), env=step_environ(transfer, **environ), capture_output=True,
                          text=True, timeout=STEP_SECONDS)
    return done.returncode, done.stdout + done.stderr


def _succeeded_once(transfer: Transfer, source) -> dict:
    """Succeeded in one attempt of the step; returns the result (its attempt records the retries inside)."""
    result = transfer.result(source)
    assert result["status"] == "succeeded" and [a["status"] for a in result["attempts"]] == ["succeeded"]
    return result


def _retries(output: str) -> int:
    return sum(1 for line in output.splitlines() if " retrying " in f" {line} ")


@pytest.mark.parametrize("store", ["s3", "gcs"])
def test_object_store_503s_are_retried_and_the_table_arrives_exactly(transfer, store):
    source, _ = numbered_table(transfer, f"flaky_{store}", 500)
    variable = "AWS_ENDPOINT_URL_S3" if store == "s3" else "STORAGE_EMULATOR_HOST"
    endpoint = urlparse(transfer.environ[variable])
    with FaultProxy(endpoint.hostname, endpoint.port) as proxy:
        proxy.set_fault(Fault.http_status(503, count=3))
        host, port = proxy.address
        code, output = _run(transfer, "--table", str(source), "--verify", "checksum",
                            **{variable: f"http://{host}:{port}"})
        injected = proxy.stats.injected
    assert code == 0, output
    assert injected == 3
    assert target_summary(transfer, f"flaky_{store}") == expected_summary(500)
    result = _succeeded_once(transfer, source)
    assert result["rows_loaded"] == 500 and result["checksum_match"] is True
    # No r2a retry is asserted here: botocore and google-cloud-storage retry 5xx themselves first (r2a's policy
    # takes what they give up on); the AlloyDB test below checks the count r2a records.


def test_copy_session_killed_mid_load_is_retried_from_a_clean_table(transfer):
    rows = 300_000
    source, _ = numbered_table(transfer, "killed", rows)
    transfer.pg_execute(f"INSERT INTO {transfer.schema}.killed VALUES (-1, 'old row, replaced by the load')")
    dbname = psycopg2.extensions.parse_dsn(transfer.alloydb_dsn)["dbname"]
    killed: list[int] = []
    stop = threading.Event()

    with held_part_downloads(transfer) as (proxy, environ):  # the first part's COPY runs until it is killed
        def kill_the_first_copy() -> None:
            while not stop.is_set() and not killed:
                found = transfer.pg_rows("SELECT pid, pg_terminate_backend(pid) FROM pg_stat_activity "
                                         "WHERE datname = %s AND query LIKE 'COPY %%' AND state = 'active' "
                                         "AND pid <> pg_backend_pid()", (dbname,))
                killed.extend(pid for pid, _ in found)
                time.sleep(0.02)
            proxy.release()  # the step, blocked reading the part, finds its COPY gone when it writes on

        watcher = threading.Thread(target=kill_the_first_copy, daemon=True)
        watcher.start()
        try:
            code, output = _run(transfer, "--table", str(source),
                                STORAGE_EMULATOR_HOST=environ["STORAGE_EMULATOR_HOST"])
        finally:
            stop.set()
            watcher.join(5)
    assert killed and proxy.held.is_set(), "the COPY session was never seen: the fault was not injected"
    assert code == 0, output
    assert _retries(output) >= 1, output
    assert target_summary(transfer, "killed") == expected_summary(rows)
    result = _succeeded_once(transfer, source)
    assert result["rows_loaded"] == rows and result["attempts"][0]["retries"] >= 1


def _fails_fast(code: int, output: str, expected_code: int, words: str) -> str:
    assert code == expected_code, output
    line = one_error_line(output, "table_transfer")
    assert words in line, output
    assert _retries(output) == 0, output  # one attempt: no retry can cure it
    return line


def test_type_mismatch_fails_fast_and_leaves_the_target(transfer):
    source, _ = transfer.table("mismatch", [("id", "integer"), ("label", "varchar(10)")])
    transfer.rs_execute(f"INSERT INTO {transfer.schema}.mismatch VALUES (1, 'abc')")
    transfer.pg_execute(f"ALTER TABLE {transfer.schema}.mismatch ALTER COLUMN label TYPE integer USING 0")
    transfer.pg_execute(f"INSERT INTO {transfer.schema}.mismatch VALUES (7, 7)")
    started = time.monotonic()
    code, output = _run(transfer, "--table", str(source))
    _fails_fast(code, output, 5, "invalid input syntax for type integer")
    assert time.monotonic() - started < 30
    assert transfer.pg_rows(f"SELECT id, label FROM {transfer.schema}.mismatch") == [(7, 7)]
    assert transfer.result(source)["error"]["transient"] is False


def test_permission_denied_on_the_target_fails_fast(transfer):
    source, _ = numbered_table(transfer, "guarded", 5)
    role, password = f"r2a_ro_{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    transfer.pg_execute(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")
    try:
        transfer.pg_execute(f"GRANT USAGE ON SCHEMA {transfer.schema} TO {role}; "
                            f"GRANT SELECT ON ALL TABLES IN SCHEMA {transfer.schema} TO {role}")
        code, output = _run(transfer, "--table", str(source), PGUSER=role, PGPASSWORD=password)
        _fails_fast(code, output, 5, "permission denied")
        assert target_summary(transfer, "guarded") == (0, 0, 0)
    finally:
        transfer.pg_execute(f"DROP OWNED BY {role}; DROP ROLE {role}")


def test_alloydb_connection_lost_every_time_is_transient_and_changes_nothing(transfer):
    source, _ = numbered_table(transfer, "cut", 20_000)
    transfer.pg_execute(f"INSERT INTO {transfer.schema}.cut VALUES (-1, 'kept')")
    with FaultProxy(transfer.environ["PGHOST"], int(transfer.environ["PGPORT"])) as proxy:
        proxy.set_fault(Fault.reset_after(300))  # the login passes, then every session breaks
        host, port = proxy.address
        code, output = _run(transfer, "--table", str(source), PGHOST=host, PGPORT=str(port))
        injected = proxy.stats.injected
    assert injected >= 1
    assert code == 1, output  # Argo's retryStrategy retries exit code 1
    result = transfer.result(source)
    assert result["status"] == "failed" and result["error"]["transient"] is True
    assert transfer.pg_rows(f"SELECT id, label FROM {transfer.schema}.cut") == [(-1, "kept")]


def test_unload_refused_by_redshift_fails_fast_as_a_source_error(transfer):
    source, _ = numbered_table(transfer, "refused", 3)
    transfer.rs_execute("SELECT r2a_emulator_fault('unload_fail', %s, 'S3ServiceException: Access Denied')",
                        (f"{transfer.schema}.refused",))
    try:
        code, output = _run(transfer, "--table", str(source))
    finally:
        transfer.rs_execute("SELECT r2a_emulator_fault_clear()")
    _fails_fast(code, output, 4, "Access Denied")
    assert transfer.result(source)["error"]["error_class"] == "SourceError"


def test_redshift_connection_cut_during_unload_is_transient_and_the_rerun_arrives(transfer):
    source, _ = numbered_table(transfer, "dropped", 50)
    transfer.rs_execute("SELECT r2a_emulator_fault('disconnect', %s, '10')", (f"{transfer.schema}.dropped",))
    try:
        code, output = _run(transfer, "--table", str(source))
    finally:
        transfer.rs_execute("SELECT r2a_emulator_fault_clear()")
    assert code == 1, output
    assert transfer.result(source)["error"]["transient"] is True
    code, output = _run(transfer, "--table", str(source))  # the retry Argo would run
    assert code == 0, output
    assert target_summary(transfer, "dropped") == expected_summary(50)
    assert [a["status"] for a in transfer.result(source)["attempts"]] == ["failed", "succeeded"]
