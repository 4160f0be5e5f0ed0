"""The fan-out item of a big table's further loader: `loader-N-of-K:schema.table` (N = 2..K).

load_schema's fan-out (steps/load_schema/fanout.py) gives a table of at least `--big-table-mb` its own item
("schema.table", loader 1: UNLOAD, copy, load, verify, switch) and K-1 such items that only load its parts
(steps/table_transfer/loaders.py); the workflow passes them to table_transfer as `--loader`. A table name with a
`-` or `:` is always quoted in an item (shared/identifiers.canonical_name), so no "schema.table" item starts with
`loader-`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from shared.errors import BadInputError
from shared.identifiers import TableRef, parse_table_ref

ITEM_PREFIX = "loader-"
MAX_LOADERS = 16
BIG_TABLE_MB = 100 * 1024  # at 100 GB a table's COPY alone takes hours on one pod: worth more pods than its own
LOADERS_PER_BIG_TABLE = 2
_ITEM = re.compile(r"loader-(\d{1,2})-of-(\d{1,2}):(.+)", re.DOTALL)


@dataclass(frozen=True)
class LoaderItem:
    table: TableRef
    number: int  # 2..count: loader 1 is the table's own item
    count: int


def loader_item(table: str, number: int, count: int) -> str:
    """The fan-out item of the table's loader `number` of `count` (2..count)."""
    return f"{ITEM_PREFIX}{number}-of-{count}:{table}"


def parse_loader_item(text: str) -> LoaderItem:
    match = _ITEM.fullmatch(text)
    if match is None:
        raise BadInputError(f"--loader {text[:80]!r} is not like loader-2-of-4:schema.table")
    number, count = int(match.group(1)), int(match.group(2))
    if not 2 <= number <= count <= MAX_LOADERS:
        raise BadInputError(f"--loader {text[:80]!r}: the loader number must be 2..K and K at most {MAX_LOADERS}")
    return LoaderItem(parse_table_ref(match.group(3)), number, count)
