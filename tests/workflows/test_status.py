"""`r2a status` over result files written straight into devstack's GCS emulator (no run needed): a planned table
without a result is not_run, a failed one shows its error, one with an invalid result file is failed, a table a
schema step skipped is listed, the exit code is 7 until every planned table succeeded."""

from __future__ import annotations

import uuid

import pytest
from typer.testing import CliRunner

from shared.config import load_settings
from shared.documents.tables import PlannedTable, TablePlan
from shared.identifiers import TableRef
from shared.objectstore import ObjectStore, RunLayout, new_run_id
from shared.results import Attempt, ErrorInfo, TableResult, to_dict, utc_now
from workflows.cli import app

PLANNED = (TableRef("sales", "orders"), TableRef("sales", "order lines"), TableRef("hr", "people"))


@pytest.fixture
def run(devstack_environ):
    settings = load_settings(devstack_environ)
    # a run of its own per test: two tests within one second would share a run id of seconds
    layout = RunLayout.from_settings(new_run_id(f"statustest{uuid.uuid4().hex[:8]}"), settings.gcs)
    store = ObjectStore(None, settings.gcs)
    store.write_json(layout.tables_json, TablePlan(layout.run_id, tuple(PlannedTable(t, t, ()) for t in PLANNED)).to_json())
    return layout, store


def _write(layout, store, table: TableRef, status: str, rows: int | None = None, error: str | None = None,
           **sync):
    failure = ErrorInfo("SourceError", error, 4, False) if error else None
    attempt = Attempt(number=1, started_at=utc_now(), finished_at=utc_now(), status=status, error=failure)
    record = TableResult(run_id=layout.run_id, table=str(table), target=str(table), status=status,
                         started_at=utc_now(), finished_at="2026-01-02T03:04:05Z", duration_s=12.5, attempts=[attempt],
                         rows_loaded=rows, error=failure, **sync)
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


def test_status_shows_mode_watermark_and_last_sync_of_incrementally_synced_tables(run, devstack_environ):
    layout, store = run
    orders, lines, people = PLANNED
    _write(layout, store, orders, "succeeded", rows=5, sync_mode="upsert", watermark_from="2024-01-01 00:00:00",
           watermark_to="2024-01-02 00:00:00")
    _write(layout, store, lines, "failed", error="row counts differ", sync_mode="append", watermark_from="41",
           watermark_to=None, synced_before="2026-01-01T03:00:00Z")
    done = CliRunner().invoke(app, ["status", "--run-id", layout.run_id], env=devstack_environ)
    output = done.output.splitlines()
    assert output[0].split()[5:] == ["mode", "watermark", "last", "sync", "error"]
    assert output[1].split()[5:] == ["upsert", "2024-01-02", "00:00:00", "2026-01-02T03:04:05Z"]
    # a failed sync left the watermark where it was: the last successful sync is the one before this run
    assert [line for line in output if line.startswith('sales."order lines"')][0].split()[5:9] == \
        ["append", "41", "2026-01-01T03:00:00Z", "row"]


def test_status_of_an_unknown_run_or_a_bad_run_id_is_one_line(devstack_environ):
    unknown = CliRunner().invoke(app, ["status", "--run-id", "statustest_19990101_000000"], env=devstack_environ)
    assert unknown.exit_code == 3
    assert unknown.output.strip().splitlines() == [unknown.output.strip()]
    assert "run statustest_19990101_000000 not found" in unknown.output
    bad = CliRunner().invoke(app, ["status", "--run-id", "../etc"], env=devstack_environ)
    assert bad.exit_code != 0 and len(bad.output.strip().splitlines()) == 1 and "Traceback" not in bad.output


