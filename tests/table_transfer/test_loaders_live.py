"""Several loaders of one table on devstack (steps/table_transfer/loaders.py): the table's own item and a
`--loader 2-of-2` item load disjoint parts, each committed once (the ledger's PRIMARY KEY and `loader` column say
by whom), the rows exact; a SIGKILLed loader 1 re-run loads only what nobody committed and verifies once. Each
part's COPY is slowed by a statement trigger (COPY FROM fires statement-level INSERT triggers:
https://www.postgresql.org/docs/16/sql-copy.html), so both loaders get parts and a kill lands between two."""

from __future__ import annotations

import json
import re
import threading
from dataclasses import replace

from psycopg2 import sql

from shared.partledger import UNLOADED, LoadKey, LoadRecord
from shared.staging import STAGING_SCHEMA
from steps.table_transfer.loaders import _all_published
from tests.faults.helpers import emulator_fault, expected_summary, numbered_table, run_step, target_summary
from tests.support.slow_copy import slow_new_tables
from tests.table_transfer.test_part_ledger_live import (
    ROWS,
    SMALL_PARTS,
    _ledger,
    _slow_parts,
    synced_window_by_parts,
)


def _parts_by_loader(transfer) -> dict[str, int]:
    if not transfer.pg_rows("SELECT to_regclass('r2a_meta.transfer_parts') IS NOT NULL")[0][0]:
        return {}
    return dict(transfer.pg_rows("SELECT part, loader FROM r2a_meta.transfer_parts WHERE run_id = %s",
                                 (transfer.run_id,)))


def _loader_line(output: str) -> dict[str, str]:
    lines = [line for line in output.splitlines() if " loader.finished " in line]
    assert len(lines) == 1, output
    return dict(re.findall(r"(\w+)=(\S+)", lines[0]))


def _second_loader(transfer, source, runs: list, wait_s: str = "20") -> threading.Thread:
    thread = threading.Thread(target=lambda: runs.append(run_step(
        transfer, "--loader", f"loader-2-of-2:{source}", "--loader-wait-s", wait_s, timeout=240)))
    thread.start()
    return thread


def test_two_loaders_load_disjoint_parts_each_once_and_the_rows_exactly(transfer):
    source, _ = numbered_table(transfer, "two_loaders", ROWS)
    _slow_parts(transfer, "two_loaders", 1.0)
    seen: dict[str, int] = {}
    helper: list = []
    thread = _second_loader(transfer, source, helper)
    run = run_step(transfer, "--table", str(source), *SMALL_PARTS, timeout=240,
                   while_running=lambda: seen.update(_parts_by_loader(transfer)))
    thread.join(240)
    assert run.code == 0, run.output
    assert helper and helper[0].code == 0, helper[0].output if helper else "no second loader"
    assert target_summary(transfer, "two_loaders") == expected_summary(ROWS)
    result = transfer.result(source)
    (attempt,) = result["attempts"]
    second = _loader_line(helper[0].output)
    by_second = {name for name, loader in seen.items() if loader == 2}
    assert int(second["parts_loaded"]) >= 1 and len(by_second) == int(second["parts_loaded"])
    assert set(attempt["parts_reused"]) == by_second  # loader 1 counted them, loaded none of them
    assert not set(attempt["parts_loaded"]) & by_second
    assert len(attempt["parts_loaded"]) + len(by_second) == result["parts"]
    assert result["rows_source"] == result["rows_loaded"] == ROWS
    assert _ledger(transfer) == (None, {})  # verified once, the ledger forgotten with it
    (pod,) = [p for p in result["phases"] if p["name"] == "load (loader 2)"]  # the report's timeline draws it
    assert pod["status"] == "succeeded" and pod["duration_s"] >= 1.0 * len(by_second) - 0.5  # 1 s trigger per part


def test_a_killed_first_loader_rerun_loads_only_what_nobody_committed(transfer):
    source, _ = numbered_table(transfer, "killed_first", ROWS)
    _slow_parts(transfer, "killed_first", 1.0)

    def both_loaded_after_the_unload(_output: str) -> bool:
        state, parts = _ledger(transfer)
        return state == "unloaded" and len(parts) >= 3 and 2 in _parts_by_loader(transfer).values()

    helper: list = []
    thread = _second_loader(transfer, source, helper)
    run = run_step(transfer, "--table", str(source), *SMALL_PARTS, timeout=240, kill_when=both_loaded_after_the_unload)
    assert run.code is None and not run.timed_out, run.output
    rerun = run_step(transfer, "--table", str(source), *SMALL_PARTS, timeout=240)
    thread.join(240)
    assert rerun.code == 0, rerun.output
    assert helper and helper[0].code == 0, helper[0].output if helper else "no second loader"
    assert target_summary(transfer, "killed_first") == expected_summary(ROWS)
    result = transfer.result(source)
    last = result["attempts"][-1]
    assert last["number"] == 2 and last["unload_attempt"] == 1 and last["status"] == "succeeded"
    assert {p["name"]: p["status"] for p in result["phases"]}["unload"] == "skipped"
    assert not set(last["parts_loaded"]) & set(last["parts_reused"])
    assert len(last["parts_loaded"]) + len(last["parts_reused"]) == result["parts"]
    assert int(_loader_line(helper[0].output)["parts_loaded"]) >= 1
    assert result["rows_source"] == result["rows_loaded"] == ROWS
    assert _ledger(transfer) == (None, {})


