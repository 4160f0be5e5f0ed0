"""Faults injected for real while table_transfer moves a table on devstack: the Redshift emulator's fault switches,
AlloyDB backends terminated, the step killed. Each ends either `succeeded` with exactly the source rows, or `failed`
with one line, no partial rows in AlloyDB, and a re-run (what retry-failed does) that completes the table."""

from __future__ import annotations

import signal
import time
from urllib.parse import urlparse

import pytest

from devstack.faultproxy import Fault, FaultProxy
from tests.faults.helpers import (
    BackendWatch,
    clear_emulator_faults,
    emulator_fault,
    emulator_faults,
    expected_summary,
    held_part_downloads,
    numbered_table,
    run_step,
    step_command,
    step_environ,
    target_summary,
)
from tests.support.measure import run_measured
from tests.support.steps import one_error_line
from tests.table_transfer.conftest import transfer  # noqa: F401  (the fixture)

STALE = (-1, 1, -1)  # the target's one row before the transfer: (rows, distinct ids, sum of ids)


def _stale_target(transfer, name: str) -> None:  # noqa: F811
    transfer.pg_execute(f'INSERT INTO {transfer.schema}."{name}" VALUES (-1, \'left by an earlier run\')')


def _source_and_stale_target(transfer, name: str, rows: int):  # noqa: F811
    """A numbered source table of `rows` rows, and its target holding one row left by an earlier run (STALE)."""
    source, _ = numbered_table(transfer, name, rows)
    _stale_target(transfer, name)
    return source


def _run_under_emulator_fault(transfer, source, fault: str, argument: str, **run_options):  # noqa: F811
    """The step run once while the emulator's `fault` is set on the source table; its result and one error line."""
    with emulator_faults(transfer, fault, str(source), argument):
        run = run_step(transfer, "--table", str(source), **run_options)
    return run, one_error_line(run.output, "table_transfer")


def _failed_then_rerun(transfer, source, name: str, rows: int, outcome) -> None:  # noqa: F811
    """After a failure: the target is as it was; a re-run (the fault gone) brings exactly the source rows."""
    assert target_summary(transfer, name) == (1, 1, -1), "partial rows left in the target"
    rerun = run_step(transfer, "--table", str(source))
    assert rerun.code == 0, rerun.output
    loaded = target_summary(transfer, name)
    outcome.rows_lost = max(0, rows - loaded[1])
    assert loaded == expected_summary(rows)
    assert transfer.result(source)["status"] == "succeeded"


def test_redshift_session_cut_mid_unload_is_transient_and_rerun_completes(transfer, matrix):  # noqa: F811
    outcome = matrix.fault("Redshift session cut mid-UNLOAD (after 2,000 rows)", "unload",
                           "exit 1 (transient), target unchanged, re-run succeeds")
    source = _source_and_stale_target(transfer, "cut", 20_000)
    run, line = _run_under_emulator_fault(transfer, source, "disconnect", "2000", timeout=90)
    result = transfer.result(source)
    outcome.observed = f"exit {run.code}, transient={result['error']['transient']}: {line[:80]}"
    assert run.code == 1 and result["status"] == "failed" and result["error"]["transient"] is True
    _failed_then_rerun(transfer, source, "cut", 20_000, outcome)


def test_unload_failure_fails_in_one_line_and_rerun_completes(transfer, matrix):  # noqa: F811
    outcome = matrix.fault("UNLOAD fails (S3 access denied)", "unload",
                           "exit 4, one line, target unchanged, re-run succeeds")
    source = _source_and_stale_target(transfer, "refused", 500)
    run, line = _run_under_emulator_fault(transfer, source, "unload_fail",
                                          "S3ServiceException: Access Denied, Status 403", timeout=60)
    outcome.observed = f"exit {run.code}: {line[:90]}"
    assert run.code == 4 and "Access Denied" in line
    assert transfer.result(source)["error"]["error_class"] == "SourceError"
    _failed_then_rerun(transfer, source, "refused", 500, outcome)


