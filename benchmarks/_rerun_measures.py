"""What transfer_bench measures around a re-run of a loaded table: a reader's waits and counts, the longest r2a
transaction, and a transfer SIGKILLed once most of its parts are in, then resumed."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections import Counter

import psycopg2
from psycopg2 import sql

READ_EVERY_S = 0.1  # the reader: SELECT count(*) every 100 ms
# Every open r2a transaction's age, and whether it loads a part: its statement is the part's COPY or the ledger
# rows written in the part's transaction (shared/partledger.py); any other is verification or the switch.
_R2A_TRANSACTIONS = ("SELECT coalesce(max(extract(epoch FROM now() - xact_start)), 0), "
                     "coalesce(max(extract(epoch FROM now() - xact_start)) FILTER (WHERE query NOT ILIKE 'COPY %' "
                     "AND query NOT LIKE '%transfer_parts%'), 0) FROM pg_stat_activity "
                     "WHERE datname = current_database() AND application_name = 'r2a/table_transfer' "
                     "AND xact_start IS NOT NULL")
# Who holds the lock an r2a session waits for: the reader, an autovacuum worker, another r2a session.
_R2A_LOCK_HOLDERS = ("SELECT coalesce(array_agg(DISTINCT holder.backend_type || ' ' || "
                     "coalesce(nullif(holder.application_name, ''), '-')), '{}') FROM pg_stat_activity waiter "
                     "CROSS JOIN LATERAL unnest(pg_blocking_pids(waiter.pid)) AS blocking(pid) "
                     "JOIN pg_stat_activity holder ON holder.pid = blocking.pid "
                     "WHERE waiter.datname = current_database() AND waiter.application_name = 'r2a/table_transfer'")
READER_NAME = "bench reader"


class RerunWatch:
    """A reader counting the table every 100 ms (its worst wait and every count it saw) and a sampler of the oldest
    open r2a transaction, while the block runs."""

    def __init__(self, dsn: str, table: sql.Composable):
        self.dsn, self.table = dsn, table
        self.worst_wait_s = 0.0
        self.longest_transaction_s = 0.0
        self.longest_other_transaction_s = 0.0  # not a part's load: verification, the switch
        self.counts: set[int] = set()
        self.lock_holders: Counter[str] = Counter()  # samples in which an r2a session waited for each holder
        self.failures: list[BaseException] = []  # a thread's query that failed: its figures would be wrong
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._read, daemon=True),
                         threading.Thread(target=self._sample, daemon=True)]

    def __enter__(self) -> RerunWatch:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(30)
        if self.failures:
            raise RuntimeError(f"the re-run's reader or sampler failed: {self.failures[0]!r}")

    def _loop(self, statement: sql.Composable | str, seen, application_name: str = "bench sampler") -> None:
        try:
            conn = psycopg2.connect(self.dsn, application_name=application_name)
        except psycopg2.Error as exc:
            self.failures.append(exc)
            return
        conn.autocommit = True
        try:
            with conn.cursor() as cursor:
                while not self._stop.is_set():
                    began = time.monotonic()
                    cursor.execute(statement)
                    seen(cursor.fetchone(), time.monotonic() - began)
                    time.sleep(READ_EVERY_S)
        except Exception as exc:  # noqa: BLE001 - kept for __exit__, which fails the measurement with it
            self.failures.append(exc)
        finally:
            conn.close()

    def _read(self) -> None:
        def seen(row, waited: float) -> None:
            self.counts.add(int(row[0]))
            self.worst_wait_s = max(self.worst_wait_s, waited)

        self._loop(sql.SQL("SELECT count(*) FROM {}").format(self.table), seen, READER_NAME)

    def _sample(self) -> None:
        def seen(row, _waited: float) -> None:
            self.longest_transaction_s = max(self.longest_transaction_s, float(row[0]))
            self.longest_other_transaction_s = max(self.longest_other_transaction_s, float(row[1]))
            self.lock_holders.update(row[2])

        self._loop(sql.SQL("SELECT * FROM ({}) AS transactions, ({}) AS holders").format(
            sql.SQL(_R2A_TRANSACTIONS), sql.SQL(_R2A_LOCK_HOLDERS)), seen)


def killed_when_parts_in(args: list[str], environ: dict[str, str], dsn: str, run_id: str, parts: int,
                         fraction: float, timeout_s: float = 1800) -> tuple[float, int]:
    """Run the step and SIGKILL it once `fraction` of `parts` are committed in the part ledger of a load whose UNLOAD
    has ended (state `unloaded`: only such a load is resumed, shared/partledger.py; before that the re-run must
    UNLOAD again, which is right but measures nothing of the resume); (seconds, parts committed). A step that ends
    first (a table of one part) is not killed."""
    started = time.monotonic()
    process = subprocess.Popen([sys.executable, "-m", *args], env=environ, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    conn = psycopg2.connect(dsn)
    conn.autocommit = True
    committed = 0
    try:
        while process.poll() is None and time.monotonic() - started < timeout_s:
            with conn.cursor() as cursor:
                cursor.execute("SELECT to_regclass('r2a_meta.transfer_parts') IS NOT NULL")
                if cursor.fetchone()[0]:
                    cursor.execute("SELECT count(*) FROM r2a_meta.transfer_parts p JOIN r2a_meta.transfer_loads l "
                                   "USING (run_id, source, unload_attempt) "
                                   "WHERE p.run_id = %s AND p.rows IS NOT NULL AND l.state = 'unloaded'", (run_id,))
                    committed = cursor.fetchone()[0]
            if committed >= fraction * parts:
                process.kill()
                break
            time.sleep(0.05)
        process.wait(60)
    finally:
        conn.close()
    return time.monotonic() - started, committed
