"""pre-data: create schemas, tables and the rest of validate_restore's accepted pre-data objects in AlloyDB.

Existing tables are decided before anything is written: `fail` lists them and stops, `skip` keeps them (their
CREATE is not run; the data transfer truncates them), `replace` drops them (CASCADE) and creates them again in
the same savepoint, so a failed re-creation leaves the old table in place. `refresh` (the nightly default) stops
like `fail` at a table no r2a run created, and keeps and refreshes the tables an earlier r2a run created
(steps/load_schema/refresh.py). Other objects that already exist
(a schema such as public, a compat function from an earlier attempt) are kept and reported as skipped.
Objects are applied in one pass by shared/applyengine.py: an object whose declared dependency or schema did not
make it is skipped, naming the chain down to the root cause; a kept object counts as there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

import psycopg2.extensions
from psycopg2 import sql

from shared.applyengine import apply_in_order
from shared.errors import BadInputError, BadStateError
from shared.identifiers import TableRef, one_part, parse_table_ref
from shared.layout import validated_sql_name
from shared.objects_report import ObjectReport
from shared.sqlapply import SavepointApplier
from shared.sqlblocks import SqlObject
from steps.load_schema import ledger
from steps.load_schema.refresh import dropped_in_source, refresh_table

VALIDATED_PRE_DATA = validated_sql_name("pre-data")

ON_EXISTING = ("fail", "skip", "replace", "refresh")
_LISTED = 10  # existing tables named in the one-line error


def target_ref(obj: SqlObject, where: str) -> TableRef:
    try:
        return parse_table_ref(obj.target_name or obj.name)
    except BadInputError as exc:
        raise BadInputError(f"{where}: {obj.kind} block {obj.name!r}: {exc.reason}") from None


def existing_relations(conn: psycopg2.extensions.connection, refs: Iterable[TableRef]) -> set[TableRef]:
    """Which of `refs` exist in the database (any relation kind: a view in the way counts too)."""
    refs = list(refs)
    if not refs:
        return set()
    with conn.cursor() as cur:
        cur.execute("""
            select n.nspname, c.relname
            from unnest(%s::text[], %s::text[]) as wanted(schema_name, relation_name)
            join pg_namespace n on n.nspname = wanted.schema_name
            join pg_class c on c.relnamespace = n.oid and c.relname = wanted.relation_name""",
                    ([r.schema for r in refs], [r.table for r in refs]))
        return {TableRef(schema, name) for schema, name in cur.fetchall()}


def existing_schemas(conn: psycopg2.extensions.connection, names: Iterable[str]) -> set[str]:
    with conn.cursor() as cur:
        cur.execute("select nspname from pg_namespace where nspname = any(%s)", (list(names),))
        return {row[0] for row in cur.fetchall()}


def check_existing(existing: Sequence[TableRef], on_existing: str) -> None:
    if on_existing == "fail" and existing:
        names = ", ".join(str(r) for r in sorted(existing)[:_LISTED])
        more = f" and {len(existing) - _LISTED} more" if len(existing) > _LISTED else ""
        raise BadStateError(f"{len(existing)} table(s) already exist in AlloyDB: {names}{more}",
                            "Nothing was changed. Re-run with --on-existing skip to keep them or "
                            "--on-existing replace to drop and recreate them")


def _schema_name(obj: SqlObject) -> str:
    return one_part(obj.target_name or obj.name)


def apply_pre_data(conn: psycopg2.extensions.connection, objects: Sequence[SqlObject], on_existing: str,
                   ours: Iterable[TableRef] = (), record_created: Callable[[list[TableRef]], None] | None = None,
                   source: str = VALIDATED_PRE_DATA, run_id: str | None = None,
                   managed: Mapping[TableRef, tuple[str, str]] | None = None,
                   drop_dropped: bool = False) -> list[ObjectReport]:
    """Apply every object in order (validate_restore's proven order); one report entry per object.

    `ours` are tables an earlier attempt of this run created (an attempt cut off by a lost connection, retried
    by Argo): they are kept, never "existing". `record_created` hears of each committed group of new tables.
    `managed`: tables earlier r2a runs created (steps/load_schema/ledger.py), which `refresh` keeps; with `run_id`
    every table created is recorded there. `drop_dropped`: refresh drops r2a's tables the source no longer has.
    """
    tables = {id(obj): target_ref(obj, source) for obj in objects if obj.kind == "table"}
    existing_tables = existing_relations(conn, tables.values())
    earlier = existing_tables & set(ours)
    managed = managed or {}
    refreshing = (existing_tables & set(managed)) - earlier if on_existing == "refresh" else set()
    check_existing(sorted(existing_tables - earlier - refreshing), "fail" if on_existing == "refresh" else on_existing)
    schemas = existing_schemas(conn, [_schema_name(o) for o in objects if o.kind == "schema"])
    created: list[TableRef] = []

    def committed() -> None:
        if record_created is not None and created:
            record_created(list(created))
        created.clear()

    applier = SavepointApplier(conn, commit_every=200, system="AlloyDB", on_commit=committed)

    def apply_one(obj: SqlObject) -> ObjectReport:
        table = tables.get(id(obj))
        if table is not None and table in earlier:
            return ObjectReport.of(obj, "skipped", "created by an earlier attempt of this run; kept", kept=True)
        if table is not None and table in refreshing:
            return refresh_table(applier, obj, table, managed[table][1])
        if table is not None:
            created.append(table)  # before running: the commit that makes it durable may come inside run()
        report = _apply_one(applier, obj, table, existing_tables, schemas, on_existing, run_id)
        if table is not None and report.status != "applied":
            created.remove(table)
        return report

    reports = apply_in_order(objects, apply_one, max_passes=1).reports  # validate_restore's order: one pass
    applier.commit()
    if on_existing == "refresh":
        reports.extend(dropped_in_source(applier, managed, tables.values(), drop_dropped))
    return reports


def _apply_one(applier: SavepointApplier, obj: SqlObject, table: TableRef | None, existing_tables: set[TableRef],
               schemas: set[str], on_existing: str, run_id: str | None = None) -> ObjectReport:
    if obj.kind == "schema" and _schema_name(obj) in schemas:
        if on_existing == "refresh":
            return ObjectReport.of(obj, "unchanged", "already exists in AlloyDB; kept", kept=True, change="unchanged")
        return ObjectReport.of(obj, "skipped", "already exists in AlloyDB; kept", kept=True)
    statements: list = [obj.sql]
    replaced = table is not None and table in existing_tables
    if replaced and on_existing == "skip":
        return ObjectReport.of(obj, "skipped", "already exists in AlloyDB; kept (--on-existing skip)", kept=True)
    if replaced:
        statements.insert(0, sql.SQL("DROP TABLE IF EXISTS {} CASCADE").format(table.sql()))
    if table is not None and run_id is not None:
        statements.append(ledger.record_statement(applier.conn, table, obj.name, run_id))
    error = applier.run(*statements)
    if error is None:
        if table is None:
            return ObjectReport.of(obj, "applied")
        return ObjectReport.of(obj, "applied", "replaced the existing table (--on-existing replace)"
                               if replaced else None, change="created")
    if error.already_exists and obj.kind != "table":
        if on_existing == "refresh":
            return ObjectReport.of(obj, "unchanged", f"already exists in AlloyDB; kept ({error.message})", kept=True,
                                   change="unchanged")
        return ObjectReport.of(obj, "skipped", f"already exists in AlloyDB; kept ({error.message})", kept=True)
    return ObjectReport.of(obj, "failed", error.message)
