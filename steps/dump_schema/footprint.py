"""The data a table holds, from Redshift's size of it. svv_table_info.size counts 1 MB blocks, and a table takes
at least one block per column (its user columns and three hidden ones), per populated slice, per segment (two
with a defined sort key, sorted and unsorted; one without); an ALL table one per node instead of per slice
(AWS Knowledge Center, "Why does a table in an Amazon Redshift cluster consume more or less disk storage space than
expected?", https://repost.aws/knowledge-center/redshift-cluster-storage-space; the hidden columns: INSERT_XID,
DELETE_XID and ROW_ID, https://docs.aws.amazon.com/redshift/latest/dg/r_SVV_DISKUSAGE.html). So a thousand rows in
40 columns with a sort key, EVEN, are 43 × 16 × 2 = 1,376 MB on a 16-slice cluster. The plan sizes tables by the data they
hold (which get a pod of their own, how many loaders, whether a sync window loads by parts), so that minimum is
taken off when the cluster's slices can be read (STV_SLICES, https://docs.aws.amazon.com/redshift/latest/dg/r_STV_SLICES.html).
Which slices a table populates is not read (STV_BLOCKLIST is for superusers): min(slices, rows) is the most it can
populate, so the data is never overstated, and a large table, whose size is mostly data, loses little."""

from __future__ import annotations

from dataclasses import dataclass

HIDDEN_COLUMNS = 3


@dataclass(frozen=True)
class Cluster:
    slices: int
    nodes: int


def minimum_mb(cluster: Cluster, user_columns: int, diststyle: str | None, has_sortkey: bool, rows: int) -> int:
    """The blocks (MB) a table of `rows` rows takes however little data it holds. `diststyle` as svv_table_info
    shows it: ALL and AUTO(ALL) keep a copy per node."""
    style = (diststyle or "").replace(" ", "").upper()
    populated = cluster.nodes if style in ("ALL", "AUTO(ALL)") else min(cluster.slices, max(rows, 0))
    return (user_columns + HIDDEN_COLUMNS) * populated * (2 if has_sortkey else 1)


def data_mb(size_mb: float, minimum: int | None) -> float:
    """svv_table_info's size less the table's minimum (None: the cluster's slices were not readable)."""
    if minimum is None:
        return size_mb
    return max(size_mb - minimum, 0.0)
