"""`python -m steps.report --run-id R [--out DIR] [--list-unfinished | --readiness]`"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import typer

from shared import stepnames
from shared.cli import StepApp, error_line, step_boundary
from shared.errors import ExitCode
from shared.loader_items import BIG_TABLE_MB, MAX_LOADERS, list_json
from shared.log import event
from shared.objectstore import ObjectStore, RunLayout
from shared.readiness import readiness_lines, write_readiness
from shared.results import ErrorInfo, StepResult, to_dict, utc_now
from steps.report.collect import collect
from steps.report.core import build_report, read_schema_backups, unfinished_tables, write_report

STEP = stepnames.REPORT
app = StepApp(STEP, help=__doc__)


@app.command()
def main(
    run_id: str = typer.Option(..., "--run-id", help="the run to report on"),
    out: Path | None = typer.Option(None, "--out", help="also write the report files to this local folder"),
    list_unfinished: bool = typer.Option(
        False, "--list-unfinished",
        help="print (JSON) the planned tables whose latest result is failed or missing, write nothing: the "
             "fan-out list of the retry-failed workflow"),
    big_table_mb: float = typer.Option(
        BIG_TABLE_MB, "--big-table-mb", min=0,
        help="--list-unfinished: a table of at least this many MB (tables.json) is retried by --loaders-per-big-table "
             "items"),
    loaders_per_big_table: int = typer.Option(
        1, "--loaders-per-big-table", min=1, max=MAX_LOADERS,
        help="--list-unfinished: items per big table, its own and K-1 further loaders (1: its own only)"),
    readiness: bool = typer.Option(
        False, "--readiness",
        help="after the report, judge cut-over readiness (every table in sync, verified by checksum): print it, "
             "write report/readiness.json, exit 7 unless ready (the cutover workflow's last step)"),
) -> None:
    """Write <run_id>.log, <run_id>.tables, summary.json, report.html and both SQL backups to the run's report/
    folder (and --out). Exit 0 only when every planned table succeeded, 7 otherwise, after writing everything.
    """
    with step_boundary(STEP, run_id) as step:
        started_at, started = utc_now(), time.monotonic()
        store = ObjectStore(step.settings.s3, step.settings.gcs)
        layout = RunLayout.from_settings(run_id, step.settings.gcs)

        def record(status: str, counts: dict[str, int], outputs: list[str], error: ErrorInfo | None) -> None:
            store.write_json(layout.step_result(STEP), to_dict(StepResult(
                run_id, STEP, status, started_at, utc_now(), round(time.monotonic() - started, 3),
                counts=counts, outputs=outputs, error=error)))

        raw = collect(store, layout)  # a missing run folder fails here, before anything is written
        if list_unfinished:
            tables = unfinished_tables(raw, big_table_mb, loaders_per_big_table)
            event("step.finished", mode="list-unfinished", tables=len(tables))
            print(list_json(tables), flush=True)  # as fits_fanout_list measured it
            return
        step.on_failure.append(lambda exc: record("failed", {}, [], ErrorInfo.from_exception(exc)))
        report = build_report(raw, datetime.now(UTC), read_schema_backups(store, layout))
        outputs = write_report(report, store, layout, out)
        counts = report.summary.planned_counts
        record("succeeded", counts, [u for u in outputs if u.startswith("gs://")], None)
        ready = True
        if readiness:
            document = write_readiness(store, layout)
            for line in readiness_lines(document):
                print(line, flush=True)
            ready = document.ready
        event("step.finished", all_planned_succeeded=report.all_planned_succeeded, **counts,
              **({"ready": ready} if readiness else {}))
        if not ready and report.all_planned_succeeded:
            error_line(STEP, f"not ready to cut over; see {layout.readiness_json}")
            raise typer.Exit(int(ExitCode.TABLES_FAILED))
        if not report.all_planned_succeeded:
            error_line(STEP, f"{report.verdict()}; see {layout.report(run_id + '.tables')}")
            raise typer.Exit(int(ExitCode.TABLES_FAILED))


if __name__ == "__main__":
    app()
