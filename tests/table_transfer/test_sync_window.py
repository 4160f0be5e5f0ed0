"""When a sync window is merged and when the table is read whole instead (sync_load.too_large_to_merge)."""

from __future__ import annotations

import pytest

from steps.table_transfer.sync_load import WHOLE_ABOVE_MB, too_large_to_merge


@pytest.mark.parametrize(("window_rows", "total", "table_mb", "whole"), [
    (0, 0, 0, False),  # an empty table
    (0, 1_000, WHOLE_ABOVE_MB * 10, False),  # nothing changed
    (1_000, 1_000, 10, False),  # the whole of a small table: merged
    (1, 1_000, WHOLE_ABOVE_MB * 1_000, False),  # one row of a big table: merged
    (2, 1_000, WHOLE_ABOVE_MB * 1_000 / 2 + 1, True),  # a window just past the size bound
    (10, 1_000, WHOLE_ABOVE_MB * 100, False),  # exactly the bound: merged
])
def test_a_window_past_the_size_bound_is_read_whole(window_rows, total, table_mb, whole):
    why = too_large_to_merge(window_rows, total, table_mb)
    assert (why is not None) == whole
    if why:
        assert f"{window_rows} of {total} rows" in why and f"{WHOLE_ABOVE_MB} MB" in why
