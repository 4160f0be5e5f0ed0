"""`r2a status` over result files written straight into devstack's GCS emulator (no run needed): a planned table
without a result is not_run, a failed one shows its error, the exit code is 7 until every table succeeded."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from shared.config import load_settings
from shared.identifiers import TableRef
from shared.objectstore import ObjectStore, RunLayout, new_run_id
from shared.results import Attempt, ErrorInfo, TableResult, to_dict, utc_now
from workflows.cli import app

PLANNED = (TableRef("sales", "orders"), TableRef("sales", "order lines"), TableRef("hr", "people"))


@pytest.fixture
def run(devstack_environ):
    settings = load_settings(devstack_environ)
    layout = RunLayout.from_settings(new_run_id("statustest"), settings.gcs)
    store = ObjectStore(None, settings.gcs)
    store.write_json(layout.tables_json, {"tables": [{"table": str(t)} for t in PLANNED]})
    return layout, store


def _write(layout, store, table: TableRef, status: str, rows: int | None = None, error: str | None = None):
    failure = ErrorInfo("SourceError", error, 4, False) if error else None
    attempt = Attempt(number=1, started_at=utc_now(), finished_at=utc_now(), status=status, error=failure)
    record = TableResult(run_id=layout.run_id, table=str(table), target=str(table), status=status,
                         started_at=utc_now(), finished_at=utc_now(), duration_s=12.5, attempts=[attempt],
                         rows_loaded=rows, error=failure)
    store.write_json(layout.result(table), to_dict(record))


def test_status_shows_each_planned_table_and_exits_7_until_all_succeeded(run, devstack_environ):
    layout, store = run
    orders, lines, people = PLANNED
    _write(layout, store, orders, "succeeded", rows=1234567)
    _write(layout, store, lines, "failed", error="UNLOAD failed: permission denied for relation order lines")

    done = CliRunner().invoke(app, ["status", "--run-id", layout.run_id], env=devstack_environ)
    assert done.exit_code == 7, done.output
    assert done.output.splitlines()[0].split()[:5] == ["table", "status", "rows", "seconds", "tries"]
    assert done.output.splitlines()[1].split() == ["sales.orders", "succeeded", "1,234,567", "12.5", "1"]
    assert [line for line in done.output.splitlines() if line.startswith('sales."order lines"')][0].split()[2:] == [
        "failed", "12.5", "1", "UNLOAD", "failed:", "permission", "denied", "for", "relation", "order", "lines"]
    assert done.output.splitlines()[3].split() == ["hr.people", "not_run"]
    assert done.output.strip().splitlines()[-1] == "3 tables: 1 failed, 1 not_run, 1 succeeded"

    _write(layout, store, lines, "succeeded", rows=10)
    _write(layout, store, people, "succeeded", rows=0)
    done = CliRunner().invoke(app, ["status", "--run-id", layout.run_id], env=devstack_environ)
    assert done.exit_code == 0, done.output
    assert done.output.strip().splitlines()[-1] == "3 tables: 3 succeeded"


def test_status_of_an_unknown_run_or_a_bad_run_id_is_one_line(devstack_environ):
    unknown = CliRunner().invoke(app, ["status", "--run-id", "statustest_19990101_000000"], env=devstack_environ)
    assert unknown.exit_code == 3
    assert unknown.output.strip().splitlines() == [unknown.output.strip()]
    assert "run statustest_19990101_000000 not found" in unknown.output
    bad = CliRunner().invoke(app, ["status", "--run-id", "../etc"], env=devstack_environ)
    assert bad.exit_code != 0 and len(bad.output.strip().splitlines()) == 1 and "Traceback" not in bad.output