def test_unload_stall_past_its_timeout_is_cancelled_transient_and_rerun_completes(transfer, matrix):  # noqa: F811
    outcome = matrix.fault("UNLOAD stalls 120 s, REDSHIFT_UNLOAD_TIMEOUT=3", "unload",
                           "cancelled after 3 s: exit 1 (transient), one line, target unchanged, re-run succeeds")
    source = _source_and_stale_target(transfer, "stalled", 500)
    run, line = _run_under_emulator_fault(transfer, source, "unload_stall", "120", timeout=60,
                                          environ=step_environ(transfer, REDSHIFT_UNLOAD_TIMEOUT="3"))
    result = transfer.result(source)
    outcome.observed = f"exit {run.code} after {run.seconds} s: {line[27:100]}"
    assert run.code == 1 and result["status"] == "failed" and result["error"]["transient"] is True
    assert "did not finish within 3 s and was cancelled" in line and "REDSHIFT_UNLOAD_TIMEOUT" in line
    assert run.seconds < 20
    assert "unload.cancel" in run.output and "unload.cancel_failed" not in run.output, run.output
    _failed_then_rerun(transfer, source, "stalled", 500, outcome)


def test_sigterm_during_a_stalled_unload_stops_the_step_and_records_the_table(transfer, matrix):  # noqa: F811
    """Argo stops a pod with SIGTERM (once), then SIGKILL after the grace period: the step must cancel the UNLOAD
    that blocks in libpq, record the table failed and leave well within the grace period."""
    outcome = matrix.fault("SIGTERM while the UNLOAD is stalled (120 s)", "unload",
                           "stops within 15 s, failed, target unchanged, re-run succeeds")
    source = _source_and_stale_target(transfer, "terminated", 500)
    emulator_fault(transfer, "unload_stall", str(source), "120")
    started: list[float] = []

    def two_seconds_into_the_unload(output: str) -> bool:
        if "table.started" not in output:
            return False
        started.append(time.monotonic())
        return started[-1] - started[0] >= 2

    try:
        run = run_step(transfer, "--table", str(source), timeout=40, kill_when=two_seconds_into_the_unload,
                       kill_signal=signal.SIGTERM)
    finally:
        clear_emulator_faults(transfer)
    result = transfer.result(source)
    outcome.observed = f"exit {run.code} after {run.seconds} s, {result['status']}: " \
                       f"{(result['error'] or {}).get('message', '')[:60]}"
    assert not run.timed_out, run.output
    assert run.code == 1 and result["status"] == "failed" and run.seconds < 15
    assert result["error"]["transient"] is True and "stopped by SIGTERM" in result["error"]["message"]
    assert "unload.cancel" in run.output and "unload.cancel_failed" not in run.output, run.output
    _failed_then_rerun(transfer, source, "terminated", 500, outcome)


@pytest.mark.parametrize(("name", "fault", "expected", "change", "says"), [
    ("dropped", "source table dropped between plan and transfer", "exit 4 'table not found', nothing loaded",
     'DROP TABLE {schema}."{name}"', "table not found"),
    ("narrowed", "planned source column dropped before transfer", "exit 4 naming the column, nothing loaded",
     'ALTER TABLE {schema}."{name}" DROP COLUMN label', "label"),
], ids=["table dropped", "column dropped"])
def test_source_changed_after_planning_fails_and_loads_nothing(transfer, matrix, name, fault, expected,  # noqa: F811
                                                               change, says):
    outcome = matrix.fault(fault, "unload", expected)
    source = _source_and_stale_target(transfer, name, 50)
    transfer.rs_execute(change.format(schema=transfer.schema, name=name))
    run = run_step(transfer, "--table", str(source), timeout=60)
    line = one_error_line(run.output, "table_transfer")
    outcome.observed = f"exit {run.code}: {line[:90]}"
    assert run.code == 4 and says in line
    assert target_summary(transfer, name) == (1, 1, -1)


