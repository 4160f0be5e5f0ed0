"""`r2a readiness` over result files written straight into devstack's GCS emulator: a table is ✓ only when it
succeeded verified by checksum, its lag at the start is the time since its previous sync, and the run is ready only
when every planned table is ✓ and post-data (keys, indexes, identity reseed) finished."""

from __future__ import annotations

import uuid

from typer.testing import CliRunner

from shared.config import load_settings
from shared.documents.readiness import Readiness
from shared.documents.summary import NotMigrated, Summary
from shared.documents.tables import PlannedTable, TablePlan
from shared.identifiers import TableRef
from shared.objectstore import ObjectStore, RunLayout
from shared.readiness import POST_DATA_RECORD
from shared.results import Attempt, ErrorInfo, StepResult, TableResult, to_dict
from tests.support.documents import check_document, definition_of
from workflows.cli import app

ORDERS, EVENTS, PEOPLE = TableRef("sales", "orders"), TableRef("sales", "events"), TableRef("hr", "people")


def _write(store, layout, table: TableRef, status: str, checksum: bool | None, **sync):
    failure = ErrorInfo("VerificationError", "row counts differ", 5, False) if status == "failed" else None
    record = TableResult(layout.run_id, str(table), str(table), status, "2026-01-02T03:00:00.000Z",
                         "2026-01-02T03:01:00.000Z", 60.0, attempts=[Attempt(1, "2026-01-02T03:00:00.000Z")],
                         rows_loaded=10 if status == "succeeded" else None, checksum_match=checksum, error=failure,
                         **sync)  # a succeeded result without rows_loaded breaks the schema: failed, as the report has it
    store.write_json(layout.result(table), to_dict(record))


def _post_data(store, layout, status: str):
    failure = ErrorInfo("TargetError", "index build failed", 5, False) if status == "failed" else None
    store.write_json(layout.step_result(POST_DATA_RECORD), to_dict(StepResult(
        layout.run_id, POST_DATA_RECORD, status, "2026-01-02T03:02:00.000Z", "2026-01-02T03:03:00.000Z", 60.0,
        error=failure)))


def test_readiness_marks_each_table_and_the_run(devstack_environ):
    settings = load_settings(devstack_environ)
    layout = RunLayout.from_settings(f"readiness_{uuid.uuid4().hex[:8]}", settings.gcs)
    store = ObjectStore(None, settings.gcs)
    store.write_json(layout.tables_json, TablePlan(layout.run_id, tuple(PlannedTable(t, t, ())
                                                                        for t in (ORDERS, EVENTS, PEOPLE))).to_json())
    store.write_json(layout.summary_json, Summary(layout.run_id, "2026-01-02T03:05:00.000Z", objects_not_migrated=(
        NotMigrated(3, {"view": 2, "function": 1}))).to_json())
    _write(store, layout, ORDERS, "succeeded", True, sync_mode="upsert", watermark_to="2026-01-02 02:59:00",
           synced_before="2026-01-02T02:00:00Z")
    _write(store, layout, EVENTS, "failed", None, sync_mode="append", watermark_from="41",
           synced_before="2026-01-01T03:00:00Z")
    _write(store, layout, PEOPLE, "succeeded", None)
    _post_data(store, layout, "partial")  # some objects failed: counted among the objects not migrated

    done = CliRunner().invoke(app, ["readiness", "--run-id", layout.run_id], env=devstack_environ)
    assert done.exit_code == 7, done.output
    lines = done.output.splitlines()
    assert lines[1].split()[:5] == ["✓", "sales.orders", "upsert", "2026-01-02", "02:59:00"]
    assert lines[1].split()[5:7] == ["3600", "s"]  # its previous sync committed an hour before this run's transfer
    assert lines[2].split()[:5] == ["✗", "sales.events", "append", "41", "86400"]
    assert lines[2].endswith("failed: row counts differ")
    assert lines[3].split()[:3] == ["✗", "hr.people", "full"]
    assert lines[3].endswith("not verified by checksum (run with -p verify=checksum)")
    assert lines[4] == "post-data (keys, indexes, identity reseed): partial"
    assert lines[5] == "objects not migrated: 3 (1 function, 2 view)"
    assert lines[6] == "not ready: 1 of 3 tables in sync"
    written = Readiness.read(store, layout.readiness_json)
    assert check_document(definition_of(layout, layout.readiness_json), store.read_json(layout.readiness_json),
                          "readiness.json") == []
    assert written.ready is False and [t.in_sync for t in written.tables] == [True, False, False]
    assert written.tables[0].lag_at_start_s == 3600 and written.objects_not_migrated.by_kind == {"view": 2,
                                                                                                 "function": 1}

    _write(store, layout, EVENTS, "succeeded", True, sync_mode="append", watermark_to="42")
    _write(store, layout, PEOPLE, "succeeded", True)
    done = CliRunner().invoke(app, ["readiness", "--run-id", layout.run_id], env=devstack_environ)
    assert done.exit_code == 0, done.output
    assert done.output.splitlines()[-1] == "ready: 3 of 3 tables in sync"
    assert Readiness.read(store, layout.readiness_json).ready is True


