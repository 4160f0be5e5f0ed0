"""Services restarted or stopped while transfers run, injected for real: AlloyDB's PostgreSQL restarted during a
fan-out of several table_transfer processes, and the SSH bastion stopped while an UNLOAD runs through its tunnel.

Each uses a server of its own (a private PostgreSQL as the AlloyDB target, a private bastion) so that the outage
touches nobody else: on devstack the shared PostgreSQL also holds the Redshift emulator's data."""

from __future__ import annotations

import time

import psycopg2
import pytest

from devstack import env as envfile
from devstack import stack
from tests.faults.helpers import (
    clear_emulator_faults,
    emulator_fault,
    expected_summary,
    numbered_table,
    one_line_error,
    run_step,
    step_environ,
    target_summary,
)
from tests.table_transfer.conftest import transfer  # noqa: F401  (the fixture)

SENTINEL = (1, 1, -1)  # the target's one row before the transfer: (rows, distinct ids, sum of ids)


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
        conn = psycopg2.connect(self._dsn)
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                cur.execute(statement, params)
                return cur.fetchall()
        finally:
            conn.close()

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
    line = one_line_error(run.output)
    result = transfer.result(source)
    outcome.observed = f"exit {run.code} {after_stop} s after the stop: {line.split('error: ', 1)[1][:70]}"
    assert run.code == 1 and result["status"] == "failed" and result["error"]["transient"] is True, run.output
    assert "connection" in line and after_stop < 30
    assert target_summary(transfer, "tunnelled") == SENTINEL, "partial rows left in the target"

    stack.start(own_bastion, "ssh")  # same port and keys: the bastion is back
    rerun = run_step(transfer, "--table", str(source), timeout=60, environ=environ)
    loaded = target_summary(transfer, "tunnelled")
    outcome.rows_lost = max(0, 2000 - loaded[1])
    outcome.observed += f"; bastion back, re-run exit {rerun.code}"
    assert rerun.code == 0, rerun.output
    assert loaded == expected_summary(2000)
    assert transfer.result(source)["status"] == "succeeded"
