"""Services restarted or stopped while transfers run, injected for real: AlloyDB's PostgreSQL restarted during a
fan-out of several table_transfer processes, and the SSH bastion stopped while an UNLOAD runs through its tunnel.

Each uses a server of its own (a private PostgreSQL as the AlloyDB target, a private bastion) so that the outage
touches nobody else: on devstack the shared PostgreSQL also holds the Redshift emulator's data."""

from __future__ import annotations

import csv
import os
import signal
import threading
import time
from pathlib import Path

import psycopg2
import pytest
from psycopg2 import sql as pgsql

from devstack import env as envfile
from devstack import postgres, processes, stack
from devstack.faultproxy import Fault
from shared.connections import ALIVE_COUNT_MAX, ALIVE_INTERVAL_S
from shared.identifiers import TableRef, parse_table_ref
from shared.objectstore import new_run_id
from shared.retry import is_transient
from steps.table_transfer.background import CANCEL_GRACE_S
from tests.faults.helpers import (
    BackendWatch,
    StepRun,
    clear_emulator_faults,
    emulator_fault,
    expected_summary,
    held_part_downloads,
    numbered_table,
    run_step,
    step_environ,
    target_summary,
)
from tests.support.db import query
from tests.support.steps import one_error_line
from tests.table_transfer.conftest import transfer  # noqa: F401  (the fixture)
from workflows.demo import copy_report
from workflows.expressions import evaluate
from workflows.local_env import devstack_environment
from workflows.run_local import RENDERED, load_workflow, run_workflow

SENTINEL = (1, 1, -1)  # the target's one row before the transfer: (rows, distinct ids, sum of ids)


def _argo_retries(exit_code: int) -> bool:
    """What the rendered table-transfer template's retryStrategy decides after a failed attempt with this exit code."""
    document = load_workflow(RENDERED / "workflowtemplate-redshift-to-alloydb.yaml")
    (template,) = [t for t in document["spec"]["templates"] if t["name"] == "table-transfer"]
    return bool(evaluate(template["retryStrategy"]["expression"],
                         {"lastRetry.exitCode": str(exit_code), "lastRetry.status": "Failed"}))


def _plant_sentinel(transfer, name: str) -> None:  # noqa: F811
    transfer.pg_execute(f'INSERT INTO {transfer.schema}."{name}" VALUES (-1, \'left by an earlier run\')')


# ------------------------------------------------------------------------------------------------ bastion


@pytest.fixture
def own_bastion(tmp_path):
    """A bastion of this test's own (own port and keys), forwarding to devstack's Redshift emulator."""
    env = {"state_dir": str(tmp_path / "bastion")}
    stack.start(env, "ssh")
    yield env
    stack.stop(env, "ssh")


def _via(bastion_env: dict) -> dict[str, str]:
    ssh = bastion_env["ssh"]
    return {"SSH_BASTION_HOST": ssh["host"], "SSH_BASTION_PORT": str(ssh["port"]), "SSH_BASTION_USER": ssh["user"],
            "SSH_BASTION_KEY_FILE": ssh["private_key_file"], "SSH_BASTION_KNOWN_HOSTS": ssh["known_hosts_file"]}


STALL_S = 20  # the emulator holds the UNLOAD this long; the test cuts the tunnel well before


class SourceSessionWatch:
    """Finds the Redshift emulator's backend session (on devstack's PostgreSQL) that holds the table's UNLOAD
    transaction open: the count ran, the UNLOAD is stalled. Ending it afterwards releases the table's lock, which
    the emulator would otherwise keep until the stall ends (it does not notice a client gone mid-statement)."""

    def __init__(self, devstack: dict, schema: str, table: str):
        self._dsn = envfile.postgres_dsn(devstack, devstack["postgres"]["databases"]["redshift"])
        self._pattern = f"%{schema}%{table}%"
        self.pids: list[int] = []
        self.first_seen: float | None = None

    def _query(self, statement: str, params) -> list[tuple]:
        return query(self._dsn, statement, params)

    def poll(self) -> bool:
        """True once the UNLOAD's transaction has been open for half a second."""
        self.pids = [pid for (pid,) in self._query(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() "
            "AND state LIKE 'idle in transaction%%' AND query ILIKE %s", (self._pattern,))]
        if self.pids and self.first_seen is None:
            self.first_seen = time.monotonic()
        return self.first_seen is not None and time.monotonic() - self.first_seen >= 0.5

    def end(self) -> None:
        for pid in self.pids:
            self._query("SELECT pg_terminate_backend(%s)", (pid,))


