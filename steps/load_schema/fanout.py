"""The fan-out list Argo loops over: big tables alone, the many small ones in batches.

Rules (STEP_CONTRACTS.md): tables of 1 GB or more, and the 200 largest, each get their own item ("s.t");
the rest go into batches ("batch-0007", listed in batches/batch-0007.json) so the list never exceeds 1,000
items (with more than 1,000 tables at most 500 stand alone, so the batches share the rest evenly), and its
JSON stays under Argo's 128 KB parameter limit (long quoted names can push it: then fewer tables stand alone). Batches are balanced by size plus a per-table overhead, the largest table first into
the lightest batch, so no batch is much slower than another; a batch holds at least a few tables, because a
pod per tiny table costs more than the table.

`with_loaders` then gives each table standing alone of at least `--big-table-mb` its K-1 further loader items
("loader-2-of-K:s.t", shared/loader_items.py) right after its own.
"""

from __future__ import annotations

import heapq
import json
import math
from dataclasses import dataclass
from typing import Any

from shared.loader_items import loader_item

ALONE_MIN_MB = 1024
ALONE_LARGEST = 200
MAX_ITEMS = 1000
MAX_LIST_BYTES = 120 * 1024  # below Argo's 128 KB, with room for the surrounding output
MIN_TABLES_PER_BATCH = 5
TABLE_OVERHEAD_MB = 8  # UNLOAD/COPY set-up of one table, expressed as data it could have moved meanwhile


@dataclass
class FanoutPlan:
    items: list[str]
    batches: dict[str, list[str]]  # batch id -> table names, in insertion order (largest first)

    def to_json(self) -> str:
        return json.dumps(self.items, separators=(",", ":"), ensure_ascii=False)


def batch_id(number: int) -> str:
    return f"batch-{number:04d}"


def _batches(tables: list[dict[str, Any]], count: int) -> list[list[str]]:
    heap = [(0.0, number, []) for number in range(count)]
    for table in tables:  # largest first into the lightest batch (ties: lowest number): deterministic
        load, number, members = heapq.heappop(heap)
        members.append(table["table"])
        heapq.heappush(heap, (load + table["size_mb"] + TABLE_OVERHEAD_MB, number, members))
    return [members for _, _, members in sorted(heap, key=lambda entry: entry[1]) if members]


def plan_fanout(tables: list[dict[str, Any]]) -> FanoutPlan:
    """`tables` largest first (tables.json order)."""
    alone = sum(1 for i, t in enumerate(tables) if i < ALONE_LARGEST or t["size_mb"] >= ALONE_MIN_MB)
    while True:
        if len(tables) > MAX_ITEMS:  # more big tables than items: half the items are batches sharing them
            alone = min(alone, MAX_ITEMS // 2)
        rest = tables[alone:]
        slots = MAX_ITEMS - alone
        count = min(slots, math.ceil(len(rest) / MIN_TABLES_PER_BATCH)) if rest else 0
        groups = _batches(rest, count) if count else []
        batches = {batch_id(n): members for n, members in enumerate(groups, start=1)}
        plan = FanoutPlan([t["table"] for t in tables[:alone]] + list(batches), batches)
        if len(plan.to_json().encode()) < MAX_LIST_BYTES or alone == 0:
            return plan
        alone //= 2


def with_loaders(plan: FanoutPlan, tables: list[dict[str, Any]], big_table_mb: float, loaders: int) -> FanoutPlan:
    """Each table standing alone with at least `big_table_mb` gets `loaders` - 1 more items right after its own
    (shared/loader_items.py: they only load its parts), largest first while the list stays within MAX_ITEMS and
    MAX_LIST_BYTES. `tables` largest first, as for plan_fanout."""
    if loaders < 2:
        return plan
    alone = set(plan.items) - set(plan.batches)
    extra = {t["table"]: [loader_item(t["table"], n, loaders) for n in range(2, loaders + 1)]
             for t in tables if t["table"] in alone and t["size_mb"] >= big_table_mb}
    items = list(plan.items)
    for table, more in extra.items():  # tables.json order: largest first
        candidate = _after(items, table, more)
        if len(candidate) > MAX_ITEMS or len(FanoutPlan(candidate, plan.batches).to_json().encode()) >= MAX_LIST_BYTES:
            break
        items = candidate
    return FanoutPlan(items, plan.batches)


def _after(items: list[str], table: str, more: list[str]) -> list[str]:
    at = items.index(table) + 1
    return items[:at] + more + items[at:]
