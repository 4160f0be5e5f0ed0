"""Create the edge-case schema (devstack/sample/expected.py) in the emulator, as Redshift DDL and INSERTs."""

from __future__ import annotations

import json
from datetime import time, timedelta

from psycopg2 import sql

from devstack.sample.expected import EDGE_OBJECTS, EDGE_TABLES, SCHEMA, EdgeTable


def create_table_statement(table: EdgeTable) -> sql.Composed:
    parts = [sql.SQL("{} {}{}").format(sql.Identifier(column.name), sql.SQL(column.redshift_type),
                                       sql.SQL(f" {column.attributes}" if column.attributes else ""))
             for column in table.columns]
    parts += [sql.SQL(constraint) for constraint in table.constraints]
    suffix = sql.SQL(f" {table.table_attributes}" if table.table_attributes else "")
    return sql.SQL("create table {}.{} ({}){}").format(
        sql.Identifier(SCHEMA), sql.Identifier(table.name), sql.SQL(", ").join(parts), suffix)


def _value_expression(redshift_type: str, value) -> tuple[sql.Composable, list]:
    """How one Python value is written as a Redshift expression (placeholder SQL and its parameters)."""
    kind = redshift_type.split("(")[0].strip().lower()
    if value is None:
        return sql.SQL("null"), []
    if kind == "super":
        return sql.SQL("json_parse(%s)"), [json.dumps(value, ensure_ascii=False)]
    if kind == "varbyte":
        return sql.SQL("from_hex(%s)"), [value.hex()]
    if kind in ("real", "double precision"):
        cast = "real" if kind == "real" else "float8"
        return sql.SQL(f"%s::{cast}"), [repr(value)]
    if kind == "timetz":
        return sql.SQL("%s::timetz"), [value.isoformat()]
    if kind == "time" and isinstance(value, time):
        return sql.SQL("%s::time"), [value.isoformat()]
    if kind == "interval" and isinstance(value, timedelta):
        return sql.SQL("%s::interval"), [
            f"{value.days} days {value.seconds} seconds {value.microseconds} microseconds"]
    return sql.SQL("%s"), [value]


def insert_statement(table: EdgeTable) -> tuple[sql.Composed, list] | None:
    if not table.rows:
        return None
    names = table.insert_columns or table.column_names
    types = {column.name: column.redshift_type for column in table.columns}
    offset = 0 if table.insert_columns is None else len(table.column_names) - len(names)
    row_sql: list[sql.Composable] = []
    params: list = []
    for row in table.rows:
        values = row[offset:]
        cells = []
        for name, value in zip(names, values, strict=True):
            expression, args = _value_expression(types[name], value)
            cells.append(expression)
            params.extend(args)
        row_sql.append(sql.SQL("({})").format(sql.SQL(", ").join(cells)))
    statement = sql.SQL("insert into {}.{} ({}) values {}").format(
        sql.Identifier(SCHEMA), sql.Identifier(table.name),
        sql.SQL(", ").join(sql.Identifier(name) for name in names), sql.SQL(", ").join(row_sql))
    return statement, params


def create(cursor) -> dict[str, int]:
    """Create every edge table with its rows, then the other objects; returns rows per table."""
    cursor.execute(sql.SQL("create schema {}").format(sql.Identifier(SCHEMA)))
    rows: dict[str, int] = {}
    for table in EDGE_TABLES:
        if table.case_sensitive:
            cursor.execute("set enable_case_sensitive_identifier to true")
        cursor.execute(create_table_statement(table))
        insert = insert_statement(table)
        if insert is not None:
            cursor.execute(*insert)
        if table.case_sensitive:
            cursor.execute("reset enable_case_sensitive_identifier")
        rows[table.name] = len(table.rows)
    for edge_object in EDGE_OBJECTS:
        cursor.execute(edge_object.ddl)
    return rows


def drop(cursor) -> None:
    """Remove what an earlier load made (schema, groups, users), so a second load starts clean."""
    cursor.execute(sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(SCHEMA)))
    groups = {o.name for o in EDGE_OBJECTS if o.kind == "group"}
    users = {o.name for o in EDGE_OBJECTS if o.kind == "user"}
    cursor.execute("select groname from pg_group")
    for group in sorted(groups & {name for (name,) in cursor.fetchall()}):
        cursor.execute(sql.SQL("drop group {}").format(sql.Identifier(group)))
    cursor.execute("select usename from pg_user")
    for user in sorted(users & {name for (name,) in cursor.fetchall()}):
        cursor.execute(sql.SQL("drop user {}").format(sql.Identifier(user)))
