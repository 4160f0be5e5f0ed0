"""SQL text written without a database connection (rewrite_ddl's files, dump_schema's backup), where psycopg2.sql's
`as_string(conn)` is not available: PostgreSQL string literals, dollar quotes and `--` comment lines that text
from Redshift cannot break out of."""

from __future__ import annotations

import itertools
import unicodedata

# Characters some reader of the file may take as a line break (str.splitlines(), editors, psql's own reading
# of a `--` comment), and other control characters: written as escapes, so the SQL stays one line per line.
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}


def _needs_escape(char: str) -> bool:
    return unicodedata.category(char) in ("Cc", "Zl", "Zp")


def pg_literal(value: str) -> str:
    """A PostgreSQL string literal of `value`: plain ('…', quotes doubled) when it has no control or line-break
    character, else an escape string E'…' with those characters as \\n, \\r, \\t, \\b, \\f or \\uXXXX (the
    server encoding is UTF8, so any code point can be written). E'…' does not depend on
    standard_conforming_strings."""
    if "\x00" in value:
        raise ValueError("a NUL character cannot appear in a PostgreSQL string")
    if not any(_needs_escape(c) for c in value):
        return "'" + value.replace("'", "''") + "'"
    parts = []
    for char in value:
        if char == "\\":
            parts.append("\\\\")
        elif char == "'":
            parts.append("''")
        elif char in _NAMED:
            parts.append(_NAMED[char])
        elif _needs_escape(char):
            parts.append(f"\\u{ord(char):04x}")
        else:
            parts.append(char)
    return "E'" + "".join(parts) + "'"


def dollar_quoted(body: str, tag: str = "r2a") -> str:
    """`$tag$…$tag$` (`$$…$$` for tag "") with the first tag after which the body cannot end the quote early:
    the closing tag's first occurrence in body + closing tag is the closing tag itself. Otherwise `$r2a$` (after
    "") or the tag with a number (`$r2a1$`, …)."""
    base = tag or "r2a"
    candidates = itertools.chain(dict.fromkeys([tag, base]), (f"{base}{n}" for n in itertools.count(1)))
    for candidate in candidates:  # pragma: no branch (a tag the body lacks always comes)
        closing = f"${candidate}$"
        if (body + closing).find(closing) == len(body):
            return f"{closing}{body}{closing}"
    raise AssertionError("unreachable")


def comment_line(text: str) -> str:
    """`text` made safe to follow `--` on one line: each control or line-break character becomes a visible
    escape (\\n, \\u2028, …), so nothing after it can become a statement when the file is replayed."""
    return "".join(_NAMED.get(c, f"\\u{ord(c):04x}") if _needs_escape(c) else c for c in text)