def test_status_lists_tables_as_the_report_does_and_exits_by_the_planned_ones(run, devstack_environ):
    """An invalid result file fails its table (as in the report's .tables); a table rewrite_ddl could not convert is
    listed skipped with why, and does not make the run fail."""
    layout, store = run
    orders, lines, people = PLANNED
    _write(layout, store, orders, "succeeded", rows=1)
    _write(layout, store, people, "succeeded", rows=1)
    store.write_bytes(layout.result(lines), b'{"table": "sales.\\"order lines\\"", "status": "succ')
    store.write_json(layout.rewrite_report_json, {"format_version": 1, "run_id": layout.run_id, "step": "rewrite_ddl",
                                                  "objects": [{"kind": "table", "name": "sales.geo",
                                                               "target_name": "sales.geo", "status": "unsupported",
                                                               "reason": "column shape: GEOGRAPHY is not supported"}]})
    done = CliRunner().invoke(app, ["status", "--run-id", layout.run_id], env=devstack_environ)
    assert done.exit_code == 7, done.output
    output = done.output.splitlines()
    assert [line for line in output if line.startswith('sales."order lines"')][0].split()[2:6] == [
        "failed", "invalid", "result", "file"]
    assert output[4].split() == ["sales.geo", "skipped", "unsupported", "in", "rewrite_ddl:", "column", "shape:",
                                 "GEOGRAPHY", "is", "not", "supported"]
    assert output[-1] == "4 tables: 1 failed, 1 skipped, 2 succeeded"

    _write(layout, store, lines, "succeeded", rows=1)
    done = CliRunner().invoke(app, ["status", "--run-id", layout.run_id], env=devstack_environ)
    assert done.exit_code == 0, done.output  # only the planned tables decide, as the report's exit code
    assert done.output.splitlines()[-1] == "4 tables: 1 skipped, 3 succeeded"


def _tables(*statuses: str) -> list:
    from workflows.argo import TableStatus

    return [TableStatus(f"s.t{i}", status, None, None, None, "boom" if status == "failed" else "")
            for i, status in enumerate(statuses)]


def test_watch_redraws_until_every_table_has_a_result():
    from workflows import status_view

    views = [_tables("not_run", "not_run"), _tables("succeeded", "not_run"), _tables("succeeded", "failed")]
    frames: list[str] = []
    pauses: list[float] = []
    last = status_view.watch("r_20260101_000000", lambda: views.pop(0), frames.append, 5.0, 40, pauses.append)
    assert [t.status for t in last] == ["succeeded", "failed"]
    assert pauses == [5.0, 5.0] and len(frames) == 3
    assert all(frame.startswith(status_view.CLEAR) for frame in frames)
    assert "0/2 tables have a result" in frames[0] and "2/2 tables have a result" in frames[2]
    assert frames[2].splitlines()[2].split() == ["s.t1", "failed", "boom"] and "s.t0" not in frames[2]  # a succeeded table leaves the live view
    assert frames[2].splitlines()[-1] == "2 tables: 1 failed, 1 succeeded"


def test_a_live_frame_of_5000_tables_fits_the_terminal_failed_first():
    from workflows import status_view

    tables = _tables(*(["succeeded"] * 4000 + ["not_run"] * 990 + ["failed"] * 10))
    frame = status_view.live_frame("r_20260101_000000", tables, rows=30)
    assert len(frame) <= 30
    assert "4010/5000 tables have a result" in frame[0]
    assert all(" failed " in line for line in frame[2:12]) and " not_run " in frame[12]
    assert frame[-2] == "… and 974 more not succeeded"
    assert frame[-1] == "5000 tables: 10 failed, 990 not_run, 4000 succeeded"


def test_status_watch_of_a_finished_run_draws_once_and_exits_like_status(run, devstack_environ):
    layout, store = run
    for table in PLANNED:
        _write(layout, store, table, "succeeded", rows=1)
    done = CliRunner().invoke(app, ["status", "--run-id", layout.run_id, "--watch", "--interval", "1"],
                              env=devstack_environ)
    assert done.exit_code == 0, done.output
    # One frame; click drops the clear-screen sequence when the output is not a terminal.
    assert done.output.count("tables have a result") == 1 and "\x1b[" not in done.output
    assert "3/3 tables have a result" in done.output and "every table succeeded" in done.output


def test_a_hostile_table_name_or_error_stays_on_its_line_of_the_status():
    from workflows import status_view
    from workflows.argo import TableStatus

    tables = [TableStatus("s.t\ns.forged  succeeded\x1b[2J", "failed", None, None, 1, "boom\r\x9b2J")]
    lines = status_view.table_lines(tables)
    assert len(lines) == 2 and not any(c in "".join(lines) for c in "\n\r\x1b\x9b")
    assert lines[1].startswith("s.t\\ns.forged  succeeded\\u001b[2J  failed") and lines[1].endswith("boom \\u009b2J")
