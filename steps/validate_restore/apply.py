"""What applying one object means in validation: its SQL under a SAVEPOINT of the scratch database, applied or failed
with PostgreSQL's error. Order, retries and skips are shared/applyengine.py's: rewrite_ddl orders objects by their
declared dependencies, but some are only visible to PostgreSQL (a view over a function, a default calling a compat
function), so failures are tried again after a pass that made progress, up to the engine's 50 passes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from shared.applyengine import MAX_PASSES, AppliedInOrder, apply_in_order
from shared.objects_report import ObjectReport
from shared.sqlapply import StatementError
from shared.sqlblocks import SqlObject


def apply_objects(objects: Sequence[SqlObject], run: Callable[[SqlObject], StatementError | None],
                  max_passes: int = MAX_PASSES) -> AppliedInOrder:
    """Every object through `run` (None: applied), in dependency order; one report per object, in input order."""
    def apply_one(obj: SqlObject) -> ObjectReport:
        error = run(obj)
        return ObjectReport.of(obj, "applied") if error is None else ObjectReport.of(obj, "failed", error.message)

    return apply_in_order(objects, apply_one, max_passes=max_passes)
