"""Fan-out items: a table's own item (its canonical name), a big table's further loader `loader-N-of-K:schema.table`
(N = 2..K), and the list Argo fans out over (list_json).

A name holding `{{` or `}}` goes into an item as `b64:` and its UTF-8 in URL-safe base64 (item_name): Argo
substitutes a template's text in more than one pass and reads a tag inside a value an earlier pass put there
(https://github.com/argoproj/argo-workflows/issues/1765; no escape exists, issue 2430), so a table named
`x{{workflow.name}}` would become another name or fail its node. No canonical name starts with `b64:` (a `:` is
always quoted).

load_schema's fan-out (steps/load_schema/fanout.py) gives a table of at least `--big-table-mb` its own item
("schema.table", loader 1: UNLOAD, copy, load, verify, switch) and K-1 such items that only load its parts
(steps/table_transfer/loaders.py); the workflow passes them to table_transfer as `--loader`. A table name with a
`-` or `:` is always quoted in an item (shared/identifiers.canonical_name), so no "schema.table" item starts with
`loader-`.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from shared.errors import BadInputError
from shared.identifiers import TableRef, parse_table_ref

ITEM_PREFIX = "loader-"
MAX_LOADERS = 16
BIG_TABLE_MB = 100 * 1024  # at 100 GB a table's COPY alone takes hours on one pod: worth more pods than its own
LOADERS_PER_BIG_TABLE = 2
# Argo's fan-out list (withParam from a step's output): at most this many items, below Argo's 128 KB output limit
# with room for the surrounding output.
MAX_ITEMS = 1000
MAX_LIST_BYTES = 120 * 1024
_ITEM = re.compile(r"loader-(\d{1,2})-of-(\d{1,2}):(.+)", re.DOTALL)


@dataclass(frozen=True)
class LoaderItem:
    table: TableRef
    number: int  # 2..count: loader 1 is the table's own item
    count: int


ENCODED_NAME_PREFIX = "b64:"


def item_name(table: str) -> str:
    """`table` (canonical) as it goes into a fan-out item: itself, or `b64:…` when Argo would read a tag in it."""
    if "{{" not in table and "}}" not in table:
        return table
    return ENCODED_NAME_PREFIX + base64.urlsafe_b64encode(table.encode()).decode()


def name_of_item(text: str) -> str:
    """The canonical table name an item's `item_name` stands for (text that is not `b64:…` stands for itself)."""
    if not text.startswith(ENCODED_NAME_PREFIX):
        return text
    try:
        return base64.b64decode(text[len(ENCODED_NAME_PREFIX):].encode("ascii"), altchars=b"-_", validate=True).decode()
    except (binascii.Error, ValueError):
        raise BadInputError(f"{text[:80]!r} is not a table name in base64 after {ENCODED_NAME_PREFIX}") from None


def loader_item(table: str, number: int, count: int) -> str:
    """The fan-out item of the table's loader `number` of `count` (2..count)."""
    return f"{ITEM_PREFIX}{number}-of-{count}:{item_name(table)}"


def parse_loader_item(text: str) -> LoaderItem:
    match = _ITEM.fullmatch(text)
    if match is None:
        raise BadInputError(f"--loader {text[:80]!r} is not like loader-2-of-4:schema.table")
    number, count = int(match.group(1)), int(match.group(2))
    if not 2 <= number <= count <= MAX_LOADERS:
        raise BadInputError(f"--loader {text[:80]!r}: the loader number must be 2..K and K at most {MAX_LOADERS}")
    return LoaderItem(parse_table_ref(name_of_item(match.group(3))), number, count)


def list_json(items: list[str]) -> str:
    """A fan-out list as the step prints it for withParam: each table's own item through item_name (loader items
    and batch ids have it already, or need none)."""
    shown = [item if item.startswith(ITEM_PREFIX) else item_name(item) for item in items]
    return json.dumps(shown, separators=(",", ":"), ensure_ascii=False)


def fits_fanout_list(items: list[str]) -> bool:
    return len(items) <= MAX_ITEMS and len(list_json(items).encode()) < MAX_LIST_BYTES


def with_loader_items(items: list[str], sizes: Iterable[tuple[str, float]], big_table_mb: float, loaders: int,
                      fits: Callable[[list[str]], bool] = fits_fanout_list) -> list[str]:
    """`items` with `loaders` - 1 further loader items right after the own item of each table of at least
    `big_table_mb` MB, taken in the order of `sizes` ((table, MB), largest first) while `fits(items)` holds. A table
    that is not an item of its own (moved in a batch) gets none."""
    if loaders < 2:
        return items
    present = set(items)
    for table, size_mb in sizes:
        if table not in present or size_mb < big_table_mb:
            continue
        at = items.index(table) + 1
        candidate = items[:at] + [loader_item(table, n, loaders) for n in range(2, loaders + 1)] + items[at:]
        if not fits(candidate):
            break
        items = candidate
    return items
