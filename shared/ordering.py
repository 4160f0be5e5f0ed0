"""A deterministic dependency order, for files that must replay (backups, views over views)."""

from __future__ import annotations

import heapq
from collections.abc import Hashable, Iterable, Mapping
from typing import TypeVar

T = TypeVar("T", bound=Hashable)


def dependency_order(items: Iterable[T], needs: Mapping[T, Iterable[T]]) -> list[T]:
    """Every item after the items it needs (needs outside `items`, and an item needing itself, do not count);
    among the ready ones the smallest first, so the same input gives the same order; items caught in a cycle
    come last, sorted. Items must be orderable (names, tuples of names, TableRef)."""
    pending = list(dict.fromkeys(items))
    known = set(pending)
    waiting = {item: {d for d in needs.get(item, ()) if d in known and d != item} for item in pending}
    users: dict[T, list[T]] = {}
    for item, deps in waiting.items():
        for dep in deps:
            users.setdefault(dep, []).append(item)
    ready = [item for item, deps in waiting.items() if not deps]
    heapq.heapify(ready)
    order: list[T] = []
    while ready:
        item = heapq.heappop(ready)
        order.append(item)
        for user in users.get(item, []):
            waiting[user].discard(item)
            if not waiting[user]:
                heapq.heappush(ready, user)
    placed = set(order)
    return order + sorted(item for item in pending if item not in placed)