def test_bastion_stopped_mid_unload_fails_transient_and_rerun_completes(transfer, own_bastion, devstack,  # noqa: F811
                                                                         matrix):
    outcome = matrix.fault("SSH bastion stopped while the UNLOAD runs through it", "unload",
                           "ends within 30 s: exit 1 (transient), one line, target unchanged; bastion back → "
                           "re-run succeeds")
    source, _ = numbered_table(transfer, "tunnelled", 2000)
    _plant_sentinel(transfer, "tunnelled")
    environ = step_environ(transfer, **_via(own_bastion))
    emulator_fault(transfer, "unload_stall", str(source), str(STALL_S))
    watch = SourceSessionWatch(devstack, transfer.schema, "tunnelled")
    stopped_at: list[float] = []

    def stop_bastion_once_the_unload_runs() -> None:
        if not stopped_at and watch.poll():
            assert stack.stop(own_bastion, "ssh"), "the bastion was not running"
            stopped_at.append(time.monotonic())

    try:
        run = run_step(transfer, "--table", str(source), timeout=60, environ=environ,
                       while_running=stop_bastion_once_the_unload_runs)
        ended = time.monotonic()
    finally:
        clear_emulator_faults(transfer)
        watch.end()
    assert stopped_at, f"the step ended before the bastion was stopped: {run.output}"
    after_stop = round(ended - stopped_at[0], 1)
    assert not run.timed_out, f"hung after the bastion stopped: {run.output}"
    line = one_error_line(run.output, "table_transfer")
    result = transfer.result(source)
    outcome.observed = f"exit {run.code} {after_stop} s after the stop: {line.split('error: ', 1)[1][:70]}"
    assert run.code == 1 and result["status"] == "failed" and result["error"]["transient"] is True, run.output
    assert _argo_retries(run.code) and "connection" in line and after_stop < 30
    assert f"via bastion 127.0.0.1:{own_bastion['ssh']['port']}" in line, line
    assert target_summary(transfer, "tunnelled") == SENTINEL, "partial rows left in the target"

    stack.start(own_bastion, "ssh")  # same port and keys: the bastion is back
    rerun = run_step(transfer, "--table", str(source), timeout=60, environ=environ)
    loaded = target_summary(transfer, "tunnelled")
    outcome.rows_lost = max(0, 2000 - loaded[1])
    outcome.observed += f"; bastion back, re-run exit {rerun.code}"
    assert rerun.code == 0, rerun.output
    assert loaded == expected_summary(2000)
    assert transfer.result(source)["status"] == "succeeded"


# ------------------------------------------------------------------------------------------------ AlloyDB


@pytest.fixture
def own_alloydb(tmp_path):
    """A PostgreSQL server of this test's own as the AlloyDB target, so that restarting it cuts only AlloyDB."""
    env = {"state_dir": str(tmp_path / "alloydb")}
    stack.start(env, "postgres")
    yield env
    stack.stop(env, "postgres")
    postgres.purge(Path(env["postgres"]["data_dir"]))


@pytest.fixture
def fan_out(transfer, own_alloydb):  # noqa: F811
    """The transfer fixture with its targets (and the steps' PG* settings) on the private AlloyDB."""
    pg = own_alloydb["postgres"]
    transfer.alloydb_dsn = envfile.postgres_dsn(own_alloydb, pg["databases"]["alloydb"])
    transfer.environ = {**transfer.environ, "PGHOST": pg["host"], "PGPORT": str(pg["port"]), "PGUSER": pg["user"],
                        "PGPASSWORD": pg["password"], "PGDATABASE": pg["databases"]["alloydb"]}
    transfer.pg_execute(f"CREATE SCHEMA {transfer.schema}")
    return transfer


COPYING = ("SELECT query FROM pg_stat_activity WHERE datname = current_database() "
           "AND application_name = 'r2a/table_transfer' AND state = 'active' AND query ILIKE 'COPY %FROM STDIN%'")


# A table-transfer step connected to AlloyDB: it holds its session from before the UNLOAD to its result, so a poll
# every 50 ms sees it however fast the machine copies the sample's small tables (their COPYs last milliseconds).
TRANSFERRING = ("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND application_name = 'r2a/table_transfer'")


