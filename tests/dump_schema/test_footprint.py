"""The data of a table from svv_table_info's size: the minimum a table takes is taken off
(https://repost.aws/knowledge-center/redshift-cluster-storage-space)."""

from __future__ import annotations

from steps.dump_schema.footprint import Cluster, data_mb, minimum_mb

SIXTEEN_SLICES = Cluster(slices=16, nodes=8)


def test_the_minimum_is_a_block_per_column_per_populated_slice_per_segment():
    assert minimum_mb(SIXTEEN_SLICES, 40, "KEY(id)", True, 10) == 43 * 10 * 2  # 10 rows populate 10 slices at most
    assert minimum_mb(SIXTEEN_SLICES, 40, "EVEN", False, 1_000_000) == 43 * 16
    assert minimum_mb(SIXTEEN_SLICES, 5, "ALL", True, 1_000_000) == 8 * 8 * 2
    assert minimum_mb(SIXTEEN_SLICES, 5, "AUTO(ALL)", False, 3) == 8 * 8
    assert minimum_mb(SIXTEEN_SLICES, 5, "AUTO(EVEN)", False, 3) == 8 * 3


def test_the_data_is_the_size_less_the_minimum_and_never_below_zero():
    assert data_mb(5000.0, 43 * 16) == 5000.0 - 688
    assert data_mb(300.0, 688) == 0.0
    assert data_mb(300.0, None) == 300.0  # the cluster's slices unreadable: svv_table_info's figure as it is
