"""Post-data objects on AlloyDB, applied the same way whichever step applies them: load_schema's post-data for the
tables loaded by then, table_transfer for a table it loads after post-data ran (shared/finishing.py).

Order: PRIMARY KEY/UNIQUE (a foreign key needs the referenced key), FOREIGN KEY, indexes, views.sql's objects
(views may rely on a PK for GROUP BY), other objects (comments, grants: they may name a view). Keys, foreign keys
and indexes may run in several sessions at once (shared/postdata_jobs.py says which may run together); views and
the rest follow in the first session, in order. Which object is tried, skipped or tried again is
shared/applyengine.py's, as in validate_restore and pre-data: objects that fail are tried again once a pass made
progress, since the category order may put one before an object it needs (an index on a materialized view), and
what depends on a failed or absent object is skipped naming the chain to it. Every object is committed on its own:
a slow index build that fails later does not undo the constraints before it. Nothing here fails a step because of
the data; every object gets a report entry.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence

import psycopg2
import psycopg2.extensions
from psycopg2 import sql

from shared.applyengine import ApplyEngine
from shared.constraints import apply_constraint, constraint_spec
from shared.errors import TransientError
from shared.identifiers import TableRef, parse_table_ref
from shared.log import one_line
from shared.objects_report import ObjectReport
from shared.postdata_jobs import Job, Timing, object_jobs, run_jobs
from shared.sqlapply import SavepointApplier, StatementError
from shared.sqlblocks import SqlObject

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


def _category(obj: SqlObject) -> int:
    if obj.kind == "constraint":
        spec = constraint_spec(obj)
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


def analyze_one(conn: psycopg2.extensions.connection, table: TableRef) -> str | None:
    """ANALYZE one table in its own transaction: None, or why it failed."""
    with conn.cursor() as cur:
        try:
            cur.execute(sql.SQL("ANALYZE {}").format(table.sql()))
            conn.commit()
            return None
        except psycopg2.Error as exc:
            if conn.closed:
                raise TransientError(f"lost the AlloyDB connection during ANALYZE {table}") from None
            conn.rollback()
            return one_line(exc, 300)


def analyze(conn: psycopg2.extensions.connection | Sequence[psycopg2.extensions.connection],
            tables: Sequence[TableRef], timings: dict[Hashable, Timing] | None = None
            ) -> tuple[int, list[dict[str, str]]]:
    """ANALYZE each table in its own transaction, in one session or several: (how many were analyzed, the
    failures, in the order of `tables`)."""
    sessions = [conn] if isinstance(conn, psycopg2.extensions.connection) else list(conn)
    for session in sessions:
        session.commit()
    jobs = [Job(("analyze", table), frozenset({table})) for table in dict.fromkeys(tables)]
    reasons = run_jobs(sessions, jobs, lambda session, job: analyze_one(session, job.key[1]),
                       lambda job: ("analyze", str(job.key[1])), timings if timings is not None else {})
    failures = [{"table": str(t), "reason": why} for t in dict.fromkeys(tables) if (why := reasons[("analyze", t)])]
    return len(reasons) - len(failures), failures


def _apply_object(applier: SavepointApplier, obj: SqlObject) -> ObjectReport:
    if obj.kind == "constraint":
        return apply_constraint(applier, obj)
    report = _apply_plain(applier, obj)
    if obj.kind == "materialized_view" and report.status == "applied" and not report.reason \
            and not _populated(applier, parse_table_ref(obj.target_name or obj.name)):
        report = _refresh(applier, obj, "created WITH NO DATA; refreshed")
    return report


PARALLEL_CATEGORIES = (0, 1, 2)  # keys, foreign keys, indexes: the slow ones, on tables


def _committed(applier: SavepointApplier, obj: SqlObject) -> ObjectReport:
    """Commit after each object, failed or not: its violation counts hold locks another session may wait for."""
    report = _apply_object(applier, obj)
    applier.commit()
    return report


def _apply_pass(engine: ApplyEngine, appliers: Sequence[SavepointApplier], pending: Sequence[int],
                timings: dict[Hashable, Timing]) -> None:
    """One pass over the pending objects (in post-data's order): keys and indexes in all sessions, the rest in the
    first. Each session asks the engine to try its object, which skips it or records its outcome; an object the
    engine did not try keeps the times of its last try."""
    objects = engine.objects
    keyed = [i for i in pending if _category(objects[i]) in PARALLEL_CATEGORIES]
    rest = [i for i in pending if _category(objects[i]) not in PARALLEL_CATEGORIES]
    jobs = [Job(keyed[job.key], job.tables, job.shares_tables, frozenset(keyed[n] for n in job.needs))
            for job in object_jobs([objects[i] for i in keyed])]

    def work(applier: SavepointApplier, job: Job) -> ObjectReport | None:
        return engine.attempt(job.key, lambda obj: _committed(applier, obj))

    def label(job: Job) -> tuple[str, str]:
        return objects[job.key].kind, objects[job.key].name

    times: dict[Hashable, Timing] = {}
    tried = run_jobs(appliers, jobs, work, label, times)
    tried.update(run_jobs([appliers[0]], [Job(i) for i in rest], work, label, times))
    timings.update({id(objects[i]): times[i] for i, report in tried.items() if report is not None})


def apply_objects(applier: SavepointApplier | Sequence[SavepointApplier], objects: Sequence[SqlObject],
                  missing: Mapping[str, str] | None = None,
                  timings: dict[Hashable, Timing] | None = None,
                  decided: Sequence[tuple[SqlObject, ObjectReport]] = ()) -> list[ObjectReport]:
    """One report per object, in the order given. `missing`: pre-data objects that are not in AlloyDB
    (name -> why); what depends on them is skipped. Several appliers: one session each (the first one also runs
    the views and the rest). `timings` gets each object's times by id(object): those of its last try. `decided`:
    objects of this run's post-data that are not there, with their reports (ApplyEngine)."""
    appliers = [applier] if isinstance(applier, SavepointApplier) else list(applier)
    timings = timings if timings is not None else {}
    engine = ApplyEngine(ordered(objects), missing, decided)
    # as many passes as progress allows: each one brings an object into being
    result = engine.run(lambda pending: _apply_pass(engine, appliers, pending, timings), len(objects) + 1)
    by_object = {id(obj): report for obj, report in zip(engine.objects, result.reports, strict=True)}
    return [by_object[id(obj)] for obj in objects]


_DEPENDENT_MATVIEWS = """
    WITH RECURSIVE dependent(oid, depth) AS (
        SELECT %s::regclass::oid, 0
        UNION
        SELECT r.ev_class, dependent.depth + 1
        FROM dependent
        JOIN pg_depend d ON d.refobjid = dependent.oid AND d.classid = 'pg_rewrite'::regclass
        JOIN pg_rewrite r ON r.oid = d.objid
        WHERE r.ev_class <> dependent.oid AND dependent.depth < 100)
    SELECT n.nspname, c.relname
    FROM dependent JOIN pg_class c ON c.oid = dependent.oid JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind = 'm'
    GROUP BY n.nspname, c.relname
    ORDER BY max(dependent.depth), n.nspname, c.relname"""


def refresh_dependent_matviews(applier: SavepointApplier, table: TableRef) -> list[dict[str, str]]:
    """REFRESH every materialized view built on `table`, directly or through views and other materialized views,
    each after those it reads (deepest dependency path first): [{"materialized_view", "status", "reason"?}]."""
    rows = applier.query(_DEPENDENT_MATVIEWS, (table.sql().as_string(applier.conn),))
    if isinstance(rows, StatementError):
        return [{"materialized_view": f"(views built on {table})", "status": "failed", "reason": rows.message}]
    refreshed = []
    for schema, name in rows:
        view = TableRef(schema, name)
        error = applier.run(sql.SQL("REFRESH MATERIALIZED VIEW {}").format(view.sql()))
        entry = {"materialized_view": str(view), "status": "applied" if error is None else "failed"}
        if error is not None:
            entry["reason"] = error.message
        refreshed.append(entry)
    return refreshed
