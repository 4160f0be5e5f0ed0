"""`--on-existing refresh`: a table an earlier r2a run created is kept and its data refreshed by the transfer.

Unchanged columns: the table keeps its definition, keys, indexes, grants and the views on it ("unchanged"; the
transfer truncates and reloads it in one transaction). Columns added at the end in the source are added with
ALTER TABLE ADD COLUMN ("changed"). Any other difference fails the table with the difference spelled out: its
columns no longer line up with the source's, and loading it would put values into the wrong columns.
Tables r2a created that the source no longer has are reported "dropped_in_source" and kept.
In post-data, keys, indexes and other objects already there are "unchanged"; a view whose definition changed in the
source is replaced ("changed").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import psycopg2
from psycopg2 import sql

from shared.errors import BadInputError
from shared.identifiers import TableRef, parse_table_ref
from shared.objects_report import ObjectReport, note_created
from shared.sqlapply import SavepointApplier, StatementError, pg_error_line
from shared.sqlblocks import SqlObject
from steps.load_schema import ledger

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


_VIEWDEF = "SELECT pg_catalog.pg_get_viewdef(%s::regclass)"


def _view_definition(conn, view: TableRef, create_sql: str | None) -> str | StatementError:
    """The view's definition as PostgreSQL prints it; with `create_sql`, the one that SQL would give it now
    (the existing view is renamed away inside a savepoint that is rolled back: nothing changes)."""
    with conn.cursor() as cur:
        cur.execute("SAVEPOINT r2a_view_probe")
        try:
            if create_sql is not None:
                cur.execute(sql.SQL("ALTER VIEW {} RENAME TO {}").format(view.sql(), sql.Identifier("r2a_view_probe")))
                cur.execute(create_sql)
            cur.execute(_VIEWDEF, (view.sql().as_string(conn),))
            definition = cur.fetchone()[0]
        except psycopg2.Error as exc:
            if exc.pgcode is None or conn.closed:
                raise
            cur.execute("ROLLBACK TO SAVEPOINT r2a_view_probe")
            return StatementError(pg_error_line(exc), exc.pgcode)
        cur.execute("ROLLBACK TO SAVEPOINT r2a_view_probe")
    return definition


def refresh_view(applier: SavepointApplier, obj: SqlObject) -> ObjectReport:
    """An existing view: unchanged when the source's definition gives the same one, else replaced in place
    (CREATE OR REPLACE keeps the views built on it; a change of its columns needs DROP and CREATE, which
    PostgreSQL refuses while other views depend on it, and then the view fails with that reason)."""
    view = parse_table_ref(obj.target_name or obj.name)
    before = _view_definition(applier.conn, view, None)
    wanted = _view_definition(applier.conn, view, obj.sql)
    for found in (before, wanted):
        if isinstance(found, StatementError):
            return ObjectReport.of(obj, "failed", f"could not compare with the source's definition: {found.message}")
    if before == wanted:
        return ObjectReport.of(obj, "unchanged", "already in AlloyDB with the source's definition; kept", kept=True,
                               change="unchanged")
    text = obj.sql.lstrip()
    error = None
    if text.startswith(_CREATE_VIEW):
        error = applier.run("CREATE OR REPLACE VIEW " + text[len(_CREATE_VIEW):])
    if error is not None or not text.startswith(_CREATE_VIEW):
        error = applier.run(sql.SQL("DROP VIEW {}").format(view.sql()), obj.sql)
    if error is not None:
        return ObjectReport.of(obj, "failed", f"changed in the source; not replaced: {error.message}",
                               change="changed")
    return ObjectReport.of(obj, "applied", "changed in the source; replaced", change="changed")


# Grants and comments run again every night and cannot tell "new" from "the same again": they get no change.
_CREATE_VIEW = "CREATE VIEW "
_CREATE_ROUTINE = {"function": "CREATE FUNCTION ", "procedure": "CREATE PROCEDURE "}
_ROUTINE_DEFS = """SELECT pg_catalog.pg_get_functiondef(p.oid) FROM pg_catalog.pg_proc p
                   JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
                   WHERE n.nspname = %s AND p.proname = %s ORDER BY 1"""


def _routine_definitions(conn, routine: TableRef, replace_sql: str | None) -> list[str] | StatementError:
    """Every overload's definition; with `replace_sql`, as they would be after it (probed and rolled back)."""
    with conn.cursor() as cur:
        cur.execute("SAVEPOINT r2a_routine_probe")
        try:
            if replace_sql is not None:
                cur.execute(replace_sql)
            cur.execute(_ROUTINE_DEFS, (routine.schema, routine.table))
            definitions = [row[0] for row in cur.fetchall()]
        except psycopg2.Error as exc:
            if exc.pgcode is None or conn.closed:
                raise
            cur.execute("ROLLBACK TO SAVEPOINT r2a_routine_probe")
            return StatementError(pg_error_line(exc), exc.pgcode)
        cur.execute("ROLLBACK TO SAVEPOINT r2a_routine_probe")
    return definitions


