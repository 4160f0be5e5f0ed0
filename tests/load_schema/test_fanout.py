"""Fan-out plans: a pod of its own only for a table whose transfer dominates a pod's start, batches of about that
much work otherwise (but enough to fill the concurrent transfers), limits on items and bytes, every table once."""

import json
import random

import pytest

from shared.errors import BadInputError
from shared.identifiers import parse_table_ref
from shared.loader_items import ITEM_PREFIX, loader_item, name_of_item, parse_loader_item
from steps.load_schema.fanout import (
    CONCURRENCY,
    MAX_ITEMS,
    OWN_POD_MIN_MB,
    TABLE_OVERHEAD_MB,
    plan_fanout,
    with_loaders,
)
from steps.load_schema.tables import largest_first


def synthetic(count: int, name=lambda i: f"s{i % 7}.t{i:05d}", seed: int = 7) -> list[dict]:
    rng = random.Random(seed)
    tables = []
    for i in range(count):
        size = rng.choice([0, 0.1, 1, 3, 20, 150, 900]) if i % 50 else rng.choice([1024, 5000, 80000])
        tables.append({"table": name(i), "size_mb": size, "estimated_rows": int(size * 1000)})
    return largest_first(tables)


def tiny(count: int, size_mb: float = 0.0) -> list[dict]:
    return largest_first([{"table": f"s.t{i:05d}", "size_mb": size_mb, "estimated_rows": 10} for i in range(count)])


def members(plan) -> list[str]:
    alone = [item for item in plan.items if not item.startswith("batch-")]
    return alone + [table for batch in plan.batches.values() for table in batch]


def loads(plan, tables) -> list[float]:
    sizes = {t["table"]: t["size_mb"] for t in tables}
    return [sum(sizes[m] + TABLE_OVERHEAD_MB for m in batch) for batch in plan.batches.values()]


def test_five_thousand_tables():
    tables = synthetic(5000)
    plan = plan_fanout(tables)
    assert len(plan.items) <= MAX_ITEMS
    assert len(plan.to_json().encode()) < 128 * 1024
    assert sorted(members(plan)) == sorted(t["table"] for t in tables)  # each exactly once
    gigabyte = [t["table"] for t in tables if t["size_mb"] >= 1024]
    assert len(gigabyte) == 100 and set(gigabyte) <= set(plan.items)
    alone = [item for item in plan.items if not item.startswith("batch-")]
    assert alone == [t["table"] for t in tables[:len(alone)]]  # largest first
    assert len(alone) == MAX_ITEMS // 2  # ~800 tables reach 256 MB: half the items stand alone, the rest batch
    batch_ids = [item for item in plan.items if item.startswith("batch-")]
    assert batch_ids == sorted(plan.batches) and batch_ids[0] == "batch-0001" and len(batch_ids) == MAX_ITEMS // 2
    sizes = {t["table"]: t["size_mb"] for t in tables}
    batch_loads = loads(plan, tables)
    assert max(batch_loads) - min(batch_loads) <= max(sizes[m] for b in plan.batches.values() for m in b) + 8
    assert json.loads(plan.to_json()) == plan.items


def test_small_tables_never_stand_alone_and_batches_hold_about_a_pods_worth():
    tables = largest_first([{"table": f"s.t{i:04d}", "size_mb": float(i % 200), "estimated_rows": i}
                            for i in range(1000)])  # 0 … 199 MB: none reaches 256 MB
    plan = plan_fanout(tables)
    assert plan.items == sorted(plan.batches)  # no table alone, however many are among the largest
    work = sum(t["size_mb"] + TABLE_OVERHEAD_MB for t in tables)
    assert len(plan.batches) == -(-work // OWN_POD_MIN_MB)  # about 256 MB of work per pod
    assert max(loads(plan, tables)) <= OWN_POD_MIN_MB + 199 + TABLE_OVERHEAD_MB
    assert sorted(members(plan)) == sorted(t["table"] for t in tables)


def test_a_thousand_tiny_tables_make_a_few_batches_not_hundreds_of_pods():
    plan = plan_fanout(tiny(1000))
    assert len(plan.items) == 1000 * TABLE_OVERHEAD_MB // OWN_POD_MIN_MB + 1 == 32  # 8,000 MB of overhead / 256
    assert {len(b) for b in plan.batches.values()} == {31, 32}


def test_a_few_small_tables_still_fill_the_concurrent_transfers():
    plan = plan_fanout(tiny(60))
    assert len(plan.batches) == CONCURRENCY and plan.items == sorted(plan.batches)
    assert {len(b) for b in plan.batches.values()} == {7, 8}
    few = plan_fanout(tiny(12))  # fewer than MIN_TABLES_PER_BATCH per transfer: fewer batches, of five or more
    assert len(few.batches) == 3 and min(len(b) for b in few.batches.values()) >= 4
    assert len(plan_fanout(tiny(60), concurrency=2).batches) == 2


def test_the_threshold_is_a_parameter():
    tables = largest_first([{"table": f"s.t{i}", "size_mb": size, "estimated_rows": 1}
                            for i, size in enumerate([300, 120, 50, 1, 1, 1])])
    assert plan_fanout(tables).items == ["s.t0", "batch-0001"]  # 213 MB of work: one batch
    assert plan_fanout(tables, own_pod_min_mb=100).items[:2] == ["s.t0", "s.t1"]
    assert plan_fanout(tables, own_pod_min_mb=1024).items[0] == "batch-0001"
    every = plan_fanout(tables, own_pod_min_mb=0)  # 0: a pod for every table, even an empty one
    assert every.items == [t["table"] for t in tables] and every.batches == {}


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
    assert len([i for i in plan.items if not i.startswith("batch-")]) < MAX_ITEMS // 2
    assert sorted(members(plan)) == sorted(t["table"] for t in tables)


def test_big_tables_alone_and_none_at_all():
    tables = largest_first([{"table": f"s.t{i}", "size_mb": 256 + i, "estimated_rows": 1} for i in range(12)])
    plan = plan_fanout(tables)
    assert plan.items == [t["table"] for t in tables] and plan.batches == {}
    empty = plan_fanout([])
    assert empty.items == [] and empty.to_json() == "[]"


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


def test_names_holding_argo_tags_go_into_the_list_in_base64_and_read_back():
    tables = synthetic(3, name=lambda i: ['s."t{{workflow.name}}"', 's."x}}"', "s.plain"][i])
    split = with_loaders(plan_fanout(tables, own_pod_min_mb=0), tables, 0, 2)
    listed = json.loads(split.to_json())
    assert "{{" not in split.to_json() and "}}" not in split.to_json() and "s.plain" in listed
    assert sorted(name_of_item(i) for i in listed if not i.startswith(ITEM_PREFIX)) == sorted(t["table"] for t in tables)
    assert sorted(str(parse_loader_item(i).table) for i in listed if i.startswith(ITEM_PREFIX)) == sorted(
        str(parse_table_ref(t["table"])) for t in tables)
    assert name_of_item("s.t") == "s.t"
    with pytest.raises(BadInputError, match="not a table name in base64"):
        name_of_item("b64:!!")