def test_source_column_added_after_planning_moves_the_planned_columns(transfer, matrix):  # noqa: F811
    outcome = matrix.fault("source column added between plan and transfer", "unload",
                           "the planned columns move; exactly the source rows")
    source, _ = numbered_table(transfer, "widened", 50)
    transfer.rs_execute(f'ALTER TABLE {transfer.schema}."widened" ADD COLUMN extra integer DEFAULT 7')
    run = run_step(transfer, "--table", str(source), timeout=60)
    outcome.observed = f"exit {run.code}, target {target_summary(transfer, 'widened')}"
    assert run.code == 0, run.output
    assert target_summary(transfer, "widened") == expected_summary(50)


BIG = 300_000  # rows: about a second from UNLOAD to commit on devstack (the rows that need longer add a stall)


def test_alloydb_backend_terminated_mid_copy_is_retried_by_the_step(transfer, matrix):  # noqa: F811
    """The first part's download is held mid-part, so its COPY is running until the watch has terminated it."""
    outcome = matrix.fault("AlloyDB backend terminated mid-COPY (once)", "load",
                           "the step's own retry; succeeded with exactly the source rows")
    source = _source_and_stale_target(transfer, "terminated", BIG)
    watch = BackendWatch(transfer.alloydb_dsn, terminate_times=1)
    with held_part_downloads(transfer) as (proxy, environ):
        def terminate_the_held_copy() -> None:
            watch()
            if watch.terminated:
                proxy.release()

        run = run_step(transfer, "--table", str(source), timeout=120, environ=environ,
                       while_running=terminate_the_held_copy)
    loaded = target_summary(transfer, "terminated")
    outcome.rows_lost = max(0, BIG - loaded[1])
    outcome.observed = f"{len(watch.terminated)} backend terminated; exit {run.code}, target {loaded}"
    assert proxy.held.is_set() and watch.terminated, "the COPY was never seen running"
    assert run.code == 0, run.output
    assert "retrying" in run.output
    assert loaded == expected_summary(BIG)


def test_alloydb_backend_terminated_every_time_fails_transient_and_rerun_completes(transfer, matrix):  # noqa: F811
    outcome = matrix.fault("AlloyDB backend terminated on every COPY attempt", "load",
                           "exit 1 (transient), no partial rows, re-run succeeds")
    source = _source_and_stale_target(transfer, "killed_always", BIG)
    watch = BackendWatch(transfer.alloydb_dsn, terminate_times=100)
    with held_part_downloads(transfer, count=0) as (proxy, environ):  # every try's COPY held until terminated
        released: list[int] = []

        def terminate_each_held_copy() -> None:
            watch()
            if len(watch.terminated) > len(released):
                released.append(len(watch.terminated))
                proxy.release()

        run = run_step(transfer, "--table", str(source), timeout=150, environ=environ,
                       while_running=terminate_each_held_copy)
    line = one_error_line(run.output, "table_transfer")
    outcome.observed = f"{len(watch.terminated)} backends terminated; exit {run.code}: {line[:60]}"
    assert proxy.held.is_set() and len(watch.terminated) > 1, run.output
    assert run.code == 1 and transfer.result(source)["error"]["transient"] is True
    _failed_then_rerun(transfer, source, "killed_always", BIG, outcome)


