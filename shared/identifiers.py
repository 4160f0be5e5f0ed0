"""Identifiers: PostgreSQL's 63-byte limit, table references as strings, quoting.

Redshift allows 127-byte names; PostgreSQL keeps 63. A longer name becomes its longest UTF-8-safe prefix plus
`_` and 8 hex digits of its SHA-256, so the result is deterministic and two names that share a prefix differ.
`NameAllocator` also guarantees uniqueness inside one namespace (a schema's tables, a table's columns) even
against a name that already looks like a shortened one.

A table reference travels between steps and through Argo as one string `schema.table`; a part that holds a
dot, a double quote, white space or upper case is written quoted the SQL way (`"My.Schema"."t"`), so every
pair of names has exactly one spelling and it parses back.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from psycopg2 import sql

from shared.errors import BadInputError

PG_MAX_IDENTIFIER_BYTES = 63
_HASH_HEX = 8
_PLAIN_PART = re.compile(r"^[a-z_][a-z0-9_$]*$")


def _truncate_utf8(name: str, max_bytes: int) -> str:
    encoded = name.encode("utf-8")[:max_bytes]
    return encoded.decode("utf-8", errors="ignore")


def short_name(name: str, salt: int = 0) -> str:
    """`name` if it fits in 63 bytes, else a deterministic 63-byte-or-shorter name ending in a hash."""
    if len(name.encode("utf-8")) <= PG_MAX_IDENTIFIER_BYTES and salt == 0:
        return name
    digest = hashlib.sha256(f"{name}\x00{salt}".encode() if salt else name.encode("utf-8")).hexdigest()
    keep = PG_MAX_IDENTIFIER_BYTES - _HASH_HEX - 1
    return f"{_truncate_utf8(name, keep)}_{digest[:_HASH_HEX]}"


class NameAllocator:
    """Assigns PostgreSQL names inside one namespace, never twice the same (re-salting the hash on a clash)."""

    def __init__(self) -> None:
        self._by_source: dict[str, str] = {}
        self._taken: set[str] = set()

    def assign(self, source_name: str) -> str:
        if source_name in self._by_source:
            return self._by_source[source_name]
        salt = 0
        candidate = short_name(source_name)
        while candidate in self._taken:
            salt += 1
            candidate = short_name(source_name, salt)
        self._by_source[source_name] = candidate
        self._taken.add(candidate)
        return candidate

    def mapping(self) -> dict[str, str]:
        return dict(self._by_source)


def quote_ident(name: str) -> str:
    """Always double-quoted, for SQL text written without a connection (reserved words, upper case, dots stay
    names; Redshift reads a quoted name the same way)."""
    return '"' + name.replace('"', '""') + '"'


def canonical_part(part: str) -> str:
    """One part of a canonical object name: bare when plain lower case, otherwise quoted the SQL way."""
    return part if _PLAIN_PART.match(part) else quote_ident(part)


def canonical_name(*parts: str) -> str:
    """`schema`, `schema.table`, `schema.table.constraint`: the one spelling every step and report uses."""
    return ".".join(canonical_part(p) for p in parts)


def read_quoted(text: str, start: int) -> tuple[str, int]:
    """The name of the double-quoted identifier opening at `text[start]` ("" is a quote inside it), and the
    index just past its closing quote."""
    i, n, buf = start + 1, len(text), []
    while i < n:
        if text[i] == '"':
            if text[i + 1:i + 2] == '"':
                buf.append('"')
                i += 2
                continue
            return "".join(buf), i + 1
        buf.append(text[i])
        i += 1
    raise BadInputError(f"{text!r} has an unterminated quote")


@dataclass(frozen=True, order=True)
class TableRef:
    schema: str
    table: str

    def __str__(self) -> str:
        return canonical_name(self.schema, self.table)

    def sql(self) -> sql.Composable:
        return sql.Identifier(self.schema, self.table)

    def file_stem(self) -> str:
        """A name safe as one object-store path segment, unique per (schema, table)."""
        return f"{_escape_segment(self.schema)}.{_escape_segment(self.table)}"


def _escape_segment(part: str) -> str:
    out = []
    for ch in part:
        if ch.isalnum() or ch in "_-":
            out.append(ch)
        else:
            out.append("".join(f"%{b:02X}" for b in ch.encode("utf-8")))
    return "".join(out)


def name_parts(text: str) -> list[str]:
    """The parts of a dotted name such as `schema.table`, where any part may be double-quoted with "" for a quote
    inside (a dot inside quotes belongs to the part)."""
    parts: list[str] = []
    i, n = 0, len(text)
    while i <= n:
        if i < n and text[i] == '"':
            try:
                name, i = read_quoted(text, i)
            except BadInputError:
                raise BadInputError(f"name {text!r} has an unterminated quote") from None
            parts.append(name)
        else:
            j = text.find(".", i)
            j = n if j == -1 else j
            parts.append(text[i:j])
            i = j
        if i == n:
            break
        if text[i] != ".":
            raise BadInputError(f"name {text!r} has text after a quoted part")
        i += 1
    return parts


def one_part(text: str) -> str:
    """The name a one-part canonical name spells: `sales` is sales, `"Sales.EU"` is Sales.EU."""
    parts = name_parts(text)
    if len(parts) != 1:
        raise BadInputError(f"name {text!r} is not a single name")
    return parts[0]


def parse_table_ref(text: str) -> TableRef:
    """Parse `schema.table`, where either part may be double-quoted with "" for a quote inside."""
    try:
        parts = name_parts(text)
    except BadInputError as exc:
        if "unterminated" in str(exc):
            raise BadInputError(f"table reference {text!r} has an unterminated quote") from None
        parts = []
    if len(parts) != 2 or not all(parts):
        raise BadInputError(f"table reference {text!r} is not of the form schema.table")
    return TableRef(parts[0], parts[1])
