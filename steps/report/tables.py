"""`<run_id>.tables`: one line per table with its final status, as the old system's DATABASE_DATE.tables.

Rows and their status come from shared/runstate.py's `table_states` (the rule `r2a status`, retry-failed's list and
`r2a readiness` use too): the plan (tables.json) in plan order (largest first); then tables with a result file but
outside the plan (e.g. load_schema could not create them), by name; then tables the schema steps dropped before the
plan, by name; then tables an earlier r2a run created that the source no longer has ("dropped_in_source", kept in
AlloyDB).
The last column, `change`, says what load_schema did to the table's definition: created, refreshed (kept and
reloaded), changed (a column added, or a difference that failed it) or dropped_in_source; empty when it did neither
(e.g. --on-existing skip). Then an incremental sync's (steps/table_transfer/sync_load.py): `sync_mode` (append,
upsert; empty for a full load), `watermark_from` (empty when the whole table was read), `watermark_to`,
`rows_inserted`, `rows_updated`, `rows_deleted`; then `sync_note`: in a run with a sync config, why a table was
loaded in full (the config's note, or that the config does not name it). New columns only ever go at the end, so
readers of the old columns keep working.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from shared.log import one_line, visible
from shared.results import PhaseTiming, TableResult
from shared.runstate import STATUSES, TableState, table_states
from steps.report.collect import RunInputs
from steps.report.timefmt import format_seconds, format_ts, parse_ts

COLUMNS = ("table", "target", "status", "started_at", "finished_at", "duration_s", "rows_source", "rows_loaded",
           "bytes", "attempts", "error", "change", "sync_mode", "watermark_from", "watermark_to", "rows_inserted",
           "rows_updated", "rows_deleted", "sync_note")


@dataclass
class TableRow:
    table: str
    target: str
    status: str  # succeeded | failed | skipped | not_run
    planned: bool
    started_at: str = ""
    finished_at: str = ""
    duration_s: float | None = None
    rows_source: int | None = None
    rows_loaded: int | None = None
    bytes: int | None = None  # compressed bytes moved S3 -> GCS -> AlloyDB
    attempts: int | None = None
    error: str = ""
    phases: list[PhaseTiming] = field(default_factory=list)
    change: str = ""
    sync_mode: str = ""
    watermark_from: str = ""
    watermark_to: str = ""
    rows_inserted: int | None = None
    rows_updated: int | None = None
    rows_deleted: int | None = None
    sync_note: str = ""

    def cells(self) -> list[str]:
        """The row's tab-separated cells, each on one line: the names as they are with their control characters
        escaped (log.visible: "a\\tb" and "a b" stay two names), the other text folded (one_line)."""
        rest = [self.status, self.started_at, self.finished_at, format_seconds(self.duration_s),
                _count(self.rows_source), _count(self.rows_loaded), _count(self.bytes), _count(self.attempts),
                self.error, self.change, self.sync_mode, self.watermark_from, self.watermark_to,
                _count(self.rows_inserted), _count(self.rows_updated), _count(self.rows_deleted), self.sync_note]
        return [visible(self.table), visible(self.target), *(one_line(cell) for cell in rest)]


def _count(value: int | None) -> str:
    return "" if value is None else str(value)


def error_text(result: TableResult) -> str:
    if result.error is None:
        return source_changed_note(result)
    if result.status == "skipped":
        return one_line(result.error.message)
    return one_line(f"{result.error.error_class}: {result.error.message}")


def source_changed_note(result: TableResult) -> str:
    """Other sessions wrote to the table during the run: what was loaded (and verified) is the UNLOAD's snapshot."""
    after = result.rows_source_after
    if after is None or result.rows_source is None or after == result.rows_source:
        return ""
    return (f"note: source changed during the run: {result.rows_source} rows at the UNLOAD (loaded and verified), "
            f"{after} in the source afterwards")


def row_from_state(state: TableState) -> TableRow:
    """The table's line: its result's fields when it has one, else the state's reason as the error."""
    result = state.result
    if result is None:
        return TableRow(state.table, state.target, state.status, state.planned, error=state.reason,
                        change=state.change)
    return TableRow(
        table=state.table, target=state.target, status=state.status, planned=state.planned,
        started_at=format_ts(parse_ts(result.started_at)), finished_at=format_ts(parse_ts(result.finished_at)),
        duration_s=result.duration_s, rows_source=result.rows_source, rows_loaded=result.rows_loaded,
        bytes=result.bytes_compressed, attempts=len(result.attempts), error=error_text(result),
        phases=list(result.phases), change=state.change, sync_mode=result.sync_mode or "",
        watermark_from=result.watermark_from or "", watermark_to=result.watermark_to or "",
        rows_inserted=result.rows_inserted, rows_updated=result.rows_updated, rows_deleted=result.rows_deleted,
        sync_note=result.sync_note or "")


def build_rows(inputs: RunInputs) -> list[TableRow]:
    """One row per table, in the order and with the status shared/runstate.py's `table_states` gives it."""
    return [row_from_state(state) for state in table_states(inputs.plan, inputs.results, inputs.invalid_results,
                                                            inputs.objects)]


def render_tables(rows: list[TableRow]) -> str:
    lines = ["\t".join(COLUMNS)]
    lines += ["\t".join(row.cells()) for row in rows]
    return "\n".join(lines) + "\n"


def status_counts(rows: list[TableRow], planned_only: bool = False) -> dict[str, int]:
    counts = dict.fromkeys(STATUSES, 0)
    for row in rows:
        if row.planned or not planned_only:
            counts[row.status] += 1
    return counts