def test_readiness_needs_post_data_finished(devstack_environ):
    settings = load_settings(devstack_environ)
    layout = RunLayout.from_settings(f"readiness_{uuid.uuid4().hex[:8]}", settings.gcs)
    store = ObjectStore(None, settings.gcs)
    store.write_json(layout.tables_json, TablePlan(layout.run_id, (PlannedTable(ORDERS, ORDERS, ()),)).to_json())
    _write(store, layout, ORDERS, "succeeded", True)

    done = CliRunner().invoke(app, ["readiness", "--run-id", layout.run_id], env=devstack_environ)
    assert done.exit_code == 7, done.output
    assert done.output.splitlines()[-1] == "not ready: 1 of 1 tables in sync, post-data not_run"

    _post_data(store, layout, "failed")
    done = CliRunner().invoke(app, ["readiness", "--run-id", layout.run_id], env=devstack_environ)
    assert done.exit_code == 7, done.output
    assert "post-data (keys, indexes, identity reseed): failed: index build failed" in done.output.splitlines()
    assert Readiness.read(store, layout.readiness_json).post_data.status == "failed"

    _post_data(store, layout, "succeeded")
    done = CliRunner().invoke(app, ["readiness", "--run-id", layout.run_id], env=devstack_environ)
    assert done.exit_code == 0, done.output
    assert done.output.splitlines()[-1] == "ready: 1 of 1 tables in sync"


def test_a_malformed_summary_is_one_line_naming_the_file_and_the_place(devstack_environ):
    """summary.json is read through its dataclass: a broken count is refused, not taken for "unknown"."""
    settings = load_settings(devstack_environ)
    layout = RunLayout.from_settings(f"readiness_{uuid.uuid4().hex[:8]}", settings.gcs)
    store = ObjectStore(None, settings.gcs)
    store.write_json(layout.tables_json, TablePlan(layout.run_id, (PlannedTable(ORDERS, ORDERS, ()),)).to_json())
    _write(store, layout, ORDERS, "succeeded", True)
    summary = Summary(layout.run_id, "2026-01-02T03:05:00.000Z").to_json()
    store.write_json(layout.summary_json, {**summary, "objects_not_migrated": {"total": "3", "by_kind": {},
                                                                              "by_reason": []}})

    done = CliRunner().invoke(app, ["readiness", "--run-id", layout.run_id], env=devstack_environ)
    assert done.exit_code == 3, done.output
    assert done.output.strip().splitlines() == [
        f"r2a readiness: error: {layout.summary_json}: objects_not_migrated.total must be a non-negative whole number"]


def test_a_hostile_table_name_stays_on_its_line_of_the_verdict():
    from shared.documents.readiness import NotMigratedCount, PostDataState, TableReadiness
    from shared.readiness import readiness_lines

    forged = "s.t\n✓  s.forged  upsert\x1b[2J"
    document = Readiness("r", False, (TableReadiness(forged, False, "no result\rhere", "", None, None),),
                         PostDataState("failed", "boom\x1b[31m"), NotMigratedCount(0, {}))
    lines = readiness_lines(document)
    assert len(lines) == 5 and not any(c in "".join(lines) for c in "\n\r\x1b")
    assert lines[1].startswith("✗  s.t\\n✓  s.forged  upsert\\u001b[2J") and lines[1].endswith("no result here")
    assert lines[2].endswith(": boom\\u001b[31m")