def _rows(dsn: str, statement: str) -> list[tuple]:
    return query(dsn, statement, connect_timeout=2)


def _copying_tables(dsn: str, names: list[str]) -> set[str]:
    """Which of `names` a step is COPYing into right now, directly or through its staging table (named
    `<schema>.<name>.attempt-NNN`), from the COPY statements' text."""
    targets = [query.split('"')[3] for (query,) in _rows(dsn, COPYING) if query.count('"') >= 4]
    return {name for name in names for target in targets if target == name or f".{name}." in target}


def _staged_rows(dsn: str) -> int:
    """Rows committed so far to the staging tables (schema r2a_staging) of staged loads."""
    tables = _rows(dsn, "SELECT c.oid::regclass::text FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n "
                        "ON n.oid = c.relnamespace WHERE n.nspname = 'r2a_staging' AND c.relkind = 'r'")
    # regclass text is already quoted
    return sum(_rows(dsn, f"SELECT count(*) FROM {table}")[0][0] for (table,) in tables)


def _run_together(transfer, commands: dict[str, tuple[str, ...]], timeout: float,  # noqa: F811
                  while_running=None, environs: dict[str, dict[str, str]] | None = None) -> dict[str, StepRun]:
    """One step process per table, all at once (the fan-out), each with its own time limit (and environment)."""
    runs: dict[str, StepRun] = {}

    def one(name: str, args: tuple[str, ...]) -> None:
        runs[name] = run_step(transfer, *args, timeout=timeout, environ=(environs or {}).get(name))

    threads = [threading.Thread(target=one, args=item, daemon=True) for item in commands.items()]
    for thread in threads:
        thread.start()
    while any(thread.is_alive() for thread in threads):
        if while_running is not None:
            while_running()
        time.sleep(0.05)
    return runs


FAN_OUT_ROWS = 300_000  # four parts each
RETRY_WINDOW_S = 7.5  # DEFAULT_POLICY: 5 attempts, 0.5 + 1 + 2 + 4 s between them


def _stop_server(env: dict, crash: bool) -> None:
    """A fast shutdown (SIGINT: sessions aborted, checkpoint), or an immediate one (SIGQUIT: no checkpoint, crash
    recovery at the next start, as after a failover; UNLOGGED tables come back empty)."""
    if crash:
        processes.stop(env["postgres"]["pid"], sig=signal.SIGQUIT, timeout=30)
    else:
        stack.stop(env, "postgres")


