"""Shared by the transfer fault tests: a numbered source table, the step as its own process (always with a time
limit, so a hang is a failed test and not a stuck suite), and what the AlloyDB target holds."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urlparse

from devstack.faultproxy import Fault, FaultProxy
from tests.table_transfer.conftest import Transfer, quoted
from workflows.local_env import process_environ

COLUMNS = [("id", "bigint"), ("label", "varchar(60)")]


def numbered_table(transfer: Transfer, name: str, rows: int):
    """A source table of ids 1..rows, planned, with an empty target."""
    table = f"{quoted(transfer.schema)}.{quoted(name)}"
    return transfer.table(name, COLUMNS, rows_sql=f"INSERT INTO {table} SELECT g, 'row ' || g || ' ' || md5(g::varchar) "
                                                  f"FROM generate_series(1, {rows}) g")


def target_summary(transfer: Transfer, name: str) -> tuple[int, int, int]:
    """(rows, distinct ids, sum of ids) of the target: a lost or a duplicated row changes it."""
    (summary,) = transfer.pg_rows(f"SELECT count(*), count(DISTINCT id), coalesce(sum(id), 0) "
                                  f"FROM {quoted(transfer.schema)}.{quoted(name)}")
    return tuple(int(v) for v in summary)


def expected_summary(rows: int) -> tuple[int, int, int]:
    return rows, rows, rows * (rows + 1) // 2


def emulator_fault(transfer: Transfer, kind: str, table: str, argument: str) -> None:
    transfer.rs_execute("SELECT r2a_emulator_fault(%s, %s, %s)", (kind, table, argument))


def clear_emulator_faults(transfer: Transfer) -> None:
    transfer.rs_execute("SELECT r2a_emulator_fault_clear()")


@contextmanager
def emulator_faults(transfer: Transfer, kind: str, table: str, argument: str) -> Iterator[None]:
    """One emulator fault for the body of the `with`, cleared afterwards whatever happens."""
    emulator_fault(transfer, kind, table, argument)
    try:
        yield
    finally:
        clear_emulator_faults(transfer)


@dataclass
class StepRun:
    code: int | None  # None: killed by the test or its time limit
    output: str
    timed_out: bool = False
    seconds: float = 0.0


def step_command(transfer: Transfer, *args: str) -> list[str]:
    return [sys.executable, "-m", "steps.table_transfer", "--run-id", transfer.run_id, *args]


def step_environ(transfer: Transfer, **extra: str) -> dict[str, str]:
    return {**process_environ(), **transfer.environ, **extra}


def run_step(transfer: Transfer, *args: str, timeout: float = 120, environ: dict[str, str] | None = None,
             kill_when: Callable[[str], bool] | None = None, kill_signal: int = signal.SIGKILL,
             while_running: Callable[[], None] | None = None) -> StepRun:
    """Run the step as a process; send `kill_signal` when `kill_when(output so far)` holds, SIGKILL at `timeout`.
    `while_running` is called every 50 ms (e.g. to watch /tmp). `code` is None only after a SIGKILL."""
    started = time.monotonic()
    process = subprocess.Popen(step_command(transfer, *args), env=environ or step_environ(transfer),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    os.set_blocking(process.stdout.fileno(), False)
    chunks: list[bytes] = []
    timed_out = killed = signalled = False
    while True:
        chunk = process.stdout.read()
        if chunk:
            chunks.append(chunk)
        if process.poll() is not None:
            break
        if while_running is not None:
            while_running()
        text = b"".join(chunks).decode(errors="replace")
        if kill_when is not None and not signalled and kill_when(text):
            os.kill(process.pid, kill_signal)  # once, as Kubernetes does before its SIGKILL
            signalled, killed = True, kill_signal == signal.SIGKILL
        if time.monotonic() - started > timeout:
            os.killpg(process.pid, signal.SIGKILL)
            timed_out = True
        time.sleep(0.05)
    rest = process.stdout.read()
    if rest:
        chunks.append(rest)
    output = b"".join(chunks).decode(errors="replace")
    code = None if (killed or timed_out) else process.returncode
    return StepRun(code, output, timed_out, round(time.monotonic() - started, 1))


class BackendWatch:
    """Polls the AlloyDB database for the step's session running COPY; can terminate it (from an admin session)."""

    def __init__(self, dsn: str, terminate_times: int = 0):
        self._dsn = dsn
        self.terminate_times = terminate_times
        self.terminated: list[int] = []
        self.copy_seen = False

    def copy_backends(self) -> list[int]:
        import psycopg2

        conn = psycopg2.connect(self._dsn)
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                            "AND application_name = 'r2a/table_transfer' AND state = 'active' "
                            "AND query ILIKE 'COPY %%FROM STDIN%%'")
                return [pid for (pid,) in cur.fetchall()]
        finally:
            conn.close()

    def wait_until_gone(self, timeout: float = 30) -> None:
        """Until no session of the step is left: a killed step's part in flight rolls back once its backend finds
        the client gone."""
        import psycopg2

        deadline = time.monotonic() + timeout
        while True:
            conn = psycopg2.connect(self._dsn)
            conn.autocommit = True
            try:
                with conn.cursor() as cur:
                    cur.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                "AND application_name = 'r2a/table_transfer'")
                    (left,) = cur.fetchone()
            finally:
                conn.close()
            if not left:
                return
            assert time.monotonic() < deadline, f"{left} sessions of the killed step still open after {timeout} s"
            time.sleep(0.05)

    def __call__(self) -> None:
        pids = self.copy_backends()
        self.copy_seen = self.copy_seen or bool(pids)
        if pids and len(self.terminated) < self.terminate_times:
            import psycopg2

            conn = psycopg2.connect(self._dsn)
            conn.autocommit = True
            try:
                with conn.cursor() as cur:
                    cur.execute("SELECT pg_terminate_backend(%s)", (pids[0],))
            finally:
                conn.close()
            self.terminated.append(pids[0])


# More than any JSON document the step reads from GCS, less than one unload part of a `numbered_table` of 100,000
# rows or more: a download held after it is a part's, with its COPY started and stopped mid-part.
PART_HOLD_BYTES = 256 * 1024


@contextmanager
def held_part_downloads(transfer: Transfer, count: int = 1, skip: int = 0) \
        -> Iterator[tuple[FaultProxy, dict[str, str]]]:
    """A proxy in front of the GCS emulator that holds the next `count` part downloads (0: every one; the first
    `skip` pass) mid-part
    until `proxy.release()`, and the step environment that goes through it. While a download is held, its COPY
    stays running on AlloyDB: a watch polling pg_stat_activity sees it whatever the machine's speed. A COPY
    terminated meanwhile fails in the step only once its download goes on (the step is blocked reading it), so
    release after acting."""
    endpoint = urlparse(transfer.environ["STORAGE_EMULATOR_HOST"])
    with FaultProxy(endpoint.hostname, endpoint.port) as proxy:
        proxy.set_fault(Fault.hold_after(PART_HOLD_BYTES, count=count, skip=skip))
        host, port = proxy.address
        try:
            yield proxy, step_environ(transfer, STORAGE_EMULATOR_HOST=f"http://{host}:{port}")
        finally:
            proxy.set_fault(Fault())
            proxy.release()
