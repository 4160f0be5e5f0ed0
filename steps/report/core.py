"""The report from end to end: collect → rows → .tables, .log, summary.json, report.html → write everywhere."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from shared.documents.summary import Summary
from shared.errors import BadInputError, ObjectStoreError
from shared.layout import REPORT_HTML, SUMMARY_JSON
from shared.loader_items import BIG_TABLE_MB, with_loader_items
from shared.log import redact, redact_value
from shared.objectstore import ObjectStore, RunLayout
from steps.report.collect import RUN_PLAN_FILE, RawRun, RunInputs, parse_inputs
from steps.report.html import render_html
from steps.report.logfile import REPORT_STEP, LogLine, log_lines, render_log
from steps.report.summary import planned_all_succeeded, summarize
from steps.report.tables import TableRow, build_rows, render_tables, status_counts


@dataclass
class Report:
    run_id: str
    files: dict[str, bytes]  # name inside report/ (and --out) -> content
    all_planned_succeeded: bool
    summary: Summary
    rows: list[TableRow] = field(default_factory=list)

    def verdict(self) -> str:
        counts = self.summary.planned_counts
        if not self.summary.plan_found:
            return "no tables.json in the run folder: load_schema pre-data did not finish, no table was planned"
        planned = self.summary.planned_tables
        return (f"{planned - counts['succeeded']} of {planned} planned tables did not succeed "
                f"(failed {counts['failed']}, not_run {counts['not_run']}, skipped {counts['skipped']})")


def summary_line(inputs: RunInputs, rows: list[TableRow], report_time: datetime) -> LogLine:
    counts = status_counts(rows, planned_only=True)
    detail = f"planned={len([r for r in rows if r.planned])} " + " ".join(f"{k}={v}" for k, v in counts.items())
    event = "finished" if planned_all_succeeded(inputs, rows) else "failed"
    if inputs.plan is None:
        detail = "no plan: tables.json is missing"
    return LogLine(report_time, REPORT_STEP, event=event, detail=detail)


RETRYABLE = ("failed", "not_run")  # skipped tables were left out on purpose, with their reason


def unfinished_tables(raw: RawRun, big_table_mb: float = BIG_TABLE_MB, loaders: int = 1) -> list[str]:
    """Planned tables whose latest result is failed or missing: what `retry-failed` transfers again, as its fan-out
    list. With `loaders` > 1, a table of at least `big_table_mb` (its size in tables.json) is followed by its
    further loader items, as pre-data's fan-out gives them (shared/loader_items.py)."""
    inputs = parse_inputs(raw)
    if inputs.plan is None:
        raise BadInputError(f"run {raw.run_id} has no tables.json: nothing was planned, so nothing can be retried")
    tables = [row.table for row in build_rows(inputs) if row.planned and row.status in RETRYABLE]
    unfinished = set(tables)
    sizes = sorted(((e.table, e.size_mb or 0.0) for e in inputs.plan if e.table in unfinished), key=lambda s: -s[1])
    return with_loader_items(tables, sizes, big_table_mb, loaders)


def build_report(raw: RawRun, report_time: datetime, schema_backups: dict[str, bytes | None]) -> Report:
    """Everything the report writes, from the documents `collect` read (pure: no I/O)."""
    inputs = parse_inputs(raw)
    rows = build_rows(inputs)
    copies = {name: content is not None for name, content in schema_backups.items()}
    summary = summarize(inputs, rows, report_time, copies, raw.documents.get(RUN_PLAN_FILE))
    log_text = render_log(log_lines(inputs, rows, report_time), summary_line(inputs, rows, report_time))
    files = {  # results hold redacted errors already; this catches a secret in any other text the report shows
        f"{raw.run_id}.log": redact(log_text).encode(),
        f"{raw.run_id}.tables": redact(render_tables(rows)).encode(),
        SUMMARY_JSON: _json(redact_value(summary.to_json())).encode(),
        REPORT_HTML: redact(render_html(inputs, rows, summary)).encode(),
    }
    files.update({name: content for name, content in schema_backups.items() if content is not None})
    return Report(raw.run_id, files, summary.all_planned_succeeded, summary, rows)


def _json(value: dict) -> str:
    import json

    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def read_schema_backups(store: ObjectStore, layout: RunLayout) -> dict[str, bytes | None]:
    """The schema dumps by name, copied into report/ under the same names (None: the run has none)."""
    backups: dict[str, bytes | None] = {}
    for url in (layout.schema_redshift_sql, layout.schema_alloydb_sql):
        name = layout.relative(url)
        try:
            backups[name] = store.read_bytes(url)
        except ObjectStoreError as exc:
            if not exc.reason.endswith("does not exist"):
                raise
            backups[name] = None
    return backups


CONTENT_TYPES = {".html": "text/html; charset=utf-8", ".json": "application/json",
                 ".sql": "application/sql; charset=utf-8"}


def write_report(report: Report, store: ObjectStore, layout: RunLayout, out_dir: Path | None) -> list[str]:
    """Local copies first (a user waiting on --out gets them even if the bucket write fails), then report/."""
    written = []
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        for name, content in report.files.items():
            (out_dir / name).write_bytes(content)
            written.append(str(out_dir / name))
    for name, content in report.files.items():
        url = layout.report(name)
        store.write_bytes(url, content, CONTENT_TYPES.get(Path(name).suffix, "text/plain; charset=utf-8"))
        written.append(url)
    return written