@pytest.mark.parametrize(("outage_s", "crash"), [
    pytest.param(0, False, id="restart"),
    pytest.param(0, True, id="crash"),
    pytest.param(12, False, id="down 12 s", marks=pytest.mark.slow),
])
def test_alloydb_restarted_during_fan_out_loses_nothing(fan_out, own_alloydb, matrix, outage_s,  # noqa: F811
                                                        crash):
    how = "crashed (immediate shutdown)" if crash else "restarted"
    outcome = matrix.fault(f"AlloyDB {how} during a fan-out of 3 tables (down {outage_s} s + start)", "load",
                           "each: retried in the step, or exit 1 (transient) with no partial rows; re-run of the "
                           "failed: all exact")
    transfer = fan_out  # noqa: F811
    names = ["fan_a", "fan_b", "fan_staged"]
    commands: dict[str, tuple[str, ...]] = {}
    for name in names:
        source, _ = numbered_table(transfer, name, FAN_OUT_ROWS)
        _plant_sentinel(transfer, name)
        commands[name] = ("--table", str(source)) + (("--load-sessions", "2") if name == "fan_staged" else ())
    hit: set[str] = set()
    restart: dict[str, float] = {}
    # fan_staged's part downloads are held mid-part, so its COPY runs until the stop; before a crash its first part
    # passes, so some rows are committed to its UNLOGGED staging table, which crash recovery empties
    with held_part_downloads(transfer, count=0, skip=1 if crash else 0) as (proxy, staged_environ):
        def restart_once_copies_run() -> None:
            if restart:
                return
            copying = _copying_tables(transfer.alloydb_dsn, names)
            # fan_staged's loaders hold one connection each (they must open new ones)
            if "fan_staged" in copying and (not crash or _staged_rows(transfer.alloydb_dsn) > 0):
                hit.update(copying)
                began = time.monotonic()
                _stop_server(own_alloydb, crash)
                time.sleep(outage_s)
                stack.start(own_alloydb, "postgres")
                restart["seconds"] = round(time.monotonic() - began, 1)
                proxy.set_fault(Fault())  # the held downloads go on, and the retries' pass
                proxy.release()

        runs = _run_together(transfer, commands, timeout=120, while_running=restart_once_copies_run,
                             environs={"fan_staged": staged_environ})
    assert restart and proxy.held.is_set(), f"no COPY was ever seen running: {runs}"
    observed = []
    failed = []
    for name in names:
        run = runs[name]
        assert not run.timed_out, f"{name} hung: {run.output}"
        if run.code == 0:
            assert target_summary(transfer, name) == expected_summary(FAN_OUT_ROWS), name
            observed.append(f"{name} 0" + (" (retried)" if "retrying" in run.output else ""))
            continue
        line = one_error_line(run.output, "table_transfer")
        assert run.code == 1, f"{name}: {run.output}"
        error = transfer.result(TableRef(transfer.schema, name))["error"]
        assert error["transient"] is True and _argo_retries(run.code), line
        assert target_summary(transfer, name) == SENTINEL, f"{name}: partial rows left in the target"
        observed.append(f"{name} 1 ({error['message'].split(': ', 1)[-1][:45]})")
        failed.append(name)
    # A table cut mid-COPY is retried in the step, or fails transient when the outage outlasts the retries (one
    # seen COPYing may also have committed in the milliseconds before the stop: then it simply succeeded).
    assert any(name in failed or "retrying" in runs[name].output for name in hit), "the restart touched no table"
    if outage_s > RETRY_WINDOW_S:
        assert failed, "an outage longer than the step's retries failed no table"
    elif restart["seconds"] < RETRY_WINDOW_S - 2:  # back well within the step's retries: no table fails, except
        # a staged one after a crash: the rows it had committed to its UNLOGGED staging table are gone
        assert set(failed) <= ({"fan_staged"} if crash else set()), {name: runs[name].output for name in failed}
        if "fan_staged" in failed:
            assert "lost rows of the UNLOGGED table" in runs["fan_staged"].output, runs["fan_staged"].output
    outcome.observed = f"restart took {restart['seconds']} s, cut COPY into {sorted(hit)}; exits: " \
                       + ", ".join(observed)
    reruns = _run_together(transfer, {name: commands[name] for name in failed}, timeout=120)
    lost = 0
    for name in names:
        lost += max(0, FAN_OUT_ROWS - target_summary(transfer, name)[1])
    outcome.rows_lost = lost
    if failed:
        outcome.observed += f"; re-run of {len(failed)}: exits {sorted(r.code for r in reruns.values())}"
    for name, rerun in reruns.items():
        assert rerun.code == 0, f"{name}: {rerun.output}"
    for name in names:
        assert target_summary(transfer, name) == expected_summary(FAN_OUT_ROWS), name
        assert transfer.result(TableRef(transfer.schema, name))["status"] == "succeeded"


def test_staged_loader_session_terminated_is_retried_on_a_new_connection(transfer, matrix):  # noqa: F811
    """A staged load (--load-sessions 2) retries a part whose COPY lost its connection; it used to retry on the dead
    connection ('connection already closed' five times) and fail the table."""
    outcome = matrix.fault("AlloyDB backend of a staged loader terminated mid-COPY (once)", "load",
                           "the part retried on a new connection; succeeded with exactly the source rows")
    rows = 300_000
    source, _ = numbered_table(transfer, "staged_cut", rows)
    _plant_sentinel(transfer, "staged_cut")
    watch = BackendWatch(transfer.alloydb_dsn, terminate_times=1)
    with held_part_downloads(transfer) as (proxy, environ):  # the first part's COPY runs until it is terminated
        def terminate_the_held_copy() -> None:
            watch()
            if watch.terminated:
                proxy.release()

        run = run_step(transfer, "--table", str(source), "--load-sessions", "2", timeout=120, environ=environ,
                       while_running=terminate_the_held_copy)
    loaded = target_summary(transfer, "staged_cut")
    outcome.rows_lost = max(0, rows - loaded[1])
    outcome.observed = f"{len(watch.terminated)} backend terminated; exit {run.code}, target {loaded}"
    assert proxy.held.is_set() and watch.terminated, "the COPY was never seen running"
    assert run.code == 0, run.output
    assert "retrying" in run.output and "connection already closed" not in run.output, run.output
    assert loaded == expected_summary(rows)


