"""The report step on a run of 5,000 tables (goals: < 30 s, report.html < 5 MB).

A run folder is written to a private, in-memory gcp-storage-emulator (the one devstack runs), started for this
benchmark: a plan of 5,000 tables with result files for all but 25 (4,975 written: 25 of them succeeded on a
second attempt, 76 failed), four phases each, the fan-out's 500 batch files, and a rewrite report with 40 dropped
tables. The measured time is
`python -m steps.report` as Argo runs it: listing and reading every file over HTTP, writing the report to report/
and to --out. Writing the inputs is not measured.

Why a private emulator: gcp-storage-emulator rewrites its whole metadata file (every object's entry, as indented
JSON) on each write, so filling a bucket with 5,000 objects is quadratic (about 14 minutes in devstack's on-disk
emulator, plus as long again to delete them). In memory that file is only read at start-up, so this benchmark's
emulator skips writing it; nothing else about the emulator changes.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from devstack import processes
from shared.config import load_settings
from shared.identifiers import parse_table_ref
from shared.layout import REPORT_HTML
from shared.objectstore import ObjectStore, RunLayout
from shared.results import Attempt, ErrorInfo, PhaseTiming, StepResult, TableResult, to_dict

NAME = "report_bench"
GOAL_SECONDS = 30.0
GOAL_HTML_MB = 5.0
WRITERS = 8
ALONE, BATCHES = 500, 500  # fan-out of 5,000 tables: 500 moved alone, 500 batches of 9
PHASES = (("unload", 20.0), ("copy", 8.0), ("load", 30.0), ("verify", 2.0))
START = datetime(2026, 1, 1, 2, 0, tzinfo=UTC)


def _ts(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def table_name(i: int) -> str:
    return f"schema_{i % 20:02d}.fact_table_{i:05d}"


def result_for(run_id: str, i: int, tables: int) -> dict[str, Any]:
    """Table i: big ones first and longest; every 66th failed, every 200th retried once."""
    scale = 1.0 + 4.0 * (tables - i) / tables
    started = START + timedelta(seconds=60 + (i // 32) * 45 + (i % 32))
    clock, phases, attempts = started, [], []
    failed, retried = i % 66 == 5, i % 200 == 7
    error = ErrorInfo("TargetError", f"value too long for type character varying(32) in row {i} (22001)", 5, False)
    if retried:
        lost = ErrorInfo("TransientError", "connection lost while copying part 3", 1, True)
        phases.append(PhaseTiming("unload", _ts(clock), _ts(clock + timedelta(seconds=5)), 5.0, "failed"))
        attempts.append(Attempt(1, _ts(clock), _ts(clock + timedelta(seconds=5)), "failed", lost))
        clock += timedelta(seconds=15)
    attempt_start = clock
    for name, seconds in PHASES:
        seconds *= scale
        status = "failed" if failed and name == "load" else "succeeded"
        phases.append(PhaseTiming(name, _ts(clock), _ts(clock + timedelta(seconds=seconds)), round(seconds, 3),
                                  status))
        clock += timedelta(seconds=seconds)
        if status == "failed":
            break
    attempts.append(Attempt(len(attempts) + 1, _ts(attempt_start), _ts(clock), "failed" if failed else "succeeded",
                            error if failed else None))
    rows = 1000 * (tables - i)
    record = TableResult(run_id, table_name(i), table_name(i), "failed" if failed else "succeeded", _ts(started),
                         _ts(clock), round((clock - started).total_seconds(), 3), attempts, phases, rows, rows,
                         None if failed else rows, rows * 20, rows * 90, 4, None, error if failed else None)
    return to_dict(record)


def run_documents(layout: RunLayout, tables: int) -> dict[str, Any]:
    """{url: document} of a whole run; the last 25 planned tables have no result file."""
    run_id = layout.run_id
    refs = [{"schema": table_name(i).split(".")[0], "name": table_name(i).split(".")[1]} for i in range(tables)]
    plan = [{"table": table_name(i), "target": table_name(i), "source": refs[i], "target_ref": refs[i],
             "estimated_rows": 1000 * (tables - i), "size_mb": tables - i, "columns": []} for i in range(tables)]
    documents: dict[str, Any] = {layout.tables_json: {"format_version": 1, "run_id": run_id, "tables": plan}}
    for i in range(tables - 25):
        documents[layout.result(parse_table_ref(table_name(i)))] = result_for(run_id, i, tables)
    for offset, step in enumerate(("dump_schema", "rewrite_ddl", "validate_restore", "load_schema_pre_data")):
        begin = START + timedelta(seconds=offset * 15)
        documents[layout.step_result(step)] = to_dict(StepResult(run_id, step, "succeeded", _ts(begin),
                                                                 _ts(begin + timedelta(seconds=12)), 12.0))
    for number in range(1, BATCHES + 1):  # as load_schema's fan-out: the largest alone, the rest in even batches
        members = [table_name(i) for i in range(ALONE + number - 1, tables, BATCHES)]
        if members:
            documents[layout.batch(f"batch-{number:04d}")] = {"format_version": 1, "run_id": run_id,
                                                              "batch_id": f"batch-{number:04d}", "tables": members}
    dropped = [{"kind": "table", "name": f"legacy.unsupported_{i:03d}", "target_name": None,
                "status": "unsupported", "reason": "column g: GEOGRAPHY is not supported"} for i in range(40)]
    documents[layout.rewrite_report_json] = {"format_version": 1, "run_id": run_id, "step": "rewrite_ddl",
                                             "objects": dropped}
    return documents


EMULATOR = ("import sys, gcp_storage_emulator.storage as storage, gcp_storage_emulator.__main__ as cli; "
            "storage.Storage._write_config_to_file = lambda self: None; cli.main(sys.argv[1:])")
BUCKET = "r2a-bench-report"


def run(smoke: bool) -> list[dict]:
    with tempfile.TemporaryDirectory(prefix="r2a-bench-report-") as work:
        with private_gcs(Path(work)) as environ:
            return measure(environ, 200 if smoke else 5000)


@contextmanager
def private_gcs(work: Path) -> Iterator[dict[str, str]]:
    """An in-memory GCS emulator on a free port; yields the product settings pointing at it; stops it after."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    argv = [sys.executable, "-c", EMULATOR, "start", "--host", "127.0.0.1", "--port", str(port), "--in-memory",
            "--default-bucket", BUCKET, "--quiet"]
    process = processes.spawn("gcs-bench", argv, work / "logs", cwd=work)
    try:
        url = f"http://127.0.0.1:{port}"
        processes.wait_until("gcs-bench", lambda: _bucket_answers(url), process, work / "logs")
        yield {"STORAGE_EMULATOR_HOST": url, "R2A_GCS_BUCKET": BUCKET, "GOOGLE_CLOUD_PROJECT": "r2a-bench"}
    finally:
        processes.stop(process.pid)


