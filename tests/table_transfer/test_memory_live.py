"""table_transfer's memory is bounded, not proportional to the table: the peak RSS of the step process (the kernel's
high-water mark, returned by wait4) for a table and for one four times larger. Each part in flight holds one read
buffer (1 MB, shared/gcs.py) whatever its size, so the two peaks are nearly equal; `make bench` (transfer_bench)
measures the same at 513 MB and 2 GB."""

from __future__ import annotations

import sys

from tests.support.measure import run_measured
from tests.table_transfer.conftest import quoted
from workflows.local_env import process_environ

PAYLOAD_ROWS_SQL = ("INSERT INTO {table} SELECT g, md5(g::varchar) || repeat(md5((g * 7)::varchar), 4), "
                    "g * 1.5, '2020-01-01'::timestamp + g * interval '1 second' FROM generate_series(1, {rows}) g")
COLUMNS = [("id", "bigint"), ("payload", "varchar(200)"), ("amount", "decimal(12,2)"), ("at", "timestamp")]


def test_peak_rss_does_not_grow_with_table_size(transfer):
    environ = {**process_environ(), **transfer.environ}
    peaks = {}
    for name, rows in (("small", 250_000), ("large", 1_000_000)):
        table = f"{quoted(transfer.schema)}.{quoted(name)}"
        source, _ = transfer.table(name, COLUMNS, rows_sql=PAYLOAD_ROWS_SQL.format(table=table, rows=rows))
        run = run_measured([sys.executable, "-m", "steps.table_transfer", "--run-id", transfer.run_id, "--table",
                            str(source)], environ)
        assert run.code == 0, run.output
        result = transfer.result(source)
        assert result["rows_loaded"] == rows
        peaks[name] = (run.peak_rss_mb, result["bytes_raw"])
    print("peak RSS MB, raw bytes:", peaks)
    (small_peak, small_bytes), (large_peak, large_bytes) = peaks["small"], peaks["large"]
    assert large_bytes >= 4 * small_bytes * 0.95
    data_growth_mb = (large_bytes - small_bytes) / 2**20
    assert large_peak - small_peak < min(16, 0.1 * data_growth_mb), peaks  # bounded by buffers, not by the data
    assert large_peak < 256, peaks
