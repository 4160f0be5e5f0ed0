"""Quoting for the backup file, written without a live cursor (the text outlives the connection)."""

from __future__ import annotations

from shared.identifiers import quote_ident as ident


def qualified(schema: str, name: str) -> str:
    return f"{ident(schema)}.{ident(name)}"


def literal(value: str) -> str:
    """Redshift reads backslashes in literals as escapes: double them, as well as quotes."""
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"