@pytest.mark.parametrize("phase", ["copy", "load"])  # unload: test_step_sigkilled_during_unload_then_rerun_…
def test_step_sigkilled_then_rerun_has_exactly_the_source_rows(transfer, matrix, phase):  # noqa: F811
    outcome = matrix.fault(f"step process SIGKILLed during {phase}", phase,
                           "target unchanged; re-run: exactly the source rows, no duplicates")
    name = f"killed_in_{phase}"
    source = _source_and_stale_target(transfer, name, BIG)
    watch = BackendWatch(transfer.alloydb_dsn)
    if phase == "copy":  # the UNLOAD has ended and is recorded in the part ledger: its last parts are on their way
        def kill_when(output: str) -> bool:
            return "phase=unload" in output and _load_state(transfer) == "unloaded"
    else:
        def kill_when(output: str) -> bool:
            return watch.copy_seen
    # every part's download held mid-part: the load cannot end before the kill, and in the load phase the first
    # part's COPY runs until it
    with held_part_downloads(transfer, count=0) as (proxy, environ):
        run = run_step(transfer, "--table", str(source), timeout=120, environ=environ, kill_when=kill_when,
                       while_running=watch)
    assert run.code is None and not run.timed_out, f"the step ended before it was killed: {run.output}"
    if phase == "load":
        assert watch.copy_seen and proxy.held.is_set()
    outcome.observed = f"killed after {run.seconds} s; target then {target_summary(transfer, name)}"
    assert target_summary(transfer, name) == (1, 1, -1), "a killed step left partial rows"
    watch.wait_until_gone()  # the killed session's part in flight rolls back once its backend finds the client gone
    state, committed = _load_state(transfer), _committed_parts(transfer)
    rerun = run_step(transfer, "--table", str(source), timeout=120)
    loaded = target_summary(transfer, name)
    outcome.rows_lost = max(0, BIG - loaded[1])
    last = transfer.result(source)["attempts"][-1]
    outcome.observed += f"; re-run exit {rerun.code}, target {loaded}, {len(last['parts_reused'])} parts reused"
    assert rerun.code == 0, rerun.output
    assert loaded == expected_summary(BIG)
    assert transfer.result(source)["status"] == "succeeded"
    if phase == "copy":
        assert state == "unloaded"
    if state == "unloaded":  # the UNLOAD had finished: the re-run loads only what the ledger lacked
        assert last["unload_attempt"] == 1 and last["parts_reused"] == committed
        assert not set(last["parts_loaded"]) & set(committed)
    else:
        assert last["unload_attempt"] == 2 and last["parts_reused"] == []


def _load_state(transfer) -> str | None:  # noqa: F811
    if not transfer.pg_rows("SELECT to_regclass('r2a_meta.transfer_loads') IS NOT NULL")[0][0]:
        return None
    return transfer.pg_rows("SELECT max(state) FROM r2a_meta.transfer_loads WHERE run_id = %s",
                            (transfer.run_id,))[0][0]


def _committed_parts(transfer) -> list[str]:  # noqa: F811
    if _load_state(transfer) is None:
        return []
    return [part for (part,) in transfer.pg_rows("SELECT part FROM r2a_meta.transfer_parts WHERE run_id = %s "
                                                 "AND rows IS NOT NULL ORDER BY part", (transfer.run_id,))]


def test_sigterm_during_the_load_records_the_table_and_rerun_completes(transfer, matrix):  # noqa: F811
    outcome = matrix.fault("SIGTERM (once) while COPY runs", "load",
                           "exit 1 (Stopped, transient) within seconds, target unchanged, re-run succeeds")
    source = _source_and_stale_target(transfer, "terminated_in_load", BIG)
    watch = BackendWatch(transfer.alloydb_dsn)
    signalled: list[bool] = []

    def sigterm_once_the_copy_is_held(_output: str) -> bool:
        signalled.append(watch.copy_seen)
        return watch.copy_seen

    with held_part_downloads(transfer) as (proxy, environ):
        def release_once_signalled() -> None:  # the step stops at its next read of the part
            watch()
            if any(signalled):
                proxy.release()

        run = run_step(transfer, "--table", str(source), timeout=120, environ=environ,
                       kill_when=sigterm_once_the_copy_is_held, kill_signal=signal.SIGTERM,
                       while_running=release_once_signalled)
    result = transfer.result(source)
    outcome.observed = f"exit {run.code} after {run.seconds} s, {result['status']}: " \
                       f"{(result['error'] or {}).get('message', '')[:50]}"
    assert watch.copy_seen and not run.timed_out, run.output
    assert run.code == 1 and result["status"] == "failed" and result["error"]["error_class"] == "Stopped"
    assert proxy.held.is_set()
    _failed_then_rerun(transfer, source, "terminated_in_load", BIG, outcome)


