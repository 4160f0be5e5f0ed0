"""Where a sync window is merged in one transaction, loaded part by part (sync_load.by_parts) or, for a
mirror_deletes table, read whole (sync_load.too_large_to_merge)."""

from __future__ import annotations

import pytest

from shared.errors import BadInputError
from steps.table_transfer.plan import DEFAULT_MERGE_IN_ONE_MB, TransferOptions
from steps.table_transfer.sync_load import by_parts, too_large_to_merge

BOUND = DEFAULT_MERGE_IN_ONE_MB


@pytest.mark.parametrize(("table_mb", "bound", "parts"), [
    (0, BOUND, False),  # the plan knows no size (an empty table)
    (BOUND, BOUND, False),  # exactly the bound: merged
    (BOUND + 0.5, BOUND, True),  # just past it: its window loads as its full load does
    (BOUND * 4_000, BOUND, True),  # a terabyte table, whatever its window
    (0, 0, True),  # --merge-in-one-mb 0: every table
    (1, 0, True),
])
def test_a_table_past_the_bound_loads_its_window_by_parts(table_mb, bound, parts):
    why = by_parts(table_mb, bound)
    assert (why is not None) == parts
    if why:
        assert f"about {table_mb:,.0f} MB in the plan" in why and f"--merge-in-one-mb {bound:g}" in why


@pytest.mark.parametrize(("window_rows", "total", "table_mb", "bound", "whole"), [
    (0, 0, 0, BOUND, False),  # an empty table
    (0, 1_000, BOUND * 10, BOUND, False),  # nothing changed
    (1_000, 1_000, 10, BOUND, False),  # the whole of a small table: merged
    (1, 1_000, BOUND * 1_000, BOUND, False),  # one row of a big table: merged
    (2, 1_000, BOUND * 1_000 / 2 + 1, BOUND, True),  # a window just past the bound
    (10, 1_000, BOUND * 100, BOUND, False),  # exactly the bound: merged
    (1, 1_000, 1, 0, True),  # --merge-in-one-mb 0: every window that holds a row
    (0, 1_000, 1, 0, False),  # ... but an empty one has nothing to load
])
def test_a_mirror_deletes_window_past_the_bound_reads_the_table_whole(window_rows, total, table_mb, bound, whole):
    why = too_large_to_merge(window_rows, total, table_mb, bound)
    assert (why is not None) == whole
    if why:
        assert f"{window_rows} of {total} rows" in why and f"--merge-in-one-mb {bound:g}" in why


def test_a_negative_bound_is_refused():
    with pytest.raises(BadInputError, match="--merge-in-one-mb"):
        TransferOptions(merge_in_one_mb=-1)
