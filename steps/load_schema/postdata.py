"""post-data, after the transfers: constraints, indexes, identity reseed, views and materialized views, ANALYZE.

Order: PRIMARY KEY/UNIQUE (a foreign key needs the referenced key), FOREIGN KEY, indexes, views.sql's objects
(views may rely on a PK for GROUP BY), other objects (comments, grants: they may name a view), then the
identity reseed of every loaded table and ANALYZE. Objects that fail are tried again once a pass made
progress, as validate_restore does, since the category order may put one before an object it needs. Every object
is committed on its own: a slow index build that fails later does not undo the constraints before it. Nothing
here aborts the run because of the data; every object gets a report entry.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import psycopg2
import psycopg2.extensions
from psycopg2 import sql

from shared.errors import TransientError
from shared.identifiers import TableRef, parse_table_ref
from shared.log import event, one_line
from shared.sqlapply import SavepointApplier, StatementError, has_statement
from shared.sqlblocks import SqlObject
from shared.staging import STAGING_SCHEMA, drop_staging_tables
from steps.load_schema.constraints import apply_constraint, parse_constraint
from steps.load_schema.objects_report import ObjectReport

VIEW_KINDS = ("function", "procedure", "view", "materialized_view")
_IDENTITY_COLUMNS = """
    SELECT n.nspname, c.relname, a.attname, s.seqrelid::regclass::text, s.seqincrement
    FROM unnest(%s::text[], %s::text[]) AS wanted(schema_name, relation_name)
    JOIN pg_namespace n ON n.nspname = wanted.schema_name
    JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = wanted.relation_name
    JOIN pg_attribute a ON a.attrelid = c.oid AND a.attidentity IN ('a', 'd') AND NOT a.attisdropped
    JOIN pg_depend d ON d.refobjid = c.oid AND d.refobjsubid = a.attnum AND d.deptype = 'i'
                     AND d.classid = 'pg_class'::regclass
    JOIN pg_sequence s ON s.seqrelid = d.objid
    ORDER BY n.nspname, c.relname, a.attnum"""


@dataclass
class PostDataResult:
    objects: list[ObjectReport] = field(default_factory=list)
    analyzed: int = 0
    analyze_failures: list[dict[str, str]] = field(default_factory=list)
    # Staging tables of staged loads that a killed transfer left: {"staging_table", "target"}; or the error.
    staging_dropped: list[dict[str, str]] = field(default_factory=list)
    staging_cleanup_error: str | None = None


def _category(obj: SqlObject) -> int:
    if obj.kind == "constraint":
        spec = parse_constraint(obj.sql)
        return 1 if spec is not None and spec.kind == "foreign_key" else 0
    if obj.kind == "index":
        return 2
    if obj.kind in VIEW_KINDS:
        return 3
    return 4  # comments, grants, …: they may name a view


def ordered(objects: Sequence[SqlObject]) -> list[SqlObject]:
    """Stable by category: within one, validate_restore's applied order is kept."""
    return [obj for _, _, obj in sorted((_category(o), i, o) for i, o in enumerate(objects))]


def _apply_plain(applier: SavepointApplier, obj: SqlObject) -> ObjectReport:
    error = applier.run(obj.sql)
    if error is None:
        return ObjectReport.of(obj, "applied")
    if error.already_exists:
        if obj.kind == "materialized_view":  # from an earlier attempt: its rows predate this load
            return _refresh(applier, obj, "already existed; refreshed")
        return ObjectReport.of(obj, "skipped", f"already exists in AlloyDB; kept ({error.message})")
    return ObjectReport.of(obj, "failed", error.message)


def _refresh(applier: SavepointApplier, obj: SqlObject, note: str) -> ObjectReport:
    view = parse_table_ref(obj.target_name or obj.name)
    error = applier.run(sql.SQL("REFRESH MATERIALIZED VIEW {}").format(view.sql()))
    if error is not None:
        return ObjectReport.of(obj, "failed", f"refresh failed: {error.message}")
    return ObjectReport.of(obj, "applied", note)