def test_a_copy_cut_by_a_server_crash_is_transient():
    """When the server dies mid-COPY FROM STDIN, psycopg2 raises a plain DatabaseError without SQLSTATE (seen in the
    crash row above); it was taken for a permanent target error (exit 5, no Argo retry)."""
    cut = psycopg2.DatabaseError("server closed the connection unexpectedly\n\tThis probably means the server "
                                 "terminated abnormally\n\tbefore or while processing the request.\n")
    assert is_transient(cut)
    assert _argo_retries(1) and not _argo_retries(5)  # transient exit 1 is retried by Argo; a target error is not
    assert not is_transient(psycopg2.DatabaseError("invalid input syntax for type bigint"))
    assert not is_transient(psycopg2.OperationalError('FATAL:  password authentication failed for user "x"'))



@pytest.mark.slow  # the bastion is given up after 3 unanswered keepalive intervals of 15 s
@pytest.mark.parametrize("unload_timeout", [None, 4], ids=["no unload timeout", "unload timeout 4 s"])
def test_bastion_frozen_mid_unload_is_given_up_and_rerun_completes(transfer, own_bastion, devstack,  # noqa: F811
                                                                   matrix, unload_timeout):
    """A bastion that stops answering without closing its connections (SIGSTOP: the kernel still acknowledges
    TCP, as when the network path dies without a reset) left the UNLOAD blocked in libpq for ever, also past
    REDSHIFT_UNLOAD_TIMEOUT: its CANCEL needs a new tunnel through the same frozen bastion. Now the tunnel gives the
    bastion up after unanswered keepalives, and the timeout gives the UNLOAD up when its CANCEL has not worked."""
    silence = ALIVE_INTERVAL_S * ALIVE_COUNT_MAX
    timeout_note = f", REDSHIFT_UNLOAD_TIMEOUT={unload_timeout}" if unload_timeout else ""
    given_up = (f"UNLOAD given up {CANCEL_GRACE_S:.0f} s after its timeout (the CANCEL cannot pass)" if unload_timeout
                else f"tunnel given up after {silence:.0f} s without keepalive answers")
    outcome = matrix.fault(f"SSH bastion frozen (SIGSTOP) while the UNLOAD runs through it{timeout_note}", "unload",
                           f"{given_up}: exit 1 (transient), one line, target unchanged; thawed → re-run succeeds")
    source, _ = numbered_table(transfer, "frozen", 2000)
    _plant_sentinel(transfer, "frozen")
    extra = {"REDSHIFT_UNLOAD_TIMEOUT": str(unload_timeout)} if unload_timeout else {}
    environ = step_environ(transfer, **_via(own_bastion), **extra)
    emulator_fault(transfer, "unload_stall", str(source), str(STALL_S * 6))
    watch = SourceSessionWatch(devstack, transfer.schema, "frozen")
    frozen_at: list[float] = []
    bastion = own_bastion["ssh"]["pid"]

    def freeze_bastion_once_the_unload_runs() -> None:
        if not frozen_at and watch.poll():
            os.killpg(bastion, signal.SIGSTOP)
            frozen_at.append(time.monotonic())

    try:
        run = run_step(transfer, "--table", str(source), timeout=silence + 60, environ=environ,
                       while_running=freeze_bastion_once_the_unload_runs)
        ended = time.monotonic()
    finally:
        os.killpg(bastion, signal.SIGCONT)
        clear_emulator_faults(transfer)
        watch.end()
    assert frozen_at, f"the step ended before the bastion was frozen: {run.output}"
    after = round(ended - frozen_at[0], 1)
    assert not run.timed_out, f"hung after the bastion froze: {run.output}"
    line = one_error_line(run.output, "table_transfer")
    outcome.observed = f"exit {run.code} {after} s after the freeze: {line.split('error: ', 1)[1][:70]}"
    assert run.code == 1 and transfer.result(source)["error"]["transient"] is True and _argo_retries(1), run.output
    if unload_timeout:  # given up when the CANCEL has not ended the UNLOAD within the grace period
        assert f"did not finish within {unload_timeout} s" in line and "unload.abandoned" in run.output, run.output
        assert after < unload_timeout + CANCEL_GRACE_S + 10, run.output
    else:
        assert "bastion.unresponsive" in run.output and after < silence + ALIVE_INTERVAL_S + 10, run.output
    assert target_summary(transfer, "frozen") == SENTINEL, "partial rows left in the target"
    rerun = run_step(transfer, "--table", str(source), timeout=60, environ=environ)
    loaded = target_summary(transfer, "frozen")
    outcome.rows_lost = max(0, 2000 - loaded[1])
    outcome.observed += f"; thawed, re-run exit {rerun.code}"
    assert rerun.code == 0, rerun.output
    assert loaded == expected_summary(2000)


