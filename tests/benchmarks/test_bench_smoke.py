"""`make bench` in its smoke form, inside `make test`: every benchmark module runs end to end at tiny sizes on the
session's devstack (the real steps, emulators and PostgreSQL) and reports every measure. The goals are not judged
here: tiny sizes say nothing about speed (figures at full size are in steps/table_transfer/README.md and, for
fanout_bench, benchmarks/README.md)."""

from __future__ import annotations

import json
import math

import pytest

from benchmarks.__main__ import discover, main
from benchmarks.fanout_bench import SMOKE, TINY_MAX_ROWS, table_rows
from benchmarks.transfer_bench import ROW_BYTES

OTHERS = ["transfer_bench", "unload_memory", "report_bench", "rewrite_bench"]


def test_every_benchmark_runs_at_smoke_size_and_reports_every_measure(devstack, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("R2A_DEVSTACK_DIR", str(devstack["state_dir"]))
    monkeypatch.delenv("R2A_BENCH_TRANSFER_MB", raising=False)
    monkeypatch.delenv("R2A_BENCH_TRANSFER_ARGS", raising=False)
    monkeypatch.chdir(tmp_path)  # bench-output/ goes here
    assert main(["--smoke", *(f"--only={name}" for name in OTHERS)]) == 0, capsys.readouterr().out[-2000:]
    saved = list((tmp_path / "bench-output").glob("bench-*.json"))
    assert len(saved) == 1
    document = json.loads(saved[0].read_text())
    assert document["smoke"] is True
    rows = document["rows"]
    assert {row["benchmark"] for row in rows} >= {"transfer_bench", "unload_memory", "report_bench", "rewrite_ddl"}
    assert sorted(discover(None)) == sorted([*OTHERS, "fanout_bench", "postdata_bench"])
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


def _rows(tmp_path, name: str) -> dict[str, dict]:
    (saved,) = (tmp_path / "bench-output").glob("bench-*.json")
    rows = json.loads(saved.read_text())["rows"]
    assert rows and all(row["benchmark"] == name and row["measure"] != "error" for row in rows), rows
    return {row["measure"]: row for row in rows}


def test_fanout_bench_moves_every_table_through_run_local_and_compares_with_the_old_way(devstack, monkeypatch,
                                                                                        tmp_path, capsys):
    monkeypatch.setenv("R2A_DEVSTACK_DIR", str(devstack["state_dir"]))
    monkeypatch.delenv("R2A_BENCH_FANOUT_TABLES", raising=False)
    monkeypatch.chdir(tmp_path)
    assert main(["--smoke", "--only", "fanout_bench"]) == 0, capsys.readouterr().out[-2000:]
    rows = _rows(tmp_path, "fanout_bench")
    value = {measure: row["value"] for measure, row in rows.items()}
    made = table_rows(SMOKE.tables, SMOKE.big_mb)
    assert value["tables"] == len(made) == value["tables verified (succeeded, every row)"]
    assert value["tiny tables (at most 200 rows)"] == sum(1 for count in made if count <= TINY_MAX_ROWS)
    assert value["data (unloaded text)"] >= sum(made) * ROW_BYTES / 2**20 * 0.5  # the big tables arrived
    # no table reaches own-pod-min-mb (steps/load_schema/fanout.py): two batches fill the concurrent transfers
    assert value["run-local pods: single tables"] == 0 and value["run-local pods: batches"] == 2
    assert value["old way: tables at a time"] == SMOKE.old_way_jobs == 2
    old_cpu = value["old way CPU per table, all (its process, psql and the services)"]
    r2a_cpu = value["r2a CPU per table, all (the DAG's step processes and the services)"]
    assert old_cpu > value["old way CPU per table: Redshift emulator"] > 0 and r2a_cpu > 0
    assert math.isclose(value["ratio CPU per table old/r2a (the ceiling of the ratio when CPU-bound)"],
                        old_cpu / r2a_cpu, rel_tol=0.01, abs_tol=0.002)
    services = sum(v for m, v in value.items() if m.startswith("CPU per table during the fan-out: "))
    assert math.isclose(value["ratio CPU per table old/r2a's services alone (the ceiling if r2a's processes cost "
                              "nothing)"], old_cpu / services, rel_tol=0.01, abs_tol=0.002)
    assert 0 < value["r2a table-transfer fan-out"] < value["r2a whole DAG (schema steps, fan-out, post-data, report)"]
    assert value["old way loop"] > 0 and value["old way per table: unload"] > 0
    ratio = rows["ratio tables per minute r2a/old"]
    assert ratio["goal"] == ">= 5" and isinstance(ratio["ok"], bool)
    expected = (len(made) / value["r2a table-transfer fan-out"]) / (len(made) / value["old way loop"])
    assert math.isclose(ratio["value"], expected, rel_tol=0.01, abs_tol=0.002)
    cpu = rows["in pod, in a batch: overhead CPU per table"]
    assert cpu["goal"] == "<= 0.3" and 0 < cpu["value"] < value["in pod, single table: process CPU (start-up included)"]
    assert value["in pod, single table: process wall"] > value["in pod, single table: overhead wall (outside UNLOAD/COPY)"] > 0
    assert value["start-up of a step process: CPU (interpreter and imports)"] > 0
    for measure, number in value.items():
        assert isinstance(number, (int, float)) and math.isfinite(number), measure


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
