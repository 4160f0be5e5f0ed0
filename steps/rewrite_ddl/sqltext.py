"""Quoting for generated SQL text. rewrite_ddl writes files without a database connection, so it cannot use
psycopg2.sql's `as_string(conn)`; `ident` (shared.identifiers.quote_ident), `literal` and `dollar_quoted`
(shared.sqltext) are the only places names, values and bodies enter SQL text."""

from __future__ import annotations

from shared.identifiers import TableRef
from shared.identifiers import quote_ident as ident
from shared.sqltext import dollar_quoted
from shared.sqltext import pg_literal as literal

__all__ = ["dollar_quoted", "ident", "literal", "qualified"]


def qualified(ref: TableRef) -> str:
    return f"{ident(ref.schema)}.{ident(ref.table)}"
