"""Schema drift of a synced table: the plan's columns (this run's Redshift catalog) against the target's. A column
the target lacks is to be added (its type as the rewrite rules write it); a dropped or retyped column fails the
table with the difference spelled out, so shifted columns are never loaded."""

from __future__ import annotations

from psycopg2 import sql

from shared.errors import TargetError
from shared.redshift_types import UnknownTypeError, map_type
from steps.table_transfer.plan import ColumnSpec, TableSpec


class DriftError(TargetError):
    """The source's columns changed in a way an incremental sync cannot follow."""


def target_columns(cur, spec: TableSpec) -> list[tuple[str, str]]:
    """(name, format_type) of the target's columns, in order."""
    cur.execute("SELECT a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod) FROM pg_catalog.pg_attribute a "
                "WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
                (spec.target.sql().as_string(cur),))
    return list(cur.fetchall())


def planned_type(column: ColumnSpec) -> str:
    """The target type of a plan column, only as the rewrite rules write it for its Redshift type: the text goes
    into DDL, and tables.json is a file, not code."""
    try:
        mapped = map_type(column.source_type or "")
    except UnknownTypeError:
        mapped = None
    if mapped is None or mapped.target is None or (column.target_type or mapped.target) != mapped.target:
        raise DriftError(f"column {column.target[:100]!r} has type {(column.source_type or 'unknown')[:60]} in "
                         f"Redshift, which the rewrite rules do not map to {(column.target_type or '?')[:60]}")
    return mapped.target


def _probe_types(cur, type_texts: list[str]) -> list[str]:
    """How PostgreSQL prints each type with its modifier: the columns of one temporary table say it (one statement
    for the table's columns, not one per column)."""
    if not type_texts:
        return []
    cur.execute("SAVEPOINT r2a_probe")
    columns = sql.SQL(", ").join(sql.SQL("{} {}").format(sql.Identifier(f"c{n}"), sql.SQL(text))
                                 for n, text in enumerate(type_texts))
    cur.execute(sql.SQL("CREATE TEMP TABLE r2a_type_probe ({}) ON COMMIT DROP").format(columns))
    cur.execute("SELECT pg_catalog.format_type(atttypid, atttypmod) FROM pg_catalog.pg_attribute "
                "WHERE attrelid = 'pg_temp.r2a_type_probe'::regclass AND attnum > 0 ORDER BY attnum")
    printed = [row[0] for row in cur.fetchall()]
    cur.execute("ROLLBACK TO SAVEPOINT r2a_probe")
    return printed


def drift(cur, spec: TableSpec) -> list[ColumnSpec]:
    """The plan's columns the target lacks (to add); raises DriftError for a dropped or retyped column."""
    existing = dict(target_columns(cur, spec))
    planned = {c.target: c for c in spec.columns}
    dropped = [name for name in existing if name not in planned]
    kept = [column for column in spec.columns if column.target in existing]
    retyped = [f"{column.target} is {existing[column.target]} in AlloyDB, {wanted} from Redshift's "
               f"{column.source_type}"
               for column, wanted in zip(kept, _probe_types(cur, [planned_type(c) for c in kept]), strict=True)
               if wanted != existing[column.target]]
    problems = []
    if dropped:
        problems.append(f"dropped in Redshift: {', '.join(dropped)}")
    if retyped:
        problems.append(f"retyped: {'; '.join(retyped)}")
    if problems:
        raise DriftError(f"{spec.target} no longer matches {spec.source}: {' / '.join(problems)}"[:900],
                         "Reload the table in full (mode full) or change it in AlloyDB to match")
    return [c for c in spec.columns if c.target not in existing]
