"""The count + UNLOAD in a thread of its own, so that the step can copy and load parts while Redshift still writes
the next ones, stop it when its time is up (REDSHIFT_UNLOAD_TIMEOUT) and stop it when Argo stops the pod (SIGTERM
reaches only the main thread, and a thread blocked in libpq cannot see it).

Stopping is Redshift's CANCEL from a second session (shared.connections.cancel_redshift_statement), sent from a
daemon thread: if even that hangs, the step still records the table and leaves.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from psycopg2 import sql

from shared import stepnames
from shared.config import Settings
from shared.connections import cancel_redshift_statement, redshift_connection
from shared.errors import R2AError, TransientError
from shared.log import event, one_line
from shared.objectstore import ObjectStore
from shared.results import PhaseTiming, utc_now
from steps.table_transfer.plan import TableSpec, TransferOptions
from steps.table_transfer.source_state import waiting_for
from steps.table_transfer.unload import Manifest, read_manifest, run_unload
from steps.table_transfer.verify import Aggregate

STEP = stepnames.TABLE_TRANSFER
CANCEL_GRACE_S = 10.0  # how long a stop waits for the UNLOAD to end after asking Redshift to cancel it


class UnloadStopped(R2AError):
    """The step stopped the UNLOAD before it started (a stop request arrived while it was still connecting)."""

    transient = True


@dataclass
class UnloadOutcome:
    source_rows: int  # the rows unloaded: the table's, or a sync window's
    source_checks: dict[str, object]
    manifest: Manifest
    source_high: str | None = None  # MAX(high_of) in the UNLOAD's snapshot, as text (a sync's watermark)
    source_total: int | None = None  # the whole table's rows, when a window is unloaded
    source_table_checks: dict[str, object] = field(default_factory=dict)  # and its checksums


class BackgroundUnload:
    """`start()`, then `wait(seconds)` until `done`; `outcome()` returns the result or raises the unload's error."""

    def __init__(self, settings: Settings, store: ObjectStore, spec: TableSpec, options: TransferOptions,
                 prefix: str, authorization: sql.Composable, aggregates: list[Aggregate], high_of: str | None = None,
                 window: sql.Composable | None = None):
        self.settings, self.store, self.spec, self.options = settings, store, spec, options
        self.prefix, self.authorization, self.aggregates, self.high_of = prefix, authorization, aggregates, high_of
        self.window = window
        self.timeout_s = max(settings.redshift.unload_timeout, 0)
        self._done = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._timed_out = False
        self._waiting: str | None = None  # what the UNLOAD was waiting for when its time ran out
        self._outcome: UnloadOutcome | None = None
        self._error: BaseException | None = None
        self._timer: threading.Timer | None = None
        self._started = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="unload", daemon=True)
        self.timing = PhaseTiming("unload", utc_now())

    def start(self) -> BackgroundUnload:
        self.timing.started_at, self._started = utc_now(), time.monotonic()
        if self.timeout_s:
            self._timer = threading.Timer(self.timeout_s, self._time_out)
            self._timer.daemon = True
            self._timer.start()
        self._thread.start()
        return self

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def wait(self, seconds: float | None = None) -> bool:
        return self._done.wait(seconds)

    def outcome(self) -> UnloadOutcome:
        self._done.wait()
        if self._error is not None:
            raise self._error
        assert self._outcome is not None
        return self._outcome

    def stop(self, why: str) -> None:
        """Cancel the UNLOAD if it still runs, and wait a little for it to end."""
        if self._done.is_set():
            return
        self._cancel(why)
        self._done.wait(CANCEL_GRACE_S)

    # ------------------------------------------------------------------------------------------- inside

    def _run(self) -> None:
        try:
            with redshift_connection(self.settings, STEP) as conn:
                with self._lock:
                    self._pid = conn.get_backend_pid()
                    if self._stop.is_set():
                        raise UnloadStopped(f"UNLOAD of {self.spec.source} was stopped before it started")
                counted = run_unload(conn, self.spec, self.options, self.prefix, self.authorization,
                                     self.aggregates, self.high_of, self.window)
            # no row counted: no UNLOAD ran (run_unload), so there is no manifest to read
            manifest = read_manifest(self.store, self.prefix) if counted.rows else \
                Manifest(self.prefix + "manifest", [], 0)
            windowed = self.window is not None
            self._end(UnloadOutcome(counted.rows, counted.checks, manifest,
                                    None if counted.high is None else str(counted.high),
                                    counted.total if windowed else None,
                                    counted.table_checks if windowed else {}), None)
        except BaseException as exc:  # handed to the main thread by outcome()
            self._end(None, self._timeout_error() if self._timed_out else exc)

    def _end(self, outcome: UnloadOutcome | None, error: BaseException | None) -> None:
        """Record how the UNLOAD ended, once: by its thread, or by the timeout giving up on a thread whose CANCEL
        could not get through (a frozen network)."""
        with self._lock:
            if self._done.is_set():
                return
            self._outcome, self._error = outcome, error
            if self._timer is not None:
                self._timer.cancel()
            self.timing.status = "failed" if error is not None else "succeeded"
            self.timing.finished_at = utc_now()
            self.timing.duration_s = round(time.monotonic() - self._started, 3)
            self._done.set()

    def _timeout_error(self) -> TransientError:
        waiting = f": {self._waiting}" if self._waiting else ""
        return TransientError(f"UNLOAD of {self.spec.source} did not finish within {self.timeout_s} s and was "
                              f"cancelled{waiting}", "raise REDSHIFT_UNLOAD_TIMEOUT if the table needs longer")

    def _time_out(self) -> None:
        self._timed_out = True
        self._cancel(f"the unload timeout of {self.timeout_s} s has passed", diagnose=True)
        if not self._done.wait(CANCEL_GRACE_S):  # the CANCEL did not get through: give the thread up
            event("unload.abandoned", table=str(self.spec.source), after_s=self.timeout_s + CANCEL_GRACE_S)
            self._end(None, self._timeout_error())

    def _cancel(self, why: str, diagnose: bool = False) -> None:
        with self._lock:
            self._stop.set()
            pid = self._pid
        if pid is None or self._done.is_set():
            return
        event("unload.cancel", table=str(self.spec.source), pid=pid, why=why)
        threading.Thread(target=self._send_cancel, args=(pid, diagnose), name="unload-cancel", daemon=True).start()

    def _send_cancel(self, pid: int, diagnose: bool) -> None:
        if diagnose:  # asked before the CANCEL, so the UNLOAD's error can say it
            self._waiting = waiting_for(self.settings, pid)
            if self._waiting:
                event("unload.waiting", table=str(self.spec.source), pid=pid, waiting=self._waiting)
        try:
            cancel_redshift_statement(self.settings, pid, STEP)
        except Exception as exc:  # the UNLOAD may have ended meanwhile; the stop does not depend on this
            event("unload.cancel_failed", table=str(self.spec.source), pid=pid,
                  error=one_line(exc, 200))
