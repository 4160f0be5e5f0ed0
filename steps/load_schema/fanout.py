"""The fan-out list Argo loops over: big tables alone, the many small ones in batches.

The rule: a table gets a table-transfer pod of its own ("s.t") only when its own transfer dominates a pod's start;
every other table goes into a batch ("batch-0007", listed in batches/batch-0007.json), moved one after another by
one pod. A pod costs about 1 CPU second before its first table moves (interpreter, imports of the client
libraries, first connections; fanout_bench's "run-local pods, single table" row: 1.04 s), plus Argo's pod start on
a real cluster (scheduling, container start: seconds of wall, not measured here); a table inside a batch costs
0.06 CPU s of r2a's own work (fanout_bench, "in pod, in a batch"). Transfers run at about 64 MB of unloaded text
per second end to end (transfer_bench). So:
- a table of at least `own_pod_min_mb` (svv_table_info size, default OWN_POD_MIN_MB = 256) stands alone: at
  64 MB/s that is at least 4 s of transfer, and svv_table_info counts compressed 1 MB blocks, so its text is
  usually several times that; below it, a pod's start is a large share of the table's time;
- the rest go into batches holding about `own_pod_min_mb` of work each (size plus TABLE_OVERHEAD_MB per table),
  so a batch pod's start is amortised like a lone table's; but at least `concurrency` batches (the run's
  concurrent table-transfer pods) when there are MIN_TABLES_PER_BATCH tables for each, so small databases still
  use every transfer slot. Batches are balanced by size plus the per-table overhead, the largest table first into
  the lightest batch, so no batch is much slower than another.
Bounds: the list never exceeds MAX_ITEMS (1,000) items (with more than 1,000 tables at most 500 stand alone, and
the batches share the rest evenly), and its JSON stays under Argo's 128 KB parameter limit (long quoted names can
push it: then fewer tables stand alone).

`with_loaders` then gives each table standing alone of at least `--big-table-mb` its K-1 further loader items
("loader-2-of-K:s.t", shared/loader_items.py) right after its own.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass
from typing import Any

from shared.loader_items import MAX_ITEMS, MAX_LIST_BYTES, list_json, with_loader_items

OWN_POD_MIN_MB = 256
CONCURRENCY = 8  # workflows/definitions.py TRANSFER_PARALLELISM: the rendered workflow passes it
MIN_TABLES_PER_BATCH = 5
TABLE_OVERHEAD_MB = 8  # UNLOAD/COPY set-up of one table, expressed as data it could have moved meanwhile


@dataclass
class FanoutPlan:
    items: list[str]
    batches: dict[str, list[str]]  # batch id -> table names, in insertion order (largest first)

    def to_json(self) -> str:
        return list_json(self.items)


def batch_id(number: int) -> str:
    return f"batch-{number:04d}"


def _load(table: dict[str, Any]) -> float:
    return table["size_mb"] + TABLE_OVERHEAD_MB


def _batches(tables: list[dict[str, Any]], count: int) -> list[list[str]]:
    heap = [(0.0, number, []) for number in range(count)]
    for table in tables:  # largest first into the lightest batch (ties: lowest number): deterministic
        load, number, members = heapq.heappop(heap)
        members.append(table["table"])
        heapq.heappush(heap, (load + _load(table), number, members))
    return [members for _, _, members in sorted(heap, key=lambda entry: entry[1]) if members]


def batch_count(rest: list[dict[str, Any]], slots: int, own_pod_min_mb: float, concurrency: int) -> int:
    """Batches for the tables that do not stand alone: about own_pod_min_mb of work each, at least one per
    concurrent transfer while each gets MIN_TABLES_PER_BATCH tables, at most the free item slots."""
    if not rest:
        return 0
    by_work = math.ceil(sum(_load(t) for t in rest) / max(own_pod_min_mb, TABLE_OVERHEAD_MB))
    filling = min(concurrency, math.ceil(len(rest) / MIN_TABLES_PER_BATCH))
    return max(1, min(slots, len(rest), max(by_work, filling)))


def plan_fanout(tables: list[dict[str, Any]], own_pod_min_mb: float = OWN_POD_MIN_MB,
                concurrency: int = CONCURRENCY) -> FanoutPlan:
    """`tables` largest first (tables.json order)."""
    alone = sum(1 for t in tables if t["size_mb"] >= own_pod_min_mb)
    if len(tables) > MAX_ITEMS:  # more big tables than items: half the items are batches sharing them
        alone = min(alone, MAX_ITEMS // 2)
    while True:
        rest = tables[alone:]
        count = batch_count(rest, MAX_ITEMS - alone, own_pod_min_mb, concurrency)
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
    alone = set(plan.items) - set(plan.batches)
    sizes = [(t["table"], t["size_mb"]) for t in tables if t["table"] in alone]
    return FanoutPlan(with_loader_items(plan.items, sizes, big_table_mb, loaders), plan.batches)