def test_a_further_loader_waits_while_the_tables_own_item_runs_however_long_its_unload(transfer):
    """--loader-wait-s bounds only the time without the table's own item running (its run lock, shared/runlock.py):
    a 2 s wait outlasts an UNLOAD stalled 8 s, and the loader still gets parts."""
    source, _ = numbered_table(transfer, "stalled_unload", ROWS)
    _slow_parts(transfer, "stalled_unload", 1.0)
    emulator_fault(transfer, "unload_stall", str(source), "8")
    helper: list = []
    threads: list[threading.Thread] = []

    def start_once_the_load_is_planned() -> None:
        if not threads and _ledger(transfer)[0] == "unloading":
            threads.append(_second_loader(transfer, source, helper, wait_s="2"))

    run = run_step(transfer, "--table", str(source), *SMALL_PARTS, timeout=240,
                   while_running=start_once_the_load_is_planned)
    threads[0].join(240)
    assert run.code == 0, run.output
    second = _loader_line(helper[0].output)
    assert int(second["parts_loaded"]) >= 1, helper[0].output
    assert second["ended"] in ("load-gone", "every-part-committed"), helper[0].output  # not "idle" after 2 s
    assert target_summary(transfer, "stalled_unload") == expected_summary(ROWS)


def test_a_further_loader_started_after_the_switch_ends_without_waiting(transfer):
    source, _ = numbered_table(transfer, "late_loader", 20_000)
    run = run_step(transfer, "--table", str(source), timeout=120)
    assert run.code == 0, run.output
    late = run_step(transfer, "--loader", f"loader-2-of-2:{source}", "--loader-wait-s", "600", timeout=120)
    assert late.code == 0, late.output
    line = _loader_line(late.output)
    assert line["ended"] == "switched-in-earlier" and line["parts_loaded"] == "0", late.output
    assert late.seconds < 60  # the table's own item is not running and its result says succeeded: no 600 s wait
    assert target_summary(transfer, "late_loader") == expected_summary(20_000)


def test_a_manifest_cleaned_up_after_the_switch_means_nothing_more_to_load(transfer):
    """Loader 1 deletes the UNLOAD's folder after the switch (--cleanup s3) while a further loader may be about to
    read its manifest: that ends the loader, it is no error."""
    source, target = numbered_table(transfer, "cleaned", 10)
    gone = transfer.layout.unload_prefix(source, 1) + "manifest"
    assert not transfer.store.exists(gone)
    record = LoadRecord(LoadKey(transfer.run_id, str(source), 1), str(target), None, None, UNLOADED, "text", "zstd",
                        "\\N", 10, {}, gone)
    assert _all_published(transfer.store, record, {})
    assert not _all_published(transfer.store, replace(record, manifest_url=None), {})


def test_two_loaders_of_a_rerun_load_the_shadow_and_it_is_switched_in_once(transfer):
    """A re-run of a loaded table (the nightly run) loads into a shadow in r2a_staging: the further loader follows
    the load's record there."""
    source, _ = numbered_table(transfer, "rerun_two", ROWS)
    first = run_step(transfer, "--table", str(source), *SMALL_PARTS, timeout=240)
    assert first.code == 0, first.output
    slow_new_tables(transfer.alloydb_dsn, STAGING_SCHEMA, 1.0)
    helper: list = []
    thread = _second_loader(transfer, source, helper)
    run = run_step(transfer, "--table", str(source), *SMALL_PARTS, timeout=240)
    thread.join(240)
    assert run.code == 0, run.output
    second = _loader_line(helper[0].output)
    assert int(second["parts_loaded"]) >= 1, helper[0].output
    assert target_summary(transfer, "rerun_two") == expected_summary(ROWS)
    result = transfer.result(source)
    last = result["attempts"][-1]
    assert last["switch"] in ("rename", "truncate-insert")  # through a shadow, not into the target
    assert len(last["parts_reused"]) == int(second["parts_loaded"])  # the further loader's, counted once
    assert result["rows_source"] == result["rows_loaded"] == ROWS
    assert [p["name"] for p in result["phases"]].count("load (loader 2)") == 1
    assert _ledger(transfer) == (None, {})


