"""Cut-over readiness of a finished run: is every table in sync, and what is not migrated. Judged by `r2a readiness
--run-id R` and by the report step of the cutover WorkflowTemplate (`python -m steps.report --readiness`).

Each table's state comes from shared/runstate.py (the rule the report and `r2a status` use): the planned tables and
those with a result outside the plan are judged; a planned table whose result file is invalid is ✗ as failed.
A table is in sync (✓) when its transfer succeeded and was verified by checksum (`--verify checksum`: for an
incrementally synced table the whole table's per-column aggregates, steps/table_transfer/sync_load.py), else ✗ with
the reason. Its lag at the start of the run is how long before the run's transfer its previous sync had committed
(`synced_before` in its result; none for a table reloaded in full). The objects not migrated come from the run's
summary.json (read through shared/documents/summary.py: a malformed one is one error line, none is "unknown").
Post-data (keys, indexes, the identity reseed) must have finished: its steps/ record succeeded, or is
partial (some objects failed, which the objects not migrated count). The run is ready when every planned table is ✓
and post-data finished. Written to report/readiness.json and printed.
"""

from __future__ import annotations

from datetime import datetime

from shared import stepnames
from shared.documents.readiness import NotMigratedCount, PostDataState, Readiness, TableReadiness
from shared.documents.summary import Summary
from shared.log import one_line, visible
from shared.objectstore import ObjectStore, RunLayout
from shared.runstate import RunState, TableState, read_run_state

POST_DATA_RECORD = f"{stepnames.LOAD_SCHEMA}_post_data"  # steps/load_schema/__main__.py's result name
POST_DATA_FINISHED = ("succeeded", "partial")


def _seconds_between(earlier: str | None, later: str | None) -> float | None:
    if not earlier or not later:
        return None
    try:
        start = datetime.fromisoformat(earlier.replace("Z", "+00:00"))
        end = datetime.fromisoformat(later.replace("Z", "+00:00"))
    except ValueError:
        return None
    return round((end - start).total_seconds(), 1)


def judged_tables(state: RunState) -> list[TableState]:
    """The tables readiness judges: the planned ones and those with a result outside the plan. Tables a schema step
    did not carry over, and those dropped in the source, count among the objects not migrated."""
    return [t for t in state.tables if t.planned or t.result is not None]


def table_readiness(state: TableState) -> TableReadiness:
    result = state.result
    if result is None:
        why = f"{state.status}: {state.reason}" if state.status == "failed" else "no result: the transfer did not run"
        return TableReadiness(state.table, False, why[:500], "", None, None)
    mode = result.sync_mode or "full"
    watermark = result.watermark_to if result.status == "succeeded" else result.watermark_from
    lag = _seconds_between(result.synced_before, result.started_at)
    if result.status != "succeeded":
        reason = f"{result.status}: {result.error.message if result.error else ''}"
        return TableReadiness(state.table, False, reason[:500], mode, watermark, lag)
    if result.checksum_match is not True:
        return TableReadiness(state.table, False, "not verified by checksum (run with -p verify=checksum)", mode,
                              watermark, lag)
    return TableReadiness(state.table, True, "", mode, watermark, lag)


def post_data_state(store: ObjectStore, layout: RunLayout) -> PostDataState:
    """post-data's status in this run (not_run without a record) and its error message."""
    url = layout.step_result(POST_DATA_RECORD)
    record = store.read_json(url) if store.exists(url) else None
    if not isinstance(record, dict):
        return PostDataState("not_run", "")
    error = record.get("error") or {}
    return PostDataState(str(record.get("status")), str(error.get("message", "") if isinstance(error, dict)
                                                        else error)[:500])


def readiness(store: ObjectStore, layout: RunLayout) -> Readiness:
    """The readiness of a run: tables (plan order), post-data, objects not migrated, ready."""
    tables = tuple(table_readiness(t) for t in judged_tables(read_run_state(store, layout)))
    not_migrated = NotMigratedCount()
    if store.exists(layout.summary_json):
        found = Summary.read(store, layout.summary_json).objects_not_migrated
        not_migrated = NotMigratedCount(found.total, dict(found.by_kind))
    post_data = post_data_state(store, layout)
    ready = bool(tables) and all(t.in_sync for t in tables) and post_data.status in POST_DATA_FINISHED
    return Readiness(layout.run_id, ready, tables, post_data, not_migrated)


def write_readiness(store: ObjectStore, layout: RunLayout) -> Readiness:
    """Judge the run and write report/readiness.json; returns what it wrote."""
    document = readiness(store, layout)
    store.write_json(layout.readiness_json, document.to_json())
    return document


def readiness_lines(document: Readiness) -> list[str]:
    tables = document.tables
    names = [visible(t.table) for t in tables]  # Redshift's text: a newline or terminal escape in it stays visible
    width = max([len(n) for n in names] + [5])
    lines = [f"   {'table':<{width}}  {'mode':<6} {'watermark':<26} {'lag at start':>12}  reason"]
    for name, t in zip(names, tables, strict=True):
        lag = "" if t.lag_at_start_s is None else f"{t.lag_at_start_s:.0f} s"
        lines.append(f"{'✓' if t.in_sync else '✗'}  {name:<{width}}  {t.mode:<6} "
                     f"{one_line(t.watermark or ''):<26} {lag:>12}  {one_line(t.reason)}")
    post_data = document.post_data
    lines.append(f"post-data (keys, indexes, identity reseed): {post_data.status}"
                 + (f": {one_line(post_data.error)}" if post_data.error else ""))
    missing = document.objects_not_migrated
    kinds = ", ".join(f"{n} {k}" for k, n in sorted(missing.by_kind.items()))
    lines.append(f"objects not migrated: {missing.total if missing.total is not None else 'unknown (no summary.json)'}"
                 + (f" ({kinds})" if kinds else ""))
    in_sync = sum(t.in_sync for t in tables)
    unfinished = "" if post_data.status in POST_DATA_FINISHED else f", post-data {post_data.status}"
    lines.append(f"{'ready' if document.ready else 'not ready'}: {in_sync} of {len(tables)} tables in sync"
                 + unfinished)
    return lines