def _bucket_answers(url: str) -> bool:
    import requests

    try:
        return requests.get(f"{url}/storage/v1/b/{BUCKET}", timeout=1).status_code == 200
    except requests.RequestException:
        return False


def measure(environ: dict[str, str], tables: int) -> list[dict]:
    run_id = f"bench_{datetime.now(UTC):%Y%m%d_%H%M%S}_{os.getpid()}"
    settings = load_settings(environ)
    store, layout = ObjectStore(settings.s3, settings.gcs), RunLayout.from_settings(run_id, settings.gcs)
    documents = run_documents(layout, tables)
    with ThreadPoolExecutor(max_workers=WRITERS) as pool:
        list(pool.map(lambda item: store.write_json(item[0], item[1]), documents.items()))
    with tempfile.TemporaryDirectory(prefix="r2a-bench-report-out-") as out:
        env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
        env.update(environ, R2A_LOG_FORMAT="json")
        started = time.monotonic()
        process = subprocess.run([sys.executable, "-m", "steps.report", "--run-id", run_id, "--out", out],
                                 capture_output=True, text=True, env=env, timeout=600)
        seconds = time.monotonic() - started
        if process.returncode != 7:  # the generated run has failed and missing tables
            raise RuntimeError(f"report exited {process.returncode}: {process.stderr.strip()[-300:]}")
        html_mb = (Path(out) / REPORT_HTML).stat().st_size / 1024 / 1024
        table_lines = len((Path(out) / f"{run_id}.tables").read_text().splitlines()) - 1
    results = tables - 25
    return [
        {"benchmark": NAME, "measure": "result files", "value": results, "unit": "files"},
        {"benchmark": NAME, "measure": ".tables lines", "value": table_lines, "unit": "lines",
         "goal": f"= {tables + 40} (plan + dropped)", "ok": table_lines == tables + 40},
        {"benchmark": NAME, "measure": "report time (GCS emulator)", "value": round(seconds, 2), "unit": "s",
         "goal": f"< {GOAL_SECONDS:.0f} s", "ok": seconds < GOAL_SECONDS},
        {"benchmark": NAME, "measure": "report.html size", "value": round(html_mb, 2), "unit": "MB",
         "goal": f"< {GOAL_HTML_MB:.0f} MB", "ok": html_mb < GOAL_HTML_MB},
    ]
