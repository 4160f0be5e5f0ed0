"""`--on-existing refresh`: a table an earlier r2a run created is kept and its data refreshed by the transfer.

Unchanged columns: the table keeps its definition, keys, indexes, grants and the views on it ("unchanged"; the
transfer truncates and reloads it in one transaction). Columns added at the end in the source are added with
ALTER TABLE ADD COLUMN ("changed"). Any other difference fails the table with the difference spelled out: its
columns no longer line up with the source's, and loading it would put values into the wrong columns.
Tables r2a created that the source no longer has are reported "dropped_in_source" and kept.
In post-data, keys, indexes and other objects already there are "unchanged"; views, materialized views, functions
and procedures are compared with the source's definitions (steps/load_schema/relations.py, routines.py) and
replaced when they changed ("changed"); what the source no longer has is steps/load_schema/dropped.py's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from psycopg2 import sql

from shared.identifiers import TableRef
from shared.objects_report import ObjectReport, note_created
from shared.sqlapply import SavepointApplier, StatementError
from shared.sqlblocks import SqlObject
from steps.load_schema import ledger, relations, routines

CHANGED_TABLE_PREFIX = "schema changed in the source"


def refresh_table(applier: SavepointApplier, obj: SqlObject, table: TableRef, created_by: str) -> ObjectReport:
    found = ledger.compare(applier.conn, table, obj.sql)
    if isinstance(found, StatementError):
        return ObjectReport.of(obj, "failed", f"could not compare with the source's definition: {found.message}",
                               change="changed")
    if found.problems:
        return ObjectReport.of(obj, "failed", f"{CHANGED_TABLE_PREFIX}; not loaded: " + "; ".join(found.problems),
                               change="changed")
    if not found.added:
        return ObjectReport.of(obj, "unchanged", f"created by r2a run {created_by}; kept, data refreshed",
                               kept=True, change="refreshed")
    error = applier.run(ledger.add_columns_statement(table, found.added))
    names = ", ".join(c.name for c in found.added)
    if error is not None:
        return ObjectReport.of(obj, "failed", f"{CHANGED_TABLE_PREFIX}: adding column(s) {names} failed: "
                                              f"{error.message}", change="changed")
    return ObjectReport.of(obj, "applied", f"column(s) added in the source, added here: {names}; data refreshed",
                           kept=True, change="changed", added_columns=[c.name for c in found.added])


def dropped_in_source(applier: SavepointApplier, managed: Mapping[TableRef, tuple[str, str]],
                      wanted: Iterable[TableRef], drop: bool = False) -> list[ObjectReport]:
    """r2a's tables the source no longer has: reported and kept, or with `drop` (--dropped-in-source drop) dropped.
    DROP without CASCADE: a view still built on the table keeps it, and the table is reported failed with why."""
    reports = []
    for ref in sorted(set(managed) - set(wanted)):
        source, run = managed[ref]
        if not drop:
            reports.append(ObjectReport("table", source, str(ref), "dropped_in_source",
                                        f"no longer in the source; kept in AlloyDB as r2a run {run} left it",
                                        details={"kept": True, "change": "dropped_in_source"}))
            continue
        error = applier.run(sql.SQL("DROP TABLE {}").format(ref.sql()), ledger.forget_statement(ref))
        if error is None:
            reports.append(ObjectReport("table", source, str(ref), "applied",
                                        "no longer in the source; dropped (--dropped-in-source drop)",
                                        details={"change": "dropped_in_source"}))
        else:
            reports.append(ObjectReport("table", source, str(ref), "failed",
                                        f"no longer in the source; not dropped: {error.message}",
                                        details={"kept": True, "change": "dropped_in_source"}))
    applier.commit()
    return reports


_ROUTINES = ("function", "procedure")


def settle_post_data(applier: SavepointApplier, objects: Sequence[SqlObject],
                     reports: list[ObjectReport]) -> list[ObjectReport]:
    """post-data of a refresh: what was already there is "unchanged" (a key, an index, a grant); a view, a
    materialized view, a function or a procedure is compared with the source's and replaced when it changed (a
    materialized view kept is "refreshed": post-data recomputed its rows); what was created says so."""
    by_key = {(o.kind, o.name): o for o in objects}
    rebuilt: dict[tuple[str, str], ObjectReport] = {}  # re-created with a relation they are built on
    settled = []
    for report in reports:
        reason = report.reason or ""
        obj = by_key.get((report.kind, report.name))
        existed = obj is not None and ((report.status == "skipped" and reason.startswith("already exists"))
                                       or (report.status == "applied" and reason.startswith("already existed")))
        if (report.kind, report.name) in rebuilt:  # created tonight on the old one: still "created"
            new = report.status == "applied" and not reason.startswith("already")
            report = note_created(report) if new else rebuilt[(report.kind, report.name)]
        elif existed and obj is not None and report.kind in relations.RELATION_WORDS:
            report = relations.refresh_relation(applier, obj, report, objects, rebuilt)
        elif existed and obj is not None and report.kind in _ROUTINES:
            report = routines.refresh_routine(applier, obj)
        elif report.status == "skipped" and reason.startswith("already exists"):
            report.status, report.reason = "unchanged", "already in AlloyDB; kept"
            report.details.update(kept=True, change="unchanged")
        elif report.status == "applied" and reason == "already present in AlloyDB":
            report.status = "unchanged"
            report.details["change"] = "unchanged"
        else:  # grants and comments run again every night and cannot tell new from the same again: no change
            report = note_created(report)
        settled.append(report)
    applier.commit()
    return settled
