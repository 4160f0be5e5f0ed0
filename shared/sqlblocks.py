"""The object-by-object SQL files (pre_data.sql, post_data.sql, views.sql, compat.sql): plain SQL runnable with
psql, where each object's block starts with a marker line carrying its identity as one line of ASCII JSON:

    -- r2a:object {"depends_on": ["s.other"], "kind": "table", "lines": 3, "name": "s.t", "sha256": "…", …}
    CREATE TABLE ...;

The marker says how many `\\n`-separated lines the body has and the SHA-256 of the body, and parse() reads
exactly that many lines and checks the hash. Text from Redshift (a comment, a string literal, a PL/pgSQL body)
sits inside a body, so a line in it that looks like a marker is never read as one: it cannot start, end or
split an object. Between blocks only blank lines may appear, and before the first block only blank lines and
`--` comments. Lines are split on `\\n` alone, never with str.splitlines(), which would also split (and so
change) \\x0b, \\x0c, \\x1c-\\x1e, \\x85, U+2028 and U+2029 inside the data.

rewrite_ddl writes them; validate_restore and load_schema apply them block by block and report per object.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field

from shared.errors import BadInputError

MARKER = "-- r2a:object "
FRAMING = ("lines", "sha256")  # marker keys that frame the body; not part of the object


@dataclass(frozen=True)
class SqlObject:
    kind: str
    name: str
    sql: str
    target_name: str | None = None
    depends_on: tuple[str, ...] = field(default_factory=tuple)
    extra: tuple[tuple[str, object], ...] = ()  # further marker keys, kept in order for a byte-identical rewrite

    def header(self) -> dict:
        data = {"kind": self.kind, "name": self.name, "target_name": self.target_name,
                "depends_on": list(self.depends_on)}
        data.update(dict(self.extra))
        return data


def digest(body: str) -> str:
    return hashlib.sha256(body.encode("utf-8", "surrogatepass")).hexdigest()


def render(objects: Iterable[SqlObject]) -> str:
    """Deterministic text: sorted JSON keys, one blank line between blocks, a final newline."""
    blocks = []
    for obj in objects:
        body = obj.sql.strip()
        header = {**obj.header(), "lines": body.count("\n") + 1, "sha256": digest(body)}
        marker = json.dumps(header, sort_keys=True, ensure_ascii=True, separators=(", ", ": "))
        blocks.append(f"{MARKER}{marker}\n{body}\n")
    return "\n".join(blocks)


def parse(text: str, source: str = "SQL file") -> list[SqlObject]:
    """Blocks in file order; blank lines and `--` comments before the first marker are ignored."""
    objects: list[SqlObject] = []
    lines = text.split("\n")
    index = 0
    while index < len(lines):
        line, number = lines[index], index + 1
        if line.startswith(MARKER):
            header = _header(line[len(MARKER):], source, number)
            count = header["lines"]
            body_lines = lines[index + 1:index + 1 + count]
            if len(body_lines) < count:
                raise BadInputError(f"{source} line {number}: the block ends early: its marker announces "
                                    f"{count} lines, the file has {len(body_lines)} more")
            body = "\n".join(body_lines)
            if digest(body) != header["sha256"]:
                raise BadInputError(f"{source} line {number}: the block's SHA-256 does not match its marker "
                                    "(the file was changed after r2a wrote it)")
            objects.append(_block(header, body))
            index += 1 + count
        elif not line.strip() or (not objects and line.startswith("--")):
            index += 1
        else:
            raise BadInputError(f"{source} line {number}: text outside any r2a:object block")
    return objects


def _header(raw: str, source: str, number: int) -> dict:
    try:
        header = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise BadInputError(f"{source} line {number}: the r2a:object marker is not valid JSON ({exc.msg})") from None
    if not isinstance(header, dict) or not isinstance(header.get("kind"), str) \
            or not isinstance(header.get("name"), str):
        raise BadInputError(f"{source} line {number}: the r2a:object marker needs string keys kind and name")
    lines, sha = header.get("lines"), header.get("sha256")
    if type(lines) is not int or lines < 1 or not isinstance(sha, str):
        raise BadInputError(f"{source} line {number}: the r2a:object marker needs the body's line count and "
                            "sha256", "Re-run rewrite_ddl (and validate_restore) for this run")
    return header


def _block(header: dict, body: str) -> SqlObject:
    known = {"kind", "name", "target_name", "depends_on", *FRAMING}
    extra = tuple((k, v) for k, v in header.items() if k not in known)
    return SqlObject(kind=header["kind"], name=header["name"], sql=body, target_name=header.get("target_name"),
                     depends_on=tuple(header.get("depends_on") or ()), extra=extra)
