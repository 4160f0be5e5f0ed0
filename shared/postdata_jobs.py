"""Post-data work in N AlloyDB sessions at once (pgcopydb's --index-jobs): keys, foreign keys, indexes, ANALYZE.

Which object may start when:
- a FOREIGN KEY waits until every PRIMARY KEY, UNIQUE constraint and unique index on the tables it names has
  been tried: the referenced key must exist before the foreign key can;
- objects on the same table never run at the same time, except indexes with indexes: ALTER TABLE … ADD takes
  locks (ACCESS EXCLUSIVE for a key, SHARE ROW EXCLUSIVE on both tables for a foreign key) that would make the
  sessions queue behind each other, and a key's violation count followed by its ALTER in two sessions on one
  table would deadlock; CREATE INDEX takes SHARE, which other index builds share.
Among the objects that may start, the earliest in post-data's order goes first, so one session runs them in the
order shared/postdata.py gives. Each session commits after every object, so no session keeps a lock while it
waits for its next one. A lost connection in any session stops the others after their current object and is
raised (the step's retry runs post-data again).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from shared.constraints import constraint_spec, is_unique_index, statement_tables
from shared.identifiers import TableRef
from shared.results import utc_now
from shared.sqlblocks import SqlObject

S = TypeVar("S")  # a session: a SavepointApplier or a connection


@dataclass
class Timing:
    """When one object (or one table's ANALYZE) ran, and in which session (1…N)."""
    kind: str
    name: str
    session: int
    started_at: str
    finished_at: str
    duration_s: float

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "session": self.session, "started_at": self.started_at,
                "finished_at": self.finished_at, "duration_s": self.duration_s}


@dataclass(frozen=True)
class Job:
    key: Hashable
    tables: frozenset[TableRef] = frozenset()
    shares_tables: bool = False  # True: may run beside other sharing jobs on the same tables
    needs: frozenset[Hashable] = frozenset()


def object_jobs(objects: Sequence[SqlObject]) -> list[Job]:
    """One job per object (key: its position), with the tables it locks and the keys a foreign key needs."""
    specs = [constraint_spec(obj) for obj in objects]
    named = [frozenset(statement_tables(obj)) for obj in objects]
    keys_on: dict[TableRef, list[int]] = {}
    for position, (obj, spec) in enumerate(zip(objects, specs, strict=True)):
        is_key = spec is not None and spec.kind in ("primary_key", "unique")
        if is_key or (obj.kind == "index" and is_unique_index(obj)):
            for table in ({spec.table} if spec is not None else named[position]):
                keys_on.setdefault(table, []).append(position)
    jobs = []
    for position, (obj, spec) in enumerate(zip(objects, specs, strict=True)):
        needs: frozenset[Hashable] = frozenset()
        if spec is not None and spec.kind == "foreign_key":
            needs = frozenset(k for table in named[position] for k in keys_on.get(table, ()) if k != position)
        jobs.append(Job(position, named[position], obj.kind == "index", needs))
    return jobs


class _Board(Generic[S]):
    """The jobs not started yet, the tables in use, and the first error of any session."""

    def __init__(self, jobs: Sequence[Job]):
        self.waiting = list(jobs)  # in priority order
        self.keys = {job.key for job in jobs}
        self.done: set[Hashable] = set()
        self.in_use: dict[TableRef, int] = {}  # > 0: that many sharing jobs; -1: one exclusive job
        self.running = 0
        self.error: BaseException | None = None
        self.cond = threading.Condition()

    def _free(self, job: Job) -> bool:
        return all(self.in_use.get(t, 0) == 0 or (job.shares_tables and self.in_use[t] > 0) for t in job.tables)

    def _ready(self, job: Job) -> bool:
        return all(n in self.done or n not in self.keys for n in job.needs)

    def take(self) -> Job | None:
        with self.cond:
            while True:
                if self.error is not None or not self.waiting:
                    return None
                job = next((j for j in self.waiting if self._ready(j) and self._free(j)), None)
                if job is None and self.running == 0:  # a cycle of needs: the earliest goes anyway
                    job = self.waiting[0]
                if job is not None:
                    self.waiting.remove(job)
                    for table in job.tables:
                        self.in_use[table] = self.in_use.get(table, 0) + 1 if job.shares_tables else -1
                    self.running += 1
                    return job
                self.cond.wait()

    def stop(self, error: BaseException) -> None:
        with self.cond:
            self.error = self.error or error
            self.cond.notify_all()

    def finish(self, job: Job, error: BaseException | None = None) -> None:
        with self.cond:
            for table in job.tables:
                left = self.in_use[table] - 1 if job.shares_tables else 0
                if left:
                    self.in_use[table] = left
                else:
                    del self.in_use[table]
            self.done.add(job.key)
            self.running -= 1
            if error is not None and self.error is None:
                self.error = error
            self.cond.notify_all()


def run_jobs(sessions: Sequence[S], jobs: Sequence[Job], work: Callable[[S, Job], Any],
             label: Callable[[Job], tuple[str, str]], timings: dict[Hashable, Timing]) -> dict[Hashable, Any]:
    """work(session, job) for every job, in len(sessions) sessions; the first exception of any session is
    raised once all have stopped. timings[job.key] gets the job's times (label(job) = its kind and name)."""
    board: _Board = _Board(jobs)
    outcomes: dict[Hashable, Any] = {}

    def session_loop(number: int, session: S) -> None:
        while (job := board.take()) is not None:
            started, clock = utc_now(), time.monotonic()
            try:
                outcomes[job.key] = work(session, job)
            except BaseException as exc:
                board.finish(job, exc)
                return
            kind, name = label(job)
            timings[job.key] = Timing(kind, name, number, started, utc_now(), round(time.monotonic() - clock, 3))
            board.finish(job)

    if len(sessions) == 1 or len(jobs) <= 1:
        session_loop(1, sessions[0])
    else:
        with ThreadPoolExecutor(max_workers=len(sessions), thread_name_prefix="post-data") as pool:
            running = [pool.submit(session_loop, n, s) for n, s in enumerate(sessions, 1)]
            try:
                for each in running:
                    each.result()
            except BaseException as exc:  # SIGTERM (the pod's deadline): no new object, the current ones cancelled
                board.stop(exc)
                for session in sessions:
                    _cancel(session)
                raise
    if board.error is not None:
        raise board.error
    return outcomes


def _cancel(session: Any) -> None:
    """Ask the server to cancel what the session runs now (libpq's cancel request; harmless when idle)."""
    try:
        getattr(session, "conn", session).cancel()
    except Exception:  # noqa: BLE001 - best effort on the way out; the step's own error is what gets reported
        pass
