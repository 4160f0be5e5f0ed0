"""The one engine that applies SQL objects in dependency order: validate_restore (scratch PostgreSQL), load_schema
pre-data and post-data, and table_transfer's finishing of a table loaded after post-data (AlloyDB).

The caller gives the objects in the order to try them and a function applying one (under a SAVEPOINT, in its
session: shared/sqlapply.py) that returns its ObjectReport. The engine owns everything else, once:
- an object whose block holds no statement, or that rewrite_ddl marked unsupported, is skipped without a try;
  one that names an `absent` object (a pre-data object AlloyDB does not have) is skipped naming it;
- an object is not tried while one of its dependencies (shared/dependencies.dependency_graph) has been tried and
  is not there, or is held back itself in the same pass; a dependency not tried yet does not hold it back,
  PostgreSQL decides;
- a pass tries every object that is neither there nor finished; after a pass in which an object came into being,
  failures are tried again (a dependency only PostgreSQL sees, a view over a function), up to `max_passes`;
- at the end, an object that is not there because of another one is skipped, its reason naming every link of the
  chain down to the object at the root and how that one ended ("depends on view s.v1, which depends on table s.t,
  which failed: ..."); one that failed by itself keeps its error; a cycle of dependencies is named.
What counts as there and as worth another try is one rule for all callers: an object exists unless its report
says failed (applied, not_valid, unchanged, and the "already exists; kept" skips all leave it in the database); a
failure is tried again unless it counted violating rows (data, not order, is at fault).

post-data runs a pass in N sessions at once (shared/postdata_jobs.py decides which object may start when): rather
than a second engine, its scheduler calls `ApplyEngine.attempt` from each session, which checks the skip rule and
records the outcome under a lock. So there is one skip rule and one recording path whether a pass runs in one
session or in several; the engine only needs `run_pass` to try each pending object once, in any order the
caller's locks allow.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from shared.dependencies import dependency_graph, skipped_reason
from shared.objects_report import ObjectReport
from shared.sqlapply import has_statement
from shared.sqlblocks import SqlObject

NO_STATEMENT = "the block holds no SQL statement"
MAX_PASSES = 50

ApplyOne = Callable[[SqlObject], ObjectReport]


def exists_after(report: ObjectReport) -> bool:
    """The object is in the database after this outcome (applied, added NOT VALID, kept, already there)."""
    return report.status != "failed"


def left_not_there(report: ObjectReport) -> bool:
    """From the report of an earlier application: the object is not in the database. Failed, or skipped without a
    try (its dependency was not there, it is unsupported); a skip that found the object already there and kept it
    ("already exists in AlloyDB; kept") leaves it there."""
    return report.status == "failed" or (report.status == "skipped"
                                         and not (report.reason or "").startswith("already exists"))


def worth_retrying(report: ObjectReport) -> bool:
    """A failure that another object coming into being may cure; rows violating a key are not cured so."""
    return report.status == "failed" and report.details.get("violations") is None


@dataclass
class AppliedInOrder:
    reports: list[ObjectReport]  # in the order of the objects given
    attempts: list[int]  # how many times each object was tried
    applied_order: list[SqlObject]  # the order in which objects came into being: a replayable order
    passes: int


class ApplyEngine:
    """The state of one application: what was tried, what is there, what is finished. Thread-safe."""

    def __init__(self, objects: Sequence[SqlObject], absent: Mapping[str, str] | None = None,
                 decided: Sequence[tuple[SqlObject, ObjectReport]] = ()):
        """`decided`: objects an earlier application of the same run left not there (failed or skipped), with their
        reports: never tried here, they hold back what depends on them and end its chain, as if applied together."""
        self.objects = [*objects, *(obj for obj, _ in decided)]
        self.graph = dependency_graph(self.objects)
        self._reports: dict[int, ObjectReport] = {}
        self._present: set[int] = set()
        self._finished: set[int] = set()  # not there and not tried again
        self._before_trying: set[int] = set()  # finished without a try: their report stands as it is
        self._waiting: set[int] = set()  # held back by a dependency in this pass
        self._order: list[int] = []
        self.attempts = [0] * len(self.objects)
        self._lock = threading.Lock()
        for index, obj in enumerate(self.objects):
            reason = _unfit(obj, absent or {})
            if reason is not None:
                self._reports[index] = ObjectReport.of(obj, "skipped", reason)
                self._finished.add(index)
                self._before_trying.add(index)
        for offset, (_, report) in enumerate(decided, start=len(objects)):
            self._reports[offset] = report
            self._finished.add(offset)
            self._before_trying.add(offset)

    def pending(self) -> list[int]:
        """The objects neither there nor finished, in the order given."""
        with self._lock:
            return [i for i in range(len(self.objects)) if i not in self._present and i not in self._finished]

    def attempt(self, index: int, apply_one: ApplyOne) -> ObjectReport | None:
        """Try one object (in the caller's session) unless a dependency tried before is not there; None: not tried,
        it waits. The outcome is recorded."""
        with self._lock:
            if any((d in self._reports and d not in self._present) or d in self._waiting for d in self.graph[index]):
                self._waiting.add(index)
                return None
            self._waiting.discard(index)
            self.attempts[index] += 1
        report = apply_one(self.objects[index])
        with self._lock:
            self._reports[index] = report
            if exists_after(report):
                self._present.add(index)
                self._order.append(index)
            elif not worth_retrying(report):
                self._finished.add(index)
        return report

    def run(self, run_pass: Callable[[list[int]], None], max_passes: int = MAX_PASSES) -> AppliedInOrder:
        """Passes until one brings nothing new into being; `run_pass(pending)` tries each pending object once
        through `attempt`, in the caller's sessions."""
        passes = 0
        pending = self.pending()
        while pending and passes < max_passes:
            passes += 1
            before = len(self._present)
            self._waiting.clear()
            run_pass(pending)
            if len(self._present) == before:
                break
            pending = self.pending()
        return self.result(passes)

    def result(self, passes: int) -> AppliedInOrder:
        with self._lock:
            reports = [self._final(index) for index in range(len(self.objects))]
            order = [self.objects[i] for i in self._order]
        return AppliedInOrder(reports, list(self.attempts), order, passes)

    def _final(self, index: int) -> ObjectReport:
        obj, report = self.objects[index], self._reports.get(index)
        if index in self._present or index in self._before_trying:
            assert report is not None
            return report
        chain = self._chain(index)
        if chain:
            root = self._reports.get(chain[-1])
            ended = "failed" if root is not None and root.status == "failed" else "skipped"
            links = [f"{self.objects[i].kind} {self.objects[i].name}" for i in chain]
            return ObjectReport.of(obj, "skipped", skipped_reason(links, ended, root.reason if root else
                                                                  "it was not tried"))
        if report is not None:
            return report
        blockers = [self.objects[d].name for d in self.graph[index] if d not in self._present]
        return ObjectReport.of(obj, "failed", f"dependency cycle through {', '.join(blockers)}")

    def _chain(self, index: int) -> list[int] | None:
        """The dependencies from `index`'s own down to the root cause: the first object not there, reachable through
        dependencies not there, that has none of its own. []: nothing it depends on is missing; None: a cycle."""
        def missing(i: int) -> list[int]:
            return [d for d in self.graph[i] if d not in self._present]

        if not missing(index):
            return []
        via: dict[int, int] = {}
        seen = {index}
        stack = [(d, index) for d in reversed(missing(index))]
        while stack:
            current, parent = stack.pop()
            if current in seen:
                continue
            seen.add(current)
            via[current] = parent
            blockers = missing(current)
            if not blockers:
                chain = [current]
                while via[chain[-1]] != index:
                    chain.append(via[chain[-1]])
                return chain[::-1]
            stack.extend((d, current) for d in reversed(blockers))
        return None


def _unfit(obj: SqlObject, absent: Mapping[str, str]) -> str | None:
    """Why an object is skipped without a try, or None."""
    missing = next((name for name in obj.depends_on if name in absent), None)
    if missing is not None:
        return skipped_reason(missing, "absent", absent[missing])
    marker = dict(obj.extra)
    if marker.get("status") == "unsupported":
        return str(marker.get("reason") or "unsupported by rewrite_ddl")
    return None if has_statement(obj) else NO_STATEMENT


def apply_in_order(objects: Sequence[SqlObject], apply_one: ApplyOne, *, max_passes: int = MAX_PASSES,
                   absent: Mapping[str, str] | None = None) -> AppliedInOrder:
    """Apply `objects` in one session, in the order given, by the rules of this module."""
    engine = ApplyEngine(objects, absent)

    def one_after_the_other(pending: list[int]) -> None:
        for index in pending:
            engine.attempt(index, apply_one)

    return engine.run(one_after_the_other, max_passes)
