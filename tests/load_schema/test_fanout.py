"""Fan-out plans for big catalogs: limits on items and bytes, big tables alone, every table exactly once."""

import json
import random

from shared.identifiers import parse_table_ref
from shared.loader_items import ITEM_PREFIX, loader_item, parse_loader_item
from steps.load_schema.fanout import ALONE_LARGEST, MAX_ITEMS, plan_fanout, with_loaders
from steps.load_schema.tables import largest_first


def synthetic(count: int, name=lambda i: f"s{i % 7}.t{i:05d}", seed: int = 7) -> list[dict]:
    rng = random.Random(seed)
    tables = []
    for i in range(count):
        size = rng.choice([0, 0.1, 1, 3, 20, 150, 900]) if i % 50 else rng.choice([1024, 5000, 80000])
        tables.append({"table": name(i), "size_mb": size, "estimated_rows": int(size * 1000)})
    return largest_first(tables)


def members(plan) -> list[str]:
    alone = [item for item in plan.items if not item.startswith("batch-")]
    return alone + [table for batch in plan.batches.values() for table in batch]


def test_five_thousand_tables():
    tables = synthetic(5000)
    plan = plan_fanout(tables)
    assert len(plan.items) <= MAX_ITEMS
    assert len(plan.to_json().encode()) < 128 * 1024
    assert sorted(members(plan)) == sorted(t["table"] for t in tables)  # each exactly once
    gigabyte = [t["table"] for t in tables if t["size_mb"] >= 1024]
    assert len(gigabyte) == 100 and set(gigabyte) <= set(plan.items)
    assert plan.items[:ALONE_LARGEST] == [t["table"] for t in tables[:ALONE_LARGEST]]  # largest first
    batch_ids = [item for item in plan.items if item.startswith("batch-")]
    assert batch_ids == sorted(plan.batches) and batch_ids[0] == "batch-0001"
    sizes = {t["table"]: t["size_mb"] for t in tables}
    loads = [sum(sizes[m] + 8 for m in batch) for batch in plan.batches.values()]
    assert max(loads) - min(loads) <= max(sizes[m] for b in plan.batches.values() for m in b) + 8  # balanced
    assert json.loads(plan.to_json()) == plan.items


def test_thousands_of_big_tables_still_fit_the_item_limit():
    tables = largest_first([{"table": f"s.big{i:05d}", "size_mb": 2048 + i, "estimated_rows": 1} for i in range(3000)])
    plan = plan_fanout(tables)
    assert len(plan.items) == MAX_ITEMS and len(plan.batches) == MAX_ITEMS // 2
    assert len(members(plan)) == 3000 and plan.items[0] == "s.big02999"
    assert {len(batch) for batch in plan.batches.values()} == {5}  # 2,500 big tables shared evenly


def test_long_quoted_names_shrink_the_alone_part_to_stay_under_128_kb():
    long_name = lambda i: '"' + ("Ü\\\"x" * 60) + f'{i}"."' + ("Table \\\"" * 30) + f'{i}"'  # noqa: E731
    tables = synthetic(5000, name=long_name)
    plan = plan_fanout(tables)
    assert len(plan.to_json().encode()) < 128 * 1024
    assert len([i for i in plan.items if not i.startswith("batch-")]) < ALONE_LARGEST
    assert sorted(members(plan)) == sorted(t["table"] for t in tables)


def test_few_tables_all_alone_and_none_at_all():
    tables = synthetic(12)
    plan = plan_fanout(tables)
    assert plan.items == [t["table"] for t in tables] and plan.batches == {}
    empty = plan_fanout([])
    assert empty.items == [] and empty.to_json() == "[]"


def test_small_rest_gets_batches_of_at_least_five():
    tables = synthetic(230)
    plan = plan_fanout(tables)
    assert len(plan.items) == 200 + 6  # 30 small tables in ceil(30 / 5) batches
    assert sorted(len(b) for b in plan.batches.values()) == [5] * 6


def test_big_tables_get_more_loader_items_right_after_their_own():
    tables = synthetic(3000)
    plan = plan_fanout(tables)
    big = [t["table"] for t in tables if t["size_mb"] >= 5000]
    assert big  # the sample has 5 GB and 80 GB tables
    split = with_loaders(plan, tables, 5000, 3)
    assert [item for item in split.items if not item.startswith(ITEM_PREFIX)] == plan.items
    for table in big:
        at = split.items.index(table)
        assert split.items[at + 1:at + 3] == [loader_item(table, 2, 3), loader_item(table, 3, 3)]
        assert parse_loader_item(split.items[at + 2]).table == parse_table_ref(table)
    assert len(split.items) == len(plan.items) + 2 * len(big)
    assert with_loaders(plan, tables, 5000, 1) == plan


def test_loader_items_stop_at_the_item_limit():
    tables = synthetic(1200)
    plan = plan_fanout(tables)
    split = with_loaders(plan, tables, 0, 16)
    assert len(plan.items) + 15 * (len(plan.items) - len(plan.batches)) > MAX_ITEMS  # they cannot all get 15 more
    assert len(plan.items) < len(split.items) <= MAX_ITEMS
    assert len(split.to_json().encode()) < 128 * 1024
