"""Quoting for generated SQL text. rewrite_ddl writes files without a database connection, so it cannot use
psycopg2.sql's `as_string(conn)`; `ident` (shared.identifiers.quote_ident) and `literal` are the only places names and values enter SQL text."""

from __future__ import annotations

from shared.identifiers import TableRef
from shared.identifiers import quote_ident as ident


def qualified(ref: TableRef) -> str:
    return f"{ident(ref.schema)}.{ident(ref.table)}"


def literal(value: str) -> str:
    """A standard-conforming string literal (backslashes are ordinary characters in PostgreSQL ≥ 9.1)."""
    if "\x00" in value:
        raise ValueError("a NUL character cannot appear in a PostgreSQL string")
    return "'" + value.replace("'", "''") + "'"


def dollar_quoted(body: str, tag: str = "r2a") -> str:
    """`$r2a$…$r2a$` with a tag that does not occur in the body."""
    n = 0
    candidate = tag
    while f"${candidate}$" in body:
        n += 1
        candidate = f"{tag}{n}"
    return f"${candidate}${body}${candidate}$"
