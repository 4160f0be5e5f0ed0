"""The report step as a process against a run folder in the GCS emulator: files, exact lines, exit codes,
and report.html rendered by headless Chromium."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from shared.errors import ExitCode
from shared.rundocs import check_record
from tests.report import browser, sample
from tests.report.conftest import run_report
from tests.support.runfolder import RunFolder, url_of

REDSHIFT_SQL = "-- Redshift schema\nCREATE TABLE public.sales (id bigint);\n"
ALLOYDB_SQL = "-- AlloyDB schema\nCREATE TABLE public.sales (id bigint);\n"


@pytest.fixture(scope="module")
def reported(devstack_environ, tmp_path_factory):
    """The sample run written to GCS and reported once: (folder, process, --out dir)."""
    run_id = f"sales_{os.urandom(5).hex()}"
    folder = RunFolder.create(run_id, devstack_environ)
    for path, document in sample.documents(run_id).items():
        folder.put_json(url_of(folder.layout, path), document)
    folder.put(folder.layout.schema_redshift_sql, REDSHIFT_SQL)
    folder.put(folder.layout.schema_alloydb_sql, ALLOYDB_SQL)
    out = tmp_path_factory.mktemp("report-out")
    process = run_report(run_id, devstack_environ, "--out", str(out))
    yield folder, process, out
    folder.remove()


def test_failed_and_missing_tables_exit_7_after_writing_everything(reported):
    folder, process, out = reported
    assert process.returncode == ExitCode.TABLES_FAILED, process.stderr
    stderr = [line for line in process.stderr.splitlines() if not line.startswith("{")]
    assert stderr == [f"r2a report: error: 2 of 4 planned tables did not succeed (failed 1, not_run 1, skipped 0); "
                      f"see {folder.layout.report(folder.run_id + '.tables')}"]
    names = {f"{folder.run_id}.log", f"{folder.run_id}.tables", "summary.json", "report.html",
             "schema_redshift.sql", "schema_alloydb.sql"}
    assert {p.name for p in out.iterdir()} == names
    in_bucket = {info.url.rsplit("/", 1)[1] for info in folder.store.list(folder.layout.report_prefix)}
    assert in_bucket == names


def test_tables_file_is_exact_in_bucket_and_out(reported):
    folder, _, out = reported
    expected = [line.replace(sample.RUN_ID, folder.run_id) for line in sample.EXPECTED_TABLES]
    assert folder.report_text(f"{folder.run_id}.tables").splitlines() == expected
    assert (out / f"{folder.run_id}.tables").read_text().splitlines() == expected


def test_log_file_is_exact(reported):
    folder, _, out = reported
    summary = json.loads((out / "summary.json").read_text())
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", summary["generated_at"])
    expected = sample.expected_log(report_time=summary["generated_at"])
    assert folder.report_text(f"{folder.run_id}.log").splitlines() == expected
    assert (out / f"{folder.run_id}.log").read_text().splitlines() == expected


def test_schema_backups_are_copied_beside_them(reported):
    folder, _, out = reported
    assert folder.report_text("schema_redshift.sql") == REDSHIFT_SQL
    assert (out / "schema_alloydb.sql").read_text() == ALLOYDB_SQL


def test_the_report_records_its_own_step_result(reported):
    folder, _, _ = reported
    record = folder.json(folder.layout.step_result("report"))
    assert check_record(record, "step_result") is None
    assert record["status"] == "succeeded"
    assert record["counts"] == {"succeeded": 2, "failed": 1, "skipped": 0, "not_run": 1}
    assert folder.layout.report("report.html") in record["outputs"]


def test_report_html_renders_timeline_and_failed_tables_in_chromium(reported):
    folder, _, out = reported
    page = out / "report.html"
    assert page.stat().st_size < 5 * 1024 * 1024
    artifacts = (Path(os.environ.get("R2A_ARTIFACTS_DIR", "test-artifacts")) / "report").resolve()
    artifacts.mkdir(parents=True, exist_ok=True)
    dom = browser.dump_dom(page, out)
    (artifacts / "report-dom.html").write_text(dom)
    assert 'data-rendered="yes"' in dom
    canvas = re.search(r'<canvas id="gantt"[^>]*>', dom).group(0)
    attributes = dict(re.findall(r'data-([a-z-]+)="(\d+)"', canvas))
    assert attributes["lanes"] == str(4 + 4)  # 4 step results, 4 tables with timings (ghost never started)
    assert int(attributes["drawn-bars"]) == 1 + 4 + 3 + 2  # pre-data apply + the tables' phases
    assert int(attributes["painted-pixels"]) > 1000
    failed = dom[dom.index('id="failed"'):dom.index('id="objects"')]
    assert "public.events" in failed and "value too long for type character varying(10)" in failed
    assert "public.ghost" in failed and "public.sales" not in failed
    body = re.search(r'<tbody id="tables-body" data-rows="(\d+)"[^>]*>(.*?)</tbody>', dom, re.S)
    assert body.group(1) == "7" and body.group(2).count("<tr>") == 7
    image = browser.screenshot(page, artifacts / "report.png", out)
    assert image.stat().st_size > 10_000


def test_every_planned_table_succeeded_exits_0(devstack_environ, new_run_id, tmp_path):
    folder = RunFolder.create(new_run_id, devstack_environ)
    documents = sample.documents(new_run_id)
    documents["tables.json"]["tables"] = documents["tables.json"]["tables"][:2]  # sales and customers
    try:
        for path, document in documents.items():
            folder.put_json(url_of(folder.layout, path), document)
        process = run_report(new_run_id, devstack_environ, "--out", str(tmp_path))
        assert process.returncode == 0, process.stderr
        summary = json.loads(folder.report_text("summary.json"))
        assert summary["all_planned_succeeded"] and summary["schema_backups"] == {
            "schema_alloydb.sql": False, "schema_redshift.sql": False}
    finally:
        folder.remove()


def test_missing_run_folder_is_one_line_and_non_zero(devstack_environ, new_run_id):
    process = run_report(new_run_id, devstack_environ)
    folder = RunFolder.create(new_run_id, devstack_environ)
    assert process.returncode == ExitCode.BAD_INPUT
    stderr = [line for line in process.stderr.splitlines() if not line.startswith("{")]
    assert stderr == [f"r2a report: error: run folder {folder.layout.root} not found (no plan, results, step "
                      "results or reports). Check --run-id, R2A_GCS_BUCKET and R2A_GCS_PREFIX"]
    assert folder.store.list(folder.layout.root) == []
