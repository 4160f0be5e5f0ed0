"""Views and materialized views of a refresh: compared with the source's definition, kept or replaced.

The comparison is PostgreSQL's own: inside a savepoint the existing relation is renamed away, the source's CREATE
runs, pg_get_viewdef of both is read, and everything is rolled back. A materialized view is created WITH NO DATA
(rewrite_ddl writes it so), so the probe costs no query of its rows.

A relation that cannot be replaced in place (a materialized view always; a view whose columns changed) is dropped
with CASCADE and created again together with what is built on it, in one savepoint: every view and materialized view
built on it, then the keys, indexes, comments and grants of the source that name them. Only when everything built
on it is the source's own: a view someone made by hand on it keeps the old one, and the object fails with its name.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import psycopg2
from psycopg2 import sql

from shared.identifiers import TableRef, parse_table_ref
from shared.objects_report import ObjectReport
from shared.sqlapply import SavepointApplier, StatementError, pg_error_line
from shared.sqlblocks import SqlObject

RELATION_WORDS = {"view": "VIEW", "materialized_view": "MATERIALIZED VIEW"}
_VIEWDEF = "SELECT pg_catalog.pg_get_viewdef(%s::regclass)"
_PROBE_NAME = "r2a_view_probe"
_BUILT_ON = """
    WITH RECURSIVE built_on(oid, depth) AS (
        SELECT %s::regclass::oid, 0
        UNION
        SELECT r.ev_class, built_on.depth + 1
        FROM built_on
        JOIN pg_catalog.pg_depend d ON d.refobjid = built_on.oid AND d.classid = 'pg_catalog.pg_rewrite'::regclass
        JOIN pg_catalog.pg_rewrite r ON r.oid = d.objid
        WHERE r.ev_class <> built_on.oid AND built_on.depth < 100)
    SELECT n.nspname, c.relname, c.relkind, pg_catalog.pg_get_viewdef(c.oid)
    FROM built_on JOIN pg_catalog.pg_class c ON c.oid = built_on.oid
    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    WHERE built_on.depth > 0
    GROUP BY n.nspname, c.relname, c.relkind, c.oid
    ORDER BY max(built_on.depth), n.nspname, c.relname"""


def target(obj: SqlObject) -> TableRef:
    return parse_table_ref(obj.target_name or obj.name)


def definition(conn, obj: SqlObject, create_sql: str | None = None) -> str | StatementError:
    """The relation's definition as PostgreSQL prints it; with `create_sql`, the one that SQL would give it now
    (probed in a savepoint that is rolled back: nothing changes)."""
    ref = target(obj)
    with conn.cursor() as cur:
        cur.execute("SAVEPOINT r2a_view_probe")
        try:
            if create_sql is not None:
                cur.execute(sql.SQL("ALTER {} {} RENAME TO {}").format(sql.SQL(RELATION_WORDS[obj.kind]), ref.sql(),
                                                                       sql.Identifier(_PROBE_NAME)))
                cur.execute(create_sql)
            cur.execute(_VIEWDEF, (ref.sql().as_string(conn),))
            found = cur.fetchone()[0]
        except psycopg2.Error as exc:
            if exc.pgcode is None or conn.closed:
                raise
            cur.execute("ROLLBACK TO SAVEPOINT r2a_view_probe")
            return StatementError(pg_error_line(exc), exc.pgcode)
        cur.execute("ROLLBACK TO SAVEPOINT r2a_view_probe")
    return found


def compare(applier: SavepointApplier, obj: SqlObject) -> bool | StatementError:
    """True when the source's definition is the one AlloyDB has."""
    before = definition(applier.conn, obj)
    wanted = definition(applier.conn, obj, obj.sql)
    for found in (before, wanted):
        if isinstance(found, StatementError):
            return found
    return before == wanted