def test_a_further_loader_of_a_table_synced_incrementally_ends_at_once(transfer, tmp_path):
    """A table the sync config syncs (append/upsert) is loaded by its own item in one transaction, through no part
    ledger (sync_load.py): its further loaders have nothing to share and must not hold their slots waiting."""
    source, _ = numbered_table(transfer, "synced", 100)
    config = tmp_path / "sync.json"
    config.write_text(json.dumps({"tables": {str(source): {"mode": "append", "cursor": "id"}}}))
    run = run_step(transfer, "--loader", f"loader-2-of-2:{source}", "--sync-config", str(config),
                   "--loader-wait-s", "600", timeout=60)
    assert run.code == 0, run.output
    assert _loader_line(run.output)["ended"] == "synced-incrementally", run.output


def test_two_loaders_load_a_sync_window_by_parts_into_the_shadow_merged_once(transfer, tmp_path):
    """A synced table above --merge-in-one-mb loads its window through the part ledger into a shadow: a further
    loader of the run shares its parts as for a full load, and the window is merged once."""
    source, synced, added = synced_window_by_parts(transfer, tmp_path, "synced_parts")
    helper: list = []
    thread = threading.Thread(target=lambda: helper.append(run_step(
        transfer, "--loader", f"loader-2-of-2:{source}", "--loader-wait-s", "20", *synced, timeout=240)))
    thread.start()
    run = run_step(transfer, "--table", str(source), *synced, timeout=240)
    thread.join(240)
    assert run.code == 0, run.output
    assert helper and helper[0].code == 0, helper[0].output if helper else "no second loader"
    second = _loader_line(helper[0].output)
    assert int(second["parts_loaded"]) >= 1, helper[0].output
    assert target_summary(transfer, "synced_parts") == expected_summary(ROWS + added)
    result = transfer.result(source)
    last = result["attempts"][-1]
    assert last["switch"] == "merge" and len(last["parts_reused"]) == int(second["parts_loaded"])
    assert (result["watermark_from"], result["watermark_to"]) == (str(ROWS), str(ROWS + added))
    assert result["rows_loaded"] == added + 1 and result["rows_source"] == ROWS + added  # the tie at the watermark
    assert _ledger(transfer) == (None, {})


def test_a_failed_further_loader_ends_its_item_without_failing_the_table_it_did_not_own(transfer):
    """Loader 2's every COPY is refused (a statement trigger raises in a transaction that holds a loader-2 claim:
    loader 1's sessions never see that uncommitted claim). Its item logs `loader.failed` and exits 0, so its Argo
    node does not fail a run whose table succeeded; loader 1 loads every part and verifies the rows exactly."""
    source, _ = numbered_table(transfer, "refused_second", ROWS)
    function = sql.Identifier(transfer.schema, "refuse_loader_2")
    _slow_parts(transfer, "refused_second", 0.5)
    transfer.pg_execute(sql.SQL(
        "CREATE FUNCTION {}() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN "
        "IF EXISTS (SELECT 1 FROM r2a_meta.transfer_parts WHERE loader = 2 AND rows IS NULL) THEN "
        "RAISE EXCEPTION 'loader 2 refused' USING ERRCODE = 'XX000'; END IF; RETURN NULL; END$$").format(function))
    transfer.pg_execute(sql.SQL("CREATE TRIGGER refuse_loader_2 AFTER INSERT ON {} FOR EACH STATEMENT "
                                "EXECUTE FUNCTION {}()").format(sql.Identifier(transfer.schema, "refused_second"),
                                                                function))
    helper: list = []
    thread = _second_loader(transfer, source, helper)
    run = run_step(transfer, "--table", str(source), *SMALL_PARTS, timeout=240)
    thread.join(240)
    assert run.code == 0, run.output
    assert helper and helper[0].code == 0, helper[0].output if helper else "no second loader"
    failed = [line for line in helper[0].output.splitlines() if " loader.failed " in line]
    assert len(failed) == 1 and "loader 2 refused" in failed[0], helper[0].output
    assert " loader.finished " not in helper[0].output
    assert target_summary(transfer, "refused_second") == expected_summary(ROWS)
    result = transfer.result(source)
    assert result["status"] == "succeeded" and result["rows_loaded"] == ROWS
    (attempt,) = result["attempts"]
    assert attempt["parts_reused"] == [] and len(attempt["parts_loaded"]) == result["parts"]  # all by loader 1
