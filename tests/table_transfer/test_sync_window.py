"""When a sync window is merged in one transaction and when it is loaded part by part (sync_load.by_parts)."""

from __future__ import annotations

import pytest

from shared.errors import BadInputError
from steps.table_transfer.plan import DEFAULT_MERGE_IN_ONE_MB, TransferOptions
from steps.table_transfer.sync_load import by_parts

BOUND = DEFAULT_MERGE_IN_ONE_MB


@pytest.mark.parametrize(("window_rows", "total", "table_mb", "bound", "parts"), [
    (0, 0, 0, BOUND, False),  # an empty table
    (0, 1_000, BOUND * 10, BOUND, False),  # nothing changed
    (1_000, 1_000, 10, BOUND, False),  # the whole of a small table: merged
    (1, 1_000, BOUND * 1_000, BOUND, False),  # one row of a big table: merged
    (2, 1_000, BOUND * 1_000 / 2 + 1, BOUND, True),  # a window just past the bound
    (10, 1_000, BOUND * 100, BOUND, False),  # exactly the bound: merged
    (1, 1_000, 1, 0, True),  # --merge-in-one-mb 0: every window that holds a row goes by parts
    (0, 1_000, 1, 0, False),  # ... but an empty one has nothing to load
    (5, 1_000, 0, 0, True),  # ... also when the plan knows no size
])
def test_a_window_past_the_bound_is_loaded_by_parts(window_rows, total, table_mb, bound, parts):
    why = by_parts(window_rows, total, table_mb, bound)
    assert (why is not None) == parts
    if why:
        assert f"{window_rows} of {total} rows" in why and f"--merge-in-one-mb {bound:g}" in why


def test_a_negative_bound_is_refused():
    with pytest.raises(BadInputError, match="--merge-in-one-mb"):
        TransferOptions(merge_in_one_mb=-1)