def reseed_identities(applier: SavepointApplier, tables: Sequence[TableRef]) -> list[ObjectReport]:
    """Every identity column of the loaded tables continues after the loaded values: next = max + step."""
    rows = applier.query(_IDENTITY_COLUMNS, ([t.schema for t in tables], [t.table for t in tables]))
    if isinstance(rows, StatementError):
        return [ObjectReport("sequence", "identity columns", None, "failed", rows.message)]
    reports = []
    for schema, table, column, sequence, step in rows:
        ref = TableRef(schema, table)
        name = f"{ref}.{column}"
        edge = "max" if step > 0 else "min"
        found = applier.query(sql.SQL("SELECT {}({}) FROM {}").format(sql.SQL(edge), sql.Identifier(column),
                                                                       ref.sql()))
        if isinstance(found, StatementError):
            reports.append(ObjectReport("sequence", name, sequence, "failed", found.message))
            continue
        last = found[0][0]
        if last is None:
            reports.append(ObjectReport("sequence", name, sequence, "applied",
                                        "table is empty; the identity keeps its start value"))
            continue
        error = applier.run(("SELECT setval(%s::regclass, %s, true)", (sequence, last)))
        if error is not None:
            reports.append(ObjectReport("sequence", name, sequence, "failed", error.message))
        else:
            reports.append(ObjectReport("sequence", name, sequence, "applied",
                                        details={"next_value": last + step}))
    return reports


def _populated(applier: SavepointApplier, view: TableRef) -> bool:
    rows = applier.query("SELECT relispopulated FROM pg_class WHERE oid = %s::regclass",
                         (view.sql().as_string(applier.conn),))
    return not isinstance(rows, StatementError) and bool(rows) and bool(rows[0][0])


def analyze(conn: psycopg2.extensions.connection, tables: Sequence[TableRef], result: PostDataResult) -> None:
    conn.commit()
    for table in tables:
        with conn.cursor() as cur:
            try:
                cur.execute(sql.SQL("ANALYZE {}").format(table.sql()))
                conn.commit()
                result.analyzed += 1
            except psycopg2.Error as exc:
                if conn.closed:
                    raise TransientError(f"lost the AlloyDB connection during ANALYZE {table}") from None
                conn.rollback()
                result.analyze_failures.append({"table": str(table), "reason": one_line(exc, 300)})


def _apply_object(applier: SavepointApplier, obj: SqlObject) -> ObjectReport:
    if not has_statement(obj):
        return ObjectReport.of(obj, "skipped", "the block holds no SQL statement")
    if obj.kind == "constraint":
        return apply_constraint(applier, obj)
    report = _apply_plain(applier, obj)
    if obj.kind == "materialized_view" and report.status == "applied" and not report.reason \
            and not _populated(applier, parse_table_ref(obj.target_name or obj.name)):
        report = _refresh(applier, obj, "created WITH NO DATA; refreshed")
    return report


def apply_post_data(conn: psycopg2.extensions.connection, objects: Sequence[SqlObject],
                    tables: Sequence[TableRef], missing: Mapping[str, str] | None = None) -> PostDataResult:
    """`missing`: pre-data objects that are not in AlloyDB (name -> why); what depends on them is skipped."""
    applier = SavepointApplier(conn, commit_every=1, system="AlloyDB")
    result = PostDataResult()
    reports: dict[int, ObjectReport] = {}
    pending = []
    for obj in ordered(objects):
        absent = next((d for d in obj.depends_on if d in (missing or {})), None)
        if absent is None:
            pending.append(obj)
        else:
            reports[id(obj)] = ObjectReport.of(obj, "skipped", f"depends on {absent}, which is not in AlloyDB: "
                                                                f"{missing[absent]}")
    while pending:
        retry = []
        for obj in pending:
            report = _apply_object(applier, obj)
            reports[id(obj)] = report
            if report.status == "failed" and report.details.get("violations") is None:
                retry.append(obj)
        if len(retry) == len(pending):
            break
        pending = retry
    result.objects.extend(reports[id(obj)] for obj in objects)
    result.objects.extend(reseed_identities(applier, tables))
    applier.commit()
    analyze(conn, tables, result)
    drop_leftover_staging(conn, tables, result)
    return result


def drop_leftover_staging(conn: psycopg2.extensions.connection, tables: Sequence[TableRef],
                          result: PostDataResult) -> None:
    """post-data runs once every transfer of the run has ended, so a staging table of a planned target that is
    still there was left by a killed transfer: up to a whole table of UNLOGGED rows nobody will read."""
    try:
        with conn.cursor() as cur:
            dropped = drop_staging_tables(cur, [str(table) for table in tables])
        conn.commit()
    except psycopg2.Error as exc:
        conn.rollback()
        result.staging_cleanup_error = one_line(exc, 300)
        event("staging.cleanup_failed", error=result.staging_cleanup_error)
        return
    for name, target in dropped:
        staging = f"{STAGING_SCHEMA}.{name}"
        event("staging.dropped", table=target, staging=staging, why="left by a killed transfer")
        result.staging_dropped.append({"staging_table": staging, "target": target})
