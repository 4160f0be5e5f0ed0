"""Apply object blocks one by one, retrying ordering failures until nothing more succeeds.

Each object runs under a SAVEPOINT (shared/sqlapply.py). rewrite_ddl orders objects by their declared
dependencies, but some dependencies are only visible to PostgreSQL (a view over a function, a default calling a
compat function). So an object that fails is tried again after a pass in which something else succeeded; when a
pass brings no progress, every object still failing is final. An object whose declared dependency never got
applied is reported as skipped, naming the failure at the root of its chain, rather than as a failure of its
own: one broken table should read as one cause, not fifty.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from shared.dependencies import dependency_graph, skipped_reason
from shared.sqlapply import StatementError, has_statement
from shared.sqlblocks import SqlObject

APPLIED, FAILED, SKIPPED = "applied", "failed", "skipped"


@dataclass
class Outcome:
    obj: SqlObject
    status: str
    reason: str | None = None
    attempts: int = 0


@dataclass
class ApplyResult:
    outcomes: list[Outcome]  # in input order
    applied_order: list[SqlObject]  # the order in which objects succeeded: a replayable order
    passes: int


def apply_objects(objects: Sequence[SqlObject], apply: Callable[[SqlObject], StatementError | None],
                  max_passes: int = 50) -> ApplyResult:
    """Apply every object, retrying failures while a pass makes progress; classify what is left."""
    deps = dependency_graph(objects)
    applied: set[int] = set()
    errors: dict[int, str] = {}
    attempts = [0] * len(objects)
    final: dict[int, Outcome] = {}
    for index, obj in enumerate(objects):
        marker = dict(obj.extra)
        if marker.get("status") == "unsupported":
            final[index] = Outcome(obj, SKIPPED, str(marker.get("reason") or "unsupported by rewrite_ddl"))
        elif not has_statement(obj):
            final[index] = Outcome(obj, SKIPPED, "the block holds no SQL statement")
    order: list[int] = []
    pending = [i for i in range(len(objects)) if i not in final]
    passes = 0
    while pending and passes < max_passes:
        passes += 1
        progress = False
        still_pending = []
        for index in pending:
            if any(d in errors or d in final for d in deps[index] if d not in applied):
                still_pending.append(index)  # a dependency fails right now: trying would only repeat its error
                continue
            attempts[index] += 1
            error = apply(objects[index])
            if error is None:
                applied.add(index)
                order.append(index)
                errors.pop(index, None)
                progress = True
            else:
                errors[index] = error.message
                still_pending.append(index)
        pending = still_pending
        if not progress:
            break
    outcomes = []
    for index, obj in enumerate(objects):
        if index in applied:
            outcomes.append(Outcome(obj, APPLIED, None, attempts[index]))
        elif index in final:
            outcomes.append(final[index])
        else:
            outcomes.append(_unapplied(index, objects, deps, applied, errors, final, attempts[index]))
    return ApplyResult(outcomes, [objects[i] for i in order], passes)


def _unapplied(index: int, objects: Sequence[SqlObject], deps: list[list[int]], applied: set[int],
               errors: dict[int, str], final: dict[int, Outcome], attempts: int) -> Outcome:
    obj = objects[index]
    root = _root_cause(index, deps, applied)
    if root is not None and root != index:
        cause = objects[root]
        ended = "failed" if root in errors and root not in final else "skipped"
        why = errors.get(root) or final[root].reason
        return Outcome(obj, SKIPPED, skipped_reason(f"{cause.kind} {cause.name}", ended, why), attempts)
    if index in errors:
        return Outcome(obj, FAILED, errors[index], attempts)
    blockers = [objects[d].name for d in deps[index] if d not in applied]
    return Outcome(obj, FAILED, f"dependency cycle through {', '.join(blockers)}", attempts)


def _root_cause(index: int, deps: list[list[int]], applied: set[int]) -> int | None:
    """The first unapplied object reachable through unapplied dependencies that has none of its own."""
    seen = {index}
    stack = [d for d in reversed(deps[index]) if d not in applied]
    if not stack:
        return index
    while stack:
        current = stack.pop()
        if current in seen:
            continue
        seen.add(current)
        blockers = [d for d in deps[current] if d not in applied]
        if not blockers:
            return current
        stack.extend(reversed(blockers))
    return None
