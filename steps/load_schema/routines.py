"""Functions and procedures of a refresh: which overload the source's definition is, and whether it changed.

PostgreSQL tells overloads apart by their argument types, and the source's CREATE names them only in its own text,
which is not parsed here. The probe asks PostgreSQL instead: inside a savepoint every existing routine of that
name is renamed away, the source's CREATE runs, and the one routine of that name is then the source's (its
argument types as pg_get_function_identity_arguments prints them, and pg_get_functiondef); everything is rolled
back. The same argument types as an existing overload: that overload, unchanged or changed. Others: a new
overload, and the old one, when the source no longer has it, is reported dropped in the source
(steps/load_schema/dropped.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg2
from psycopg2 import sql

from shared.errors import BadInputError
from shared.identifiers import TableRef, parse_table_ref
from shared.objects_report import ObjectReport
from shared.sqlapply import SavepointApplier, StatementError, pg_error_line
from shared.sqlblocks import SqlObject

_OVERLOADS = """SELECT pg_catalog.pg_get_function_identity_arguments(p.oid), pg_catalog.pg_get_functiondef(p.oid)
                FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
                WHERE n.nspname = %s AND p.proname = %s AND p.prokind IN ('f', 'p') ORDER BY 1"""
_CREATE = {"function": "CREATE FUNCTION ", "procedure": "CREATE PROCEDURE "}


@dataclass
class Probe:
    existing: dict[str, str]  # argument types -> definition, of every routine of that name now
    arguments: str  # the source's routine's argument types
    definition: str  # and its definition as the source's CREATE makes it


def target(obj: SqlObject) -> TableRef | None:
    try:
        return parse_table_ref(obj.target_name or obj.name)
    except BadInputError:
        return None


def _overloads(cur, ref: TableRef) -> dict[str, str]:
    cur.execute(_OVERLOADS, (ref.schema, ref.table))
    return dict(cur.fetchall())


def probe(conn, obj: SqlObject) -> Probe | StatementError:
    ref = target(obj)
    if ref is None:
        return StatementError(f"{obj.name!r} is not a schema-qualified name", None)
    with conn.cursor() as cur:
        cur.execute("SAVEPOINT r2a_routine_probe")
        try:
            existing = _overloads(cur, ref)
            for number, arguments in enumerate(existing):
                cur.execute(sql.SQL("ALTER ROUTINE {}({}) RENAME TO {}").format(
                    ref.sql(), sql.SQL(arguments), sql.Identifier(f"r2a_routine_probe_{number}")))
            cur.execute(obj.sql)
            created = _overloads(cur, ref)
        except psycopg2.Error as exc:
            if exc.pgcode is None or conn.closed:
                raise
            cur.execute("ROLLBACK TO SAVEPOINT r2a_routine_probe")
            return StatementError(pg_error_line(exc), exc.pgcode)
        cur.execute("ROLLBACK TO SAVEPOINT r2a_routine_probe")
    if len(created) != 1:
        return StatementError(f"its definition makes {len(created)} routines named {ref}", None)
    (arguments, definition), = created.items()
    return Probe(existing, arguments, definition)


def refresh_routine(applier: SavepointApplier, obj: SqlObject) -> ObjectReport:
    """An existing function or procedure: unchanged, or replaced with the source's definition (CREATE OR REPLACE;
    a changed return type or parameter name needs DROP and CREATE, refused while something depends on it)."""
    found = probe(applier.conn, obj)
    if isinstance(found, StatementError):
        return ObjectReport.of(obj, "failed", f"could not compare with the source's definition: {found.message}")
    if found.existing.get(found.arguments) == found.definition:
        return ObjectReport.of(obj, "unchanged", "already in AlloyDB with the source's definition; kept", kept=True,
                               change="unchanged", arguments=found.arguments)
    text = obj.sql.lstrip()
    prefix = _CREATE[obj.kind]
    error = None
    if text.startswith(prefix):
        error = applier.run(prefix.replace("CREATE ", "CREATE OR REPLACE ", 1) + text[len(prefix):])
    if error is not None or not text.startswith(prefix):
        ref = target(obj)
        assert ref is not None  # the probe found it
        error = applier.run(sql.SQL("DROP ROUTINE {}({})").format(ref.sql(), sql.SQL(found.arguments)), obj.sql)
    if error is not None:
        return ObjectReport.of(obj, "failed", f"changed in the source; not replaced: {error.message}",
                               change="changed", arguments=found.arguments)
    return ObjectReport.of(obj, "applied", "changed in the source; replaced", change="changed",
                           arguments=found.arguments)


def arguments_of(applier: SavepointApplier, obj: SqlObject) -> str | None:
    """The argument types of the source's routine as it is in AlloyDB now; None when the probe fails."""
    found = probe(applier.conn, obj)
    return None if isinstance(found, StatementError) else found.arguments
