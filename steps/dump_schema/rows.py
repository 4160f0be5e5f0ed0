"""One named row type per catalog query of queries.py, its fields in the order of the query's select list: the only
place a column's position matters. The reader names every row it fetches; assemble reads fields by name."""

from __future__ import annotations

from typing import Any, NamedTuple


class SchemaRow(NamedTuple):  # queries.SCHEMAS
    oid: int
    name: str
    owner: str | None
    comment: str | None
    acl: Any


class RelationRow(NamedTuple):  # queries.RELATIONS
    oid: int
    schema: str
    name: str
    relkind: str  # r: table, v: view
    owner: str | None
    diststyle: Any
    comment: str | None
    acl: Any


class ColumnRow(NamedTuple):  # queries.COLUMNS
    relation_oid: int
    position: int
    name: str
    type: str
    not_null: bool
    default: str | None
    comment: str | None


class TableDefRow(NamedTuple):  # queries.TABLE_DEF
    schema: str
    table: str
    column: str
    encoding: str | None
    distkey: bool
    sortkey: int | None


class TableInfoRow(NamedTuple):  # queries.TABLE_INFO (svv_table_info)
    schema: str
    table: str
    diststyle: str | None
    size_mb: float | None
    rows: int | None
    estimated_visible_rows: int | None


class ConstraintRow(NamedTuple):  # queries.CONSTRAINTS
    relation_oid: int
    name: str
    contype: str  # p, u or f
    referenced_schema: str | None
    referenced_table: str | None
    definition: str


class FunctionRow(NamedTuple):  # queries.FUNCTIONS
    oid: int
    schema: str
    name: str
    language: str
    return_type: int
    argument_types: Any  # oidvector
    volatility: str
    source: str | None
    owner: str | None
    comment: str | None
    argument_names: Any  # text[]


class ViewTextRow(NamedTuple):  # queries.VIEWS
    schema: str
    name: str
    definition: str | None


class TypeRow(NamedTuple):  # queries.TYPES
    oid: int
    name: str


class UserRow(NamedTuple):  # queries.USERS
    oid: int
    name: str
    superuser: bool
    create_database: bool


class GroupRow(NamedTuple):  # queries.GROUPS
    name: str
    members: Any  # grolist: user oids


def named(row_type: type[NamedTuple], rows: list[tuple]) -> list[Any]:
    """`rows` as `row_type`; a row of the wrong width is a changed query, said at once."""
    width = len(row_type._fields)
    for row in rows:
        if len(row) != width:
            raise ValueError(f"{row_type.__name__} has {width} fields, a row has {len(row)}: {row!r:.200}")
    return [row if isinstance(row, row_type) else row_type._make(row) for row in rows]
