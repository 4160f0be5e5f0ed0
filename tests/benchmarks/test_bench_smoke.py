"""`make bench` in its smoke form, inside `make test`: every benchmark module runs end to end at tiny sizes on the
session's devstack (the real steps, emulators and PostgreSQL) and reports every measure. The goals are not judged
here: tiny sizes say nothing about speed (figures at full size are in steps/table_transfer/README.md)."""

from __future__ import annotations

import json
import math

import pytest

from benchmarks.__main__ import discover, main
from benchmarks.transfer_bench import ROW_BYTES


def test_every_benchmark_runs_at_smoke_size_and_reports_every_measure(devstack, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("R2A_DEVSTACK_DIR", str(devstack["state_dir"]))
    monkeypatch.delenv("R2A_BENCH_TRANSFER_MB", raising=False)
    monkeypatch.delenv("R2A_BENCH_TRANSFER_ARGS", raising=False)
    monkeypatch.chdir(tmp_path)  # bench-output/ goes here
    assert main(["--smoke"]) == 0, capsys.readouterr().out[-2000:]
    saved = list((tmp_path / "bench-output").glob("bench-*.json"))
    assert len(saved) == 1
    document = json.loads(saved[0].read_text())
    assert document["smoke"] is True
    rows = document["rows"]
    assert {row["benchmark"] for row in rows} >= {"transfer_bench", "unload_memory", "report_bench", "rewrite_ddl",
                                                  "postdata_bench"}
    assert len(discover(None)) == 5
    for row in rows:
        assert row["measure"] != "error", row
        assert isinstance(row["value"], (int, float)) and math.isfinite(row["value"]), row
    transfer = {row["measure"]: row["value"] for row in rows if row["benchmark"] == "transfer_bench"}
    assert transfer["rows"] == 8 * 2**20 // ROW_BYTES  # every source row loaded and verified by the step
    assert transfer["parts"] >= 1
    assert 0 < transfer["r2a peak RSS (table)"] <= 256
    assert transfer["r2a end to end"] > transfer["r2a unload phase (copy and load overlap it)"] > 0
    assert transfer["CPU used during r2a end to end: the step process (r2a)"] > 0
    assert transfer["CPU used during r2a end to end: Redshift emulator"] > 0
    assert transfer["cores of this machine"] >= 1


def test_post_data_bench_at_smoke_size(devstack, monkeypatch, tmp_path, capsys):
    """20 tables x (PK + 2 indexes) in 1 and 4 sessions: every object applied in both (the module raises
    otherwise), and the figures are there and consistent."""
    monkeypatch.setenv("R2A_DEVSTACK_DIR", str(devstack["state_dir"]))
    monkeypatch.chdir(tmp_path)
    assert main(["--smoke", "--only", "postdata_bench"]) == 0, capsys.readouterr().out[-2000:]
    rows = json.loads(next((tmp_path / "bench-output").glob("bench-*.json")).read_text())["rows"]
    figures = {row["measure"]: row["value"] for row in rows}
    assert figures["tables (PRIMARY KEY + 2 indexes each)"] == 20
    for jobs in (1, 4):
        assert figures[f"wall, --index-jobs {jobs}"] > 0
        assert figures[f"PostgreSQL CPU, --index-jobs {jobs}"] > 0
    assert figures["speed-up, --index-jobs 4 vs 1"] == pytest.approx(
        figures["wall, --index-jobs 1"] / figures["wall, --index-jobs 4"])
    assert 0 < next(v for m, v in figures.items() if m.startswith("ceiling:")) <= 4
    assert figures["large tables: tables (PRIMARY KEY + 2 indexes each)"] == 4
