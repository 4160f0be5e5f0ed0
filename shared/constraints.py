"""Constraints after the load: count the rows that violate them, and keep the run going whatever the data says.

Redshift declares PRIMARY KEY, UNIQUE and FOREIGN KEY but never enforces them, so loaded data may violate any
of them. For a PK/UNIQUE the violating rows (duplicate keys, NULL in a key column) are counted first; a
violated one is not created (it could not be) and is reported with the count. A FOREIGN KEY is added NOT VALID
(new rows are checked from now on), its orphan rows are counted, and only a clean one is VALIDATEd; a violated
one stays NOT VALID and is reported with the count.

The table, kind and columns of a key, and the tables an index or a constraint names, travel as data in the
block's marker: rewrite_ddl writes them there (constraint_structure, index_structure) and post-data reads them
(constraint_spec, statement_tables). Only a block without them, one written by hand, is read with sqlglot's
PostgreSQL parser; a statement it cannot read either is simply applied and reported.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import sqlglot
from psycopg2 import sql
from sqlglot import exp

from shared.errors import BadInputError
from shared.identifiers import TableRef
from shared.objects_report import ObjectReport
from shared.sqlapply import SavepointApplier, StatementError
from shared.sqlblocks import SqlObject


@dataclass(frozen=True)
class ConstraintSpec:
    kind: str  # "primary_key" | "unique" | "foreign_key"
    table: TableRef
    name: str | None
    columns: tuple[str, ...]  # empty for a foreign key: read from the catalog once it exists


def constraint_structure(kind: str, table: TableRef, name: str, columns: Sequence[str],
                         referenced: TableRef | None = None) -> dict[str, object]:
    """The marker keys of a block adding a key or foreign key to `table` (AlloyDB names)."""
    tables = [table] + ([referenced] if referenced is not None and referenced != table else [])
    return {"constraint": {"kind": kind, "table": [table.schema, table.table], "name": name,
                           "columns": list(columns)},
            "tables": [[t.schema, t.table] for t in tables]}


def index_structure(table: TableRef, unique: bool) -> dict[str, object]:
    return {"index": {"unique": unique}, "tables": [[table.schema, table.table]]}


def _table_ref(value: object) -> TableRef:
    if not (isinstance(value, list) and len(value) == 2 and all(isinstance(p, str) and p for p in value)):
        raise ValueError(f"not a [schema, table] pair: {value!r}")
    return TableRef(value[0], value[1])


def constraint_spec(obj: SqlObject) -> ConstraintSpec | None:
    """The key or foreign key a post-data block adds, from its marker; None for any other block."""
    data = dict(obj.extra).get("constraint")
    if data is None:
        return parse_constraint(obj.sql) if obj.kind == "constraint" else None
    try:
        kind, columns = data["kind"], tuple(data["columns"])
        if kind not in ("primary_key", "unique", "foreign_key") or not all(isinstance(c, str) for c in columns):
            raise ValueError(kind)
        return ConstraintSpec(kind, _table_ref(data["table"]), data.get("name"), columns)
    except (KeyError, TypeError, ValueError) as exc:
        raise BadInputError(f"post-data block {obj.name}: its marker's constraint is malformed ({exc})",
                            "Re-run rewrite_ddl (and validate_restore) for this run") from None


def statement_tables(obj: SqlObject) -> set[TableRef]:
    """The AlloyDB tables a post-data block names (a foreign key's referenced table included), from its marker."""
    data = dict(obj.extra).get("tables")
    if data is None:
        return tables_named(obj.sql)
    try:
        return {_table_ref(value) for value in data}
    except (TypeError, ValueError) as exc:
        raise BadInputError(f"post-data block {obj.name}: its marker's tables are malformed ({exc})",
                            "Re-run rewrite_ddl (and validate_restore) for this run") from None


def is_unique_index(obj: SqlObject) -> bool:
    data = dict(obj.extra).get("index")
    if isinstance(data, dict) and isinstance(data.get("unique"), bool):
        return data["unique"]
    return obj.kind == "index" and _UNIQUE_INDEX.search(obj.sql) is not None


_UNIQUE_INDEX = re.compile(r"^\s*CREATE\s+UNIQUE\s+INDEX\b", re.IGNORECASE | re.MULTILINE)


def _ident(node: exp.Expression | None) -> str | None:
    if node is None:
        return None
    if isinstance(node, exp.Identifier):
        return node.this if node.quoted else node.this.lower()
    return None


def _table(node: exp.Table) -> TableRef | None:
    schema, name = _ident(node.args.get("db")), _ident(node.this)
    return TableRef(schema or "public", name) if name else None


def parse_constraint(statement: str) -> ConstraintSpec | None:
    """The constraint an `ALTER TABLE … ADD [CONSTRAINT n] PRIMARY KEY|UNIQUE|FOREIGN KEY …` adds, else None."""
    try:
        parsed = sqlglot.parse(statement, read="postgres")
    except sqlglot.errors.ParseError:
        return None
    if len([p for p in parsed if p is not None]) != 1 or not isinstance(parsed[0], exp.Alter):
        return None
    alter = parsed[0]
    actions = alter.args.get("actions") or []
    if len(actions) != 1 or not isinstance(actions[0], exp.AddConstraint) or not isinstance(alter.this, exp.Table):
        return None
    table = _table(alter.this)
    body = actions[0].expressions[0] if actions[0].expressions else None
    name = None
    if isinstance(body, exp.Constraint):
        name = _ident(body.this)
        body = body.expressions[0] if body.expressions else None
    if table is None or body is None:
        return None
    if isinstance(body, exp.PrimaryKey):
        columns = tuple(_ident(c) for c in body.expressions)
        kind = "primary_key"
    elif isinstance(body, exp.UniqueColumnConstraint) and isinstance(body.this, exp.Schema):
        columns = tuple(_ident(c) for c in body.this.expressions)
        kind = "unique"
    elif isinstance(body, exp.ForeignKey):
        return ConstraintSpec("foreign_key", table, name, ())
    else:
        return None
    if not columns or None in columns:
        return None
    return ConstraintSpec(kind, table, name, columns)  # type: ignore[arg-type]


def tables_named(statement: str) -> set[TableRef]:
    """The tables an ALTER TABLE … ADD CONSTRAINT or a CREATE INDEX names (a foreign key's referenced table
    included); empty when sqlglot cannot read it."""
    try:
        parsed = [p for p in sqlglot.parse(statement, read="postgres") if p is not None]
    except sqlglot.errors.ParseError:
        return set()
    return {ref for tree in parsed for node in tree.find_all(exp.Table) if (ref := _table(node)) is not None}


def _columns(names: tuple[str, ...], alias: str | None = None) -> list[sql.Composable]:
    return [sql.Identifier(alias, n) if alias else sql.Identifier(n) for n in names]


def key_violations(applier: SavepointApplier, spec: ConstraintSpec) -> tuple[int, int] | StatementError:
    """(rows in duplicate key groups, rows with a NULL key column; the latter only matters for a PK)."""
    cols = sql.SQL(", ").join(_columns(spec.columns))
    any_null = sql.SQL(" OR ").join(sql.SQL("{} IS NULL").format(c) for c in _columns(spec.columns))
    no_null = sql.SQL(" AND ").join(sql.SQL("{} IS NOT NULL").format(c) for c in _columns(spec.columns))
    rows = applier.query(sql.SQL("""
        SELECT (SELECT coalesce(sum(n), 0) FROM (SELECT count(*) AS n FROM {table} WHERE {no_null}
                                                 GROUP BY {cols} HAVING count(*) > 1) AS duplicates),
               (SELECT count(*) FROM {table} WHERE {any_null})""").format(
        table=spec.table.sql(), cols=cols, no_null=no_null, any_null=any_null))
    if isinstance(rows, StatementError):
        return rows
    return int(rows[0][0]), int(rows[0][1])


def _existing(applier: SavepointApplier, table: TableRef, name: str | None, contype: str
              ) -> tuple[str, bool] | None | StatementError:
    """(name, validated) of the constraint when it exists; for an unnamed one, the newest NOT VALID FK."""
    query = sql.SQL("""
        SELECT conname, convalidated FROM pg_constraint
        WHERE conrelid = %s::regclass AND contype = %s AND (%s::text IS NULL AND NOT convalidated OR conname = %s)
        ORDER BY oid DESC LIMIT 1""")
    rows = applier.query(query, (table.sql().as_string(applier.conn), contype, name, name))
    if isinstance(rows, StatementError):
        return rows
    return (rows[0][0], rows[0][1]) if rows else None


def foreign_key_violations(applier: SavepointApplier, table: TableRef, name: str) -> int | StatementError:
    """Rows whose (non-NULL) key has no match in the referenced table (MATCH SIMPLE semantics)."""
    rows = applier.query("""
        SELECT rn.nspname, rc.relname,
               array(SELECT a.attname FROM unnest(c.conkey) WITH ORDINALITY k(num, pos)
                     JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.num ORDER BY k.pos),
               array(SELECT a.attname FROM unnest(c.confkey) WITH ORDINALITY k(num, pos)
                     JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.num ORDER BY k.pos)
        FROM pg_constraint c JOIN pg_class rc ON rc.oid = c.confrelid JOIN pg_namespace rn ON rn.oid = rc.relnamespace
        WHERE c.conrelid = %s::regclass AND c.conname = %s""", (table.sql().as_string(applier.conn), name))
    if isinstance(rows, StatementError):
        return rows
    ref_schema, ref_table, columns, ref_columns = rows[0]
    child, parent = tuple(columns), tuple(ref_columns)
    not_null = sql.SQL(" AND ").join(sql.SQL("{} IS NOT NULL").format(c) for c in _columns(child, "c"))
    matches = sql.SQL(" AND ").join(sql.SQL("{} = {}").format(p, c)
                                    for p, c in zip(_columns(parent, "p"), _columns(child, "c"), strict=True))
    counted = applier.query(sql.SQL(
        "SELECT count(*) FROM {table} AS c WHERE {not_null} AND NOT EXISTS (SELECT 1 FROM {ref} AS p WHERE {matches})"
    ).format(table=table.sql(), ref=TableRef(ref_schema, ref_table).sql(), not_null=not_null, matches=matches))
    return counted if isinstance(counted, StatementError) else int(counted[0][0])


def apply_constraint(applier: SavepointApplier, obj: SqlObject) -> ObjectReport:
    spec = constraint_spec(obj)
    if spec is None:
        error = applier.run(obj.sql)
        if error is None:
            return ObjectReport.of(obj, "applied", violations=0)
        status = "skipped" if error.already_exists else "failed"
        return ObjectReport.of(obj, status, error.message, violations=None)
    if spec.kind == "foreign_key":
        return _foreign_key(applier, obj, spec)
    return _key(applier, obj, spec)


def _key(applier: SavepointApplier, obj: SqlObject, spec: ConstraintSpec) -> ObjectReport:
    contype = "p" if spec.kind == "primary_key" else "u"
    if spec.name:
        found = _existing(applier, spec.table, spec.name, contype)
        if isinstance(found, StatementError):
            return ObjectReport.of(obj, "failed", found.message, violations=None)
        if found is not None:
            return ObjectReport.of(obj, "applied", "already present in AlloyDB", violations=0)
    counted = key_violations(applier, spec)
    if isinstance(counted, StatementError):
        return ObjectReport.of(obj, "failed", counted.message, violations=None)
    duplicates, nulls = counted
    violations = duplicates + (nulls if spec.kind == "primary_key" else 0)
    if violations:
        parts = [f"{duplicates} in duplicate keys"] if duplicates else []
        if spec.kind == "primary_key" and nulls:
            parts.append(f"{nulls} with a NULL key column")
        return ObjectReport.of(obj, "failed", f"{violations} row(s) violate it ({', '.join(parts)}); not created",
                               violations=violations)
    error = applier.run(obj.sql)
    if error is not None:
        return ObjectReport.of(obj, "failed", error.message, violations=0)
    return ObjectReport.of(obj, "applied", violations=0)


def _foreign_key(applier: SavepointApplier, obj: SqlObject, spec: ConstraintSpec) -> ObjectReport:
    found = _existing(applier, spec.table, spec.name, "f") if spec.name else None
    if isinstance(found, StatementError):
        return ObjectReport.of(obj, "failed", found.message, violations=None)
    if found is not None and found[1]:
        return ObjectReport.of(obj, "applied", "already present in AlloyDB", violations=0)
    if found is None:
        error = applier.run(obj.sql.strip().rstrip(";").rstrip() + " NOT VALID")
        if error is not None:
            return ObjectReport.of(obj, "failed", error.message, violations=None)
        found = _existing(applier, spec.table, spec.name, "f")
        if found is None or isinstance(found, StatementError):
            return ObjectReport.of(obj, "failed", "added, but not found in pg_constraint afterwards", violations=None)
    name = found[0]
    violations = foreign_key_violations(applier, spec.table, name)
    if isinstance(violations, StatementError):
        return ObjectReport.of(obj, "not_valid", f"added NOT VALID; counting violations failed: {violations.message}",
                               violations=None)
    if violations:
        return ObjectReport.of(obj, "not_valid", f"{violations} row(s) reference keys missing from the referenced "
                               "table; kept NOT VALID (new rows are checked)", violations=violations)
    error = applier.run(sql.SQL("ALTER TABLE {} VALIDATE CONSTRAINT {}").format(spec.table.sql(),
                                                                                 sql.Identifier(name)))
    if error is not None:
        return ObjectReport.of(obj, "not_valid", f"added NOT VALID; VALIDATE failed: {error.message}", violations=0)
    return ObjectReport.of(obj, "applied", violations=0)
