"""post-data's part of the ledger (steps/load_schema/ledger.py): the views, materialized views, functions and
procedures of the source are recorded as r2a's, and on a refresh those an earlier r2a run made that the source no
longer has are reported "dropped_in_source": kept, or with `--dropped-in-source drop` dropped (without CASCADE, so
what is still built on one keeps it, and it fails with PostgreSQL's reason).

A routine is one overload: a function whose argument types changed in the source is a new function, and the old
one is dropped in the source. When the argument types of a source routine cannot be told (its CREATE fails in
AlloyDB), no routine of that name is reported dropped: an old overload may be the one the source still means.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from shared.objects_report import ObjectReport
from shared.sqlapply import SavepointApplier
from shared.sqlblocks import SqlObject
from steps.load_schema import ledger, relations, routines
from steps.load_schema.ledger import ManagedObject

TRACKED = ("view", "materialized_view", "function", "procedure")
PRESENT = ("applied", "unchanged")


def track_objects(applier: SavepointApplier, objects: Sequence[SqlObject], reports: Sequence[ObjectReport],
                  run_id: str, refreshing: bool, drop: bool) -> list[ObjectReport]:
    """Record what the source has and this run made or kept; on a refresh, the reports of what it no longer has."""
    by_key = {(o.kind, o.name): o for o in objects if o.kind in TRACKED}
    wanted: set[ManagedObject] = set()
    unknown: set[tuple[str, str]] = set()  # (schema, name) of routines whose argument types are not known
    for report in reports:
        obj = by_key.get((report.kind, report.name))
        if obj is None:
            continue
        managed = _managed(applier, obj, report)
        if managed is None:
            ref = routines.target(obj)
            if ref is not None:
                unknown.add((ref.schema, ref.table))
            continue
        wanted.add(managed)
        created = report.status == "applied" and not (report.reason or "").startswith("already")
        if created or (refreshing and report.status in PRESENT):
            applier.run(ledger.record_object_statement(managed, obj.name, run_id))
    for obj in by_key.values():  # not applied (a dependency missing): still the source's
        if obj.kind in relations.RELATION_WORDS:
            wanted.add(ManagedObject(obj.kind, relations.target(obj)))
    applier.commit()
    if not refreshing:
        return []
    gone = {m: source for m, source in ledger.managed_objects(applier.conn).items()
            if m not in wanted and (m.kind in relations.RELATION_WORDS or (m.ref.schema, m.ref.table) not in unknown)}
    return _dropped(applier, gone, drop)


def _managed(applier: SavepointApplier, obj: SqlObject, report: ObjectReport) -> ManagedObject | None:
    if obj.kind in relations.RELATION_WORDS:
        return ManagedObject(obj.kind, relations.target(obj))
    ref = routines.target(obj)
    if ref is None or report.status not in PRESENT:
        return None
    arguments = report.details.get("arguments")
    if not isinstance(arguments, str):
        arguments = routines.arguments_of(applier, obj)
        if arguments is None:
            return None
        report.details["arguments"] = arguments
    return ManagedObject(obj.kind, ref, arguments)


def _dropped(applier: SavepointApplier, gone: Mapping[ManagedObject, tuple[str, str]],
             drop: bool) -> list[ObjectReport]:
    reports = {}
    for managed, (source, run) in sorted(gone.items()):
        reports[managed] = _report(managed, source, "dropped_in_source",
                                   f"no longer in the source; kept in AlloyDB as r2a run {run} left it", kept=True)
    pending = sorted(gone) if drop else []
    errors: dict[ManagedObject, str] = {}
    while pending:  # a view built on another goes first: retried while a pass makes progress
        left = []
        for managed in pending:
            error = applier.run(managed.drop_statement(), ledger.forget_object_statement(managed))
            if error is None:
                reports[managed] = _report(managed, gone[managed][0], "applied",
                                           "no longer in the source; dropped (--dropped-in-source drop)")
            else:
                errors[managed] = error.message
                left.append(managed)
        if len(left) == len(pending):
            break
        pending = left
    for managed in pending:
        reports[managed] = _report(managed, gone[managed][0], "failed",
                                   f"no longer in the source; not dropped: {errors[managed]}", kept=True)
    applier.commit()
    return [reports[m] for m in sorted(gone)]


def _report(managed: ManagedObject, source: str, status: str, reason: str, kept: bool = False) -> ObjectReport:
    details = {"change": "dropped_in_source"}
    if kept:
        details["kept"] = True
    if managed.kind in ledger.ROUTINE_KINDS:
        details["arguments"] = managed.arguments
    return ObjectReport(managed.kind, source, str(managed.ref), status, reason, details=details)
