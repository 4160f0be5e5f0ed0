"""The object-by-object SQL files (pre_data.sql, post_data.sql, views.sql, compat.sql): plain SQL runnable with
psql, where each object's block starts with a marker line carrying its identity as one line of JSON:

    -- r2a:object {"depends_on": ["s.other"], "kind": "table", "name": "s.t", "target_name": "s.t"}
    CREATE TABLE ...;

rewrite_ddl writes them; validate_restore and load_schema apply them block by block and report per object.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field

from shared.errors import BadInputError

MARKER = "-- r2a:object "


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


def render(objects: Iterable[SqlObject]) -> str:
    """Deterministic text: sorted JSON keys, one blank line between blocks, a final newline."""
    blocks = []
    for obj in objects:
        header = json.dumps(obj.header(), sort_keys=True, ensure_ascii=False, separators=(", ", ": "))
        blocks.append(f"{MARKER}{header}\n{obj.sql.strip()}\n")
    return "\n".join(blocks)


def parse(text: str, source: str = "SQL file") -> list[SqlObject]:
    """Blocks in file order; text before the first marker (comments, SET lines) is ignored."""
    objects: list[SqlObject] = []
    header: dict | None = None
    body: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.startswith(MARKER):
            if header is not None:
                objects.append(_block(header, body))
            header, body = _header(line[len(MARKER):], source, number), []
        elif header is not None:
            body.append(line)
    if header is not None:
        objects.append(_block(header, body))
    return objects


def _header(raw: str, source: str, number: int) -> dict:
    try:
        header = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise BadInputError(f"{source} line {number}: the r2a:object marker is not valid JSON ({exc.msg})") from None
    if not isinstance(header, dict) or not isinstance(header.get("kind"), str) \
            or not isinstance(header.get("name"), str):
        raise BadInputError(f"{source} line {number}: the r2a:object marker needs string keys kind and name")
    return header


def _block(header: dict, body: list[str]) -> SqlObject:
    known = {"kind", "name", "target_name", "depends_on"}
    extra = tuple((k, v) for k, v in header.items() if k not in known)
    return SqlObject(kind=header["kind"], name=header["name"], sql="\n".join(body).strip(),
                     target_name=header.get("target_name"), depends_on=tuple(header.get("depends_on") or ()),
                     extra=extra)
