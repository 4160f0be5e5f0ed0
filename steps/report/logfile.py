"""`<run_id>.log`: the run's flow events, oldest first, as the old system's DATABASE_DATE.log.

Events come only from the records the steps wrote (steps/*.json, results/*.json), so the log reads the same
whenever the report runs; the report adds one line per planned table without a result and its own last line.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from shared import stepnames
from shared.log import one_line, visible
from shared.results import PhaseTiming, StepResult, TableResult
from shared.runstate import NO_RESULT
from steps.report.collect import RunInputs
from steps.report.tables import TableRow, error_text
from steps.report.timefmt import format_seconds, format_ts, parse_ts

COLUMNS = ("timestamp", "step", "table", "phase", "event", "duration_s", "detail")
TRANSFER_STEP = stepnames.TABLE_TRANSFER
REPORT_STEP = stepnames.REPORT
PHASE_EVENTS = {"succeeded": "finished", "failed": "failed", "skipped": "skipped"}
FINAL_EVENTS = {"succeeded": "finished", "failed": "failed", "skipped": "skipped", "partial": "finished"}


@dataclass
class LogLine:
    at: datetime | None
    step: str
    table: str = ""
    phase: str = ""
    event: str = ""
    duration_s: float | None = None
    detail: str = ""

    def cells(self) -> list[str]:
        """Each cell on one line: the table's name as it is with its control characters escaped (log.visible), the
        rest folded (one_line); a name from Redshift cannot start a line or shift a column."""
        return [format_ts(self.at) or "-", one_line(self.step), visible(self.table) or "-", one_line(self.phase) or "-",
                one_line(self.event), format_seconds(self.duration_s) or "-", one_line(self.detail) or "-"]


def _phase_lines(step: str, table: str, phases: list[PhaseTiming]) -> list[LogLine]:
    return [LogLine(parse_ts(p.finished_at) or parse_ts(p.started_at), step, table, p.name,
                    PHASE_EVENTS.get(p.status, p.status), p.duration_s) for p in phases]


def step_lines(result: StepResult) -> list[LogLine]:
    lines = [LogLine(parse_ts(result.started_at), result.step, event="started")]
    lines += _phase_lines(result.step, "", result.phases)
    counts = " ".join(f"{key}={value}" for key, value in sorted(result.counts.items()))
    if result.status == "failed":
        detail = f"{result.error.error_class}: {result.error.message}" if result.error else "failed"
    elif result.status == "partial":
        detail = f"partial: {counts}" if counts else "partial"
    else:
        detail = counts
    lines.append(LogLine(parse_ts(result.finished_at) or parse_ts(result.started_at), result.step,
                         event=FINAL_EVENTS[result.status], duration_s=result.duration_s, detail=detail))
    return lines


def table_lines(table: str, result: TableResult) -> list[LogLine]:
    lines = [LogLine(parse_ts(result.started_at), TRANSFER_STEP, table, event="started")]
    for previous, attempt in zip(result.attempts, result.attempts[1:], strict=False):
        why = f" after {previous.error.error_class}: {previous.error.message}" if previous.error else ""
        lines.append(LogLine(parse_ts(attempt.started_at), TRANSFER_STEP, table, event="retried",
                             detail=f"attempt {attempt.number}{why}"))
    lines += _phase_lines(TRANSFER_STEP, table, result.phases)
    if result.status == "succeeded":
        detail = f"rows={result.rows_loaded}"
    else:
        detail = error_text(result)
    lines.append(LogLine(parse_ts(result.finished_at) or parse_ts(result.started_at), TRANSFER_STEP, table,
                         event=FINAL_EVENTS[result.status], duration_s=result.duration_s, detail=detail))
    return lines


def log_lines(inputs: RunInputs, rows: list[TableRow], report_time: datetime) -> list[LogLine]:
    """Every event oldest first; events at the same instant keep the order they happened in within a record."""
    lines: list[LogLine] = []
    for step in inputs.steps:
        lines += step_lines(step)
    for table in sorted(inputs.results):
        lines += table_lines(table, inputs.results[table])
    for row in rows:
        if row.status == "not_run":
            lines.append(LogLine(report_time, REPORT_STEP, row.table, event="not_run", detail=NO_RESULT))
        elif row.planned and row.table not in inputs.results:  # its result file could not be read
            lines.append(LogLine(report_time, REPORT_STEP, row.table, event="failed", detail=row.error))
    order = {id(line): position for position, line in enumerate(lines)}
    lines.sort(key=lambda line: (line.at is None, line.at or report_time, order[id(line)]))
    return lines


def render_log(lines: list[LogLine], summary_line: LogLine | None = None) -> str:
    body = [*lines, summary_line] if summary_line else lines
    return "\n".join(["\t".join(COLUMNS)] + ["\t".join(line.cells()) for line in body]) + "\n"
