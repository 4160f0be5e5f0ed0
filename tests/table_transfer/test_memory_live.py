"""table_transfer's memory is bounded, not proportional to the table: peak RSS of the step process (psutil, sampled
every 20 ms) for a table and for one four times larger. Each part in flight holds one read buffer (1 MB, shared/gcs.py)
whatever its size, so the two peaks are nearly equal (114.1 and 114.3 MB in session 5; 42-50 MB apart before, with
google's 4 MB ranged reads); `make bench` (transfer_bench) shows the same at 513 MB and 2 GB."""

from __future__ import annotations

import subprocess
import sys
import time

import psutil

from tests.table_transfer.conftest import quoted
from workflows.local_env import process_environ

PAYLOAD_ROWS_SQL = ("INSERT INTO {table} SELECT g, md5(g::varchar) || repeat(md5((g * 7)::varchar), 4), "
                    "g * 1.5, '2020-01-01'::timestamp + g * interval '1 second' FROM generate_series(1, {rows}) g")
COLUMNS = [("id", "bigint"), ("payload", "varchar(200)"), ("amount", "decimal(12,2)"), ("at", "timestamp")]


def peak_rss_mb(command: list[str], environ: dict[str, str]) -> tuple[int, float, str]:
    process = subprocess.Popen(command, env=environ, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    watched = psutil.Process(process.pid)
    peak = 0
    while process.poll() is None:
        try:
            peak = max(peak, watched.memory_info().rss + sum(c.memory_info().rss for c in watched.children(True)))
        except psutil.Error:
            pass
        time.sleep(0.02)
    output = process.stdout.read().decode(errors="replace")
    return process.returncode, peak / 2**20, output


def test_peak_rss_does_not_grow_with_table_size(transfer):
    environ = {**process_environ(), **transfer.environ}
    peaks = {}
    for name, rows in (("small", 250_000), ("large", 1_000_000)):
        table = f"{quoted(transfer.schema)}.{quoted(name)}"
        source, _ = transfer.table(name, COLUMNS, rows_sql=PAYLOAD_ROWS_SQL.format(table=table, rows=rows))
        code, peak, output = peak_rss_mb([sys.executable, "-m", "steps.table_transfer", "--run-id",
                                          transfer.run_id, "--table", str(source)], environ)
        assert code == 0, output
        result = transfer.result(source)
        assert result["rows_loaded"] == rows
        peaks[name] = (peak, result["bytes_raw"])
    print("peak RSS MB, raw bytes:", peaks)
    (small_peak, small_bytes), (large_peak, large_bytes) = peaks["small"], peaks["large"]
    assert large_bytes >= 4 * small_bytes * 0.95
    data_growth_mb = (large_bytes - small_bytes) / 2**20
    assert large_peak - small_peak < min(16, 0.1 * data_growth_mb), peaks  # bounded by buffers, not by the data
    assert large_peak < 256, peaks