@pytest.mark.slow  # a whole run of the sample database through run-local (~1-2 min)
def test_alloydb_down_during_a_run_local_fan_out_is_retried_by_the_retry_strategy(devstack, sample_redshift,
                                                                                   own_alloydb, tmp_path, matrix):
    """The rendered Workflow, run by run-local with the templates' retryStrategy (exit 1 retried, backoff scaled
    down), against a private AlloyDB that goes down for 12 s once the first table-transfer step is connected."""
    outcome = matrix.fault("AlloyDB down 12 s during run-local's table-transfer fan-out (sample database)",
                           "load", "failed attempts retried by the retryStrategy (or retry-failed); every table "
                                   "succeeded, counts verified")
    pg = own_alloydb["postgres"]
    parameters, local = devstack_environment(devstack)
    parameters.update({"run-id": new_run_id(parameters["database"]), "alloydb-port": str(pg["port"]),
                       "alloydb-database": pg["databases"]["alloydb"], "alloydb-user": pg["user"]})
    local.secrets["r2a-alloydb"] = {"password": pg["password"]}
    dsn = envfile.postgres_dsn(own_alloydb, pg["databases"]["alloydb"])
    results: list = []
    runner = threading.Thread(target=lambda: results.append(run_workflow(
        RENDERED / "workflow-local.yaml", parameters, local, tmp_path / "run", retry_backoff_s=1.0,
        progress=lambda message: None)), daemon=True)
    restart: dict[str, object] = {}
    started = time.monotonic()
    runner.start()
    while runner.is_alive() and time.monotonic() - started < 400:  # below pytest-timeout (600 s)
        if not restart:
            try:
                transferring = bool(_rows(dsn, TRANSFERRING))
            except psycopg2.OperationalError:
                transferring = False  # the database is still being created by load_schema
            if transferring:
                stack.stop(own_alloydb, "postgres")
                time.sleep(12)
                stack.start(own_alloydb, "postgres")
                restart["after_s"] = round(time.monotonic() - started, 1)
        time.sleep(0.05)
    runner.join(1)
    assert results, "run-local did not finish within 400 s"
    assert restart, "no table-transfer step was ever seen connected to AlloyDB"
    (result,) = results
    transfers = [n for n in result.nodes if n.task == "table-transfer" and "(" in n.name]
    retried = [n for n in transfers if n.attempts > 1]
    outcome.observed = (f"down 12 s at {restart['after_s']} s; {len(retried)}/{len(transfers)} transfer nodes retried "
                        f"by the retryStrategy; workflow {result.phase}")
    if result.phase != "Succeeded":  # what an operator does next
        retry = run_workflow(RENDERED / "workflowtemplate-retry-failed.yaml",
                             {k: v for k, v in parameters.items() if k != "on-existing"}, local, tmp_path / "retry",
                             progress=lambda message: None)
        outcome.observed += f"; retry-failed {retry.phase}"
        assert retry.phase == "Succeeded", [(n.name, n.phase, n.log) for n in retry.failed_nodes]
    assert retried, "no table-transfer attempt failed: the outage hit nothing"
    copy_report(devstack, result.run_id, tmp_path / "report")
    with (tmp_path / "report" / result.run_id / f"{result.run_id}.tables").open() as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    assert rows and {row["status"] for row in rows} == {"succeeded"}, rows
    conn = psycopg2.connect(dsn)  # counted here, not taken from the steps' own verification
    try:
        with conn.cursor() as cur:
            for row in rows:
                cur.execute(pgsql.SQL("SELECT count(*) FROM {}").format(parse_table_ref(row["target"]).sql()))
                outcome.rows_lost += max(0, int(row["rows_source"]) - cur.fetchone()[0])
    finally:
        conn.close()
    assert outcome.rows_lost == 0