def refresh_routine(applier: SavepointApplier, obj: SqlObject) -> ObjectReport:
    """An existing function or procedure: unchanged when CREATE OR REPLACE with the source's definition would
    leave every definition of that name as it is, else replaced with it. A changed argument list makes a new
    overload beside the old one (PostgreSQL tells them apart by arguments); a changed return type cannot be
    replaced in place, and the routine fails with PostgreSQL's reason."""
    prefix = _CREATE_ROUTINE[obj.kind]
    text = obj.sql.lstrip()
    try:
        routine = parse_table_ref(obj.target_name or obj.name)
    except BadInputError:
        routine = None
    if routine is None or not text.startswith(prefix):
        return ObjectReport.of(obj, "unchanged", "already in AlloyDB; kept (not compared)", kept=True,
                               change="unchanged")
    replace_sql = prefix.replace("CREATE ", "CREATE OR REPLACE ", 1) + text[len(prefix):]
    before = _routine_definitions(applier.conn, routine, None)
    after = _routine_definitions(applier.conn, routine, replace_sql)
    if isinstance(after, StatementError):
        return ObjectReport.of(obj, "failed", f"changed in the source; not replaced: {after.message}",
                               change="changed")
    if before == after:
        return ObjectReport.of(obj, "unchanged", "already in AlloyDB with the source's definition; kept", kept=True,
                               change="unchanged")
    error = applier.run(replace_sql)
    if error is not None:
        return ObjectReport.of(obj, "failed", f"changed in the source; not replaced: {error.message}",
                               change="changed")
    return ObjectReport.of(obj, "applied", "changed in the source; replaced", change="changed")


def settle_post_data(applier: SavepointApplier, objects: Sequence[SqlObject],
                     reports: list[ObjectReport]) -> list[ObjectReport]:
    """post-data of a refresh: what was already there is "unchanged" (a key, an index, a grant), a view is
    compared with the source's and replaced when it changed; what was created says so."""
    by_key = {(o.kind, o.name): o for o in objects}
    settled = []
    for report in reports:
        reason = report.reason or ""
        obj = by_key.get((report.kind, report.name))
        if report.kind == "view" and obj is not None and report.status == "skipped" \
                and reason.startswith("already exists"):
            report = refresh_view(applier, obj)
        elif report.kind in _CREATE_ROUTINE and obj is not None and report.status == "skipped" \
                and reason.startswith("already exists"):
            report = refresh_routine(applier, obj)
        elif report.status == "skipped" and reason.startswith("already exists"):
            report.status, report.reason = "unchanged", "already in AlloyDB; kept"
            report.details.update(kept=True, change="unchanged")
        elif report.status == "applied" and reason == "already present in AlloyDB":
            report.status = "unchanged"
            report.details["change"] = "unchanged"
        elif report.status == "applied" and reason.startswith("already existed"):
            report.details["change"] = "refreshed"  # a materialized view: kept, its rows recomputed
        else:
            report = note_created(report)
        settled.append(report)
    applier.commit()
    return settled
