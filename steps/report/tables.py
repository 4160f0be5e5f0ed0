"""`<run_id>.tables`: one line per table with its final status, as the old system's DATABASE_DATE.tables.

Rows: the plan (tables.json) in plan order (largest first); then tables with a result file but outside the plan
(e.g. load_schema could not create them), by name; then tables the schema steps dropped before the plan, by name;
then tables an earlier r2a run created that the source no longer has ("dropped_in_source", kept in AlloyDB).
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

from shared.log import one_line
from shared.results import PhaseTiming, TableResult
from steps.report.collect import NOT_MIGRATED, RunInputs, canonical, result_path
from steps.report.timefmt import format_seconds, format_ts, parse_ts

COLUMNS = ("table", "target", "status", "started_at", "finished_at", "duration_s", "rows_source", "rows_loaded",
           "bytes", "attempts", "error", "change", "sync_mode", "watermark_from", "watermark_to", "rows_inserted",
           "rows_updated", "rows_deleted", "sync_note")
STATUSES = ("succeeded", "failed", "skipped", "not_run")
NO_RESULT = "no result file: the transfer did not run or did not finish"


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
        return [self.table, self.target, self.status, self.started_at, self.finished_at,
                format_seconds(self.duration_s), _count(self.rows_source), _count(self.rows_loaded),
                _count(self.bytes), _count(self.attempts), self.error, self.change, self.sync_mode,
                self.watermark_from, self.watermark_to, _count(self.rows_inserted), _count(self.rows_updated),
                _count(self.rows_deleted), self.sync_note]


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


def row_from_result(result: TableResult, planned: bool, target: str = "") -> TableRow:
    return TableRow(
        table=canonical(result.table), target=target or canonical(result.target), status=result.status,
        planned=planned, started_at=format_ts(parse_ts(result.started_at)),
        finished_at=format_ts(parse_ts(result.finished_at)), duration_s=result.duration_s,
        rows_source=result.rows_source, rows_loaded=result.rows_loaded, bytes=result.bytes_compressed,
        attempts=len(result.attempts), error=error_text(result), phases=list(result.phases),
        sync_mode=result.sync_mode or "", watermark_from=result.watermark_from or "",
        watermark_to=result.watermark_to or "", rows_inserted=result.rows_inserted, rows_updated=result.rows_updated,
        rows_deleted=result.rows_deleted, sync_note=result.sync_note or "")


def build_rows(inputs: RunInputs) -> list[TableRow]:
    rows: list[TableRow] = []
    placed: set[str] = set()
    for entry in inputs.plan or []:
        placed.add(entry.table)
        result = inputs.results.get(entry.table)
        if result is not None:
            rows.append(row_from_result(result, True, entry.target))
        elif result_path(entry.table) in inputs.invalid_results:
            rows.append(TableRow(entry.table, entry.target, "failed", True,
                                 error=one_line(inputs.invalid_results[result_path(entry.table)])))
        else:
            rows.append(TableRow(entry.table, entry.target, "not_run", True, error=NO_RESULT))
    for name in sorted(set(inputs.results) - placed):
        rows.append(row_from_result(inputs.results[name], False))
        placed.add(name)
    dropped: dict[str, TableRow] = {}
    for entry in inputs.objects:
        name = canonical(entry.name)
        if entry.kind != "table" or entry.status not in NOT_MIGRATED or name in placed or name in dropped:
            continue
        reason = one_line(f"{entry.status} in {entry.stage}: {entry.reason or 'no reason given'}")
        dropped[name] = TableRow(name, canonical(entry.target_name) if entry.target_name else "", "skipped",
                                 False, error=reason)
    rows.extend(dropped[name] for name in sorted(dropped))
    changes = table_changes(inputs)
    for row in rows:
        row.change = changes.get(row.table, "")
    placed.update(dropped)
    gone = {canonical(e.name): e for e in inputs.objects if e.kind == "table" and e.change == "dropped_in_source"}
    rows.extend(TableRow(name, canonical(gone[name].target_name or ""), "skipped", False,
                         error=one_line(gone[name].reason), change="dropped_in_source")
                for name in sorted(set(gone) - placed))
    return rows


def table_changes(inputs: RunInputs) -> dict[str, str]:
    """Redshift table name -> what pre-data did to its definition (load_report.json's `change`)."""
    return {canonical(e.name): e.change for e in inputs.objects
            if e.kind == "table" and e.stage == "load_schema_pre_data" and e.change}


def render_tables(rows: list[TableRow]) -> str:
    lines = ["\t".join(COLUMNS)]
    lines += ["\t".join(one_line(cell) for cell in row.cells()) for row in rows]
    return "\n".join(lines) + "\n"


def status_counts(rows: list[TableRow], planned_only: bool = False) -> dict[str, int]:
    counts = dict.fromkeys(STATUSES, 0)
    for row in rows:
        if row.planned or not planned_only:
            counts[row.status] += 1
    return counts