def test_no_table_data_touches_local_disk(transfer, matrix, tmp_path):  # noqa: F811
    """TMPDIR points at an empty folder that must stay empty, and the step process opens no file for writing
    (every open is recorded by an audit hook inside the process: none can fall between two polls):
    unload → S3 → GCS → COPY is streamed."""
    outcome = matrix.fault("local disk (TMPDIR empty folder, opens for writing audited)", "all",
                           "no file written; exactly the source rows")
    source, _ = numbered_table(transfer, "diskless", BIG)
    scratch = tmp_path / "tmpdir"
    scratch.mkdir()
    run = run_measured(step_command(transfer, "--table", str(source)), step_environ(transfer, TMPDIR=str(scratch)),
                       timeout=120, audit_log=tmp_path / "opened-for-writing.jsonl")
    leftovers = sorted(p.name for p in scratch.iterdir())
    outcome.observed = f"exit {run.code}; TMPDIR files {leftovers}; files opened for writing {run.written}"
    assert run.code == 0, run.output
    assert leftovers == [] and run.written == []
    assert target_summary(transfer, "diskless") == expected_summary(BIG)


@pytest.mark.parametrize("service", ["s3", "gcs"])
def test_object_store_503s_are_retried_and_the_table_arrives(transfer, matrix, service):  # noqa: F811
    """A fault-injecting proxy in front of the S3 (moto) or GCS emulator answers the next 4 requests 503."""
    outcome = matrix.fault(f"{service.upper()} answers 503 to 4 requests", "copy/load",
                           "retried; succeeded with exactly the source rows, within 60 s")
    source, _ = numbered_table(transfer, "flaky", 2000)
    variable = "AWS_ENDPOINT_URL_S3" if service == "s3" else "STORAGE_EMULATOR_HOST"
    endpoint = urlparse(transfer.environ[variable])
    with FaultProxy(endpoint.hostname, endpoint.port) as proxy:
        proxy.set_fault(Fault.http_status(503, count=4))
        host, port = proxy.address
        run = run_step(transfer, "--table", str(source), timeout=60,
                       environ=step_environ(transfer, **{variable: f"http://{host}:{port}"}))
        injected = proxy.stats.injected
    loaded = target_summary(transfer, "flaky")
    outcome.observed = f"{injected} x 503; exit {run.code} after {run.seconds} s, target {loaded}"
    assert not run.timed_out, f"hung: {run.output}"
    assert injected == 4 and run.code == 0, run.output
    assert loaded == expected_summary(2000)


@pytest.mark.slow
@pytest.mark.parametrize("service", ["s3", "gcs"])
def test_object_store_down_fails_transient_and_rerun_completes(transfer, matrix, service):  # noqa: F811
    """Every request answered 503: a transient failure (exit 1). For GCS it comes only after google-cloud-storage's
    own retry deadline (120 s per call; reading tables.json, then the failed result write: 188-240 s in all)."""
    outcome = matrix.fault(f"{service.upper()} answers 503 to every request", "copy/load",
                           "exit 1 (transient), target unchanged, re-run succeeds")
    source = _source_and_stale_target(transfer, "down", 2000)
    variable = "AWS_ENDPOINT_URL_S3" if service == "s3" else "STORAGE_EMULATOR_HOST"
    endpoint = urlparse(transfer.environ[variable])
    with FaultProxy(endpoint.hostname, endpoint.port) as proxy:
        proxy.set_fault(Fault.http_status(503))
        host, port = proxy.address
        run = run_step(transfer, "--table", str(source), timeout=420,
                       environ=step_environ(transfer, **{variable: f"http://{host}:{port}"}))
        injected = proxy.stats.injected
    line = one_error_line(run.output, "table_transfer")
    outcome.observed = f"{injected} x 503; exit {run.code} after {run.seconds} s: {line.split('error: ', 1)[1][:60]}"
    assert not run.timed_out, f"hung: {run.output}"
    assert run.code == 1, run.output
    assert "temporary object-store failure" in line, line  # said transient, not only exit 1
    _failed_then_rerun(transfer, source, "down", 2000, outcome)