@dataclass
class Rebuilt:
    """The outcome of replacing one relation with what is built on it."""
    error: str | None
    dependents: dict[tuple[str, str], ObjectReport]  # (kind, name) of a re-created source object -> its report


def replace_with_dependents(applier: SavepointApplier, obj: SqlObject, objects: Sequence[SqlObject]) -> Rebuilt:
    ref = target(obj)
    rows = applier.query(_BUILT_ON, (ref.sql().as_string(applier.conn),))
    if isinstance(rows, StatementError):
        return Rebuilt(rows.message, {})
    relations = {target(o): o for o in objects if o.kind in RELATION_WORDS}
    built_on: list[tuple[SqlObject, str]] = []
    for schema, name, _, old_definition in rows:
        source = relations.get(TableRef(schema, name))
        if source is None:
            return Rebuilt(f"{TableRef(schema, name)} is built on it and is not in the source", {})
        built_on.append((source, old_definition))
    rebuilt = [obj] + [source for source, _ in built_on]
    names = {o.name for o in rebuilt} | {str(target(o)) for o in rebuilt}
    extras = [o for o in objects if o.kind not in RELATION_WORDS and o.kind not in ("function", "procedure")
              and names & set(o.depends_on)]  # indexes, keys, comments, grants on what the CASCADE removes
    statements: list = [sql.SQL("DROP {} {} CASCADE").format(sql.SQL(RELATION_WORDS[obj.kind]), ref.sql())]
    statements += [o.sql for o in rebuilt]
    statements += [sql.SQL("REFRESH MATERIALIZED VIEW {}").format(target(o).sql())
                   for o in rebuilt if o.kind == "materialized_view"]
    statements += [o.sql for o in extras]
    error = applier.run(*statements)
    if error is not None:
        return Rebuilt(error.message, {})
    dependents = {}
    for source, old_definition in built_on:
        now = definition(applier.conn, source)
        if now == old_definition:
            report = ObjectReport.of(source, "unchanged", f"re-created as it was: built on {obj.kind} "
                                                          f"{obj.name}, which was replaced", change="unchanged")
        else:
            report = ObjectReport.of(source, "applied", "changed in the source; replaced", change="changed")
        dependents[(source.kind, source.name)] = report
    return Rebuilt(None, dependents)


_CREATE_VIEW = "CREATE VIEW "


def refresh_relation(applier: SavepointApplier, obj: SqlObject, report: ObjectReport,
                     objects: Sequence[SqlObject], rebuilt: dict[tuple[str, str], ObjectReport]) -> ObjectReport:
    """An existing view or materialized view (`report`: what post-data did with it). A view is replaced in place
    with CREATE OR REPLACE when it can (the views built on it stay), a materialized view never can."""
    same = compare(applier, obj)
    if isinstance(same, StatementError):
        return ObjectReport.of(obj, "failed", f"could not compare with the source's definition: {same.message}")
    if same and obj.kind == "materialized_view":
        report.details["change"] = "refreshed"  # kept; post-data recomputed its rows
        return report
    if same:
        return ObjectReport.of(obj, "unchanged", "already in AlloyDB with the source's definition; kept", kept=True,
                               change="unchanged")
    text = obj.sql.lstrip()
    if obj.kind == "view" and text.startswith(_CREATE_VIEW) \
            and applier.run("CREATE OR REPLACE VIEW " + text[len(_CREATE_VIEW):]) is None:
        return ObjectReport.of(obj, "applied", "changed in the source; replaced", change="changed")
    outcome = replace_with_dependents(applier, obj, objects)
    if outcome.error is not None:
        return ObjectReport.of(obj, "failed", f"changed in the source; not replaced: {outcome.error}",
                               change="changed")
    rebuilt.update(outcome.dependents)
    return ObjectReport.of(obj, "applied", "changed in the source; replaced"
                           + (f" with the {len(outcome.dependents)} view(s) built on it" if outcome.dependents
                              else ""), change="changed")
