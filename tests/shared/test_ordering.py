"""shared.ordering.dependency_order: dependencies first, deterministic, cycles last."""

from shared.identifiers import TableRef
from shared.ordering import dependency_order


def test_dependencies_first_and_smallest_ready_first():
    needs = {"c": {"a"}, "b": {"c"}, "a": set(), "d": set()}
    assert dependency_order(["d", "c", "b", "a"], needs) == ["a", "c", "b", "d"]


def test_same_result_whatever_the_input_order():
    needs = {TableRef("s", "v2"): {TableRef("s", "v1")}, TableRef("s", "v1"): set(), TableRef("r", "x"): set()}
    orders = {tuple(dependency_order(items, needs)) for items in (list(needs), list(reversed(list(needs))))}
    assert orders == {(TableRef("r", "x"), TableRef("s", "v1"), TableRef("s", "v2"))}


def test_outside_needs_and_self_needs_do_not_count_and_cycles_come_last_sorted():
    needs = {"a": {"a", "elsewhere"}, "y": {"x"}, "x": {"y"}, "b": {"a"}}
    assert dependency_order(["y", "x", "b", "a"], needs) == ["a", "b", "x", "y"]