def test_step_sigkilled_during_staged_load_leaves_no_staging_table_after_rerun(transfer, matrix):  # noqa: F811
    outcome = matrix.fault("step SIGKILLed during a staged load (--load-sessions 2)", "load",
                           "target unchanged; re-run: exact rows, no r2a_staging table left")
    source = _source_and_stale_target(transfer, "staged", BIG)
    watch = BackendWatch(transfer.alloydb_dsn)
    args = ("--table", str(source), "--load-sessions", "2")
    with held_part_downloads(transfer) as (proxy, environ):  # the first part's COPY runs until the kill
        run = run_step(transfer, *args, timeout=120, environ=environ, kill_when=lambda output: watch.copy_seen,
                       while_running=watch)
    assert run.code is None and watch.copy_seen and proxy.held.is_set(), \
        f"the step ended before it was killed: {run.output}"
    watch.wait_until_gone()
    assert target_summary(transfer, "staged") == (1, 1, -1), "a killed step left partial rows"
    staging_sql = "SELECT count(*) FROM pg_tables WHERE schemaname = 'r2a_staging'"
    left_by_kill = transfer.pg_rows(staging_sql)[0][0]
    rerun = run_step(transfer, *args, timeout=120)
    loaded = target_summary(transfer, "staged")
    leftovers = transfer.pg_rows(staging_sql)[0][0]
    outcome.rows_lost = max(0, BIG - loaded[1])
    outcome.observed = f"staging tables after kill {left_by_kill}, after re-run {leftovers}; exit {rerun.code}"
    assert rerun.code == 0, rerun.output
    assert loaded == expected_summary(BIG) and leftovers == 0


def test_target_table_dropped_before_transfer_fails_in_one_line(transfer, matrix):  # noqa: F811
    outcome = matrix.fault("AlloyDB target table dropped between load_schema and transfer", "load",
                           "exit 5, one line naming the table; recreated → re-run succeeds")
    source, _ = numbered_table(transfer, "no_target", 500)
    transfer.pg_execute(f'DROP TABLE {transfer.schema}."no_target"')
    run = run_step(transfer, "--table", str(source), timeout=60)
    line = one_error_line(run.output, "table_transfer")
    outcome.observed = f"exit {run.code}: {line.split('error: ', 1)[1][:70]}"
    assert run.code == 5 and "no_target" in line.split("error: ", 1)[1].split(":", 1)[1]
    transfer.pg_execute(f'CREATE TABLE {transfer.schema}."no_target" (id bigint, label varchar(60))')
    rerun = run_step(transfer, "--table", str(source), timeout=60)
    assert rerun.code == 0, rerun.output
    assert target_summary(transfer, "no_target") == expected_summary(500)


def test_step_sigkilled_during_unload_then_rerun_has_exactly_the_source_rows(transfer, matrix):  # noqa: F811
    """The killed step's UNLOAD can keep running and writing into its attempt folder after the process is gone; the
    immediate re-run must not pick the same attempt (it used to, about one run in two: 'unload destination on S3 is
    not empty', exit 4). Each attempt is claimed in the run folder before its UNLOAD starts."""

    outcome = matrix.fault("step process SIGKILLed during unload", "unload",
                           "target unchanged; re-run: exactly the source rows, no duplicates")
    source = _source_and_stale_target(transfer, "killed_in_unload", BIG)
    # the UNLOAD waits 3 s before it writes: killed 1 s in, it is surely running, and writes after the kill
    emulator_fault(transfer, "unload_stall", str(source), "3")
    seen: list[float] = []

    def one_second_into_the_unload(output: str) -> bool:
        if "table.started" not in output:
            return False
        seen.append(time.monotonic())
        return seen[-1] - seen[0] >= 1.0 and "phase=unload" not in output

    try:
        run = run_step(transfer, "--table", str(source), timeout=120, kill_when=one_second_into_the_unload)
    finally:
        clear_emulator_faults(transfer)  # the stall is already under way in the killed step's UNLOAD
    assert run.code is None and "phase=unload" not in run.output, run.output
    _failed_then_rerun(transfer, source, "killed_in_unload", BIG, outcome)
    attempts = [a["number"] for a in transfer.result(source)["attempts"]]
    outcome.observed = f"killed 1 s into the UNLOAD; re-run took attempt {attempts[-1]}: exactly {BIG:,} rows"
    assert attempts[-1] >= 2  # the killed attempt's folder is never reused
